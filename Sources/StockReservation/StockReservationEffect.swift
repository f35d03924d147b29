import CheckoutDomain
import ExactlyOnce
import Foundation
import Postgres

/// Owns stock per (store, SKU): receives units, reserves all lines of a checkout or none,
/// releases reservations on compensation, and turns them into sales when an order is created.
///
/// Rows are locked (`FOR UPDATE`, in key order) before the all-or-nothing decisions, so
/// concurrent reservations never oversell; the table's checks back that up. The decisions are
/// made in memory for a whole batch by ``StockLedger``, with the rules of one event at a time.
public struct StockReservationEffect: EventEffect {
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

    /// Applies a batch in at most five statements, whatever its size: the reservations it
    /// settles and the stock rows it touches are loaded and locked (reservations first, then
    /// stock, each in key order, so that two consumers cannot deadlock), the events are applied
    /// in memory by ``StockLedger``, and what changed is written back with one statement per
    /// change: stock, new reservations, settled reservations.
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        let events = batch.map(\.event)
        let needs = StockLedger.needs(events)
        let reservations = needs.reservations.isEmpty ? [:] : try loadReservations(needs.reservations.sorted(), in: database)
        let keys = needs.stock.union(StockLedger.stockKeys(of: reservations)).sorted()
        var ledger = StockLedger(levels: keys.isEmpty ? [:] : try loadStock(keys, in: database), reservations: reservations)
        var emitted: [[DomainEvent]] = []
        emitted.reserveCapacity(events.count)
        for event in events { emitted.append(try ledger.apply(event)) }
        try write(ledger, in: database)
        return emitted
    }

    private func loadReservations(_ checkoutIDs: [String], in database: isolated PostgresConnection) throws -> [String: StockLedger.Reservation] {
        let rows = try database.query(
            """
            SELECT checkout_id, store_id, lines::text AS lines, status FROM stock_reservation.reservations
            WHERE checkout_id = ANY($1::text[])
            ORDER BY checkout_id
            FOR UPDATE
            """,
            [PostgresTextArray(checkoutIDs)])
        var reservations: [String: StockLedger.Reservation] = [:]
        let decoder = JSONDecoder()
        for row in rows {
            let lines = try decoder.decode([CheckoutLine].self, from: Data(try row.decode("lines", as: String.self).utf8))
            reservations[try row.decode("checkout_id")] = StockLedger.Reservation(
                storeID: try row.decode("store_id"), lines: lines, status: try row.decode("status", as: StockLedger.ReservationStatus.self))
        }
        return reservations
    }

    private func loadStock(_ keys: [StockLedger.Key], in database: isolated PostgresConnection) throws -> [StockLedger.Key: StockLedger.Level] {
        let rows = try database.query(
            """
            SELECT stock.store_id, stock.sku, stock.on_hand, stock.reserved, stock.sold, stock.received
            FROM stock_reservation.stock AS stock
            JOIN unnest($1::text[], $2::text[]) AS key(store_id, sku) ON stock.store_id = key.store_id AND stock.sku = key.sku
            ORDER BY stock.store_id, stock.sku
            FOR UPDATE OF stock
            """,
            [PostgresTextArray(keys.map(\.storeID)), PostgresTextArray(keys.map(\.sku))])
        var levels: [StockLedger.Key: StockLedger.Level] = [:]
        for row in rows {
            levels[StockLedger.Key(storeID: try row.decode("store_id"), sku: try row.decode("sku"))] = StockLedger.Level(
                onHand: try row.decode("on_hand"), reserved: try row.decode("reserved"),
                sold: try row.decode("sold"), received: try row.decode("received"))
        }
        return levels
    }

    private func write(_ ledger: StockLedger, in database: isolated PostgresConnection) throws {
        let changes = ledger.stockChanges
        if !changes.isEmpty {
            // Additions, not new values: see StockLedger.stockChanges. Rows that exist are
            // updated; the others are inserted. (An INSERT … ON CONFLICT alone would not do: the
            // table's checks apply to the row proposed for insertion, and an addition on its own,
            // say one more unit reserved, is not a valid row.)
            try database.query(
                """
                WITH change AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::integer[], $6::integer[])
                        AS change(store_id, sku, on_hand, reserved, sold, received)
                ), updated AS (
                    UPDATE stock_reservation.stock AS stock
                    SET on_hand = stock.on_hand + change.on_hand, reserved = stock.reserved + change.reserved,
                        sold = stock.sold + change.sold, received = stock.received + change.received
                    FROM change WHERE stock.store_id = change.store_id AND stock.sku = change.sku
                    RETURNING stock.store_id, stock.sku
                )
                INSERT INTO stock_reservation.stock AS stock (store_id, sku, on_hand, reserved, sold, received)
                SELECT change.* FROM change
                WHERE NOT EXISTS (SELECT 1 FROM updated WHERE updated.store_id = change.store_id AND updated.sku = change.sku)
                ON CONFLICT (store_id, sku) DO UPDATE
                SET on_hand = stock.on_hand + EXCLUDED.on_hand, reserved = stock.reserved + EXCLUDED.reserved,
                    sold = stock.sold + EXCLUDED.sold, received = stock.received + EXCLUDED.received
                """,
                [PostgresTextArray(changes.map(\.key.storeID)), PostgresTextArray(changes.map(\.key.sku)),
                 PostgresTextArray(changes.map(\.change.onHand)), PostgresTextArray(changes.map(\.change.reserved)),
                 PostgresTextArray(changes.map(\.change.sold)), PostgresTextArray(changes.map(\.change.received))])
        }
        let made = ledger.newReservations
        if !made.isEmpty {
            try database.query(
                """
                INSERT INTO stock_reservation.reservations (checkout_id, store_id, lines, status)
                SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
                """,
                [PostgresTextArray(made.map(\.checkoutID)), PostgresTextArray(made.map(\.reservation.storeID)),
                 PostgresTextArray(try made.map { try Self.encode($0.reservation.lines) }),
                 PostgresTextArray(made.map(\.reservation.status.rawValue))])
        }
        let settled = ledger.settledReservations
        if !settled.isEmpty {
            try database.query(
                """
                UPDATE stock_reservation.reservations AS reservation SET status = settled.status, updated_at = now()
                FROM unnest($1::text[], $2::text[]) AS settled(checkout_id, status)
                WHERE reservation.checkout_id = settled.checkout_id
                """,
                [PostgresTextArray(settled.map(\.checkoutID)), PostgresTextArray(settled.map(\.status.rawValue))])
        }
    }

    static func encode(_ lines: [CheckoutLine]) throws -> String {
        String(decoding: try JSONEncoder().encode(lines), as: UTF8.self)
    }
}
