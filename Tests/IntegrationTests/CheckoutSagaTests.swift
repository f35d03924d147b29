import CheckoutDomain
import Foundation
import StreamRuntime
import Testing

/// The saga end to end, through the real processes, Redis and PostgreSQL.
@Suite("Checkout saga", .serialized)
struct CheckoutSagaTests {
    @Test("a checkout with stock and money completes, sells the stock and debits the account")
    func happyPath() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 1_250, 5), ("SKU-2", 399, 5)], customers: [("cus-1", 10_000)])

        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 2), ("SKU-2", 1)])
        #expect(answer.status == 202)
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        #expect(answer.json?["status"]?.string == "pending")
        #expect(answer.header("Location") == "/projections/\(checkoutID)")

        let checkout = try await system.terminalCheckout(checkoutID)
        #expect(checkout["status"]?.string == "completed")
        #expect(checkout["total_cents"]?.int == Int64(2_899))
        #expect(checkout["order_id"]?.string == EventIdentity.orderID(checkoutID: checkoutID))
        #expect(checkout["failure_reason"] == nil || checkout["failure_reason"] == .null)
        try await system.waitUntilQuiet()

        let first = try #require(try await system.stock("store-01", "SKU-1"))
        #expect(first.onHand == 3 && first.reserved == 0 && first.sold == 2)
        let second = try #require(try await system.stock("store-01", "SKU-2"))
        #expect(second.onHand == 4 && second.reserved == 0 && second.sold == 1)
        #expect(try await system.balance("cus-1") == 10_000 - 2_899)

        let customer = try await system.get(.cqrsProjection, "/customers/cus-1")
        #expect(customer.json?["balance_cents"]?.int == 7_101)
        let orders = try await system.get(.cqrsProjection, "/customers/cus-1/orders")
        #expect(orders.json?["orders"]?.array?.count == 1)
        let stock = try await system.get(.cqrsProjection, "/stores/store-01/stock")
        #expect(stock.json?["items"]?[0]?["available"]?.int == 3)
        let today = String(Timestamp.format(Date()).prefix(10))
        let sales = try await system.get(.cqrsProjection, "/stores/store-01/sales?date=\(today)")
        #expect(sales.json?["orders"]?.int == 1)
        #expect(sales.json?["revenue_cents"]?.int == 2_899)

        let projection = try await system.get(.eventStore, "/projections/\(checkoutID)")
        #expect(projection.status == 200)
        #expect(projection.json?["kind"]?.string == "checkout")
        #expect(projection.json?["state"]?["status"]?.string == "completed")
        let timeline = projection.json?["state"]?["timeline"]?.array?.compactMap { $0["type"]?.string }
        #expect(timeline == ["CheckoutInitiated", "StockReserved", "PaymentAuthorized", "OrderCreated", "CheckoutCompleted"])
        let audit = try await system.integer(
            "SELECT count(*) AS value FROM audit.audit_log WHERE correlation_id = $1", [checkoutID])
        #expect(audit == 5)
    }

    @Test("a checkout asking for more than the store has fails, and no stock moves")
    func outOfStock() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 500, 3), ("SKU-2", 100, 10)], customers: [("cus-1", 100_000)])

        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-2", 1), ("SKU-1", 4)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        let checkout = try await system.terminalCheckout(checkoutID)
        #expect(checkout["status"]?.string == "failed")
        #expect(checkout["failure_reason"]?.string == "insufficient_stock")
        #expect(checkout["compensations"]?.array == [])
        try await system.waitUntilQuiet()

        let first = try #require(try await system.stock("store-01", "SKU-1"))
        #expect(first.onHand == 3 && first.reserved == 0 && first.sold == 0)
        let second = try #require(try await system.stock("store-01", "SKU-2"))
        #expect(second.onHand == 10 && second.reserved == 0 && second.sold == 0, "all lines or none: SKU-2 was not reserved")
        #expect(try await system.balance("cus-1") == 100_000)
        let failure = try #require(try await system.allEntries().first { $0.fields["type"] == "StockReservationFailed" })
        let payload = try JSONValue(data: Data((failure.fields["payload"] ?? "").utf8))
        #expect(payload["sku"]?.string == "SKU-1")
        #expect(payload["requested"]?.int == 4)
        #expect(payload["available"]?.int == 3)
    }

    @Test("a checkout the customer cannot pay fails, and the reserved stock is released")
    func insufficientFunds() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 5_000, 4)], customers: [("cus-poor", 4_999)])

        let answer = try await system.checkout(customer: "cus-poor", store: "store-01", items: [("SKU-1", 1)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        let checkout = try await system.terminalCheckout(checkoutID)
        #expect(checkout["status"]?.string == "failed")
        #expect(checkout["failure_reason"]?.string == "insufficient_funds")
        #expect(checkout["compensations"]?.array == [.string("StockReleased")])
        #expect(checkout["reservation"]?["status"]?.string == "released")
        try await system.waitUntilQuiet()

        let stock = try #require(try await system.stock("store-01", "SKU-1"))
        #expect(stock.onHand == 4 && stock.reserved == 0 && stock.sold == 0)
        #expect(try await system.balance("cus-poor") == 4_999)
    }

    @Test("an order rejected because the store paused meanwhile is refunded, released and failed")
    func orderRejected() async throws {
        let system = try await ChorusSystem.start(Worker.allCases.filter { $0 != .orderCreation })
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 2_000, 2)], customers: [("cus-1", 10_000)])

        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 2)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        // The payment goes through while order creation is down; then the store pauses.
        _ = try await ChorusSystem.eventually("the payment to be authorized") {
            try await system.balance("cus-1") == 6_000 ? true : nil
        }
        let pause = try await system.post("/admin/stores/store-01/pause", ["reason": "inventory count"])
        #expect(pause.status == 202)
        try await system.waitUntilQuiet()
        try await system.start(.orderCreation)

        let checkout = try await system.terminalCheckout(checkoutID)
        #expect(checkout["status"]?.string == "failed")
        #expect(checkout["failure_reason"]?.string == "store_paused")
        #expect(checkout["compensations"]?.array == [.string("PaymentRefunded"), .string("StockReleased")])
        #expect(checkout["payment"]?["status"]?.string == "refunded")
        try await system.waitUntilQuiet()

        #expect(try await system.balance("cus-1") == 10_000)
        let stock = try #require(try await system.stock("store-01", "SKU-1"))
        #expect(stock.onHand == 2 && stock.reserved == 0 && stock.sold == 0)
        #expect(try await system.integer("SELECT count(*) AS value FROM order_creation.orders") == 0)
    }

    @Test("a paused store refuses new checkouts with 409, and takes them again once resumed")
    func pausedStoreRefusesCheckouts() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 2)], customers: [("cus-1", 10_000)])
        #expect(try await system.post("/admin/stores/store-01/pause", ["reason": "closed"]).status == 202)
        try await system.waitUntilQuiet()
        let refused = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
        #expect(refused.status == 409)
        #expect(refused.header("Content-Type") == "application/problem+json")

        #expect(try await system.post("/admin/stores/store-01/resume", [String: String]()).status == 202)
        try await system.waitUntilQuiet()
        let accepted = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
        #expect(accepted.status == 202)
    }
}
