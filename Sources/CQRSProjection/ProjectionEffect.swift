import CheckoutDomain
import CoreMetrics
import ExactlyOnce
import Foundation
import Postgres

/// Keeps the read models up to date from every event: checkout status, orders by customer,
/// sales by store and day, stock levels per store, and customer balances.
///
/// Each read model keeps a checkpoint: the last event applied to it and how many it has applied.
public struct ProjectionEffect: EventEffect {
    public let worker = Worker.cqrsProjection
    public let schema = "cqrs_projection"

    /// The read models this projection maintains, by the name their checkpoint carries.
    public enum ReadModel: String, CaseIterable, Sendable {
        case checkouts
        case ordersByCustomer = "orders_by_customer"
        case salesByStoreDay = "sales_by_store_day"
        case stockLevels = "stock_levels"
        case customerBalances = "customer_balances"
    }

    /// The tables this effect writes: the live ones, or a rebuild's (``ReadModelRebuild``).
    public let tables: ReadModelTables
    let sagaMetrics = SagaMetrics()
    let stateCache = CheckoutStateCache()

    /// - Parameter tables: where the read models go; the live tables unless rebuilding.
    public init(tables: ReadModelTables = .live) {
        self.tables = tables
    }

    public func committed(_ applied: [EventEnvelope], transactionDuration: Duration, metrics: any MetricsFactory) {
        sagaMetrics.committed(applied, metrics: metrics)
    }

    /// Creates the saga series at 0 before the first checkout.
    public func prepareMetrics(_ metrics: any MetricsFactory) {
        sagaMetrics.prepare(metrics: metrics)
    }

    public var migrations: [String] { Self.migrations(of: tables) }

    /// The statements that create the read models' tables, named as `tables` says.
    static func migrations(of tables: ReadModelTables) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS \(tables.checkouts) (
                checkout_id    text PRIMARY KEY,
                customer_id    text,
                store_id       text,
                status         text NOT NULL,
                total_cents    bigint NOT NULL,
                failure_reason text,
                order_id       text,
                state          jsonb NOT NULL,
                updated_at     timestamptz NOT NULL DEFAULT now()
            )
            """,
            // Which write the row's state comes from, so that the projection can take the state
            // it wrote from memory instead of decoding it again (``CheckoutStateCache``).
            "ALTER TABLE \(tables.checkouts) ADD COLUMN IF NOT EXISTS revision text",
            """
            CREATE TABLE IF NOT EXISTS \(tables.ordersByCustomer) (
                customer_id text NOT NULL,
                order_id    text NOT NULL,
                checkout_id text NOT NULL,
                store_id    text NOT NULL,
                total_cents bigint NOT NULL,
                lines       jsonb NOT NULL,
                created_at  timestamptz NOT NULL,
                PRIMARY KEY (customer_id, order_id)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS \(tables.salesByStoreDay) (
                store_id      text NOT NULL,
                day           date NOT NULL,
                orders        integer NOT NULL,
                units         integer NOT NULL,
                revenue_cents bigint NOT NULL,
                PRIMARY KEY (store_id, day)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS \(tables.stockLevels) (
                store_id text NOT NULL,
                sku      text NOT NULL,
                on_hand  integer NOT NULL DEFAULT 0,
                reserved integer NOT NULL DEFAULT 0,
                sold     integer NOT NULL DEFAULT 0,
                received integer NOT NULL DEFAULT 0,
                PRIMARY KEY (store_id, sku)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS \(tables.customerBalances) (
                customer_id    text PRIMARY KEY,
                name           text,
                email          text,
                balance_cents  bigint NOT NULL DEFAULT 0,
                credited_cents bigint NOT NULL DEFAULT 0,
                charged_cents  bigint NOT NULL DEFAULT 0,
                refunded_cents bigint NOT NULL DEFAULT 0,
                registered     boolean NOT NULL DEFAULT false
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS \(tables.checkpoints) (
                read_model       text PRIMARY KEY,
                last_event_id    text NOT NULL,
                last_occurred_at timestamptz NOT NULL,
                events_applied   bigint NOT NULL,
                updated_at       timestamptz NOT NULL DEFAULT now()
            )
            """,
        ]
    }

    /// Applies a batch with a fixed number of statements, whatever its size: each read model's
    /// rows are computed in memory (checkouts folded, movements summed per row) and written with
    /// one statement, and each read model's checkpoint moves once.
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        var touched: [ReadModel: (count: Int, last: EventEnvelope)] = [:]
        func touch(_ model: ReadModel, by envelope: EventEnvelope) {
            touched[model] = ((touched[model]?.count ?? 0) + 1, envelope)
        }
        let checkouts = batch.filter { $0.event.checkoutID != nil }
        for envelope in checkouts { touch(.checkouts, by: envelope) }
        try projectCheckouts(checkouts, in: database)

        var stock = StockMovements()
        var balances = BalanceMovements()
        var orders: [(OrderCreated, Date)] = []
        for envelope in batch {
            if stock.add(envelope.event) { touch(.stockLevels, by: envelope) }
            if balances.add(envelope.event) { touch(.customerBalances, by: envelope) }
            if case .orderCreated(let order) = envelope.event {
                orders.append((order, envelope.metadata.occurredAt))
                touch(.ordersByCustomer, by: envelope)
                touch(.salesByStoreDay, by: envelope)
            }
        }
        try stock.write(into: tables, in: database)
        try balances.write(into: tables, in: database)
        try projectOrders(orders, in: database)

        let models = ReadModel.allCases.filter { touched[$0] != nil }
        if !models.isEmpty {
            try database.query(
                """
                INSERT INTO \(tables.checkpoints) AS checkpoints (read_model, last_event_id, last_occurred_at, events_applied)
                SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[])
                ON CONFLICT (read_model) DO UPDATE SET last_event_id = EXCLUDED.last_event_id,
                    last_occurred_at = EXCLUDED.last_occurred_at,
                    events_applied = checkpoints.events_applied + EXCLUDED.events_applied, updated_at = now()
                """,
                [PostgresTextArray(models.map(\.rawValue)),
                 PostgresTextArray(models.map { touched[$0]?.last.eventID ?? "" }),
                 PostgresTextArray(models.map { touched[$0].map { Timestamp.format($0.last.metadata.occurredAt) } ?? "" }),
                 PostgresTextArray(models.map { touched[$0]?.count ?? 0 })])
        }
        return [[DomainEvent]](repeating: [], count: batch.count)
    }

    /// Folds each checkout's events of the batch onto its stored state, then writes every
    /// changed checkout in one statement.
    private func projectCheckouts(_ events: [EventEnvelope], in database: isolated PostgresConnection) throws {
        guard !events.isEmpty else { return }
        var order: [String] = []
        var byCheckout: [String: [EventEnvelope]] = [:]
        for envelope in events {
            guard let checkoutID = envelope.event.checkoutID else { continue }
            if byCheckout[checkoutID] == nil { order.append(checkoutID) }
            byCheckout[checkoutID, default: []].append(envelope)
        }
        // Two consumers may fold the first events of one checkout at once, and a row that does
        // not exist yet cannot be locked: lock the checkouts' ids instead, in one order. A
        // rebuild's tables have one writer, and its pages are too large to lock key by key.
        if tables.haveConcurrentWriters {
            try database.query(
                """
                SELECT count(pg_advisory_xact_lock(\(Self.advisoryLockSpace), key)) FROM (
                    SELECT DISTINCT hashtext(id) AS key FROM unnest($1::text[]) AS id ORDER BY key
                ) AS keys
                """,
                [PostgresTextArray(order)])
        }
        // Most states were written by this process a moment ago: take them from memory when the
        // row still carries the revision written with them, and read only the others.
        var states: [String: CheckoutState] = [:]
        var unknown: [String] = []
        for row in try database.query(
            "SELECT checkout_id, revision FROM \(tables.checkouts) WHERE checkout_id = ANY($1::text[])", [PostgresTextArray(order)])
        {
            let checkoutID: String = try row.decode("checkout_id")
            if let revision = try row.decodeIfPresent("revision", as: String.self), let state = stateCache.state(of: checkoutID, revision: revision) {
                states[checkoutID] = state
            } else {
                unknown.append(checkoutID)
            }
        }
        if !unknown.isEmpty {
            let decoder = JSONDecoder()
            for row in try database.query(
                "SELECT checkout_id, state::text AS state FROM \(tables.checkouts) WHERE checkout_id = ANY($1::text[])",
                [PostgresTextArray(unknown)])
            {
                states[try row.decode("checkout_id")] = try decoder.decode(CheckoutState.self, from: Data(try row.decode("state", as: String.self).utf8))
            }
        }
        var changed: [CheckoutState] = []
        for checkoutID in order {
            let stored = states[checkoutID]
            var state = stored
            for envelope in byCheckout[checkoutID] ?? [] {
                let before = state
                state = CheckoutState.fold(state, envelope)
                if let state, state.status.isTerminal, before?.status.isTerminal != true,
                   let started = state.timeline.first(where: { $0.type == .checkoutInitiated }).flatMap({ Timestamp.parse($0.at) })
                {
                    let milliseconds = Timestamp.milliseconds(envelope.metadata.occurredAt) - Timestamp.milliseconds(started)
                    sagaMetrics.observeTerminal(eventID: envelope.eventID, duration: .milliseconds(max(0, milliseconds)))
                }
            }
            if let state, state != stored { changed.append(state) }
        }
        guard !changed.isEmpty else { return }
        let encoder = JSONEncoder()
        let revisions = changed.map { _ in stateCache.newRevision() }
        try database.query(
            """
            INSERT INTO \(tables.checkouts) AS checkouts
                (checkout_id, customer_id, store_id, status, total_cents, failure_reason, order_id, state, revision, updated_at)
            SELECT c.*, now()
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::jsonb[], $9::text[]) AS c
            ON CONFLICT (checkout_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, store_id = EXCLUDED.store_id,
                status = EXCLUDED.status, total_cents = EXCLUDED.total_cents, failure_reason = EXCLUDED.failure_reason,
                order_id = EXCLUDED.order_id, state = EXCLUDED.state, revision = EXCLUDED.revision, updated_at = now()
            """,
            [PostgresTextArray(changed.map(\.checkoutID)), PostgresTextArray(nullable: changed.map(\.customerID)),
             PostgresTextArray(nullable: changed.map(\.storeID)), PostgresTextArray(changed.map(\.status.rawValue)),
             PostgresTextArray(changed.map(\.totalCents)), PostgresTextArray(nullable: changed.map(\.failureReason)),
             PostgresTextArray(nullable: changed.map(\.orderID)),
             PostgresTextArray(try changed.map { String(decoding: try encoder.encode($0), as: UTF8.self) }),
             PostgresTextArray(revisions)])
        // Remembered at once: a revision that is rolled back never appears in the table, so
        // its state is never taken for the row's.
        stateCache.remember(zip(changed, revisions).map { ($0.checkoutID, $1, $0) })
    }

    /// Records the batch's orders, and adds them to their store's sales of the day.
    private func projectOrders(_ orders: [(order: OrderCreated, at: Date)], in database: isolated PostgresConnection) throws {
        guard !orders.isEmpty else { return }
        let encoder = JSONEncoder()
        try database.query(
            """
            INSERT INTO \(tables.ordersByCustomer) AS orders_by_customer (customer_id, order_id, checkout_id, store_id, total_cents, lines, created_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[], $7::timestamptz[])
            ON CONFLICT DO NOTHING
            """,
            [PostgresTextArray(orders.map(\.order.checkout.customerID)), PostgresTextArray(orders.map(\.order.orderID)),
             PostgresTextArray(orders.map(\.order.checkout.checkoutID)), PostgresTextArray(orders.map(\.order.checkout.storeID)),
             PostgresTextArray(orders.map(\.order.checkout.totalCents)),
             PostgresTextArray(try orders.map { String(decoding: try encoder.encode($0.order.checkout.lines), as: UTF8.self) }),
             PostgresTextArray(orders.map { Timestamp.format($0.at) })])
        var sales: [SalesKey: (orders: Int, units: Int, revenue: Int64)] = [:]
        for (order, time) in orders {
            let key = SalesKey(storeID: order.checkout.storeID, day: Timestamp.utcDay(time))
            let current = sales[key] ?? (0, 0, 0)
            sales[key] = (current.orders + 1, current.units + order.checkout.lines.reduce(0) { $0 + $1.quantity },
                          current.revenue + order.checkout.totalCents)
        }
        // In key order, so that concurrent batches lock the rows they share in one order.
        let keys = sales.keys.sorted { ($0.storeID, $0.day) < ($1.storeID, $1.day) }
        try database.query(
            """
            INSERT INTO \(tables.salesByStoreDay) AS sales_by_store_day (store_id, day, orders, units, revenue_cents)
            SELECT * FROM unnest($1::text[], $2::date[], $3::integer[], $4::integer[], $5::bigint[])
            ON CONFLICT (store_id, day) DO UPDATE SET orders = sales_by_store_day.orders + EXCLUDED.orders,
                units = sales_by_store_day.units + EXCLUDED.units,
                revenue_cents = sales_by_store_day.revenue_cents + EXCLUDED.revenue_cents
            """,
            [PostgresTextArray(keys.map(\.storeID)), PostgresTextArray(keys.map(\.day)),
             PostgresTextArray(keys.map { sales[$0]?.orders ?? 0 }), PostgresTextArray(keys.map { sales[$0]?.units ?? 0 }),
             PostgresTextArray(keys.map { sales[$0]?.revenue ?? 0 })])
    }

    /// The first key of the projection's advisory locks, apart from every other service's.
    static let advisoryLockSpace: Int32 = 2

    private struct SalesKey: Hashable {
        var storeID: String
        var day: String
    }
}
