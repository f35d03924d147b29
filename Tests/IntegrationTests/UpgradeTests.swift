import Audit
import CQRSProjection
import CheckoutAPI
import CheckoutDomain
import Compensation
import EventStore
import ExactlyOnce
import Foundation
import Operations
import OrderCreation
import Payment
import Postgres
import StockReservation
import Testing

/// A database laid out by a previous release (commit 23b5d74, and the event store's index of
/// aggregates as it was until b45e5ac) upgrades in place when the new code first starts: its
/// migrations add and change what is new, and the saga, the read models and every invariant
/// work on it.
@Suite("Upgrade in place", .serialized)
struct UpgradeTests {
    /// Each worker's inbox as the previous release created it: no index on `processed_at`, and
    /// one for the event store and the audit trail too, which now use their own tables.
    static func previousInbox(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(schema).inbox (
            event_id     text PRIMARY KEY,
            event_type   text NOT NULL,
            outputs      jsonb NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    }

    /// Everything the previous release migrated, schema by schema: the tables it had, without
    /// what this release adds (the projection's `revision` column, the inbox index).
    static func previousLayout(on admin: PostgresConnection) async throws {
        let effects: [any EventEffect] = [
            CatalogueEffect(), EventStoreEffect(), StockReservationEffect(), PaymentEffect(), OrderCreationEffect(),
            CompensationEffect(), AuditEffect(), ProjectionEffect(),
        ]
        for effect in effects {
            let statements = [previousInbox(schema: effect.schema)] + previousMigrations(of: effect)
            try await Migrations.run(schema: effect.schema, statements: statements, on: admin)
        }
    }

    /// The event store's index of aggregates as the previous releases made it: keyed by kind
    /// first, with a second unique index, one by id, and a foreign key to the events.
    static let previousAggregateEvents = [
        """
        CREATE TABLE IF NOT EXISTS event_store.aggregate_events (
            aggregate_kind text NOT NULL,
            aggregate_id   text NOT NULL,
            version        integer NOT NULL CHECK (version > 0),
            position       bigint NOT NULL REFERENCES event_store.events (position),
            PRIMARY KEY (aggregate_kind, aggregate_id, version),
            UNIQUE (aggregate_kind, aggregate_id, position)
        )
        """,
        "CREATE INDEX IF NOT EXISTS aggregate_events_by_id ON event_store.aggregate_events (aggregate_id)",
    ]

    static func previousMigrations(of effect: any EventEffect) -> [String] {
        let current = effect.migrations.filter { !$0.contains("ADD COLUMN IF NOT EXISTS revision") }
        guard effect is EventStoreEffect else { return current }
        let untouched = current.filter { !$0.contains("aggregate_events") || $0.contains("aggregate_events_append_only") }
        // The events table first: the old index refers to it.
        return Array(untouched.prefix(1)) + previousAggregateEvents + untouched.dropFirst()
    }

    @Test("the previous release's tables take the new migrations, and the saga, read models and invariants hold on them")
    func previousLayoutUpgrades() async throws {
        let system = try await ChorusSystem.start(beforeProvisioning: Self.previousLayout)
        defer { Task { await system.shutdown() } }
        let columns = try await system.database.query(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = 'cqrs_projection' AND table_name = 'checkouts' AND column_name = 'revision'")
        #expect(columns.count == 1, "the projection's new column was added")
        let indexes = try await system.database.query(
            "SELECT schemaname FROM pg_indexes WHERE indexname = 'inbox_processed_at' ORDER BY schemaname")
        #expect(try indexes.map { try $0.decode("schemaname", as: String.self) }
            == ["checkout_api", "compensation", "cqrs_projection", "order_creation", "payment", "stock_reservation"])

        // The event store's index of aggregates: one index, the primary key, by id first.
        let constraints = try await system.database.query(
            """
            SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
            WHERE conrelid = 'event_store.aggregate_events'::regclass ORDER BY conname
            """)
        #expect(try constraints.map { try $0.decode("definition", as: String.self) }
            == ["PRIMARY KEY (aggregate_id, aggregate_kind, version)", "CHECK ((version > 0))"])
        let aggregateIndexes = try await system.database.query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'event_store' AND tablename = 'aggregate_events'")
        #expect(try aggregateIndexes.map { try $0.decode("indexname", as: String.self) } == ["aggregate_events_pkey"])

        let ids = try await Scenarios.everyKindOfCheckout(on: system)
        try await system.waitUntilQuiet()
        // Rows the previous release wrote carry no revision: the projection reads their state.
        try await system.database.query("UPDATE cqrs_projection.checkouts SET revision = NULL")
        let more = try await system.checkout(customer: "cus-rich", store: "store-01", items: [("SKU-1", 1)])
        #expect(try await system.terminalCheckout(try #require(more.json?["checkout_id"]?.string))["status"]?.string == "completed")
        try await system.waitUntilQuiet()

        let report = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(report.ok, "\(report.text)")
        #expect(report.result(.checkouts)?.checked == ids.count + 1)
        // The old inboxes of the event store and the audit trail are left as they were, unused.
        #expect(try await system.integer("SELECT count(*)::bigint AS value FROM event_store.inbox") == 0)
        #expect(try await system.integer("SELECT count(*)::bigint AS value FROM audit.inbox") == 0)
    }
}
