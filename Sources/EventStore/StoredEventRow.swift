import CheckoutDomain
import Postgres

extension EventEnvelope {
    /// The envelope a row of `event_store.events` holds. The row has the table's columns
    /// `event_id`, `event_type`, `payload` (as text), `correlation_id`, `causation_id`,
    /// `producer`, `actor`, and `occurred_at` as an ISO 8601 UTC text with milliseconds (what
    /// ``Timestamp/parse(_:)`` reads).
    /// - Throws: ``EventStoreReadError/undecodable(eventID:reason:)`` when the stored event no
    ///   longer decodes; a `PostgresError` when a column is missing.
    public init(eventStoreRow row: PostgresRow) throws {
        let eventID: String = try row.decode("event_id")
        let event: DomainEvent
        do {
            event = try DomainEvent.decode(type: try row.decode("event_type"), payload: try row.decode("payload"))
        } catch let error as EventDecodingError {
            throw EventStoreReadError.undecodable(eventID: eventID, reason: error.description)
        }
        guard let occurredAt = Timestamp.parse(try row.decode("occurred_at")) else {
            throw EventStoreReadError.undecodable(eventID: eventID, reason: "occurred_at is not a time")
        }
        self.init(
            eventID: eventID, event: event,
            metadata: EventMetadata(
                correlationID: try row.decode("correlation_id"), causationID: try row.decodeIfPresent("causation_id"),
                producer: try row.decode("producer"), occurredAt: occurredAt,
                actor: try row.decodeIfPresent("actor")))
    }
}
