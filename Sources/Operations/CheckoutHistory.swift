import CheckoutDomain
import EventStore
import Foundation
import Postgres

/// A checkout's events as the event store holds them, in order, with their timing: what
/// `chorus history` prints.
public struct CheckoutHistory: Sendable, Hashable, Encodable {
    /// One stored event.
    public struct Event: Sendable, Hashable, Encodable {
        /// Its position in the event store (the order it was stored in).
        public var position: Int64
        public var eventID: String
        public var type: String
        public var producer: String
        public var correlationID: String
        public var causationID: String?
        /// Who asked for it (`customer:<id>`, `staff:<name>`), for the event a request started.
        public var actor: String?
        /// When it happened, RFC 3339 with milliseconds.
        public var occurredAt: String
        /// Milliseconds since the checkout's first event.
        public var offsetMilliseconds: Int64
        /// Milliseconds since the event before it; `nil` for the first.
        public var sincePreviousMilliseconds: Int64?

        enum CodingKeys: String, CodingKey {
            case position, eventID = "event_id", type, producer, correlationID = "correlation_id"
            case causationID = "causation_id", actor, occurredAt = "occurred_at", offsetMilliseconds = "offset_ms"
            case sincePreviousMilliseconds = "since_previous_ms"
        }
    }

    public var checkoutID: String
    /// The checkout's status, folded from these events with the domain's own fold.
    public var status: String?
    public var events: [Event]

    enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id", status, events }

    /// Reads the checkout's events: those indexed under the checkout aggregate, and any other
    /// event that carries the checkout id as its correlation id. They are ordered by the time they
    /// happened, then by their position in the store.
    /// - Throws: ``OperatorError/notFound(_:)`` when the event store holds no event of this checkout.
    public static func read(_ checkoutID: String, from target: OperatorTarget) async throws(OperatorError) -> CheckoutHistory {
        try await target.withDatabase { database in
            let rows = try await database.query(
                """
                SELECT e.position, e.event_id, e.event_type, e.producer, e.correlation_id, e.causation_id, e.actor,
                       e.payload::text AS payload,
                       to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at
                FROM event_store.events e
                WHERE e.correlation_id = $1
                   OR e.position IN (SELECT a.position FROM event_store.aggregate_events a
                                     WHERE a.aggregate_kind = $2 AND a.aggregate_id = $1)
                ORDER BY e.occurred_at, e.position
                """,
                [checkoutID, AggregateKind.checkout.rawValue])
            guard !rows.isEmpty else { throw OperatorError.notFound("the event store holds no event of checkout \(checkoutID)") }
            var events: [Event] = []
            var envelopes: [EventEnvelope] = []
            var first: Int64?
            var previous: Int64?
            for row in rows {
                let occurredAt: String = try row.decode("occurred_at")
                let milliseconds = Timestamp.parse(occurredAt).map(Timestamp.milliseconds) ?? previous ?? 0
                let start = first ?? milliseconds
                first = start
                let event = Event(
                    position: try row.decode("position"), eventID: try row.decode("event_id"), type: try row.decode("event_type"),
                    producer: try row.decode("producer"), correlationID: try row.decode("correlation_id"),
                    causationID: try row.decodeIfPresent("causation_id"), actor: try row.decodeIfPresent("actor"), occurredAt: occurredAt,
                    offsetMilliseconds: milliseconds - start, sincePreviousMilliseconds: previous.map { milliseconds - $0 })
                previous = milliseconds
                events.append(event)
                // An event that no longer decodes still shows in the history; only the status skips it.
                if let envelope = try? EventEnvelope(eventStoreRow: row) { envelopes.append(envelope) }
            }
            return CheckoutHistory(checkoutID: checkoutID, status: CheckoutState.rebuild(envelopes)?.status.rawValue, events: events)
        }
    }

    /// The history as an aligned table, with the status on top.
    public var table: String {
        var rows = [["TIME", "OFFSET", "DELTA", "TYPE", "PRODUCER", "EVENT ID"]]
        for event in events {
            rows.append([
                event.occurredAt,
                "+" + Duration.milliseconds(event.offsetMilliseconds).compactDescription,
                event.sincePreviousMilliseconds.map { "+" + Duration.milliseconds($0).compactDescription } ?? "-",
                event.type, event.producer, event.eventID,
            ])
        }
        return "checkout \(checkoutID): \(status ?? "unknown"), \(events.count) events\n" + TextTable.render(rows)
    }
}
