import CheckoutDomain
import Foundation
import Redis
import StreamRuntime

/// One entry of the dead-letter stream, decoded for reading.
public struct DeadLetterEntry: Sendable, Hashable, Encodable {
    /// Its id in the dead-letter stream.
    public var id: String
    public var reason: String
    public var sourceStream: String
    public var sourceID: String
    public var group: String
    public var deliveries: Int?
    /// When it was dead-lettered, in milliseconds since the Unix epoch.
    public var deadLetteredAtMilliseconds: Int64?
    /// The original entry's fields, as the consumer read them.
    public var original: [String: String]
    /// The id the entry was republished under, if it was retried.
    public var retriedAs: String?

    /// The original event's type, when the entry had one.
    public var eventType: String? { original[StreamField.type] }
    /// The original event's id, when the entry had one.
    public var eventID: String? { original[StreamField.eventID] }

    /// When it was dead-lettered, as RFC 3339.
    public var deadLetteredAt: String? {
        deadLetteredAtMilliseconds.map { Timestamp.format(Date(timeIntervalSince1970: Double($0) / 1_000)) }
    }

    enum CodingKeys: String, CodingKey {
        case id, reason, sourceStream = "source_stream", sourceID = "source_id", group, deliveries
        case deadLetteredAt = "dead_lettered_at", eventType = "event_type", eventID = "event_id", original = "entry"
        case retriedAs = "retried_as"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(reason, forKey: .reason)
        try container.encode(sourceStream, forKey: .sourceStream)
        try container.encode(sourceID, forKey: .sourceID)
        try container.encode(group, forKey: .group)
        try container.encode(deliveries, forKey: .deliveries)
        try container.encode(deadLetteredAt, forKey: .deadLetteredAt)
        try container.encode(eventType, forKey: .eventType)
        try container.encode(eventID, forKey: .eventID)
        try container.encode(original, forKey: .original)
        try container.encode(retriedAs, forKey: .retriedAs)
    }

    init(_ entry: StreamEntry, retriedAs: String?) {
        let fields = entry.fields
        id = entry.reference.id
        reason = fields[DeadLetterFields.reason] ?? ""
        sourceStream = fields[DeadLetterFields.sourceStream] ?? ""
        sourceID = fields[DeadLetterFields.sourceID] ?? ""
        group = fields[DeadLetterFields.group] ?? ""
        deliveries = fields[DeadLetterFields.deliveries].flatMap { Int($0) }
        deadLetteredAtMilliseconds = fields[DeadLetterFields.deadLetteredAt].flatMap { Int64($0) }
        let json = Data((fields[DeadLetterFields.entry] ?? "{}").utf8)
        original = (try? JSONDecoder().decode([String: String].self, from: json)) ?? [:]
        self.retriedAs = retriedAs
    }

    /// The original fields in the order the stream contract writes them, unknown ones last.
    var republishFields: [(name: String, value: String)] {
        let contractOrder = [
            StreamField.eventID, StreamField.type, StreamField.payload, StreamField.correlationID,
            StreamField.producer, StreamField.occurredAt, StreamField.causationID, StreamField.actor,
        ]
        let known = contractOrder.compactMap { name in original[name].map { (name: name, value: $0) } }
        let others = original.keys.filter { !contractOrder.contains($0) }.sorted().compactMap { name in
            original[name].map { (name: name, value: $0) }
        }
        return known + others
    }

    /// Everything about the entry, for `chorus dlq show`: its fields, then the original entry
    /// with its JSON payload laid out.
    public var detailedDescription: String {
        var lines = [
            "id:               \(id)",
            "dead-lettered at: \(deadLetteredAt ?? "unknown")",
            "group:            \(group)",
            "source:           \(sourceStream) \(sourceID)",
            "deliveries:       \(deliveries.map(String.init) ?? "unknown")",
            "event:            \(eventType ?? "-") \(eventID ?? "")",
            "reason:           \(reason)",
            "retried:          \(retriedAs.map { "yes, republished as \($0)" } ?? "no")",
            "entry:",
        ]
        var readable: [String: Any] = original
        if let payload = original[StreamField.payload], let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) {
            readable[StreamField.payload] = object
        }
        if let data = try? JSONSerialization.data(withJSONObject: readable, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
            lines.append(String(decoding: data, as: UTF8.self))
        }
        return lines.joined(separator: "\n")
    }
}

/// What a retry did with one dead letter.
public struct DeadLetterRetry: Sendable, Hashable, Encodable {
    public enum Outcome: String, Sendable, Hashable, Encodable {
        /// Published again to its source stream.
        case republished
        /// Skipped: this dead letter, or another one of the same source entry, was retried before.
        case alreadyRetried = "already_retried"
        /// Skipped: there is nothing that can be published again.
        case notRetriable = "not_retriable"
        /// Skipped: the entry cannot be read as an event (an unknown type, a malformed or invalid
        /// payload), so every group would dead-letter it again; discard it instead.
        case wouldFailAgain = "would_fail_again"
    }

    public var deadLetterID: String
    public var sourceStream: String
    public var sourceID: String
    public var eventType: String?
    public var outcome: Outcome
    /// The new entry's id (republished) or the earlier one's (already retried).
    public var republishedID: String?
    /// Why it was not retriable.
    public var detail: String?

    enum CodingKeys: String, CodingKey {
        case deadLetterID = "dead_letter_id", sourceStream = "source_stream", sourceID = "source_id"
        case eventType = "event_type", outcome, republishedID = "republished_id", detail
    }

    /// One line for the terminal.
    public var summary: String {
        let what = "\(deadLetterID) (\(eventType ?? "no type") from \(sourceStream) \(sourceID))"
        switch outcome {
        case .republished: return "republished \(what) as \(republishedID ?? "?")"
        case .alreadyRetried: return "skipped \(what): already retried, as \(republishedID ?? "?")"
        case .notRetriable: return "skipped \(what): \(detail ?? "not retriable")"
        case .wouldFailAgain: return "skipped \(what): it would fail again, \(detail ?? "it cannot be read as an event"); discard it (chorus dlq discard)"
        }
    }
}

/// What discarding one dead letter did.
public struct DeadLetterDiscard: Sendable, Hashable, Encodable {
    public var deadLetterID: String
    public var eventType: String?
    /// The entry recording the discard in ``DeadLetterQueue/discardRecordStream``; `nil` when
    /// the letter was gone already (another operator discarded it, or it aged out).
    public var recordID: String?

    enum CodingKeys: String, CodingKey { case deadLetterID = "dead_letter_id", eventType = "event_type", recordID = "record_id" }

    /// One line for the terminal.
    public var summary: String {
        guard let recordID else { return "skipped \(deadLetterID): no such dead letter any more" }
        return "discarded \(deadLetterID) (\(eventType ?? "no type")), recorded as \(recordID)"
    }
}

/// The dead-letter stream: list its entries, show one, publish one again, discard one.
///
/// A retry appends the original entry's fields, unchanged, to the stream it came from. Every
/// consumer group reading that stream receives it again; groups that had already applied the
/// event skip it through their inbox (the event id is the same), so only the group that gave up
/// on it does the work. Each source entry is republished at most once: the check and the
/// `XADD` run in one Lua script, which also records the new id in `<prefix>:dead-letter:retried`,
/// so that two operators retrying at the same moment publish it once.
public struct DeadLetterQueue: Sendable {
    public let target: OperatorTarget
    /// How long the workers remember the events they applied (`CHORUS_INBOX_RETENTION_MINUTES`);
    /// `nil` when they remember forever.
    public let inboxRetention: Duration?

    /// A view of `target`'s dead-letter stream; connections open per call.
    /// - Parameter inboxRetentionMinutes: the workers' inbox retention; a letter whose original
    ///   entry is older is not republished, 0 republishes at any age.
    public init(target: OperatorTarget, inboxRetentionMinutes: Int = 10_080) {
        self.target = target
        self.inboxRetention = inboxRetentionMinutes > 0 ? .seconds(inboxRetentionMinutes * 60) : nil
    }

    /// The hash that records, per dead-letter id and per source entry, the id it was republished as.
    public var retryRecordKey: String { "\(target.topology.deadLetterStream):retried" }

    /// Checks and publishes in one step inside Redis, so that no second publish can slip in.
    /// KEYS: the retry record, the source stream. ARGV: the dead-letter id, the source entry's
    /// record key, then the fields to publish as name, value pairs.
    static let retryScript = """
        local previous = redis.call('HGET', KEYS[1], ARGV[1]) or redis.call('HGET', KEYS[1], ARGV[2])
        if previous then return {0, previous} end
        local command = {'XADD', KEYS[2], '*'}
        for index = 3, #ARGV do command[#command + 1] = ARGV[index] end
        local id = redis.call(unpack(command))
        redis.call('HSET', KEYS[1], ARGV[1], id, ARGV[2], id)
        return {1, id}
        """

    /// The stream that records every discarded dead letter: its fields, who discarded it, and why.
    /// Nothing trims it.
    public var discardRecordStream: String { "\(target.topology.deadLetterStream):discarded" }

    /// Records and deletes in one step inside Redis, so that a letter is never deleted without
    /// its record, nor recorded twice. KEYS: the dead-letter stream, the record stream. ARGV: the
    /// dead-letter id, who discards it, why.
    static let discardScript = """
        local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
        if #found == 0 then return false end
        local command = {'XADD', KEYS[2], '*', 'dead_letter_id', ARGV[1], 'discarded_by', ARGV[2], 'note', ARGV[3]}
        local fields = found[1][2]
        for index = 1, #fields do command[#command + 1] = fields[index] end
        local id = redis.call(unpack(command))
        redis.call('XDEL', KEYS[1], ARGV[1])
        return id
        """

    /// Removes the dead letter `id` from the dead-letter stream, after recording it with `by`
    /// and `note` in ``discardRecordStream``.
    /// - Throws: ``OperatorError/notFound(_:)`` when the dead-letter stream has no such entry.
    public func discard(_ id: String, by: String, note: String) async throws(OperatorError) -> DeadLetterDiscard {
        try await target.withRedis { redis in
            try await discard(try await find(id, redis: redis), by: by, note: note, redis: redis)
        }
    }

    /// Discards every dead letter there when it starts, oldest first, each recorded.
    public func discardAll(by: String, note: String) async throws(OperatorError) -> [DeadLetterDiscard] {
        try await target.withRedis { redis in
            var outcomes: [DeadLetterDiscard] = []
            let stream = target.topology.deadLetterStream
            guard let newest = try await redis.reverseRange(of: stream, count: 1).first?.reference.id else { return outcomes }
            var cursor: String?
            pages: while true {
                let page = try await redis.entries(of: stream, after: cursor, count: 200)
                guard let last = page.last else { break }
                for entry in page {
                    guard Self.streamID(entry.reference.id, isAtOrBefore: newest) else { break pages }
                    outcomes.append(try await discard(DeadLetterEntry(entry, retriedAs: nil), by: by, note: note, redis: redis))
                }
                cursor = last.reference.id
            }
            return outcomes
        }
    }

    private func discard(_ letter: DeadLetterEntry, by: String, note: String, redis: RedisConnection) async throws -> DeadLetterDiscard {
        let reply = try await redis.execute(
            ["EVAL", Self.discardScript, "2", target.topology.deadLetterStream, discardRecordStream, letter.id, by, note])
        return DeadLetterDiscard(deadLetterID: letter.id, eventType: letter.eventType, recordID: reply.string)
    }

    /// How many dead letters there are, and the newest `limit` of them, newest first.
    public func list(limit: Int) async throws(OperatorError) -> (total: Int, entries: [DeadLetterEntry]) {
        try await target.withRedis { redis in
            let stream = target.topology.deadLetterStream
            let entries = try await redis.reverseRange(of: stream, count: max(1, limit))
            let records = try await retryRecords(for: entries, redis: redis)
            return (
                try await redis.streamLength(stream),
                entries.map { DeadLetterEntry($0, retriedAs: records[$0.reference.id]) }
            )
        }
    }

    /// The dead letter `id`.
    /// - Throws: ``OperatorError/notFound(_:)`` when the dead-letter stream has no such entry.
    public func show(_ id: String) async throws(OperatorError) -> DeadLetterEntry {
        try await target.withRedis { redis in try await find(id, redis: redis) }
    }

    /// Republishes the dead letter `id` to its source stream, unless it (or its source entry) was retried before.
    public func retry(_ id: String) async throws(OperatorError) -> DeadLetterRetry {
        try await target.withRedis { redis in
            try await retry(try await find(id, redis: redis), redis: redis)
        }
    }

    /// Republishes every dead letter that was not retried before, oldest first.
    ///
    /// Only the dead letters already there when it starts: an entry that fails again while this
    /// runs is dead-lettered anew, and retrying those too would feed the loop with its own output.
    public func retryAll() async throws(OperatorError) -> [DeadLetterRetry] {
        try await target.withRedis { redis in
            var outcomes: [DeadLetterRetry] = []
            guard let newest = try await redis.reverseRange(of: target.topology.deadLetterStream, count: 1).first?.reference.id else {
                return outcomes
            }
            var cursor: String?
            pages: while true {
                let page = try await redis.entries(of: target.topology.deadLetterStream, after: cursor, count: 200)
                guard let last = page.last else { break }
                for entry in page {
                    guard Self.streamID(entry.reference.id, isAtOrBefore: newest) else { break pages }
                    outcomes.append(try await retry(DeadLetterEntry(entry, retriedAs: nil), redis: redis))
                }
                cursor = last.reference.id
            }
            return outcomes
        }
    }

    /// Whether stream id `id` comes no later than `limit` (ids compare by milliseconds, then sequence).
    static func streamID(_ id: String, isAtOrBefore limit: String) -> Bool {
        !RedisConnection.idLess(limit, id)
    }

    private func find(_ id: String, redis: RedisConnection) async throws -> DeadLetterEntry {
        guard Self.isStreamID(id), let entry = try await redis.entry(id, in: target.topology.deadLetterStream) else {
            throw OperatorError.notFound("no dead letter \(id) in \(target.topology.deadLetterStream)")
        }
        return DeadLetterEntry(entry, retriedAs: try await retryRecords(for: [entry], redis: redis)[id])
    }

    private func retry(_ letter: DeadLetterEntry, redis: RedisConnection) async throws -> DeadLetterRetry {
        var outcome = DeadLetterRetry(
            deadLetterID: letter.id, sourceStream: letter.sourceStream, sourceID: letter.sourceID,
            eventType: letter.eventType, outcome: .notRetriable)
        // Publishing anywhere else would put entries where no Chorus group reads them.
        guard target.topology.eventStreams.contains(letter.sourceStream) else {
            outcome.detail = "its source stream \(letter.sourceStream.isEmpty ? "(none)" : letter.sourceStream) is not a stream of this system"
            return outcome
        }
        guard !letter.original.isEmpty else {
            outcome.detail = "the original entry was deleted before it was read, so there is nothing to publish"
            return outcome
        }
        // Every group reads an entry the same way: one that cannot be read as an event now will
        // be dead-lettered again by every group, each adding a letter.
        do {
            _ = try EventEnvelope(streamFields: letter.original)
        } catch {
            outcome.outcome = .wouldFailAgain
            outcome.detail = "\(error)"
            return outcome
        }
        // The groups that applied the event may have forgotten it by now, and would apply it
        // a second time: only the group that gave up should see it again.
        if let retention = inboxRetention, let published = StreamID(letter.sourceID) {
            let ageSeconds = (Int64(Date().timeIntervalSince1970 * 1000) - Int64(published.milliseconds)) / 1000
            if ageSeconds > retention.components.seconds {
                outcome.detail = "the original entry is \(ageSeconds / 60) minutes old, older than the inbox retention "
                    + "(\(retention.components.seconds / 60) minutes, CHORUS_INBOX_RETENTION_MINUTES): workers that applied it "
                    + "no longer remember it and would apply it again"
                return outcome
            }
        }
        let arguments = [letter.id, Self.sourceKey(letter.sourceStream, letter.sourceID)]
            + letter.republishFields.flatMap { [$0.name, $0.value] }
        let reply = try await redis.execute(
            ["EVAL", Self.retryScript, "2", retryRecordKey, letter.sourceStream] + arguments)
        guard let parts = reply.array, parts.count == 2, let published = parts[0].integer, let id = parts[1].string else {
            throw OperatorError.failed("unexpected reply from the retry script: \(String(describing: reply).prefix(120))")
        }
        outcome.outcome = published == 1 ? .republished : .alreadyRetried
        outcome.republishedID = id
        return outcome
    }

    /// The id each dead letter was republished as: its own retry, or that of another dead letter
    /// of the same source entry (every group that gave up on an entry dead-letters it).
    private func retryRecords(for entries: [StreamEntry], redis: RedisConnection) async throws -> [String: String] {
        guard !entries.isEmpty else { return [:] }
        let keys = entries.flatMap { entry in
            [entry.reference.id, Self.sourceKey(entry.fields[DeadLetterFields.sourceStream] ?? "", entry.fields[DeadLetterFields.sourceID] ?? "")]
        }
        let values = try await redis.execute(["HMGET", retryRecordKey] + keys).array ?? []
        var records: [String: String] = [:]
        for (index, entry) in entries.enumerated() {
            let own = values.indices.contains(2 * index) ? values[2 * index].string : nil
            let sibling = values.indices.contains(2 * index + 1) ? values[2 * index + 1].string : nil
            records[entry.reference.id] = own ?? sibling
        }
        return records
    }

    /// The retry record's key for a source entry.
    static func sourceKey(_ stream: String, _ id: String) -> String { "source:\(stream)/\(id)" }

    /// Whether `id` has the form of a stream id (`<milliseconds>-<sequence>`), so that a typo is
    /// reported as unknown rather than as a Redis syntax error.
    static func isStreamID(_ id: String) -> Bool {
        let parts = id.split(separator: "-", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }
}
