import CheckoutDomain
import CoreMetrics
import Postgres

/// What one worker does with the events it handles: its effect on its own tables, and the
/// events it emits in reaction.
///
/// An effect applies a whole batch inside the batch's transaction, together with the inbox
/// records of its inputs and the storage of its outputs. So either all of it commits, or none
/// does. When a batch fails for its own sake, the handler applies it again in halves, each in a
/// savepoint, until the events at fault stand alone: the others commit once, and only those are
/// left to fail.
public protocol EventEffect: Sendable {
    /// The worker this effect belongs to; its `handles` set says which events reach ``apply(batch:in:)``.
    var worker: Worker { get }

    /// The worker's own schema: its tables and its inbox live there.
    var schema: String { get }

    /// Statements that create the worker's tables. They must be safe to run again.
    var migrations: [String] { get }

    /// Where the worker records which events it has applied.
    var inbox: InboxKind { get }

    /// Applies events that this worker has not applied before, in order, and returns for each
    /// one the events to emit, in order (one array per input, empty when it emits nothing).
    ///
    /// The result must equal applying the events one by one: set-based statements are welcome,
    /// as long as a later event sees what an earlier one did.
    /// - Important: do no I/O but through `database`: the call may be rolled back and repeated,
    ///   in whole or in part.
    func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]]

    /// Called once a batch's transaction has committed, with the events it applied for the first
    /// time (never redeliveries) and how long the transaction took; for the effect's own metrics.
    func committed(_ applied: [EventEnvelope], transactionDuration: Duration, metrics: any MetricsFactory)

    /// Called once at start: creates the effect's series at 0, so that they exist before the
    /// first event (a dashboard then shows 0 rather than no data).
    func prepareMetrics(_ metrics: any MetricsFactory)
}

/// How a worker remembers the events it has applied.
public enum InboxKind: Sendable, Hashable {
    /// In its schema's `inbox` table, with the events it emitted for each, so that a redelivery
    /// publishes them again exactly as they were.
    case table
    /// In its own table, keyed by the event's id, which it writes with `ON CONFLICT DO NOTHING`:
    /// for workers that only record events and emit none (the event store, the audit trail).
    /// Such an effect sees redeliveries in ``EventEffect/apply(batch:in:)`` and must ignore them.
    case effectTable
}

/// An effect whose rules are written one event at a time; the batch applies them in order.
public protocol SingleEventEffect: EventEffect {
    /// Applies one event and returns the events to emit, in order.
    /// - Important: do no I/O but through `database`: the call may be rolled back and repeated.
    func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent]
}

extension SingleEventEffect {
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        try batch.map { envelope in try apply(envelope, in: database) }
    }
}

extension EventEffect {
    public var migrations: [String] { [] }
    public var inbox: InboxKind { .table }
    public func committed(_ applied: [EventEnvelope], transactionDuration: Duration, metrics: any MetricsFactory) {}
    public func prepareMetrics(_ metrics: any MetricsFactory) {}
}
