import CheckoutDomain
import Foundation
import Testing

@Suite("Concurrency", .serialized)
struct ConcurrencyTests {
    @Test("fifty checkouts racing for the last ten units: exactly ten complete and stock never goes negative")
    func lastUnitRace() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        // Two stock-reservation consumers compete for the same checkouts.
        try await system.start(.stockReservation, consumerName: "stock-reservation-2")
        let customers = (1...50).map { (id: String(format: "cus-%03d", $0), balanceCents: Int64(100_000)) }
        try await system.seed(products: [("SKU-LAST", 1_000, 10)], customers: customers)

        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for customer in customers {
                group.addTask {
                    let answer = try await system.checkout(customer: customer.id, store: "store-01", items: [("SKU-LAST", 1)])
                    return try #require(answer.json?["checkout_id"]?.string)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(ids).count == 50)
        var statuses: [String: Int] = [:]
        for id in ids {
            let checkout = try await system.terminalCheckout(id)
            statuses[checkout["status"]?.string ?? "?", default: 0] += 1
            if checkout["status"]?.string == "failed" {
                #expect(checkout["failure_reason"]?.string == "insufficient_stock")
            }
        }
        #expect(statuses == ["completed": 10, "failed": 40])
        try await system.waitUntilQuiet()

        let stock = try #require(try await system.stock("store-01", "SKU-LAST"))
        #expect(stock.onHand == 0 && stock.reserved == 0 && stock.sold == 10)
        let reservations = try await system.allEntries().filter { $0.fields["type"] == "StockReserved" }
        #expect(reservations.count == 10, "never more reservations than units")
        let charged = try await system.integer("SELECT sum(100000 - balance_cents)::bigint AS value FROM payment.accounts")
        #expect(charged == Int64(10_000))
    }
}
