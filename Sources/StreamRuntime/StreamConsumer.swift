import CoreMetrics
import Foundation
import Logging
import Observability
import Redis
import ServiceLifecycle

/// How a ``StreamConsumer`` reads its streams.
public struct StreamConsumerConfiguration: Sendable, Hashable {
    /// The consumer group; Chorus names it after the worker.
    public var group: String
    /// This consumer's name in the group. Keep it stable across restarts, so that a restarted
    /// process finds its own pending entries first.
    public var consumer: String
    /// The streams to read, in the order their entries are handled within a batch.
    public var streams: [String]
    /// Where entries that cannot be processed go.
    public var deadLetterStream: String
    /// The most entries read per stream in one `XREADGROUP`.
    public var batchSize: Int
    /// How long one read waits for new entries. Shutdown waits at most this long.
    public var blockMilliseconds: Int
    /// How long an entry must sit pending at another consumer before this one claims it.
    public var claimIdleMilliseconds: Int
    /// How often to look for entries to claim.
    public var claimIntervalMilliseconds: Int
    /// Deliveries after which an entry that still fails goes to the dead-letter stream.
    public var maxDeliveries: Int
    /// The first pause after a failed batch before it is tried again; it doubles up to 5 s.
    public var retryBackoffMilliseconds: Int
    /// Streams whose new entries are handled before any other stream's, such as reference data
    /// that checkout events depend on.
    public var drainFirst: [String]
    /// After a batch smaller than ``batchSize``, how long to wait before reading again, so that
    /// the next batch is larger: fewer transactions for the same entries, at the price of this
    /// much latency. For groups that nothing waits on (the event store, the audit trail, the
    /// read models); 0 reads again at once.
    public var lingerMilliseconds: Int

    public init(
        group: String,
        consumer: String,
        streams: [String],
        deadLetterStream: String,
        batchSize: Int = 100,
        blockMilliseconds: Int = 1_000,
        claimIdleMilliseconds: Int = 30_000,
        claimIntervalMilliseconds: Int = 5_000,
        maxDeliveries: Int = 5,
        retryBackoffMilliseconds: Int = 250,
        drainFirst: [String] = [],
        lingerMilliseconds: Int = 0
    ) {
        self.group = group
        self.consumer = consumer
        self.streams = streams
        self.deadLetterStream = deadLetterStream
        self.batchSize = batchSize
        self.blockMilliseconds = blockMilliseconds
        self.claimIdleMilliseconds = claimIdleMilliseconds
        self.claimIntervalMilliseconds = claimIntervalMilliseconds
        self.maxDeliveries = maxDeliveries
        self.retryBackoffMilliseconds = retryBackoffMilliseconds
        self.drainFirst = drainFirst
        self.lingerMilliseconds = lingerMilliseconds
    }
}

/// Reads streams through a consumer group and hands batches to a handler, as a `Service`.
///
/// - At start it creates the group if needed and handles its own pending entries first.
/// - It reads new entries in batches (`XREADGROUP COUNT n BLOCK ms`).
/// - Every ``StreamConsumerConfiguration/claimIntervalMilliseconds`` it claims entries other
///   consumers left idle (`XAUTOCLAIM`), which is how a dead consumer's work gets done.
/// - After a batch it appends what the handler publishes, then the dead letters, then
///   acknowledges: an entry is acknowledged only once everything it caused is on a stream.
/// - On graceful shutdown it finishes the batch in flight and returns.
public struct StreamConsumer<Handler: StreamBatchHandler>: Service {
    public let configuration: StreamConsumerConfiguration
    let redis: RedisConnection
    let handler: Handler
    let logger: Logger
    let metrics: ConsumerMetrics

    /// - Parameters:
    ///   - redis: a connection used by this consumer alone (it blocks while waiting for entries).
    ///   - metrics: where the group's series go; a process passes its own registry's factory.
    public init(
        configuration: StreamConsumerConfiguration, redis: RedisConnection, handler: Handler, logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.configuration = configuration
        self.redis = redis
        self.handler = handler
        self.metrics = ConsumerMetrics(group: configuration.group, factory: metrics)
        var logger = logger
        logger[metadataKey: "group"] = "\(configuration.group)"
        logger[metadataKey: "consumer"] = "\(configuration.consumer)"
        self.logger = logger
    }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        var loop = ConsumerLoop(consumer: self)
        await loop.run()
    }
}

/// The mutable state of one running consumer.
private struct ConsumerLoop<Handler: StreamBatchHandler> {
    let consumer: StreamConsumer<Handler>
    var configuration: StreamConsumerConfiguration { consumer.configuration }
    var redis: RedisConnection { consumer.redis }
    var logger: Logger { consumer.logger }

    /// Per stream, the id after which to list our own pending entries; `nil` when none are left.
    var pendingCursors: [String]?
    var nextClaim = ContinuousClock.now
    /// The last failure of entries still pending, for their dead-letter reason.
    var lastFailures: [StreamEntryReference: String] = [:]
    /// The batch being handled. When it fails as a whole it is tried again from memory, so that
    /// an outage of the database does not count as deliveries and dead-letter live traffic.
    var inFlight: [StreamEntry] = []
    /// How often the batch in flight failed for a reason that is not an outage.
    var inFlightFailures = 0
    /// Entries read but held back until the drain-first streams are read to their end.
    var held: [StreamEntry] = []

    init(consumer: StreamConsumer<Handler>) {
        self.consumer = consumer
        pendingCursors = Array(repeating: "0", count: consumer.configuration.streams.count)
        nextClaim = .now + .milliseconds(consumer.configuration.claimIntervalMilliseconds)
    }

    mutating func run() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await prepare()
                break
            } catch {
                // Redis answers LOADING while it reads its data back after a restart: expected, and brief.
                let loading = (error as? RedisError)?.message.hasPrefix("LOADING") == true
                logger.log(level: loading ? .warning : .error, "cannot create consumer groups", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(configuration.retryBackoffMilliseconds * 4))
            }
        }
        logger.info("consuming", metadata: ["streams": "\(configuration.streams.joined(separator: ","))"])
        var delay = configuration.retryBackoffMilliseconds
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if inFlight.isEmpty {
                    let handled = try await step(blockMilliseconds: configuration.blockMilliseconds)
                    let linger = configuration.lingerMilliseconds
                    if linger > 0, handled > 0, handled < configuration.batchSize {
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(linger)) }
                    }
                } else {
                    _ = try await process(inFlight)
                }
                delay = configuration.retryBackoffMilliseconds
            } catch {
                if let error = error as? RedisError, error.code == .connectionLost || error.code == .connectionFailed {
                    // Redis may have served a read whose reply never arrived (it went down
                    // after adding the entries to this consumer's pending list): those entries
                    // come before anything newer, so the pending list is read first, as at
                    // start. Waiting for them to be claimed as idle would hand them to the
                    // observers after later events of their checkout, out of causal order.
                    held = []
                    pendingCursors = Array(repeating: "0", count: configuration.streams.count)
                }
                if !inFlight.isEmpty && !(error is RedisError) && !consumer.handler.isOutage(error) {
                    inFlightFailures += 1
                    // A batch that keeps failing for its own sake goes back to Redis: its
                    // deliveries count from now on, and its poison entries end as dead letters.
                    if inFlightFailures >= 3 {
                        inFlight = []
                        inFlightFailures = 0
                        // The pending scan reads the entries held back too.
                        held = []
                        pendingCursors = Array(repeating: "0", count: configuration.streams.count)
                    }
                }
                logger.error("batch failed; trying again", metadata: ["error": "\(error)", "retry_in_ms": "\(delay)"])
                try? await Task.sleep(for: .milliseconds(delay))
                delay = min(delay * 2, 5_000)
            }
        }
        logger.info("stopped consuming")
    }

    func prepare() async throws {
        for stream in configuration.streams {
            try await redis.ensureGroup(stream: stream, group: configuration.group)
        }
    }

    /// One round; returns how many entries it handled.
    mutating func step(blockMilliseconds: Int) async throws -> Int {
        if let cursors = pendingCursors {
            let entries = try await redis.readGroup(
                group: configuration.group, consumer: configuration.consumer, streams: configuration.streams,
                count: configuration.batchSize, blockMilliseconds: 0, pendingAfter: cursors)
            guard !entries.isEmpty else {
                pendingCursors = nil
                return 0
            }
            pendingCursors = zip(configuration.streams, cursors).map { stream, cursor in
                entries.last { $0.reference.stream == stream }?.reference.id ?? cursor
            }
            return try await process(withDeliveryCounts(entries))
        }
        if ContinuousClock.now >= nextClaim {
            nextClaim = .now + .milliseconds(configuration.claimIntervalMilliseconds)
            let claimed = try await claimIdleEntries()
            if !claimed.isEmpty {
                consumer.metrics.claims.increment(by: claimed.count)
                logger.warning("claimed idle entries of another consumer", metadata: ["count": "\(claimed.count)"])
                return try await process(withDeliveryCounts(claimed))
            }
        }
        return try await process(try await readNew(blockMilliseconds: blockMilliseconds))
    }

    /// New entries, with those of the ``StreamConsumerConfiguration/drainFirst`` streams
    /// first: a checkout entry is handled only once every reference entry that was there when it
    /// was read has been handled.
    ///
    /// One `XREADGROUP` reads every stream. When it brings a full batch of a drain-first stream,
    /// more may wait there: the other entries are held back (pending to this consumer, so a
    /// crash loses none of them) while the drain-first streams are read to their end.
    mutating func readNew(blockMilliseconds: Int) async throws -> [StreamEntry] {
        let drainFirst = Set(configuration.drainFirst)
        func isFull(_ entries: [StreamEntry]) -> Bool {
            drainFirst.contains { stream in entries.count { $0.reference.stream == stream } >= configuration.batchSize }
        }
        if !held.isEmpty {
            let more = try await redis.readGroup(
                group: configuration.group, consumer: configuration.consumer, streams: configuration.drainFirst,
                count: configuration.batchSize, blockMilliseconds: nil, fieldsWanted: fieldsWanted)
            if isFull(more) { return more }
            defer { held = [] }
            return more + held
        }
        let entries = try await redis.readGroup(
            group: configuration.group, consumer: configuration.consumer, streams: configuration.streams,
            count: configuration.batchSize, blockMilliseconds: blockMilliseconds, fieldsWanted: fieldsWanted)
        guard !drainFirst.isEmpty, isFull(entries) else { return entries }
        held = entries.filter { !drainFirst.contains($0.reference.stream) }
        return entries.filter { drainFirst.contains($0.reference.stream) }
    }

    /// Asks the handler which new entries it needs whole.
    var fieldsWanted: @Sendable (String) -> Bool {
        let handler = consumer.handler
        return { type in handler.wantsFields(ofType: type) }
    }

    func claimIdleEntries() async throws -> [StreamEntry] {
        var claimed: [StreamEntry] = []
        for stream in configuration.streams {
            var cursor = "0-0"
            repeat {
                let page = try await redis.autoClaim(
                    stream: stream, group: configuration.group, consumer: configuration.consumer,
                    minIdleMilliseconds: configuration.claimIdleMilliseconds, start: cursor, count: configuration.batchSize)
                claimed += page.entries
                // Deleted before anyone processed them: they go to the dead-letter stream, as on
                // the pending scan, rather than vanish.
                claimed += page.deleted.map { id in
                    StreamEntry(reference: StreamEntryReference(stream: stream, id: id), fields: [:], deliveryCount: 0)
                }
                cursor = page.next
            } while cursor != "0-0" && claimed.count < configuration.batchSize
        }
        return claimed
    }

    /// Pending and claimed entries have been delivered before: ask Redis how often.
    func withDeliveryCounts(_ entries: [StreamEntry]) async throws -> [StreamEntry] {
        var counts: [StreamEntryReference: Int] = [:]
        for stream in Set(entries.map(\.reference.stream)) {
            let ids = entries.filter { $0.reference.stream == stream }.map(\.reference.id)
            for (id, count) in try await redis.deliveryCounts(
                stream: stream, group: configuration.group, consumer: configuration.consumer, ids: ids)
            {
                counts[StreamEntryReference(stream: stream, id: id)] = count
            }
        }
        return entries.map { entry in
            var entry = entry
            entry.deliveryCount = counts[entry.reference] ?? max(entry.deliveryCount, 1)
            return entry
        }
    }

    mutating func process(_ entries: [StreamEntry]) async throws -> Int {
        guard !entries.isEmpty else { return 0 }
        inFlight = entries
        var deadLetters: [DeadLetter] = []
        var workable: [StreamEntry] = []
        for entry in entries {
            if entry.fields.isEmpty {
                deadLetters.append(DeadLetter(entry: entry, reason: "the entry was deleted from its stream before it was processed"))
            } else if entry.deliveryCount > configuration.maxDeliveries {
                let last = lastFailures[entry.reference].map { "; last error: \($0)" } ?? ""
                deadLetters.append(DeadLetter(
                    entry: entry,
                    reason: "delivered \(entry.deliveryCount) times without being processed (at most \(configuration.maxDeliveries))\(last)"))
            } else {
                workable.append(entry)
            }
        }
        let redelivered = entries.count { $0.deliveryCount > 1 }
        if redelivered > 0 { consumer.metrics.redeliveries.increment(by: redelivered) }
        var outcome = BatchOutcome()
        if !workable.isEmpty {
            let started = ContinuousClock.now
            do {
                outcome = try await consumer.handler.handle(workable)
                consumer.metrics.handlerDuration.recordInterval(since: started)
            } catch {
                consumer.metrics.handlerDuration.recordInterval(since: started)
                for entry in workable { lastFailures[entry.reference] = "\(error)" }
                for entry in workable { consumer.metrics.record(.failed, type: consumer.handler.metricType(of: entry)) }
                throw error
            }
        }
        outcome.deadLettered += deadLetters
        let done = outcome.acknowledged + outcome.deadLettered.map(\.entry.reference)
        // Publish and acknowledge in one transaction: an input is never acknowledged without
        // what it caused, and one round trip does both.
        try await redis.appendAndAcknowledge(
            outcome.publish + outcome.deadLettered.map(deadLetterEntry), acknowledging: done, group: configuration.group)
        PublishMetrics(producer: configuration.group, factory: consumer.metrics.factory).record(outcome.publish)
        if !outcome.deadLettered.isEmpty { consumer.metrics.deadLetters.increment(by: outcome.deadLettered.count) }
        for reference in done { lastFailures[reference] = nil }
        inFlight = []
        inFlightFailures = 0
        // Entries another consumer claimed never come back here; keep the memory bounded.
        if lastFailures.count > 10_000 { lastFailures.removeAll() }
        for letter in outcome.deadLettered {
            var metadata = consumer.handler.logMetadata(of: letter.entry)
            metadata["entry"] = "\(letter.entry.reference)"
            metadata["reason"] = "\(letter.reason)"
            logger.error("dead-lettered an entry", metadata: metadata)
        }
        let handled = Set(done)
        let left = workable.filter { !handled.contains($0.reference) }
        recordOutcomes(of: entries, outcome, left: Set(left.map(\.reference)))
        if !left.isEmpty {
            for entry in left {
                let failure = outcome.failures[entry.reference] ?? "the handler did not finish it"
                lastFailures[entry.reference] = failure
                var metadata = consumer.handler.logMetadata(of: entry)
                metadata["entry"] = "\(entry.reference)"
                metadata["error"] = "\(failure)"
                metadata["deliveries"] = "\(entry.deliveryCount)"
                logger.warning("entry left pending for a retry", metadata: metadata)
            }
            pendingCursors = Array(repeating: "0", count: configuration.streams.count)
            try? await Task.sleep(for: .milliseconds(configuration.retryBackoffMilliseconds))
        }
        return entries.count
    }

    func recordOutcomes(of entries: [StreamEntry], _ outcome: BatchOutcome, left: Set<StreamEntryReference>) {
        let deadLettered = Set(outcome.deadLettered.map(\.entry.reference))
        var counts: [Pair: Int] = [:]
        for entry in entries {
            let reference = entry.reference
            let result: ConsumerMetrics.Outcome =
                if deadLettered.contains(reference) { .deadLettered }
                else if left.contains(reference) { .failed }
                else if outcome.duplicates.contains(reference) { .duplicate }
                else if outcome.ignored.contains(reference) { .ignored }
                else { .applied }
            counts[Pair(type: consumer.handler.metricType(of: entry), outcome: result), default: 0] += 1
        }
        for (pair, count) in counts { consumer.metrics.record(pair.outcome, type: pair.type, count: count) }
    }

    private struct Pair: Hashable {
        var type: String
        var outcome: ConsumerMetrics.Outcome
    }

    func deadLetterEntry(_ letter: DeadLetter) -> OutgoingEntry {
        OutgoingEntry(stream: configuration.deadLetterStream, fields: DeadLetterFields.fields(for: letter, group: configuration.group))
    }
}

/// The fields of a dead-letter entry: the reason, where the entry came from, and its fields.
public enum DeadLetterFields {
    public static let reason = "reason"
    public static let sourceStream = "source_stream"
    public static let sourceID = "source_id"
    public static let group = "group"
    public static let deliveries = "deliveries"
    public static let deadLetteredAt = "dead_lettered_at"
    /// The original entry's fields as a JSON object, so that it can be published again as it was.
    public static let entry = "entry"

    static func fields(for letter: DeadLetter, group: String) -> [(name: String, value: String)] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let original = (try? encoder.encode(letter.entry.fields)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return [
            (reason, letter.reason),
            (sourceStream, letter.entry.reference.stream),
            (sourceID, letter.entry.reference.id),
            (Self.group, group),
            (deliveries, String(letter.entry.deliveryCount)),
            (deadLetteredAt, String(Int64(Date().timeIntervalSince1970 * 1000))),
            (entry, original),
        ]
    }
}
