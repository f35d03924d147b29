import CheckoutDomain
import ExactlyOnce
import Postgres

/// Undoes a failed checkout: for each failure it emits the compensations the saga needs
/// (refund, release), then `CheckoutFailed`.
///
/// It compensates a checkout once, whatever arrives: a second failure event for the same
/// checkout, even with another event id, emits nothing.
public struct CompensationEffect: SingleEventEffect {
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

    public func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent] {
        let plan = CompensationRule.plan(for: envelope.event)
        guard let checkoutID = envelope.event.checkoutID, !plan.isEmpty else { return [] }
        let reason = plan.compactMap { event -> String? in
            if case .checkoutFailed(let failed) = event { return failed.reason }
            return nil
        }.first ?? "unknown"
        let recorded = try database.query(
            """
            INSERT INTO compensation.compensated_checkouts (checkout_id, failed_step, reason, compensations)
            VALUES ($1, $2, $3, $4::text[]) ON CONFLICT (checkout_id) DO NOTHING
            """,
            [checkoutID, envelope.event.type.rawValue, reason, PostgresTextArray(plan.map(\.type.rawValue))])
        return recorded.affectedRows == 1 ? plan : []
    }
}
