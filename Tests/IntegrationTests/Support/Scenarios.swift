import CheckoutDomain
import Foundation
import Testing

/// Runs of the system shared by several tests.
enum Scenarios {
    /// A completed, an out-of-stock, an unpaid and a rejected checkout: every event type occurs.
    static func everyKindOfCheckout(on system: ChorusSystem) async throws -> [String] {
        try await system.seed(
            products: [("SKU-1", 1_000, 10), ("SKU-2", 300, 1)],
            customers: [("cus-rich", 1_000_000), ("cus-poor", 10)])
        var ids: [String] = []
        for (customer, items) in [("cus-rich", [("SKU-1", 2)]), ("cus-rich", [("SKU-2", 5)]), ("cus-poor", [("SKU-1", 1)])] {
            let answer = try await system.checkout(customer: customer, store: "store-01", items: items)
            ids.append(try #require(answer.json?["checkout_id"]?.string))
        }
        for id in ids { _ = try await system.terminalCheckout(id) }
        // The longest path: pay while order creation is down, pause the store, then let it run.
        await system.stop(.orderCreation)
        let rejected = try await system.checkout(customer: "cus-rich", store: "store-01", items: [("SKU-1", 1)])
        let rejectedID = try #require(rejected.json?["checkout_id"]?.string)
        _ = try await ChorusSystem.eventually("payment of the checkout to be rejected") {
            try await system.integer("SELECT count(*) AS value FROM payment.payments WHERE checkout_id = $1", [rejectedID]) == 1 ? true : nil
        }
        #expect(try await system.post("/admin/stores/store-01/pause", ["reason": "audit"]).status == 202)
        try await system.waitUntilQuiet()
        try await system.start(.orderCreation)
        _ = try await system.terminalCheckout(rejectedID)
        // The rest of the reference data: a price change, a top-up, a store resuming.
        #expect(try await system.post("/admin/products/SKU-2/price", ["price_cents": 350]).status == 202)
        #expect(try await system.post("/admin/customers/cus-poor/credit", ["amount_cents": 2_500]).status == 202)
        #expect(try await system.post("/admin/stores/store-01/resume", [String: String]()).status == 202)
        // A customer registered a second time keeps the first registration's balance everywhere.
        let again: [String: Any] = ["customer_id": "cus-poor", "name": "Again", "email": "again@example.com", "opening_balance_cents": 999_999]
        #expect(try await system.post("/admin/customers", again).status == 202)
        try await system.waitUntilQuiet()
        return ids + [rejectedID]
    }
}
