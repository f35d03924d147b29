import CheckoutDomain
import ExactlyOnce
import Foundation
import Postgres

/// Owns stock per (store, SKU): receives units, reserves all lines of a checkout or none,
/// releases reservations on compensation, and turns them into sales when an order is created.
///
/// Rows are locked (`FOR UPDATE`, in SKU order) before the all-or-nothing decision, so
/// concurrent reservations never oversell; the table's checks back that up.
public struct StockReservationEffect: SingleEventEffect {
    public let worker = Worker.stockReservation
    public let schema = "stock_reservation"

    public init() {}

    public var migrations: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS stock_reservation.stock (
                store_id text NOT NULL,
                sku      text NOT NULL,
                on_hand  integer NOT NULL DEFAULT 0,
                reserved integer NOT NULL DEFAULT 0,
                sold     integer NOT NULL DEFAULT 0,
                received integer NOT NULL DEFAULT 0,
                PRIMARY KEY (store_id, sku),
                CHECK (reserved >= 0),
                CHECK (on_hand >= reserved)
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS stock_reservation.reservations (
                checkout_id text PRIMARY KEY,
                store_id    text NOT NULL,
                lines       jsonb NOT NULL,
                status      text NOT NULL CHECK (status IN ('reserved', 'released', 'sold')),
                updated_at  timestamptz NOT NULL DEFAULT now()
            )
            """,
        ]
    }

    public func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent] {
        switch envelope.event {
        case .stockReceived(let event):
            try database.query(
                """
                INSERT INTO stock_reservation.stock (store_id, sku, on_hand, received) VALUES ($1, $2, $3, $3)
                ON CONFLICT (store_id, sku) DO UPDATE
                SET on_hand = stock.on_hand + EXCLUDED.on_hand, received = stock.received + EXCLUDED.received
                """,
                [event.storeID, event.sku, event.quantity])
            return []
        case .checkoutInitiated(let event):
            return [try reserve(event.checkout, in: database)]
        case .stockReleased(let event):
            try settle(checkoutID: event.checkoutID, to: "released", in: database)
            return []
        case .orderCreated(let event):
            try settle(checkoutID: event.checkout.checkoutID, to: "sold", in: database)
            return []
        default:
            return []
        }
    }

    private func reserve(_ checkout: CheckoutFacts, in database: isolated PostgresConnection) throws -> DomainEvent {
        let skus = checkout.lines.map(\.sku)
        let rows = try database.query(
            """
            SELECT sku, on_hand - reserved AS available FROM stock_reservation.stock
            WHERE store_id = $1 AND sku = ANY($2::text[])
            ORDER BY sku
            FOR UPDATE
            """,
            [checkout.storeID, PostgresTextArray(skus)])
        var available: [String: Int] = [:]
        for row in rows { available[try row.decode("sku")] = try row.decode("available", as: Int.self) }
        let decision = StockReservationRule.decide(checkout, available: available)
        if case .stockReserved = decision {
            // One row per SKU: an UPDATE … FROM applies only one of several matching rows.
            let requested = StockReservationRule.unitsPerSKU(checkout.lines)
            try database.query(
                """
                UPDATE stock_reservation.stock AS stock SET reserved = stock.reserved + line.quantity
                FROM unnest($2::text[], $3::integer[]) AS line(sku, quantity)
                WHERE stock.store_id = $1 AND stock.sku = line.sku
                """,
                [checkout.storeID, PostgresTextArray(requested.order), PostgresTextArray(requested.order.map { requested.units[$0] ?? 0 })])
            try database.query(
                "INSERT INTO stock_reservation.reservations (checkout_id, store_id, lines, status) VALUES ($1, $2, $3::jsonb, 'reserved')",
                [checkout.checkoutID, checkout.storeID, try Self.encode(checkout.lines)])
        }
        return decision
    }

    /// Releases or sells a reservation, once: only a reservation still `reserved` changes, and
    /// its lines move the stock in the same statement.
    private func settle(checkoutID: String, to status: String, in database: isolated PostgresConnection) throws {
        try database.query(
            """
            WITH settled AS (
                UPDATE stock_reservation.reservations SET status = $2, updated_at = now()
                WHERE checkout_id = $1 AND status = 'reserved'
                RETURNING store_id, lines
            )
            UPDATE stock_reservation.stock AS stock
            SET reserved = stock.reserved - line.quantity,
                on_hand = stock.on_hand - CASE WHEN $3 THEN line.quantity ELSE 0 END,
                sold = stock.sold + CASE WHEN $3 THEN line.quantity ELSE 0 END
            FROM settled, LATERAL (
                -- One row per SKU: an UPDATE … FROM applies only one of several matching rows.
                SELECT sku, sum(quantity)::integer AS quantity
                FROM jsonb_to_recordset(settled.lines) AS line(sku text, quantity integer) GROUP BY sku
            ) AS line
            WHERE stock.store_id = settled.store_id AND stock.sku = line.sku
            """,
            [checkoutID, status, status == "sold"])
    }

    static func encode(_ lines: [CheckoutLine]) throws -> String {
        String(decoding: try JSONEncoder().encode(lines), as: UTF8.self)
    }
}
