import CheckoutDomain
import ExactlyOnce
import Postgres

/// Undoes a failed checkout: for each failure it emits the compensations the saga needs
/// (refund, release), then `CheckoutFailed`.
///
/// It compensates a checkout once, whatever arrives: a second failure event for the same
/// checkout, even with another event id, emits nothing.
public struct CompensationEffect: EventEffect {
    public let worker = Worker.compensation
    public let schema = "compensation"

    public init() {}

    public var migrations: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS compensation.compensated_checkouts (
                checkout_id    text PRIMARY KEY,
                failed_step    text NOT NULL,
                reason         text NOT NULL,
                compensations  text[] NOT NULL,
                compensated_at timestamptz NOT NULL DEFAULT now()
            )
            """
        ]
    }

    /// Records every failure of the batch in one statement; a checkout already recorded (or
    /// recorded earlier in the batch) is compensated no more.
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        let plans = batch.map { CompensationRule.plan(for: $0.event) }
        var rows: [(checkoutID: String, failedStep: String, reason: String, compensations: String)] = []
        var firstFailure: [String: Int] = [:]
        for (index, (envelope, plan)) in zip(batch, plans).enumerated() {
            guard let checkoutID = envelope.event.checkoutID, !plan.isEmpty, firstFailure[checkoutID] == nil else { continue }
            firstFailure[checkoutID] = index
            let reason = plan.compactMap { event -> String? in
                if case .checkoutFailed(let failed) = event { return failed.reason }
                return nil
            }.first ?? "unknown"
            // Each row's compensations travel as an array literal inside the text[] parameter,
            // cast back to text[] per row: unnest cannot take an array of arrays of other lengths.
            rows.append((checkoutID, envelope.event.type.rawValue, reason, PostgresTextArray(plan.map(\.type.rawValue)).postgresText ?? "{}"))
        }
        guard !rows.isEmpty else { return batch.map { _ in [] } }
        let recorded = try database.query(
            """
            INSERT INTO compensation.compensated_checkouts (checkout_id, failed_step, reason, compensations)
            SELECT checkout_id, failed_step, reason, compensations::text[]
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS failure(checkout_id, failed_step, reason, compensations)
            ON CONFLICT (checkout_id) DO NOTHING
            RETURNING checkout_id
            """,
            [PostgresTextArray(rows.map(\.checkoutID)), PostgresTextArray(rows.map(\.failedStep)),
             PostgresTextArray(rows.map(\.reason)), PostgresTextArray(rows.map(\.compensations))])
        let compensated = Set(try recorded.map { try $0.decode("checkout_id", as: String.self) })
        return zip(batch, plans).enumerated().map { index, pair in
            guard let checkoutID = pair.0.event.checkoutID, compensated.contains(checkoutID), firstFailure[checkoutID] == index else { return [] }
            return pair.1
        }
    }
}
