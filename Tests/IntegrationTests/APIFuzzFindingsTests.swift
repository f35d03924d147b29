import Foundation
import Testing

/// Cases `scripts/api-fuzz` (Schemathesis) found, kept as regular tests once fixed.
@Suite("API fuzzing findings")
struct APIFuzzFindingsTests {
    @Test("an amount past Money.maximumCents is refused with 422 and its field, and publishes nothing", arguments: [
        ("/admin/customers", #"{"customer_id": "cus-big", "name": "Big", "email": "b@example.com", "opening_balance_cents": 9223372036854775807}"#, "opening_balance_cents"),
        ("/admin/customers/cus-1/credit", #"{"amount_cents": 1000000000001}"#, "amount_cents"),
        ("/admin/products", #"{"sku": "SKU-BIG", "name": "Big", "price_cents": 1000000000001}"#, "price_cents"),
        ("/admin/products/SKU-1/price", #"{"price_cents": 1000000000001}"#, "price_cents"),
    ])
    func amountsHaveAnUpperBound(path: String, body: String, field: String) async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 0)], customers: [("cus-1", 100)])
        let before = try await system.allEntries().count
        let answer = try await system.post(path, try Self.object(body))
        #expect(answer.status == 422)
        #expect(answer.json?["type"]?.string == "/problems/invalid-field")
        #expect(answer.json?["field"]?.string == field)
        #expect(try await system.allEntries().count == before)
    }

    @Test("a negative amount or quantity names its field, like every other invalid field", arguments: [
        ("/admin/products", #"{"sku": "SKU-X", "name": "x", "price_cents": -1}"#, "price_cents"),
        ("/admin/stock", #"{"store_id": "store-01", "sku": "SKU-1", "quantity": 0}"#, "quantity"),
        ("/admin/customers/cus-1/credit", #"{"amount_cents": 0}"#, "amount_cents"),
        ("/admin/customers", #"{"customer_id": "cus-neg", "name": "N", "email": "n@example.com", "opening_balance_cents": -5}"#, "opening_balance_cents"),
    ])
    func invalidAmountsNameTheirField(path: String, body: String, field: String) async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 0)], customers: [("cus-1", 100)])
        let answer = try await system.post(path, try Self.object(body))
        #expect(answer.status == 422)
        #expect(answer.json?["field"]?.string == field, "\(String(decoding: answer.body, as: UTF8.self))")
    }

    @Test("a control character (U+0000 above all, which jsonb cannot store) in a name, an email or a reason is refused with 422", arguments: [
        ("/admin/customers", #"{"customer_id": "cus-nul", "name": "a\u0000b", "email": "n@example.com", "opening_balance_cents": 5}"#, "name"),
        ("/admin/customers", #"{"customer_id": "cus-nul", "name": "Nul", "email": "n\u001b@example.com", "opening_balance_cents": 5}"#, "email"),
        ("/admin/stores", #"{"store_id": "store-nul", "name": "x\u0000", "channel": "web"}"#, "name"),
        ("/admin/products", #"{"sku": "SKU-NUL", "name": "\u0000", "price_cents": 5}"#, "name"),
        ("/admin/stores/store-01/pause", #"{"reason": "stock\u0000take"}"#, "reason"),
    ])
    func controlCharactersAreRefused(path: String, body: String, field: String) async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [], customers: [])
        let before = try await system.allEntries().count
        let answer = try await system.post(path, try Self.object(body))
        #expect(answer.status == 422)
        #expect(answer.json?["field"]?.string == field)
        #expect(try await system.allEntries().count == before)
    }

    @Test("sales for year 0000 are a 400 invalid-date, not a 500")
    func yearZeroIsNotADate() async throws {
        let system = try await ChorusSystem.start([.cqrsProjection])
        defer { Task { await system.shutdown() } }
        let answer = try await system.get(.cqrsProjection, "/stores/store-01/sales?date=0000-01-01")
        #expect(answer.status == 400)
        #expect(answer.json?["type"]?.string == "/problems/invalid-date")
    }

    @Test("HEAD is answered wherever GET is, with GET's status and no body")
    func headWhereverGet() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        let answer = try await system.send("HEAD", .checkoutAPI, "/products", body: nil, headers: [:], as: nil)
        #expect(answer.status == 200)
        #expect(answer.body.isEmpty)
    }

    @Test("a percent-encoded id in the path is the id: cus%2D1 is cus-1")
    func percentEncodedIDs() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 100)])
        #expect(try await system.get(.cqrsProjection, "/customers/cus%2D1").json?["customer_id"]?.string == "cus-1")
        #expect(try await system.get(.eventStore, "/projections/store-01%3ASKU-1").status == 200)
        #expect(try await system.post("/admin/customers/cus%2D1/credit", ["amount_cents": 5]).status == 202)
    }

    /// The JSON object `text`, for `post`.
    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }
}
