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

    let sagaMetrics = SagaMetrics()

    public init() {}

    public func committed(_ applied: [EventEnvelope], transactionDuration: Duration, metrics: any MetricsFactory) {
        sagaMetrics.committed(applied, metrics: metrics)
    }

    /// Creates the saga series at 0 before the first checkout.
    public func prepareMetrics(_ metrics: any MetricsFactory) {
        sagaMetrics.prepare(metrics: metrics)
    }

    public var migrations: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS cqrs_projection.checkouts (
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
            """
            CREATE TABLE IF NOT EXISTS cqrs_projection.orders_by_customer (
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
            CREATE TABLE IF NOT EXISTS cqrs_projection.sales_by_store_day (
                store_id      text NOT NULL,
                day           date NOT NULL,
                orders        integer NOT NULL,
                units         integer NOT NULL,
                revenue_cents bigint NOT NULL,
                PRIMARY KEY (store_id, day)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS cqrs_projection.stock_levels (
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
            CREATE TABLE IF NOT EXISTS cqrs_projection.customer_balances (
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
            CREATE TABLE IF NOT EXISTS cqrs_projection.checkpoints (
                read_model       text PRIMARY KEY,
                last_event_id    text NOT NULL,
                last_occurred_at timestamptz NOT NULL,
                events_applied   bigint NOT NULL,
                updated_at       timestamptz NOT NULL DEFAULT now()
            )
            """,
        ]
    }

    public func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent] {
        var touched: [ReadModel] = []
        if envelope.event.checkoutID != nil {
            try projectCheckout(envelope, in: database)
            touched.append(.checkouts)
        }
        if try projectStock(envelope.event, in: database) { touched.append(.stockLevels) }
        if try projectBalance(envelope.event, in: database) { touched.append(.customerBalances) }
        if case .orderCreated(let order) = envelope.event {
            try projectOrder(order, at: envelope.metadata.occurredAt, in: database)
            touched += [.ordersByCustomer, .salesByStoreDay]
        }
        for model in touched {
            try database.query(
                """
                INSERT INTO cqrs_projection.checkpoints (read_model, last_event_id, last_occurred_at, events_applied)
                VALUES ($1, $2, $3::timestamptz, 1)
                ON CONFLICT (read_model) DO UPDATE SET last_event_id = EXCLUDED.last_event_id,
                    last_occurred_at = EXCLUDED.last_occurred_at, events_applied = checkpoints.events_applied + 1, updated_at = now()
                """,
                [model.rawValue, envelope.eventID, Timestamp.format(envelope.metadata.occurredAt)])
        }
        return []
    }

    private func projectCheckout(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws {
        guard let checkoutID = envelope.event.checkoutID else { return }
        // Two consumers may fold the first events of one checkout at once; FOR UPDATE cannot
        // lock a row that does not exist yet, so lock the checkout's id instead.
        try database.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["checkout/\(checkoutID)"])
        let current = try database.query(
            "SELECT state::text AS state FROM cqrs_projection.checkouts WHERE checkout_id = $1 FOR UPDATE", [checkoutID]
        ).first.map { try JSONDecoder().decode(CheckoutState.self, from: Data(try $0.decode("state", as: String.self).utf8)) }
        guard let next = CheckoutState.fold(current, envelope) else { return }
        if next.status.isTerminal, current?.status.isTerminal != true,
           let started = next.timeline.first(where: { $0.type == .checkoutInitiated }).flatMap({ Timestamp.parse($0.at) })
        {
            let milliseconds = Timestamp.milliseconds(envelope.metadata.occurredAt) - Timestamp.milliseconds(started)
            sagaMetrics.observeTerminal(eventID: envelope.eventID, duration: .milliseconds(max(0, milliseconds)))
        }
        try database.query(
            """
            INSERT INTO cqrs_projection.checkouts
                (checkout_id, customer_id, store_id, status, total_cents, failure_reason, order_id, state, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, now())
            ON CONFLICT (checkout_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, store_id = EXCLUDED.store_id,
                status = EXCLUDED.status, total_cents = EXCLUDED.total_cents, failure_reason = EXCLUDED.failure_reason,
                order_id = EXCLUDED.order_id, state = EXCLUDED.state, updated_at = now()
            """,
            [checkoutID, next.customerID, next.storeID, next.status.rawValue, next.totalCents, next.failureReason, next.orderID,
             String(decoding: try JSONEncoder().encode(next), as: UTF8.self)])
    }

    /// Applies stock movements; returns whether the event moved stock.
    private func projectStock(_ event: DomainEvent, in database: isolated PostgresConnection) throws -> Bool {
        // (store, sku, on_hand delta, reserved delta, sold delta, received delta)
        var moves: [(String, String, Int, Int, Int, Int)] = []
        switch event {
        case .stockReceived(let event):
            moves = [(event.storeID, event.sku, event.quantity, 0, 0, event.quantity)]
        case .stockReserved(let event):
            moves = event.checkout.lines.map { (event.checkout.storeID, $0.sku, 0, $0.quantity, 0, 0) }
        case .stockReleased(let event):
            moves = event.lines.map { (event.storeID, $0.sku, 0, -$0.quantity, 0, 0) }
        case .orderCreated(let event):
            moves = event.checkout.lines.map { (event.checkout.storeID, $0.sku, -$0.quantity, -$0.quantity, $0.quantity, 0) }
        default:
            return false
        }
        for (store, sku, onHand, reserved, sold, received) in moves {
            try database.query(
                """
                INSERT INTO cqrs_projection.stock_levels (store_id, sku, on_hand, reserved, sold, received)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock_levels.on_hand + EXCLUDED.on_hand,
                    reserved = stock_levels.reserved + EXCLUDED.reserved, sold = stock_levels.sold + EXCLUDED.sold,
                    received = stock_levels.received + EXCLUDED.received
                """,
                [store, sku, onHand, reserved, sold, received])
        }
        return true
    }

    /// Applies account movements; returns whether the event moved money.
    private func projectBalance(_ event: DomainEvent, in database: isolated PostgresConnection) throws -> Bool {
        let customerID: String
        var registers = false
        var name: String?
        var email: String?
        var credited: Int64 = 0
        var charged: Int64 = 0
        var refunded: Int64 = 0
        switch event {
        case .customerRegistered(let event):
            (customerID, name, email, credited, registers) = (event.customerID, event.name, event.email, event.openingBalanceCents, true)
        case .accountCredited(let event):
            (customerID, credited) = (event.customerID, event.amountCents)
        case .paymentAuthorized(let event):
            (customerID, charged) = (event.checkout.customerID, event.amountCents)
        case .paymentRefunded(let event):
            (customerID, refunded) = (event.customerID, event.amountCents)
        default:
            return false
        }
        try database.query(
            """
            INSERT INTO cqrs_projection.customer_balances
                (customer_id, name, email, balance_cents, credited_cents, charged_cents, refunded_cents, registered)
            VALUES ($1, $2, $3, $4::bigint + $6::bigint - $5::bigint, $4, $5, $6, $7)
            ON CONFLICT (customer_id) DO UPDATE SET
                registered = customer_balances.registered OR EXCLUDED.registered,
                name = COALESCE(EXCLUDED.name, customer_balances.name),
                email = COALESCE(EXCLUDED.email, customer_balances.email),
                balance_cents = customer_balances.balance_cents + EXCLUDED.balance_cents,
                credited_cents = customer_balances.credited_cents + EXCLUDED.credited_cents,
                charged_cents = customer_balances.charged_cents + EXCLUDED.charged_cents,
                refunded_cents = customer_balances.refunded_cents + EXCLUDED.refunded_cents
            WHERE NOT ($7 AND customer_balances.registered)
            """,
            [customerID, name, email, credited, charged, refunded, registers])
        return true
    }

    private func projectOrder(_ order: OrderCreated, at time: Date, in database: isolated PostgresConnection) throws {
        let checkout = order.checkout
        let occurredAt = Timestamp.format(time)
        try database.query(
            """
            INSERT INTO cqrs_projection.orders_by_customer (customer_id, order_id, checkout_id, store_id, total_cents, lines, created_at)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::timestamptz) ON CONFLICT DO NOTHING
            """,
            [checkout.customerID, order.orderID, checkout.checkoutID, checkout.storeID, checkout.totalCents,
             String(decoding: try JSONEncoder().encode(checkout.lines), as: UTF8.self), occurredAt])
        try database.query(
            """
            INSERT INTO cqrs_projection.sales_by_store_day (store_id, day, orders, units, revenue_cents)
            VALUES ($1, ($2::timestamptz AT TIME ZONE 'UTC')::date, 1, $3, $4)
            ON CONFLICT (store_id, day) DO UPDATE SET orders = sales_by_store_day.orders + 1,
                units = sales_by_store_day.units + EXCLUDED.units,
                revenue_cents = sales_by_store_day.revenue_cents + EXCLUDED.revenue_cents
            """,
            [checkout.storeID, occurredAt, checkout.lines.reduce(0) { $0 + $1.quantity }, checkout.totalCents])
    }
}
