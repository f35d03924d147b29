import CheckoutDomain
import ExactlyOnce
import Foundation
import Postgres

/// Owns orders: records one for every authorized payment, unless the store stopped taking
/// orders meanwhile, in which case it rejects the order and compensation takes over.
public struct OrderCreationEffect: EventEffect {
    public let worker = Worker.orderCreation
    public let schema = "order_creation"

    public init() {}

    public var migrations: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS order_creation.stores (
                store_id     text PRIMARY KEY,
                paused       boolean NOT NULL DEFAULT false,
                pause_reason text
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS order_creation.orders (
                order_id    text PRIMARY KEY,
                checkout_id text NOT NULL UNIQUE,
                customer_id text NOT NULL,
                store_id    text NOT NULL,
                payment_id  text NOT NULL,
                lines       jsonb NOT NULL,
                total_cents bigint NOT NULL CHECK (total_cents >= 0),
                created_at  timestamptz NOT NULL
            )
            """,
        ]
    }

    /// Applies a batch in order. Store events (rare) are applied one at a time; each run of
    /// authorized payments between them is decided in two statements, whatever its length: the
    /// stores it names are read at once, and its orders are inserted at once.
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        var emitted: [[DomainEvent]] = []
        emitted.reserveCapacity(batch.count)
        var index = batch.startIndex
        while index < batch.endIndex {
            var end = index
            var payments: [(payment: PaymentAuthorized, occurredAt: Date)] = []
            while end < batch.endIndex, case .paymentAuthorized(let payment) = batch[end].event {
                payments.append((payment, batch[end].metadata.occurredAt))
                end += 1
            }
            if payments.isEmpty {
                emitted.append(try applyStoreEvent(batch[index].event, in: database))
                index += 1
            } else {
                emitted += try createOrders(for: payments, in: database)
                index = end
            }
        }
        return emitted
    }

    private func applyStoreEvent(_ event: DomainEvent, in database: isolated PostgresConnection) throws -> [DomainEvent] {
        switch event {
        case .storeOpened(let event):
            try database.query(
                "INSERT INTO order_creation.stores (store_id) VALUES ($1) ON CONFLICT (store_id) DO NOTHING", [event.storeID])
        case .storePaused(let event):
            try setPaused(storeID: event.storeID, paused: true, reason: event.reason, in: database)
        case .storeResumed(let event):
            try setPaused(storeID: event.storeID, paused: false, reason: nil, in: database)
        default:
            break
        }
        return []
    }

    private func createOrders(
        for payments: [(payment: PaymentAuthorized, occurredAt: Date)], in database: isolated PostgresConnection
    ) throws -> [[DomainEvent]] {
        let storeIDs = Array(Set(payments.map(\.payment.checkout.storeID))).sorted()
        var paused: [String: Bool] = [:]
        for row in try database.query(
            "SELECT store_id, paused FROM order_creation.stores WHERE store_id = ANY($1::text[])", [PostgresTextArray(storeIDs)])
        {
            paused[try row.decode("store_id")] = try row.decode("paused", as: Bool.self)
        }
        var orders: [(order: OrderCreated, occurredAt: Date)] = []
        let decisions = payments.map { item in
            let decision = OrderCreationRule.decide(item.payment, storeIsPaused: paused[item.payment.checkout.storeID])
            for case .orderCreated(let order) in decision { orders.append((order, item.occurredAt)) }
            return decision
        }
        if !orders.isEmpty {
            let lines = try orders.map { String(decoding: try JSONEncoder().encode($0.order.checkout.lines), as: UTF8.self) }
            try database.query(
                """
                INSERT INTO order_creation.orders
                    (order_id, checkout_id, customer_id, store_id, payment_id, lines, total_cents, created_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[], $8::timestamptz[])
                """,
                [PostgresTextArray(orders.map(\.order.orderID)), PostgresTextArray(orders.map(\.order.checkout.checkoutID)),
                 PostgresTextArray(orders.map(\.order.checkout.customerID)), PostgresTextArray(orders.map(\.order.checkout.storeID)),
                 PostgresTextArray(orders.map(\.order.paymentID)), PostgresTextArray(lines),
                 PostgresTextArray(orders.map(\.order.checkout.totalCents)),
                 PostgresTextArray(orders.map { Timestamp.format($0.occurredAt) })])
        }
        return decisions
    }

    private func setPaused(storeID: String, paused: Bool, reason: String?, in database: isolated PostgresConnection) throws {
        try database.query(
            """
            INSERT INTO order_creation.stores (store_id, paused, pause_reason) VALUES ($1, $2, $3)
            ON CONFLICT (store_id) DO UPDATE SET paused = EXCLUDED.paused, pause_reason = EXCLUDED.pause_reason
            """,
            [storeID, paused, reason])
    }
}
