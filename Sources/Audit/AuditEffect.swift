import CheckoutDomain
import ExactlyOnce
import Postgres

/// Keeps an append-only trail of every event, with its correlation and causation ids, and who
/// asked for it (`actor`) when a request started it.
/// A trigger refuses any `UPDATE` or `DELETE` of the trail.
public struct AuditEffect: EventEffect {
    public let worker = Worker.audit
    public let schema = "audit"

    public init() {}

    public var migrations: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS audit.audit_log (
                position       bigserial PRIMARY KEY,
                event_id       text NOT NULL UNIQUE,
                event_type     text NOT NULL,
                correlation_id text NOT NULL,
                causation_id   text,
                producer       text NOT NULL,
                occurred_at    timestamptz NOT NULL,
                payload        jsonb NOT NULL,
                recorded_at    timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX IF NOT EXISTS audit_log_correlation ON audit.audit_log (correlation_id)",
            // Who asked for a request's event; added after the first release, so also to old tables.
            "ALTER TABLE audit.audit_log ADD COLUMN IF NOT EXISTS actor text",
            """
            CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """,
            """
            CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit.audit_log
            FOR EACH ROW EXECUTE FUNCTION audit.refuse_change()
            """,
        ]
    }

    /// The trail's unique `event_id` is the inbox: an event recorded before is skipped.
    public var inbox: InboxKind { .effectTable }

    /// Records the whole batch in one statement.
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        try database.query(
            """
            INSERT INTO audit.audit_log (event_id, event_type, correlation_id, causation_id, producer, occurred_at, payload, actor)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[], $8::text[])
            ON CONFLICT (event_id) DO NOTHING
            """,
            [PostgresTextArray(batch.map(\.eventID)), PostgresTextArray(batch.map(\.event.type.rawValue)),
             PostgresTextArray(batch.map(\.metadata.correlationID)), PostgresTextArray(nullable: batch.map(\.metadata.causationID)),
             PostgresTextArray(batch.map(\.metadata.producer)), PostgresTextArray(batch.map { Timestamp.format($0.metadata.occurredAt) }),
             PostgresTextArray(batch.map(\.payloadJSON)), PostgresTextArray(nullable: batch.map(\.metadata.actor))])
        return [[DomainEvent]](repeating: [], count: batch.count)
    }
}
