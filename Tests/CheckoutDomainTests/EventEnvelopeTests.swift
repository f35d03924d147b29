import Foundation
import Testing

@testable import CheckoutDomain

@Suite("EventEnvelope")
struct EventEnvelopeTests {
    static let initiated = Fixture.sample(.checkoutInitiated)

    /// The fields of a stream entry as a dictionary, as a stream reader hands them over.
    static func fields(_ envelope: EventEnvelope) -> [String: String] {
        Dictionary(uniqueKeysWithValues: envelope.streamFields.map { ($0.name, $0.value) })
    }

    // MARK: Writing

    @Test("a stream entry has the six fields in order, without causation_id when there is none")
    func fieldOrderWithoutCausation() {
        let envelope = Fixture.envelope(Self.initiated)
        #expect(envelope.streamFields.map(\.name) == ["event_id", "type", "payload", "correlation_id", "producer", "occurred_at"])
    }

    @Test("causation_id comes last when there is one")
    func fieldOrderWithCausation() {
        let envelope = Fixture.envelope(Self.initiated, causationID: "evt-0")
        #expect(
            envelope.streamFields.map(\.name)
                == ["event_id", "type", "payload", "correlation_id", "producer", "occurred_at", "causation_id"])
        #expect(envelope.streamFields.last?.value == "evt-0")
    }

    @Test("the field names are those of StreamField")
    func streamFieldNames() {
        #expect(StreamField.eventID == "event_id")
        #expect(StreamField.type == "type")
        #expect(StreamField.payload == "payload")
        #expect(StreamField.correlationID == "correlation_id")
        #expect(StreamField.causationID == "causation_id")
        #expect(StreamField.producer == "producer")
        #expect(StreamField.occurredAt == "occurred_at")
    }

    @Test("the field values are the id, the type name, the sorted-key payload, the metadata and the time in RFC 3339")
    func fieldValues() {
        let envelope = Fixture.envelope(Self.initiated, id: "evt-9", correlationID: "corr-9", producer: "checkout-api")
        let fields = Self.fields(envelope)
        #expect(fields["event_id"] == "evt-9")
        #expect(fields["type"] == "CheckoutInitiated")
        #expect(fields["payload"] == Self.initiated.encodedPayload())
        #expect(fields["correlation_id"] == "corr-9")
        #expect(fields["producer"] == "checkout-api")
        #expect(fields["occurred_at"] == Fixture.timeText)
    }

    // MARK: Reading

    @Test("an envelope without causation id reads back equal from its stream fields")
    func roundTripWithoutCausation() throws {
        let envelope = Fixture.envelope(Self.initiated)
        let read = try EventEnvelope(streamFields: Self.fields(envelope))
        #expect(read == envelope)
        #expect(read.metadata.causationID == nil)
    }

    @Test("an envelope with a causation id reads back equal from its stream fields")
    func roundTripWithCausation() throws {
        let envelope = Fixture.envelope(Self.initiated, causationID: "evt-0", at: Fixture.time.addingTimeInterval(0.25))
        let read = try EventEnvelope(streamFields: Self.fields(envelope))
        #expect(read == envelope)
        #expect(read.metadata.causationID == "evt-0")
    }

    @Test("an envelope of every event type reads back equal", arguments: EventType.allCases)
    func roundTripEveryType(type: EventType) throws {
        let envelope = Fixture.envelope(Fixture.sample(type), causationID: "evt-0")
        #expect(try EventEnvelope(streamFields: Self.fields(envelope)) == envelope)
    }

    @Test("an envelope stamped at a whole millisecond, as Timestamp.now() makes, reads back equal")
    func roundTripAtAMillisecond() throws {
        let time = Date(timeIntervalSince1970: 1_795_338_902.123)
        let envelope = Fixture.envelope(Self.initiated, at: time)
        let read = try EventEnvelope(streamFields: Self.fields(envelope))
        #expect(read.metadata.occurredAt.timeIntervalSince1970 == time.timeIntervalSince1970)
        #expect(read == envelope)
    }

    @Test("reading ignores fields it does not know")
    func unknownFieldsAreIgnored() throws {
        let envelope = Fixture.envelope(Self.initiated)
        var fields = Self.fields(envelope)
        fields["trace_id"] = "abc"
        #expect(try EventEnvelope(streamFields: fields) == envelope)
    }

    @Test(
        "a stream entry without a required field is rejected naming the field",
        arguments: ["event_id", "type", "payload", "correlation_id", "producer", "occurred_at"]
    )
    func missingField(name: String) {
        var fields = Self.fields(Fixture.envelope(Self.initiated))
        fields.removeValue(forKey: name)
        #expect(envelopeError(fields) == .missingField(name))
    }

    @Test(
        "a required field that is empty counts as missing",
        arguments: ["event_id", "type", "payload", "correlation_id", "producer", "occurred_at"]
    )
    func emptyField(name: String) {
        var fields = Self.fields(Fixture.envelope(Self.initiated))
        fields[name] = ""
        #expect(envelopeError(fields) == .missingField(name))
    }

    @Test("an occurred_at that is not an RFC 3339 time is rejected", arguments: ["yesterday", "2026-11-22", "1795338902"])
    func badOccurredAt(text: String) throws {
        var fields = Self.fields(Fixture.envelope(Self.initiated))
        fields["occurred_at"] = text
        let error = try #require(envelopeError(fields))
        let detail = try #require(error.malformedDetail(of: .checkoutInitiated), "\(error)")
        #expect(detail.contains("occurred_at"))
    }

    @Test("an occurred_at without milliseconds is accepted")
    func occurredAtWithoutFraction() throws {
        var fields = Self.fields(Fixture.envelope(Self.initiated))
        fields["occurred_at"] = "2026-11-22T09:15:02Z"
        #expect(try EventEnvelope(streamFields: fields).metadata.occurredAt == Fixture.time)
    }

    @Test("an unknown type or a bad payload in a stream entry is reported as when decoding the event")
    func badEventInEntry() {
        var fields = Self.fields(Fixture.envelope(Self.initiated))
        fields["type"] = "CheckoutAbandoned"
        #expect(envelopeError(fields) == .unknownType("CheckoutAbandoned"))
        fields["type"] = "CheckoutInitiated"
        fields["payload"] = "{"
        #expect(envelopeError(fields) == .malformedPayload(type: "CheckoutInitiated", detail: "not valid JSON"))
    }

    // MARK: Starting and causing

    @Test("a starting event is its own correlation and has no cause")
    func starting() {
        let envelope = EventEnvelope.starting(Self.initiated, producer: "checkout-api", eventID: "evt-1", at: Fixture.time)
        #expect(envelope.eventID == "evt-1")
        #expect(envelope.event == Self.initiated)
        #expect(envelope.metadata == EventMetadata(correlationID: "evt-1", causationID: nil, producer: "checkout-api", occurredAt: Fixture.time))
    }

    @Test("a starting event keeps a correlation id it is given")
    func startingWithCorrelation() {
        let envelope = EventEnvelope.starting(Self.initiated, producer: "checkout-api", eventID: "evt-1", correlationID: "req-1", at: Fixture.time)
        #expect(envelope.metadata.correlationID == "req-1")
        #expect(envelope.metadata.causationID == nil)
    }

    @Test("a starting event without an id gets a fresh random one")
    func startingWithRandomID() {
        let first = EventEnvelope.starting(Self.initiated, producer: "checkout-api", at: Fixture.time)
        let second = EventEnvelope.starting(Self.initiated, producer: "checkout-api", at: Fixture.time)
        #expect(first.eventID != second.eventID)
        #expect(first.metadata.correlationID == first.eventID)
    }

    @Test("caused events keep the correlation id, name the input as their cause and derive their ids in order")
    func causing() {
        let input = Fixture.envelope(Fixture.sample(.orderRejected), id: "evt-in", correlationID: "corr-1", causationID: "evt-before")
        let plan = CompensationRule.plan(for: input.event)
        let later = Fixture.time(plus: 60)
        let caused = input.causing(plan, producer: "compensation", at: later)
        #expect(caused.map(\.event) == plan)
        #expect(caused.map(\.eventID) == (0..<3).map { EventIdentity.derived(from: "evt-in", index: $0) })
        for envelope in caused {
            #expect(envelope.metadata == EventMetadata(correlationID: "corr-1", causationID: "evt-in", producer: "compensation", occurredAt: later))
        }
    }

    @Test("causing the same events twice gives the same envelopes, so duplicates are recognisable")
    func causingIsDeterministic() {
        let input = Fixture.envelope(Fixture.sample(.paymentAuthorized), id: "evt-in")
        let events = OrderCreationRule.decide(
            PaymentAuthorized(checkout: Fixture.facts(), paymentID: Fixture.paymentID, amountCents: Fixture.totalCents),
            storeIsPaused: false)
        #expect(input.causing(events, producer: "order-creation", at: Fixture.time) == input.causing(events, producer: "order-creation", at: Fixture.time))
    }

    @Test("different inputs cause events with different ids")
    func causingDependsOnTheInput() {
        let events = [Fixture.sample(.checkoutFailed)]
        let first = Fixture.envelope(Fixture.sample(.stockReservationFailed), id: "evt-a").causing(events, producer: "p", at: Fixture.time)
        let second = Fixture.envelope(Fixture.sample(.stockReservationFailed), id: "evt-b").causing(events, producer: "p", at: Fixture.time)
        #expect(first[0].eventID != second[0].eventID)
    }

    @Test("causing nothing gives nothing")
    func causingNothing() {
        #expect(Fixture.envelope(Self.initiated).causing([], producer: "p", at: Fixture.time).isEmpty)
    }

    @Test("an empty causation_id field reads as no causation")
    func emptyCausationIsNone() throws {
        var fields = Dictionary(uniqueKeysWithValues: Fixture.envelope(Fixture.sample(.checkoutInitiated)).streamFields.map { ($0.name, $0.value) })
        fields["causation_id"] = ""
        #expect(try EventEnvelope(streamFields: fields).metadata.causationID == nil)
    }
}

