import Foundation

/// Where an event came from and what caused it.
public struct EventMetadata: Sendable, Hashable, Codable {
    /// Shared by every event of one saga (or one admin request).
    public var correlationID: String
    /// The event this one reacts to; `nil` for an event a request started.
    public var causationID: String?
    /// The service that published it.
    public var producer: String
    /// When it happened, to the millisecond.
    public var occurredAt: Date
    /// Who asked for it, for an event a request started: `customer:<id>` or `staff:<name>`, as
    /// the request's verified token named them. `nil` for the events services emit in reaction.
    public var actor: String?

    public init(correlationID: String, causationID: String?, producer: String, occurredAt: Date, actor: String? = nil) {
        self.correlationID = correlationID
        self.causationID = causationID
        self.producer = producer
        self.occurredAt = occurredAt
        self.actor = actor
    }
}

/// An event with its id and metadata: what travels on a stream and what the event store keeps.
public struct EventEnvelope: Sendable, Hashable {
    public var eventID: String
    public var event: DomainEvent
    public var metadata: EventMetadata
    /// The payload's JSON as it was read from a stream, kept so that storing the event does not
    /// encode it again; `nil` for an envelope made in memory. Not part of the envelope's identity.
    private var receivedPayload: String?

    public init(eventID: String, event: DomainEvent, metadata: EventMetadata) {
        self.eventID = eventID
        self.event = event
        self.metadata = metadata
    }

    /// The payload as JSON: as it was received when the envelope was read from a stream (it
    /// decoded to ``event``), else freshly encoded.
    public var payloadJSON: String { receivedPayload ?? event.encodedPayload() }

    public static func == (lhs: EventEnvelope, rhs: EventEnvelope) -> Bool {
        lhs.eventID == rhs.eventID && lhs.event == rhs.event && lhs.metadata == rhs.metadata
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(eventID)
        hasher.combine(event)
        hasher.combine(metadata)
    }

    /// An event that starts a new flow: a fresh id, and a correlation id of its own unless given.
    public static func starting(
        _ event: DomainEvent,
        producer: String,
        eventID: String = EventIdentity.random(),
        correlationID: String? = nil,
        actor: String? = nil,
        at time: Date = Timestamp.now()
    ) -> EventEnvelope {
        EventEnvelope(
            eventID: eventID,
            event: event,
            metadata: EventMetadata(
                correlationID: correlationID ?? eventID, causationID: nil, producer: producer, occurredAt: time, actor: actor)
        )
    }

    /// The events emitted in reaction to this one, with ids derived from this one's id.
    public func causing(_ events: [DomainEvent], producer: String, at time: Date) -> [EventEnvelope] {
        events.enumerated().map { index, event in
            EventEnvelope(
                eventID: EventIdentity.derived(from: eventID, index: index),
                event: event,
                metadata: EventMetadata(
                    correlationID: metadata.correlationID,
                    causationID: eventID,
                    producer: producer,
                    occurredAt: time
                )
            )
        }
    }

    /// The stream entry's fields, in the order they are written.
    public var streamFields: [(name: String, value: String)] {
        var fields: [(String, String)] = [
            (StreamField.eventID, eventID),
            (StreamField.type, event.type.rawValue),
            (StreamField.payload, event.encodedPayload()),
            (StreamField.correlationID, metadata.correlationID),
            (StreamField.producer, metadata.producer),
            (StreamField.occurredAt, Timestamp.format(metadata.occurredAt)),
        ]
        if let causation = metadata.causationID { fields.append((StreamField.causationID, causation)) }
        if let actor = metadata.actor { fields.append((StreamField.actor, actor)) }
        return fields
    }

    /// Reads an envelope from a stream entry's fields.
    public init(streamFields fields: [String: String]) throws(EventDecodingError) {
        func required(_ name: String) throws(EventDecodingError) -> String {
            guard let value = fields[name], !value.isEmpty else { throw .missingField(name) }
            return value
        }
        let eventID = try required(StreamField.eventID)
        let payload = try required(StreamField.payload)
        let event = try DomainEvent.decode(type: required(StreamField.type), payload: payload)
        guard let occurredAt = Timestamp.parse(try required(StreamField.occurredAt)) else {
            throw .malformedPayload(type: event.type.rawValue, detail: "occurred_at is not an RFC 3339 time")
        }
        self.init(
            eventID: eventID,
            event: event,
            metadata: EventMetadata(
                correlationID: try required(StreamField.correlationID),
                causationID: fields[StreamField.causationID].flatMap { $0.isEmpty ? nil : $0 },
                producer: try required(StreamField.producer),
                occurredAt: occurredAt,
                actor: fields[StreamField.actor].flatMap { $0.isEmpty ? nil : $0 }
            )
        )
        receivedPayload = payload
    }
}

/// The names of a stream entry's fields.
public enum StreamField {
    public static let eventID = "event_id"
    public static let type = "type"
    public static let payload = "payload"
    public static let correlationID = "correlation_id"
    public static let causationID = "causation_id"
    public static let producer = "producer"
    public static let occurredAt = "occurred_at"
    public static let actor = "actor"
}
