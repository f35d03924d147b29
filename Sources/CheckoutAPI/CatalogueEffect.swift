import CheckoutDomain
import ExactlyOnce
import Postgres

/// The checkout API's own view of the catalogue, stores and customers, built from reference
/// events, so that it can price and validate checkouts without reading another service's data;
/// and the outcome of each checkout started with an `Idempotency-Key`, from its terminal event,
/// so that a repeat of the request answers the checkout's status as it is now.
public struct CatalogueEffect: SingleEventEffect {
    public let worker = Worker.checkoutAPI
    public let schema = "checkout_api"

    public init() {}

    public var migrations: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS checkout_api.products (
                sku         text PRIMARY KEY,
                name        text NOT NULL,
                price_cents bigint NOT NULL CHECK (price_cents >= 0)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS checkout_api.stores (
                store_id text PRIMARY KEY,
                name     text NOT NULL,
                channel  text NOT NULL,
                paused   boolean NOT NULL DEFAULT false
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS checkout_api.customers (
                customer_id text PRIMARY KEY,
                name        text NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS checkout_api.idempotency_keys (
                idempotency_key text PRIMARY KEY,
                fingerprint     text NOT NULL,
                resource_id     text NOT NULL,
                stream          text NOT NULL,
                event_fields    jsonb NOT NULL,
                published       boolean NOT NULL DEFAULT false,
                created_at      timestamptz NOT NULL DEFAULT now()
            )
            """,
            // The checkout's outcome, once its terminal event arrives; added after the first release.
            "ALTER TABLE checkout_api.idempotency_keys ADD COLUMN IF NOT EXISTS outcome text",
            "ALTER TABLE checkout_api.idempotency_keys ADD COLUMN IF NOT EXISTS failure_reason text",
            "CREATE INDEX IF NOT EXISTS idempotency_keys_by_resource ON checkout_api.idempotency_keys (resource_id)",
        ]
    }

    /// The reference events one by one, in order; the outcomes of the batch's checkouts in one
    /// statement (they touch only the key records, which no reference event does).
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        var outcomes: [EventEnvelope] = []
        for envelope in batch {
            switch envelope.event {
            case .checkoutCompleted, .checkoutFailed: outcomes.append(envelope)
            default: _ = try apply(envelope, in: database)
            }
        }
        try Self.recordOutcomes(of: outcomes, in: database)
        return batch.map { _ in [] }
    }

    /// Records how each checkout ended against its idempotency key. Only checkouts started with a
    /// key have a record; for the others this touches nothing.
    static func recordOutcomes(of envelopes: [EventEnvelope], in database: isolated PostgresConnection) throws {
        var checkouts: [String] = []
        var statuses: [String] = []
        var reasons: [String?] = []
        for envelope in envelopes {
            switch envelope.event {
            case .checkoutCompleted(let event):
                checkouts.append(event.checkoutID)
                statuses.append("completed")
                reasons.append(nil)
            case .checkoutFailed(let event):
                checkouts.append(event.checkoutID)
                statuses.append("failed")
                reasons.append(event.reason)
            default:
                continue
            }
        }
        guard !checkouts.isEmpty else { return }
        try database.query(
            """
            UPDATE checkout_api.idempotency_keys AS k SET outcome = o.status, failure_reason = o.reason
            FROM unnest($1::text[], $2::text[], $3::text[]) AS o(checkout_id, status, reason)
            WHERE k.resource_id = o.checkout_id
            """,
            [PostgresTextArray(checkouts), PostgresTextArray(statuses), PostgresTextArray(nullable: reasons)])
    }

    public func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent] {
        switch envelope.event {
        case .productRegistered(let event):
            try database.query(
                """
                INSERT INTO checkout_api.products (sku, name, price_cents) VALUES ($1, $2, $3)
                ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, price_cents = EXCLUDED.price_cents
                """,
                [event.sku, event.name, event.priceCents])
        case .productRepriced(let event):
            try database.query("UPDATE checkout_api.products SET price_cents = $2 WHERE sku = $1", [event.sku, event.priceCents])
        case .storeOpened(let event):
            try database.query(
                """
                INSERT INTO checkout_api.stores (store_id, name, channel) VALUES ($1, $2, $3)
                ON CONFLICT (store_id) DO UPDATE SET name = EXCLUDED.name, channel = EXCLUDED.channel
                """,
                [event.storeID, event.name, event.channel.rawValue])
        case .storePaused(let event):
            try database.query("UPDATE checkout_api.stores SET paused = true WHERE store_id = $1", [event.storeID])
        case .storeResumed(let event):
            try database.query("UPDATE checkout_api.stores SET paused = false WHERE store_id = $1", [event.storeID])
        case .customerRegistered(let event):
            try database.query(
                "INSERT INTO checkout_api.customers (customer_id, name) VALUES ($1, $2) ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name",
                [event.customerID, event.name])
        case .checkoutCompleted, .checkoutFailed:
            try Self.recordOutcomes(of: [envelope], in: database)
        default:
            break
        }
        return []
    }
}
