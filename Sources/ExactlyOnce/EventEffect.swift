import CheckoutDomain
import CoreMetrics
import Postgres

/// What one worker does with the events it handles: its effect on its own tables, and the
/// events it emits in reaction.
///
/// An effect runs inside the batch's transaction, within a savepoint of its own, together with
/// the inbox record of its input and the storage of its outputs. So either all three commit, or
/// none does.
public protocol EventEffect: Sendable {
    /// The worker this effect belongs to; its `handles` set says which events reach ``apply(_:in:)``.
    var worker: Worker { get }

    /// The worker's own schema: its tables and its inbox live there.
    var schema: String { get }

    /// Statements that create the worker's tables. They must be safe to run again.
    var migrations: [String] { get }

    /// Applies one event and returns the events to emit, in order.
    /// - Important: do no I/O but through `database`: the call may be rolled back and repeated.
    func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent]

    /// Called once a batch's transaction has committed, with the events it applied for the first
    /// time (never redeliveries) and how long the transaction took; for the effect's own metrics.
    func committed(_ applied: [EventEnvelope], transactionDuration: Duration, metrics: any MetricsFactory)

    /// Called once at start: creates the effect's series at 0, so that they exist before the
    /// first event (a dashboard then shows 0 rather than no data).
    func prepareMetrics(_ metrics: any MetricsFactory)
}

extension EventEffect {
    public var migrations: [String] { [] }
    public func committed(_ applied: [EventEnvelope], transactionDuration: Duration, metrics: any MetricsFactory) {}
    public func prepareMetrics(_ metrics: any MetricsFactory) {}
}
