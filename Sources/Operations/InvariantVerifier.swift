import CheckoutDomain
import Foundation
import Postgres

/// Checks the invariants of a running or stopped Chorus against its PostgreSQL data: the event
/// store, rebuilt with the domain's own folds, against the stock, payment and order services'
/// tables and the read models. What `chorus verify` runs.
///
/// Everything is read in one read-only, repeatable-read transaction, so that every table is seen
/// at the same moment. Run it when the system is quiet for a clear answer; while checkouts are in
/// flight, an unfinished checkout younger than ``settleSeconds`` (with its reservation, its
/// charge and its read model) is listed as in flight rather than as a violation.
public struct InvariantVerifier: Sendable {
    public let target: OperatorTarget
    /// How old an unfinished checkout may be and still count as in flight.
    public let settleSeconds: Int

    /// A verifier of `target`; a negative settle time counts as 0.
    public init(target: OperatorTarget, settleSeconds: Int = 60) {
        self.target = target
        self.settleSeconds = max(0, settleSeconds)
    }

    /// Reads everything and checks every invariant.
    /// - Parameter now: the time against which checkout ages are measured.
    public func verify(now: Date = Date()) async throws(OperatorError) -> InvariantReport {
        let tables = try await target.withDatabase { database in
            try await database.withTransaction { database in try VerificationTables.read(in: database) }
        }
        do {
            let facts = try VerificationFacts(tables, now: now, settleSeconds: settleSeconds)
            return InvariantReport(
                results: [
                    try facts.checkStock(), try facts.checkMoney(), facts.checkCheckouts(), try facts.checkEventStore(),
                    try facts.checkReadModels(),
                ],
                settleSeconds: settleSeconds)
        } catch {
            throw target.classify(error)
        }
    }
}

/// The rows `verify` reads, all in one snapshot.
struct VerificationTables: Sendable {
    var events: PostgresRows
    var aggregateIndex: PostgresRows
    var duplicateEventIDs: PostgresRows
    var stock: PostgresRows
    var openReservationLines: PostgresRows
    var payments: PostgresRows
    var orders: PostgresRows
    var accounts: PostgresRows
    var readCheckouts: PostgresRows
    var readStock: PostgresRows
    var readBalances: PostgresRows
    var readOrders: PostgresRows
    var readSales: PostgresRows

    /// Every statement is fixed text: nothing here is built from data.
    static func read(in database: isolated PostgresConnection) throws -> VerificationTables {
        try database.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        let time = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"
        return VerificationTables(
            events: try database.query(
                """
                SELECT position, event_id, event_type, payload::text AS payload, correlation_id, causation_id, producer, actor,
                       to_char(occurred_at AT TIME ZONE 'UTC', \(time)) AS occurred_at
                FROM event_store.events ORDER BY position
                """),
            aggregateIndex: try database.query(
                "SELECT aggregate_kind, aggregate_id, position FROM event_store.aggregate_events ORDER BY aggregate_kind, aggregate_id, version"),
            duplicateEventIDs: try database.query(
                "SELECT event_id, count(*) AS copies FROM event_store.events GROUP BY event_id HAVING count(*) > 1 ORDER BY event_id"),
            stock: try database.query(
                "SELECT store_id, sku, on_hand, reserved, sold, received FROM stock_reservation.stock ORDER BY store_id, sku"),
            openReservationLines: try database.query(
                """
                SELECT r.checkout_id, r.store_id, line->>'sku' AS sku, sum((line->>'quantity')::integer) AS quantity,
                       (extract(epoch FROM r.updated_at) * 1000)::bigint AS updated_ms
                FROM stock_reservation.reservations r, jsonb_array_elements(r.lines) AS line
                WHERE r.status = 'reserved'
                GROUP BY r.checkout_id, r.store_id, line->>'sku', r.updated_at
                ORDER BY r.store_id, line->>'sku', r.checkout_id
                """),
            payments: try database.query(
                "SELECT payment_id, checkout_id, customer_id, amount_cents, status FROM payment.payments ORDER BY checkout_id"),
            orders: try database.query(
                "SELECT order_id, checkout_id, customer_id, store_id, total_cents FROM order_creation.orders ORDER BY checkout_id"),
            accounts: try database.query("SELECT customer_id, balance_cents FROM payment.accounts ORDER BY customer_id"),
            readCheckouts: try database.query(
                "SELECT checkout_id, state::text AS state FROM cqrs_projection.checkouts ORDER BY checkout_id"),
            readStock: try database.query(
                "SELECT store_id, sku, on_hand, reserved, sold, received FROM cqrs_projection.stock_levels ORDER BY store_id, sku"),
            readBalances: try database.query(
                """
                SELECT customer_id, balance_cents, credited_cents, charged_cents, refunded_cents
                FROM cqrs_projection.customer_balances ORDER BY customer_id
                """),
            readOrders: try database.query(
                "SELECT customer_id, order_id, checkout_id, store_id, total_cents FROM cqrs_projection.orders_by_customer ORDER BY order_id"),
            readSales: try database.query(
                """
                SELECT store_id, to_char(day, 'YYYY-MM-DD') AS day, orders, units, revenue_cents
                FROM cqrs_projection.sales_by_store_day ORDER BY store_id, day
                """)
        )
    }
}
