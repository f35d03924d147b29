import CheckoutDomain
import Foundation
import Postgres
import Redis
import StreamRuntime
import Testing

/// At-least-once delivery with effects that happen once: duplicates, poison entries, dead
/// consumers.
@Suite("Delivery", .serialized)
struct DeliveryTests {
    /// Everything a duplicate could change, in one comparable value.
    private func effects(of system: ChorusSystem) async throws -> [String] {
        let queries = [
            "SELECT string_agg(store_id || ':' || sku || ':' || on_hand || '/' || reserved || '/' || sold, ',' ORDER BY store_id, sku) AS v FROM stock_reservation.stock",
            "SELECT string_agg(checkout_id || ':' || status, ',' ORDER BY checkout_id) AS v FROM stock_reservation.reservations",
            "SELECT string_agg(customer_id || ':' || balance_cents, ',' ORDER BY customer_id) AS v FROM payment.accounts",
            "SELECT string_agg(payment_id || ':' || status, ',' ORDER BY payment_id) AS v FROM payment.payments",
            "SELECT string_agg(order_id, ',' ORDER BY order_id) AS v FROM order_creation.orders",
            "SELECT string_agg(checkout_id || ':' || failed_step, ',' ORDER BY checkout_id) AS v FROM compensation.compensated_checkouts",
            "SELECT count(*)::text AS v FROM audit.audit_log",
            "SELECT count(*)::text AS v FROM event_store.events",
            "SELECT count(*)::text AS v FROM event_store.aggregate_events",
            "SELECT string_agg(checkout_id || ':' || status || ':' || md5(state::text), ',' ORDER BY checkout_id) AS v FROM cqrs_projection.checkouts",
            "SELECT string_agg(store_id || ':' || sku || ':' || on_hand || '/' || reserved || '/' || sold, ',' ORDER BY store_id, sku) AS v FROM cqrs_projection.stock_levels",
            "SELECT string_agg(customer_id || ':' || balance_cents, ',' ORDER BY customer_id) AS v FROM cqrs_projection.customer_balances",
            "SELECT string_agg(store_id || ':' || orders || ':' || revenue_cents, ',') AS v FROM cqrs_projection.sales_by_store_day",
            "SELECT count(*)::text AS v FROM cqrs_projection.orders_by_customer",
            "SELECT count(*)::text AS v FROM checkout_api.products",
        ]
        var values: [String] = []
        for query in queries {
            values.append(try await system.database.query(query).first?.decodeIfPresent("v", as: String.self) ?? "")
        }
        return values
    }

    @Test("every event delivered twice makes no second effect anywhere")
    func duplicateDeliveryOfEveryEventType() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        _ = try await Scenarios.everyKindOfCheckout(on: system)
        let before = try await effects(of: system)
        let entries = try await system.allEntries()
        let types = Set(entries.compactMap { $0.fields["type"] })
        #expect(types == Set(EventType.allCases.map(\.rawValue)), "the scenario covers every event type")

        // Deliver every entry again, as a producer retrying after a lost reply would.
        let copies = entries.map { entry in
            OutgoingEntry(stream: entry.reference.stream, fields: entry.fields.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) })
        }
        try await system.redis.append(copies)
        try await system.waitUntilQuiet()

        #expect(try await effects(of: system) == before)
        let distinctIDs = Set(try await system.allEntries().compactMap { $0.fields["event_id"] })
        #expect(distinctIDs == Set(entries.compactMap { $0.fields["event_id"] }), "no new event was emitted")
        #expect(try await system.deadLetters().isEmpty)
    }

    @Test("an entry that cannot be decoded goes to the dead-letter stream with its reason")
    func malformedEntriesAreDeadLettered() async throws {
        let system = try await ChorusSystem.start([.stockReservation, .eventStore])
        defer { Task { await system.shutdown() } }
        let stream = await system.topology.checkoutStream(partition: 0)
        try await system.redis.append([
            OutgoingEntry(stream: stream, fields: [("event_id", "bad-1"), ("type", "CheckoutInitiated"), ("payload", "{not json"),
                                                   ("correlation_id", "c"), ("producer", "test"), ("occurred_at", "2026-11-22T00:00:00.000Z")]),
            OutgoingEntry(stream: stream, fields: [("event_id", "bad-2"), ("type", "NoSuchEvent"), ("payload", "{}")]),
            OutgoingEntry(stream: stream, fields: [("event_id", "bad-3"), ("type", "StockReceived"),
                                                   ("payload", #"{"store_id":"s","sku":"k","quantity":-4}"#),
                                                   ("correlation_id", "c"), ("producer", "test"), ("occurred_at", "2026-11-22T00:00:00.000Z")]),
        ])
        try await system.waitUntilQuiet()
        let letters = try await system.deadLetters()
        let reasons = Dictionary(grouping: letters) { $0.fields["group"] ?? "" }
        let stockReasons = (reasons["stock-reservation"] ?? []).compactMap { $0.fields["reason"] }
        #expect(stockReasons.contains { $0.contains("malformed CheckoutInitiated payload") })
        #expect(stockReasons.contains { $0.contains("unknown event type NoSuchEvent") })
        let storeReasons = (reasons["event-store"] ?? []).compactMap { $0.fields["reason"] }
        #expect(storeReasons.count == 3)
        #expect(storeReasons.contains { $0.contains("quantity must be positive") })
        let original = try #require(letters.first { $0.fields["source_id"] != nil && $0.fields["entry"]?.contains("bad-2") == true })
        #expect(original.fields["source_stream"] == stream)
        #expect(try await system.integer("SELECT count(*) AS value FROM event_store.events") == 0)
    }

    @Test("an event whose effect keeps failing is retried, then dead-lettered after the maximum deliveries")
    func poisonEventIsDeadLetteredAfterMaxDeliveries() async throws {
        let system = try await ChorusSystem.start([.payment])
        defer { Task { await system.shutdown() } }
        // Valid JSON, but the account exists with a balance the table's check forbids reaching:
        // make the effect fail by dropping the table the effect writes to.
        try await system.database.query("DROP TABLE payment.accounts")
        let envelope = EventEnvelope.starting(
            .customerRegistered(CustomerRegistered(customerID: "cus-x", name: "X", email: "x@example.com", openingBalanceCents: 5)),
            producer: "test")
        try await system.redis.append([OutgoingEntry(stream: await system.topology.referenceStream, fields: envelope.streamFields)])
        let letter = try await ChorusSystem.eventually("the poison event to be dead-lettered") {
            try await system.deadLetters().first
        }
        #expect(letter.fields["group"] == "payment")
        #expect(letter.fields["reason"]?.contains("delivered") == true)
        #expect(letter.fields["reason"]?.contains("payment.accounts") == true, "the reason carries the last error")
        #expect(Int(letter.fields["deliveries"] ?? "") ?? 0 > 3)
        try await system.waitUntilQuiet()
    }
}
