import CheckoutDomain
import Foundation
import Operations
import Testing

@Suite("Operator: verify", .serialized)
struct InvariantVerifierTests {
    @Test("a quiet system after completed and failed checkouts of every kind satisfies every invariant")
    func cleanRunPasses() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        let ids = try await Scenarios.everyKindOfCheckout(on: system)

        let report = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(report.ok, "\(report.text)")
        #expect(report.results.map(\.invariant) == Invariant.allCases)
        #expect(report.result(.checkouts)?.checked == ids.count)
        #expect(report.result(.stock)?.checked == 2)
        #expect(report.result(.money)?.checked ?? 0 >= 2, "the paid checkouts were looked at")
        #expect(report.results.allSatisfy { $0.inFlight.isEmpty })
        #expect(report.text.hasSuffix("every invariant holds"))
    }

    @Test("tampered stock, money, events and read models are each named as violations")
    func tamperingIsNamed() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        let ids = try await Scenarios.everyKindOfCheckout(on: system)
        let completed = ids[0]
        let outOfStock = ids[1]
        let refunded = ids[3]  // paid, then the order was rejected: refunded and released

        // The test connects as the superuser, so it can do what no service is allowed to.
        try await system.database.query("UPDATE stock_reservation.stock SET on_hand = on_hand + 3 WHERE store_id = 'store-01' AND sku = 'SKU-1'")
        try await system.database.query("DELETE FROM cqrs_projection.checkouts WHERE checkout_id = $1", [completed])
        try await system.database.query("UPDATE payment.payments SET status = 'authorized' WHERE checkout_id = $1", [refunded])
        try await system.database.query("UPDATE payment.accounts SET balance_cents = balance_cents + 1 WHERE customer_id = 'cus-poor'")
        try await system.database.query(
            "UPDATE cqrs_projection.checkouts SET state = jsonb_set(state, '{status}', '\"completed\"') WHERE checkout_id = $1", [outOfStock])
        try await system.database.query("ALTER TABLE event_store.events DROP CONSTRAINT events_event_id_key")
        let duplicated = try #require(try await system.database.query(
            """
            INSERT INTO event_store.events (event_id, event_type, payload, correlation_id, causation_id, producer, occurred_at)
            SELECT event_id, event_type, payload, correlation_id, causation_id, producer, occurred_at
            FROM event_store.events ORDER BY position LIMIT 1 RETURNING event_id
            """).first?.decode("event_id", as: String.self))

        let report = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(!report.ok)
        let stock = try #require(report.result(.stock))
        #expect(stock.violations.contains { $0.subject == "store-01 SKU-1" && $0.message.hasPrefix("received 10 ≠ available") })
        let money = try #require(report.result(.money))
        #expect(money.violations.contains { $0.subject == "checkout \(refunded)" && $0.message.contains("with no order") })
        #expect(money.violations.contains { $0.subject == "checkout \(refunded)" && $0.message.hasPrefix("failed, but its net charge") })
        #expect(report.result(.eventStore)?.violations.map(\.subject) == ["event \(duplicated)"])
        let readModels = try #require(report.result(.readModels))
        #expect(readModels.violations.contains { $0.subject == "checkout \(completed)" && $0.message.contains("missing from the read model") })
        #expect(readModels.violations.contains { $0.subject == "store-01 SKU-1" && $0.message.contains("stock-reservation differs: on_hand") })
        #expect(readModels.violations.contains { $0.subject == "checkout \(outOfStock)" && $0.message.contains("status completed (rebuild: failed)") })
        #expect(readModels.violations.contains { $0.subject == "customer cus-poor" && $0.message.hasPrefix("payment's account differs: balance_cents") })
        #expect(report.result(.checkouts)?.ok == true, "nothing else is reported")
        #expect(report.text.contains("FAIL") && report.text.contains("✘ checkout \(refunded)"))
    }

    @Test("an unfinished checkout is in flight while young and stuck once older than the settle time")
    func inFlightThenStuck() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])
        await system.stop(.payment)
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        _ = try await ChorusSystem.eventually("the reservation to be stored") {
            try await system.integer("SELECT count(*) AS value FROM cqrs_projection.checkouts WHERE checkout_id = $1 AND status = 'stock_reserved'",
                                     [checkoutID]) == 1 ? true : nil
        }

        let young = try await InvariantVerifier(target: system.operatorTarget, settleSeconds: 3_600).verify()
        #expect(young.ok, "\(young.text)")
        #expect(young.result(.checkouts)?.inFlight.map(\.subject) == ["checkout \(checkoutID)"])
        #expect(young.result(.stock)?.inFlight.map(\.subject) == ["store-01 SKU-1"], "its reservation is in flight too")

        let settled = try await InvariantVerifier(target: system.operatorTarget, settleSeconds: 0).verify()
        #expect(!settled.ok)
        #expect(settled.result(.checkouts)?.violations.map(\.subject) == ["checkout \(checkoutID)"])
        #expect(settled.result(.checkouts)?.violations.first?.message.hasPrefix("stuck in stock_reserved") == true)
        #expect(settled.result(.stock)?.violations.contains { $0.message.contains("reserved must be 0 at rest") } == true)
    }
}
