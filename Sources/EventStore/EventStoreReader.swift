import CheckoutDomain
import Postgres

/// One stored event with its place in the store and in an aggregate.
public struct StoredEvent: Sendable, Hashable {
    public var position: Int64
    public var version: Int
    public var envelope: EventEnvelope
}

/// The history of one aggregate.
public struct AggregateHistory: Sendable, Hashable {
    public var reference: AggregateReference
    public var events: [StoredEvent]
}

/// Why a history could not be read.
public enum EventStoreReadError: Error, Sendable, Hashable {
    /// No aggregate has this id (of this kind, when a kind was given).
    case notFound(String)
    /// Aggregates of several kinds share this id; name the kind.
    case ambiguous(String, [AggregateKind])
    /// A stored event no longer decodes; the store is damaged or the code is older than the data.
    case undecodable(eventID: String, reason: String)
}

/// Reads aggregates' histories back from the event store.
public struct EventStoreReader: Sendable {
    let database: PostgresConnectionPool

    public init(database: PostgresConnectionPool) {
        self.database = database
    }

    /// The events of the aggregate `id`, in version order.
    /// - Parameter kind: the aggregate's kind, needed only when several kinds share the id.
    public func history(of id: String, kind: AggregateKind? = nil) async throws -> AggregateHistory {
        let rows = try await database.connection.query(
            """
            SELECT a.aggregate_kind, a.version, e.position, e.event_id, e.event_type, e.payload::text AS payload,
                   e.correlation_id, e.causation_id, e.producer, e.actor,
                   to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at
            FROM event_store.aggregate_events a JOIN event_store.events e ON e.position = a.position
            WHERE a.aggregate_id = $1 AND ($2::text IS NULL OR a.aggregate_kind = $2)
            ORDER BY a.aggregate_kind, a.version
            """,
            [id, kind?.rawValue])
        let kinds = try Set(rows.map { try $0.decode("aggregate_kind", as: String.self) }).compactMap(AggregateKind.init(rawValue:))
        guard let found = kinds.first else { throw EventStoreReadError.notFound(id) }
        guard kinds.count == 1 else { throw EventStoreReadError.ambiguous(id, kinds.sorted { $0.rawValue < $1.rawValue }) }
        var events: [StoredEvent] = []
        for row in rows {
            events.append(StoredEvent(
                position: try row.decode("position"), version: try row.decode("version"), envelope: try EventEnvelope(eventStoreRow: row)))
        }
        return AggregateHistory(reference: AggregateReference(kind: found, id: id), events: events)
    }
}
