import CQRSProjection
import CheckoutDomain
import Foundation
import Operations
import Postgres
import Testing

@Suite("Operator: rebuild the read models", .serialized)
struct ReadModelRebuildTests {
    @Test("a rebuild reproduces what the projection kept, repairs what was damaged, and the projection goes on from it")
    func rebuildReproducesAndRepairs() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        _ = try await Scenarios.everyKindOfCheckout(on: system)
        let kept = try await system.readModelSnapshot()
        let stored = try #require(try await system.integer("SELECT count(*) AS value FROM event_store.events"))

        // The test connects as the superuser, so it can do what no service is allowed to.
        try await system.database.query("UPDATE cqrs_projection.customer_balances SET balance_cents = 0")
        try await system.database.query("DELETE FROM cqrs_projection.orders_by_customer")
        try await system.database.query("DELETE FROM cqrs_projection.checkouts WHERE status = 'failed'")
        #expect(try await system.readModelSnapshot() != kept)

        // Small pages, so that the fill takes many; as the operator and the projection's own role.
        let report = try await system.rebuildReadModels(pageSize: 7)
        #expect(report.events == Int(stored))
        #expect(report.appliedAtSwitch == 0, "nothing was stored after the fill")
        #expect(report.recordedInInbox == 0, "the projection had applied every stored event")
        #expect(report.rows["checkouts"] == 4)
        #expect(try await system.readModelSnapshot() == kept)
        let leftovers = try await system.integer(
            "SELECT count(*) AS value FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'cqrs_projection' AND c.relname LIKE 'rebuild%'")
        #expect(leftovers == 0, "the rebuilt tables and their indexes took the live names")

        // The live projection folds new events onto the rebuilt tables.
        let answer = try await system.checkout(customer: "cus-rich", store: "store-01", items: [("SKU-1", 1)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        #expect(try await system.terminalCheckout(checkoutID)["status"]?.string == "completed")
        try await system.waitUntilQuiet()
        let verdict = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(verdict.ok, "\(verdict.text)")
    }

    @Test("events stored but not yet projected are rebuilt and then skipped by the projection, not applied twice")
    func projectionBehindTheStore() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 500, 50)], customers: [("cus-1", 100_000)])
        await system.stop(.cqrsProjection)
        for _ in 0..<3 {
            #expect(try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 2)]).status == 202)
        }
        _ = try await ChorusSystem.eventually("the order events to be stored") {
            try await system.integer("SELECT count(*) AS value FROM event_store.events WHERE event_type = 'OrderCreated'") == 3 ? true : nil
        }

        let report = try await system.rebuildReadModels(pageSize: 1_000)
        #expect(report.recordedInInbox > 0, "the saga's events of the three checkouts were rebuilt before the projection saw them")
        #expect(try await system.integer("SELECT count(*) AS value FROM cqrs_projection.orders_by_customer") == 3)

        try await system.start(.cqrsProjection)
        try await system.waitUntilQuiet()
        #expect(try await system.integer("SELECT sold AS value FROM cqrs_projection.stock_levels WHERE sku = 'SKU-1'") == 6,
                "each order counted once")
        #expect(try await system.integer("SELECT balance_cents AS value FROM cqrs_projection.customer_balances WHERE customer_id = 'cus-1'")
                == 100_000 - 3 * 1_000)
        let verdict = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(verdict.ok, "\(verdict.text)")
    }

    @Test("a projection ahead of the event store holds the switch; the live tables stay until the store has caught up")
    func storeBehindTheProjection() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 500, 50)], customers: [("cus-1", 100_000)])
        await system.stop(.eventStore)
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        _ = try await system.terminalCheckout(checkoutID)
        let kept = try await system.readModelSnapshot()

        let store = PostgresConnection(connectionString: await system.databaseURL(for: .operator))
        let readModels = PostgresConnection(connectionString: await system.databaseURL(for: .service(.cqrsProjection)))
        var rebuild = ReadModelRebuild(store: store, readModels: readModels)
        rebuild.switchTimeout = .seconds(1)
        await #expect {
            _ = try await rebuild.run()
        } throws: { error in
            guard case .storeBehindProjection(_, let total)? = error as? ReadModelRebuildError else { return false }
            return total > 0
        }
        #expect(try await system.readModelSnapshot() == kept, "the live tables are untouched")

        try await system.start(.eventStore)
        try await system.waitUntilQuiet()
        let report = try await rebuild.run()
        #expect(report.recordedInInbox == 0)
        #expect(try await system.readModelSnapshot() == kept)
        let verdict = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(verdict.ok, "\(verdict.text)")
        await store.close()
        await readModels.close()
    }

    @Test("a rebuild while checkouts flow loses no event and applies none twice")
    func rebuildUnderLoad() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 10_000)], customers: [("cus-1", 100_000_000), ("cus-2", 100_000_000)])
        @Sendable func load() async throws -> [String] {
            var ids: [String] = []
            for index in 0..<60 {
                let answer = try await system.checkout(customer: index.isMultiple(of: 2) ? "cus-1" : "cus-2", store: "store-01", items: [("SKU-1", 1)])
                ids.append(try #require(answer.json?["checkout_id"]?.string))
                try await Task.sleep(for: .milliseconds(10))
            }
            return ids
        }
        async let loaded = load()
        // Rebuilds one after another while the load runs: each switch meets events in flight.
        for _ in 0..<5 {
            let report = try await system.rebuildReadModels(pageSize: 50)
            #expect(report.events > 0)
            try await Task.sleep(for: .milliseconds(100))
        }
        let ids = try await loaded
        for id in ids { _ = try await system.terminalCheckout(id) }
        try await system.waitUntilQuiet()
        let verdict = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(verdict.ok, "\(verdict.text)")
        #expect(try await system.integer("SELECT count(*) AS value FROM cqrs_projection.checkouts") == 60)
    }
}

extension ChorusSystem {
    /// Rebuilds the read models as `chorus rebuild` does: reading the store as the operator's
    /// role, which may write nothing, and writing as the projection's.
    func rebuildReadModels(pageSize: Int) async throws -> ReadModelRebuild.Report {
        let target = OperatorTarget(redisURL: configuration.redisURL, databaseURL: databaseURL(for: .operator), topology: configuration.topology)
        return try await target.rebuildReadModels(readModelsURL: databaseURL(for: .service(.cqrsProjection)), pageSize: pageSize)
    }

    /// Every read model's rows as text, without what differs between two equal foldings (the
    /// write's time and revision token, and which event a checkpoint saw last).
    func readModelSnapshot() async throws -> [String] {
        var lines: [String] = []
        for (table, columns, order) in [
            ("checkouts", "checkout_id, customer_id, store_id, status, total_cents, failure_reason, order_id, state", "checkout_id"),
            ("orders_by_customer", "*", "customer_id, order_id"),
            ("sales_by_store_day", "*", "store_id, day"),
            ("stock_levels", "*", "store_id, sku"),
            ("customer_balances", "*", "customer_id"),
            ("checkpoints", "read_model, events_applied", "read_model"),
        ] {
            // Names from the list above; the test's own SQL.
            for row in try await database.query("SELECT (t.*)::text AS line FROM (SELECT \(columns) FROM cqrs_projection.\(table) ORDER BY \(order)) t") {
                lines.append("\(table) \(try row.decode("line", as: String.self))")
            }
        }
        return lines
    }
}
