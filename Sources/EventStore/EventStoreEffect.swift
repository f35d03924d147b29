import CheckoutDomain
import CoreMetrics
import ExactlyOnce
import Observability
import Postgres

/// Appends every event to PostgreSQL exactly once, and indexes it under every aggregate it
/// touches with that aggregate's next version.
///
/// Events are never changed or removed: a trigger refuses `UPDATE` and `DELETE`.
public struct EventStoreEffect: EventEffect {
    public let worker = Worker.eventStore
    public let schema = "event_store"

    public init() {}

    public func committed(_ applied: [EventEnvelope], transactionDuration: Duration, metrics: any MetricsFactory) {
        guard !applied.isEmpty else { return }
        Counter(label: ChorusMetric.eventStoreAppends.rawValue, factory: metrics).increment(by: applied.count)
        Recorder(label: ChorusMetric.eventStoreAppendBatchSize.rawValue, factory: metrics).record(applied.count)
        CoreMetrics.Timer(label: ChorusMetric.eventStoreAppendDuration.rawValue, factory: metrics).record(transactionDuration)
    }

    public var migrations: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS event_store.events (
                position       bigserial PRIMARY KEY,
                event_id       text NOT NULL UNIQUE,
                event_type     text NOT NULL,
                payload        jsonb NOT NULL,
                correlation_id text NOT NULL,
                causation_id   text,
                producer       text NOT NULL,
                occurred_at    timestamptz NOT NULL,
                recorded_at    timestamptz NOT NULL DEFAULT now()
            )
            """,
            // One index, the primary key, serves every reader: a history by id (any kind), the
            // next version of an aggregate, and the uniqueness of (aggregate, version), which is
            // the guard against two appenders giving one version twice. Every further index, and
            // a foreign key checked row by row, made this insert the costliest statement of the
            // saga (docs/benchmarks.md): positions come from the `RETURNING` of the same
            // statement's transaction, so a dangling one cannot arise.
            """
            CREATE TABLE IF NOT EXISTS event_store.aggregate_events (
                aggregate_kind text NOT NULL,
                aggregate_id   text NOT NULL,
                version        integer NOT NULL CHECK (version > 0),
                position       bigint NOT NULL,
                PRIMARY KEY (aggregate_id, aggregate_kind, version)
            )
            """,
            // Tables made before that layout: the same, in place.
            "ALTER TABLE event_store.aggregate_events DROP CONSTRAINT IF EXISTS aggregate_events_position_fkey",
            "ALTER TABLE event_store.aggregate_events DROP CONSTRAINT IF EXISTS aggregate_events_aggregate_kind_aggregate_id_position_key",
            "DROP INDEX IF EXISTS event_store.aggregate_events_by_id",
            """
            DO $$
            BEGIN
                IF (SELECT a.attname FROM pg_index i
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indrelid = 'event_store.aggregate_events'::regclass AND i.indisprimary) <> 'aggregate_id' THEN
                    ALTER TABLE event_store.aggregate_events
                        DROP CONSTRAINT aggregate_events_pkey,
                        ADD CONSTRAINT aggregate_events_pkey PRIMARY KEY (aggregate_id, aggregate_kind, version);
                END IF;
            END
            $$
            """,
            // Who asked for a request's event; added after the first release, so also to old tables.
            "ALTER TABLE event_store.events ADD COLUMN IF NOT EXISTS actor text",
            """
            CREATE OR REPLACE FUNCTION event_store.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'events are immutable' USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """,
            """
            CREATE OR REPLACE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON event_store.events
            FOR EACH ROW EXECUTE FUNCTION event_store.refuse_change()
            """,
            """
            CREATE OR REPLACE TRIGGER aggregate_events_append_only BEFORE UPDATE OR DELETE ON event_store.aggregate_events
            FOR EACH ROW EXECUTE FUNCTION event_store.refuse_change()
            """,
        ]
    }

    /// The events table's unique `event_id` is the inbox: an event stored before is skipped.
    public var inbox: InboxKind { .effectTable }

    /// Appends the batch in four statements, whatever its size: the events, a lock on each
    /// aggregate they touch, the aggregates' current versions, and the new versions.
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        let none = [[DomainEvent]](repeating: [], count: batch.count)
        let inserted = try database.query(
            """
            INSERT INTO event_store.events
                (event_id, event_type, payload, correlation_id, causation_id, producer, occurred_at, actor)
            SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[])
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id, position
            """,
            [PostgresTextArray(batch.map(\.eventID)), PostgresTextArray(batch.map(\.event.type.rawValue)),
             PostgresTextArray(batch.map(\.payloadJSON)), PostgresTextArray(batch.map(\.metadata.correlationID)),
             PostgresTextArray(nullable: batch.map(\.metadata.causationID)), PostgresTextArray(batch.map(\.metadata.producer)),
             PostgresTextArray(batch.map { Timestamp.format($0.metadata.occurredAt) }),
             PostgresTextArray(nullable: batch.map(\.metadata.actor))])
        var positions: [String: Int64] = [:]
        for row in inserted { positions[try row.decode("event_id")] = try row.decode("position", as: Int64.self) }
        guard !positions.isEmpty else { return none }

        // Each stored event under every aggregate it touches, in the order of the batch.
        var appends: [(aggregate: AggregateReference, position: Int64)] = []
        for envelope in batch {
            guard let position = positions[envelope.eventID] else { continue }
            for aggregate in Self.uniqueInOrder(envelope.event.aggregates) { appends.append((aggregate, position)) }
        }
        let aggregates = Self.uniqueInOrder(appends.map(\.aggregate))
        let kinds = PostgresTextArray(aggregates.map(\.kind.rawValue))
        let ids = PostgresTextArray(aggregates.map(\.id))
        // Customers and stock items span checkout partitions, so two appenders may touch one
        // aggregate at once. Each locks its aggregates in one order (by lock key), so they
        // cannot deadlock, and takes the next versions only once it holds them.
        // The two-key form, with the event store's own first key, so that no other service's
        // advisory lock on the same name (the projection locks checkouts too) ever blocks it.
        try database.query(
            """
            SELECT count(pg_advisory_xact_lock(\(Self.advisoryLockSpace), key)) FROM (
                SELECT DISTINCT hashtext(kind || '/' || id) AS key FROM unnest($1::text[], $2::text[]) AS a(kind, id) ORDER BY key
            ) AS keys
            """,
            [kinds, ids])
        let current = try database.query(
            """
            SELECT a.kind, a.id, COALESCE(latest.version, 0) AS version
            FROM unnest($1::text[], $2::text[]) AS a(kind, id)
            LEFT JOIN LATERAL (
                SELECT version FROM event_store.aggregate_events
                WHERE aggregate_kind = a.kind AND aggregate_id = a.id
                ORDER BY version DESC LIMIT 1
            ) AS latest ON true
            """,
            [kinds, ids])
        var versions: [AggregateReference: Int] = [:]
        for row in current {
            guard let kind = AggregateKind(rawValue: try row.decode("kind")) else { continue }
            versions[AggregateReference(kind: kind, id: try row.decode("id"))] = try row.decode("version", as: Int.self)
        }
        var newVersions: [Int] = []
        newVersions.reserveCapacity(appends.count)
        for append in appends {
            let next = (versions[append.aggregate] ?? 0) + 1
            versions[append.aggregate] = next
            newVersions.append(next)
        }
        try database.query(
            """
            INSERT INTO event_store.aggregate_events (aggregate_kind, aggregate_id, version, position)
            SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::bigint[])
            """,
            [PostgresTextArray(appends.map(\.aggregate.kind.rawValue)), PostgresTextArray(appends.map(\.aggregate.id)),
             PostgresTextArray(newVersions), PostgresTextArray(appends.map(\.position))])
        return none
    }

    /// The first key of the event store's advisory locks (`pg_advisory_xact_lock(space, key)`).
    static let advisoryLockSpace: Int32 = 1

    private static func uniqueInOrder(_ aggregates: [AggregateReference]) -> [AggregateReference] {
        var seen = Set<AggregateReference>()
        return aggregates.filter { seen.insert($0).inserted }
    }
}
