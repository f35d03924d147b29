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
            """
            CREATE TABLE IF NOT EXISTS event_store.aggregate_events (
                aggregate_kind text NOT NULL,
                aggregate_id   text NOT NULL,
                version        integer NOT NULL CHECK (version > 0),
                position       bigint NOT NULL REFERENCES event_store.events (position),
                PRIMARY KEY (aggregate_kind, aggregate_id, version),
                UNIQUE (aggregate_kind, aggregate_id, position)
            )
            """,
            "CREATE INDEX IF NOT EXISTS aggregate_events_by_id ON event_store.aggregate_events (aggregate_id)",
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

    public func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent] {
        let inserted = try database.query(
            """
            INSERT INTO event_store.events
                (event_id, event_type, payload, correlation_id, causation_id, producer, occurred_at)
            VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7::timestamptz)
            ON CONFLICT (event_id) DO NOTHING
            RETURNING position
            """,
            [envelope.eventID, envelope.event.type.rawValue, envelope.event.encodedPayload(), envelope.metadata.correlationID,
             envelope.metadata.causationID, envelope.metadata.producer, Timestamp.format(envelope.metadata.occurredAt)])
        guard let position = try inserted.first?.decode("position", as: Int64.self) else { return [] }
        // Versions are per aggregate; lock each aggregate (in a fixed order, so appenders
        // cannot deadlock) while its next version is taken.
        let aggregates = Set(envelope.event.aggregates).sorted { ($0.kind.rawValue, $0.id) < ($1.kind.rawValue, $1.id) }
        for aggregate in aggregates {
            try database.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["\(aggregate.kind.rawValue)/\(aggregate.id)"])
            try database.query(
                """
                INSERT INTO event_store.aggregate_events (aggregate_kind, aggregate_id, version, position)
                SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3
                FROM event_store.aggregate_events WHERE aggregate_kind = $1 AND aggregate_id = $2
                """,
                [aggregate.kind.rawValue, aggregate.id, position])
        }
        return []
    }
}
