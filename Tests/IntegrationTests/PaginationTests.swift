import Foundation
import Testing

/// Lists that grow without bound come in pages: a bounded `limit`, and a cursor in a `next` link.
@Suite("Pagination")
struct PaginationTests {
    @Test("a customer's orders come newest first in pages of `limit`, each with a next link (body and Link header) until the last")
    func customerOrdersInPages() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 20)], customers: [("cus-1", 100_000)])
        var ids: [String] = []
        for _ in 0..<5 {
            let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
            let id = try #require(answer.json?["checkout_id"]?.string)
            _ = try await system.terminalCheckout(id)
            ids.append(id)
        }
        try await system.waitUntilQuiet()

        var seen: [String] = []
        var path: String? = "/customers/cus-1/orders?limit=2"
        var sizes: [Int] = []
        while let next = path {
            let page = try await system.get(.cqrsProjection, next)
            #expect(page.status == 200)
            let orders = try #require(page.json?["orders"]?.array)
            sizes.append(orders.count)
            seen += orders.compactMap { $0["checkout_id"]?.string }
            path = page.json?["next"]?.string
            #expect(page.header("Link") == path.map { "<\($0)>; rel=\"next\"" })
        }
        #expect(sizes == [2, 2, 1])
        #expect(seen == ids.reversed(), "newest first, each once")
        let whole = try await system.get(.cqrsProjection, "/customers/cus-1/orders")
        #expect(whole.json?["orders"]?.array?.count == 5, "the default page holds them all")
        #expect(whole.json?["next"] == nil)
    }

    @Test("a limit out of range or a cursor this server did not write is refused with 400 problem+json", arguments: [
        "limit=0", "limit=201", "limit=ten", "after=not*a*cursor", "after=Zm9v",
    ])
    func badPageParameters(query: String) async throws {
        let system = try await ChorusSystem.start([.cqrsProjection])
        defer { Task { await system.shutdown() } }
        let answer = try await system.get(.cqrsProjection, "/customers/cus-1/orders?\(query)")
        #expect(answer.status == 400)
        #expect(answer.header("Content-Type")?.hasPrefix("application/problem+json") == true)
        #expect(answer.json?["type"]?.string == "/problems/invalid-parameter")
    }

    @Test("an aggregate's raw history comes in pages by version, with a Link to the next page")
    func historyInPages() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 20)], customers: [("cus-1", 100_000)])
        for amount in 1...4 {
            #expect(try await system.post("/admin/customers/cus-1/credit", ["amount_cents": amount]).status == 202)
        }
        try await system.waitUntilQuiet()
        var versions: [Int] = []
        var path: String? = "/projections/cus-1/events?limit=2&kind=customer"
        while let next = path {
            let page = try await system.get(.eventStore, next)
            #expect(page.status == 200)
            versions += try #require(page.json?.array).compactMap { $0["version"]?.int.map(Int.init) }
            path = page.header("Link").flatMap { link in
                link.split(separator: ">").first.map { String($0.dropFirst()) }
            }
        }
        #expect(versions == [1, 2, 3, 4, 5], "registered, then four credits, each once")
    }
}
