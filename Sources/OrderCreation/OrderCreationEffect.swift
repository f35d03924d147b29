import CheckoutDomain
import ExactlyOnce
import Foundation
import Postgres

/// Owns orders: records one for every authorized payment, unless the store stopped taking
/// orders meanwhile, in which case it rejects the order and compensation takes over.
public struct OrderCreationEffect: SingleEventEffect {
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

    public func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent] {
        switch envelope.event {
        case .storeOpened(let event):
            try database.query(
                "INSERT INTO order_creation.stores (store_id) VALUES ($1) ON CONFLICT (store_id) DO NOTHING", [event.storeID])
            return []
        case .storePaused(let event):
            try setPaused(storeID: event.storeID, paused: true, reason: event.reason, in: database)
            return []
        case .storeResumed(let event):
            try setPaused(storeID: event.storeID, paused: false, reason: nil, in: database)
            return []
        case .paymentAuthorized(let payment):
            let checkout = payment.checkout
            let paused = try database.query(
                "SELECT paused FROM order_creation.stores WHERE store_id = $1", [checkout.storeID]
            ).first.map { try $0.decode("paused", as: Bool.self) }
            let decision = OrderCreationRule.decide(payment, storeIsPaused: paused)
            for case .orderCreated(let order) in decision {
                try database.query(
                    """
                    INSERT INTO order_creation.orders
                        (order_id, checkout_id, customer_id, store_id, payment_id, lines, total_cents, created_at)
                    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::timestamptz)
                    """,
                    [order.orderID, checkout.checkoutID, checkout.customerID, checkout.storeID, order.paymentID,
                     String(decoding: try JSONEncoder().encode(checkout.lines), as: UTF8.self), checkout.totalCents,
                     Timestamp.format(envelope.metadata.occurredAt)])
            }
            return decision
        default:
            return []
        }
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
