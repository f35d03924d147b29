import CheckoutDomain
import Postgres

/// A stored event with its position in the store: the order in which it was appended.
public struct PositionedEvent: Sendable {
    public var position: Int64
    public var envelope: EventEnvelope

    public init(position: Int64, envelope: EventEnvelope) {
        self.position = position
        self.envelope = envelope
    }
}

/// A stored event's place and identity, without its payload.
public struct StoredEventKey: Sendable, Hashable {
    public var position: Int64
    public var eventID: String
    public var type: String
}

/// Reads the whole store in append order, page by page, as rebuilding a read model needs.
///
/// Positions come from a sequence, taken when an event is inserted, so a transaction still in
/// flight can commit a position below one already read: a reader that must miss nothing reads
/// the recent positions again (``keys(after:)``) and fetches the ones it lacks
/// (``events(at:)``).
public struct EventStoreScan: Sendable {
    let database: PostgresConnection

    /// - Parameter database: a connection whose role may read `event_store` (the operator's).
    public init(database: PostgresConnection) {
        self.database = database
    }

    /// The last position taken so far (0 for an empty store).
    public func head() async throws -> Int64 {
        try await database.query("SELECT coalesce(max(position), 0) AS head FROM event_store.events")
            .first?.decode("head") ?? 0
    }

    /// Up to `limit` events after `position`, in position order; decoded on the connection's
    /// own thread, so that a caller applying the previous page meanwhile runs beside it.
    public func events(after position: Int64, limit: Int) async throws -> [PositionedEvent] {
        try await database.run { database in
            try Self.decode(database.query(
                "\(Self.selectEvents) WHERE position > $1 ORDER BY position LIMIT $2", [position, limit]))
        }
    }

    /// The events at `positions`, in position order.
    public func events(at positions: [Int64]) async throws -> [PositionedEvent] {
        guard !positions.isEmpty else { return [] }
        return try await database.run { database in
            try Self.decode(database.query(
                "\(Self.selectEvents) WHERE position = ANY($1::bigint[]) ORDER BY position", [PostgresTextArray(positions)]))
        }
    }

    /// Every event's position, id and type after `position`, in position order.
    public func keys(after position: Int64) async throws -> [StoredEventKey] {
        try await database.run { database in
            try database.query(
                "SELECT position, event_id, event_type FROM event_store.events WHERE position > $1 ORDER BY position", [position]
            ).map { row in
                StoredEventKey(position: try row.decode("position"), eventID: try row.decode("event_id"), type: try row.decode("event_type"))
            }
        }
    }

    /// The positions of those of `eventIDs` that are stored.
    public func positions(of eventIDs: [String]) async throws -> [String: Int64] {
        guard !eventIDs.isEmpty else { return [:] }
        return try await database.run { database in
            var positions: [String: Int64] = [:]
            for row in try database.query(
                "SELECT event_id, position FROM event_store.events WHERE event_id = ANY($1::text[])", [PostgresTextArray(eventIDs)])
            {
                positions[try row.decode("event_id")] = try row.decode("position")
            }
            return positions
        }
    }

    private static let selectEvents = """
        SELECT position, event_id, event_type, payload::text AS payload, correlation_id, causation_id, producer, actor,
               to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at
        FROM event_store.events
        """

    private static func decode(_ rows: PostgresRows) throws -> [PositionedEvent] {
        var events: [PositionedEvent] = []
        events.reserveCapacity(rows.count)
        for row in rows {
            events.append(PositionedEvent(position: try row.decode("position"), envelope: try EventEnvelope(eventStoreRow: row)))
        }
        return events
    }
}
