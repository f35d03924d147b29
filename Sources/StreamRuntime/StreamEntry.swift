import Logging

/// The position of one entry: its stream and its id there.
public struct StreamEntryReference: Hashable, Sendable, CustomStringConvertible {
    public var stream: String
    public var id: String
    public init(stream: String, id: String) {
        self.stream = stream
        self.id = id
    }
    public var description: String { "\(stream)/\(id)" }
}

/// One entry read from a stream through a consumer group.
public struct StreamEntry: Sendable, Hashable {
    public var reference: StreamEntryReference
    /// The entry's fields. Redis keeps them in order; names are unique in Chorus entries.
    public var fields: [String: String]
    /// How many times the group has delivered this entry, this delivery included.
    public var deliveryCount: Int

    public init(reference: StreamEntryReference, fields: [String: String], deliveryCount: Int) {
        self.reference = reference
        self.fields = fields
        self.deliveryCount = deliveryCount
    }
}

/// An entry to append to a stream.
public struct OutgoingEntry: Sendable, Hashable {
    public var stream: String
    public var fields: [(name: String, value: String)]

    public init(stream: String, fields: [(name: String, value: String)]) {
        self.stream = stream
        self.fields = fields
    }

    public static func == (lhs: OutgoingEntry, rhs: OutgoingEntry) -> Bool {
        lhs.stream == rhs.stream && lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(stream)
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }
}

/// An entry that will not be processed, and why.
public struct DeadLetter: Sendable, Hashable {
    public var entry: StreamEntry
    public var reason: String
    public init(entry: StreamEntry, reason: String) {
        self.entry = entry
        self.reason = reason
    }
}

/// What a handler did with a batch.
///
/// Entries in ``acknowledged`` and ``deadLettered`` are acknowledged after ``publish`` is on its
/// streams. An entry in neither stays pending: it is delivered again later, and dead-lettered
/// once it has been delivered too many times.
public struct BatchOutcome: Sendable {
    public var publish: [OutgoingEntry]
    public var acknowledged: [StreamEntryReference]
    public var deadLettered: [DeadLetter]
    /// Why the entries left pending failed; the reason goes with them if they are dead-lettered.
    public var failures: [StreamEntryReference: String]
    /// Acknowledged entries whose effect had already happened (a redelivery), for metrics.
    public var duplicates: Set<StreamEntryReference> = []
    /// Acknowledged entries this handler has nothing to do with, for metrics.
    public var ignored: Set<StreamEntryReference> = []

    public init(
        publish: [OutgoingEntry] = [],
        acknowledged: [StreamEntryReference] = [],
        deadLettered: [DeadLetter] = [],
        failures: [StreamEntryReference: String] = [:]
    ) {
        self.publish = publish
        self.acknowledged = acknowledged
        self.deadLettered = deadLettered
        self.failures = failures
    }
}

/// Processes batches of entries for a ``StreamConsumer``.
public protocol StreamBatchHandler: Sendable {
    /// Handles the entries, oldest first within each stream.
    /// - Important: throwing leaves every entry of the batch pending; return an outcome that
    ///   leaves out only the entries that failed when the others succeeded.
    func handle(_ entries: [StreamEntry]) async throws -> BatchOutcome

    /// Whether `error`, thrown by ``handle(_:)``, means a dependency is out (the database is
    /// unreachable, say) rather than that the batch is at fault. The consumer retries a batch
    /// that failed for an outage for as long as it takes, without counting deliveries.
    func isOutage(_ error: any Error) -> Bool

    /// The entry's event type as a metric label. It must come from a fixed set (say
    /// `"unknown"` for anything unexpected), so that bad input cannot create new series.
    func metricType(of entry: StreamEntry) -> String

    /// What to say about the entry in log lines (its event id, correlation id…), so that an
    /// operator can follow one event from line to line.
    func logMetadata(of entry: StreamEntry) -> Logger.Metadata

    /// Whether the handler needs the fields of a new entry of this `type` (the entry's `type`
    /// field), or will only acknowledge it. An entry it does not need reaches ``handle(_:)`` with
    /// its `type` field alone.
    func wantsFields(ofType type: String) -> Bool
}

extension StreamBatchHandler {
    public func isOutage(_ error: any Error) -> Bool { false }
    public func metricType(of entry: StreamEntry) -> String { "unknown" }
    public func logMetadata(of entry: StreamEntry) -> Logger.Metadata { [:] }
    public func wantsFields(ofType type: String) -> Bool { true }
}

/// A stream entry id, `<milliseconds>-<sequence>`, ordered as Redis orders them.
public struct StreamID: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// Reads `<milliseconds>-<sequence>`, or `<milliseconds>` alone (sequence 0), as Redis does;
    /// `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let milliseconds = UInt64(parts[0]) else { return nil }
        guard let sequence = parts.count == 2 ? UInt64(parts[1]) : 0 else { return nil }
        self.init(milliseconds: milliseconds, sequence: sequence)
    }

    /// The smallest id greater than this one.
    public var successor: StreamID? {
        if sequence < UInt64.max { return StreamID(milliseconds: milliseconds, sequence: sequence + 1) }
        if milliseconds < UInt64.max { return StreamID(milliseconds: milliseconds + 1, sequence: 0) }
        return nil
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    public static func < (lhs: StreamID, rhs: StreamID) -> Bool {
        (lhs.milliseconds, lhs.sequence) < (rhs.milliseconds, rhs.sequence)
    }
}
