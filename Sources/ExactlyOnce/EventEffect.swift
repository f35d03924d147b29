import CheckoutDomain
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
}

extension EventEffect {
    public var migrations: [String] { [] }
}
