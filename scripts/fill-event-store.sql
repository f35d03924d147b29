-- Fills the event store with copies of the checkouts it holds, for measuring replay at scale
-- (docs/benchmarks.md, "Replay at scale"). Each copy gets a new checkout id and new event ids,
-- derived from the original's and the copy's number, and is indexed under its checkout only.
-- Run it as the database's superuser on a system whose saga has run a little, for example:
--   psql -h <data-dir>/postgres-sockets -p 5479 -U chorus chorus -v copies=300 -f scripts/fill-event-store.sql
-- Bulk insertion, not the saga: every index row it adds points at an event it adds.
\set ON_ERROR_STOP on
CREATE TEMP TABLE template AS
    SELECT e.position, e.event_id, e.event_type, e.payload::text AS payload, e.correlation_id, e.causation_id,
           e.producer, e.occurred_at, a.aggregate_id AS checkout_id, a.version
    FROM event_store.events e
    JOIN event_store.aggregate_events a ON a.position = e.position AND a.aggregate_kind = 'checkout';
SELECT count(*) AS template_events, count(DISTINCT checkout_id) AS template_checkouts FROM template;
-- Copies of another run of this script get other ids.
SELECT max(position) AS run FROM event_store.events \gset
SELECT format('
    WITH copy AS (
        INSERT INTO event_store.events (event_id, event_type, payload, correlation_id, causation_id, producer, occurred_at)
        SELECT md5(t.event_id || %1$L)::uuid::text, t.event_type,
               replace(t.payload, t.checkout_id, md5(t.checkout_id || %1$L)::uuid::text)::jsonb,
               t.correlation_id, t.causation_id, t.producer, t.occurred_at
        FROM template t ORDER BY t.position
        RETURNING position, event_id
    )
    INSERT INTO event_store.aggregate_events (aggregate_kind, aggregate_id, version, position)
    SELECT ''checkout'', md5(t.checkout_id || %1$L)::uuid::text, t.version, copy.position
    FROM copy JOIN template t ON copy.event_id = md5(t.event_id || %1$L)::uuid::text', '/copy-' || :run || '-' || g)
FROM generate_series(1, :copies) AS g
\gexec
ANALYZE event_store.events;
ANALYZE event_store.aggregate_events;
SELECT count(*) AS events FROM event_store.events;
