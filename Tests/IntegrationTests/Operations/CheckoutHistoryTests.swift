import CheckoutDomain
import Foundation
import Operations
import Testing

@Suite("Operator: history", .serialized)
struct CheckoutHistoryTests {
    @Test("a completed checkout's events come in order, with offsets from the first and deltas from the previous")
    func completedCheckoutHistory() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 250, 5)], customers: [("cus-1", 10_000)])
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 2)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        _ = try await system.terminalCheckout(checkoutID)
        try await system.waitUntilQuiet()

        let history = try await CheckoutHistory.read(checkoutID, from: system.operatorTarget)
        #expect(history.status == "completed")
        #expect(history.events.map(\.type) == ["CheckoutInitiated", "StockReserved", "PaymentAuthorized", "OrderCreated", "CheckoutCompleted"])
        #expect(history.events.map(\.producer) == ["checkout-api", "stock-reservation", "payment", "order-creation", "order-creation"])
        #expect(history.events.first?.offsetMilliseconds == 0)
        #expect(history.events.first?.sincePreviousMilliseconds == nil)
        for (previous, event) in zip(history.events, history.events.dropFirst()) {
            #expect(event.offsetMilliseconds >= previous.offsetMilliseconds)
            #expect(event.sincePreviousMilliseconds == event.offsetMilliseconds - previous.offsetMilliseconds)
        }
        let first = try #require(history.events.first.flatMap { Timestamp.parse($0.occurredAt) })
        let last = try #require(history.events.last.flatMap { Timestamp.parse($0.occurredAt) })
        #expect(history.events.last?.offsetMilliseconds == Timestamp.milliseconds(last) - Timestamp.milliseconds(first))
        #expect(Set(history.events.map(\.eventID)).count == 5)
        #expect(history.table.contains("CheckoutCompleted") && history.table.hasPrefix("checkout \(checkoutID): completed, 5 events"))
    }

    @Test("a checkout the event store does not know is reported as not found")
    func unknownCheckout() async throws {
        let system = try await ChorusSystem.start([.eventStore])
        defer { Task { await system.shutdown() } }
        let error = await #expect(throws: OperatorError.self) {
            try await CheckoutHistory.read("00000000-0000-0000-0000-000000000000", from: system.operatorTarget)
        }
        #expect(error?.exitStatus == 1)
    }
}
