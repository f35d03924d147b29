import CoreMetrics
import Foundation
import Logging
import Observability
import Redis

/// How long stream entries are kept.
public struct StreamRetention: Sendable, Hashable {
    /// The event streams to trim once every group is done with their entries.
    public var streams: [String]
    /// The dead-letter stream, trimmed by age alone.
    public var deadLetterStream: String
    /// Dead letters older than this are trimmed; `nil` keeps them.
    public var deadLetterRetentionMilliseconds: Int64?
    /// A group whose consumers have all been idle this long no longer holds entries back: its
    /// process is taken to be gone. `nil` waits for every group forever.
    public var abandonedGroupMilliseconds: Int64?

    public init(streams: [String], deadLetterStream: String, deadLetterRetentionMilliseconds: Int64?, abandonedGroupMilliseconds: Int64?) {
        self.streams = streams
        self.deadLetterStream = deadLetterStream
        self.deadLetterRetentionMilliseconds = deadLetterRetentionMilliseconds
        self.abandonedGroupMilliseconds = abandonedGroupMilliseconds
    }
}

/// Keeps Redis memory flat: trims each event stream below the lowest entry that some consumer
/// group still needs, and the dead-letter stream by age.
///
/// An entry is needed while a group has not had it delivered, or holds it pending. So the trim
/// point of a stream is the smallest, over its groups, of the oldest pending id and the id right
/// after the last delivered one; `XTRIM MINID` removes only what lies strictly below it. Groups
/// only ever move forward, so a trim point that was safe when it was read stays safe when the
/// trim runs. A stream without groups is left alone.
///
/// The event store keeps every event for good, so a trimmed entry is still in the history
/// (`chorus history`, `GET /projections/<id>`).
public struct StreamTrimmer: Sendable {
    public let retention: StreamRetention
    let redis: RedisConnectionPool
    let metrics: any MetricsFactory

    public init(retention: StreamRetention, redis: RedisConnectionPool, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.retention = retention
        self.redis = redis
        self.metrics = metrics
    }

    /// What one pass did to one stream.
    public struct Trim: Sendable, Hashable {
        public var stream: String
        /// Entries below this id were trimmed; `nil` when the stream was left alone.
        public var minimumID: String?
        /// How many entries went.
        public var removed: Int
        /// Groups that no longer hold entries back, because they are abandoned.
        public var abandonedGroups: [String]
    }

    /// Trims every stream once.
    @discardableResult
    public func trimOnce() async throws -> [Trim] {
        var trims: [Trim] = []
        for stream in retention.streams {
            let trim = try await trim(stream)
            trims.append(trim)
            Gauge(label: ChorusMetric.streamAbandonedGroups.rawValue, dimensions: [("stream", stream)], factory: metrics)
                .record(Double(trim.abandonedGroups.count))
            Counter(label: ChorusMetric.streamTrimmedEntries.rawValue, dimensions: [("stream", stream)], factory: metrics)
                .increment(by: trim.removed)
        }
        if let age = retention.deadLetterRetentionMilliseconds {
            let cutoff = max(0, Int64((Date().timeIntervalSince1970 * 1000).rounded()) - age)
            let removed = try await redis.connection.execute(["XTRIM", retention.deadLetterStream, "MINID", "\(cutoff)-0"]).integer ?? 0
            Counter(label: ChorusMetric.streamTrimmedEntries.rawValue, dimensions: [("stream", retention.deadLetterStream)], factory: metrics)
                .increment(by: Int(removed))
            trims.append(Trim(stream: retention.deadLetterStream, minimumID: "\(cutoff)-0", removed: Int(removed), abandonedGroups: []))
        }
        return trims
    }

    /// Trims every `interval` until graceful shutdown.
    public func periodically(every interval: Duration, logger: Logger) -> PeriodicSampler {
        PeriodicSampler("the streams to trim", every: interval, logger: logger) { try await trimOnce() }
    }

    private func trim(_ stream: String) async throws -> Trim {
        let connection = redis.connection
        let groups = try await connection.groups(of: stream)
        var floor: StreamID?
        var abandoned: [String] = []
        for group in groups {
            if try await isAbandoned(group, of: stream, on: connection) {
                abandoned.append(group.name)
                continue
            }
            guard var needed = StreamID(group.lastDeliveredID)?.successor else { return Trim(stream: stream, minimumID: nil, removed: 0, abandonedGroups: abandoned) }
            if group.pending > 0 {
                let summary = try await connection.execute(["XPENDING", stream, group.name])
                guard let oldest = summary.array?.dropFirst().first?.string.flatMap(StreamID.init) else {
                    return Trim(stream: stream, minimumID: nil, removed: 0, abandonedGroups: abandoned)
                }
                needed = min(needed, oldest)
            }
            floor = min(floor ?? needed, needed)
        }
        guard let floor else { return Trim(stream: stream, minimumID: nil, removed: 0, abandonedGroups: abandoned) }
        let removed = try await connection.execute(["XTRIM", stream, "MINID", floor.description]).integer ?? 0
        return Trim(stream: stream, minimumID: floor.description, removed: Int(removed), abandonedGroups: abandoned)
    }

    private func isAbandoned(_ group: RedisConnection.GroupInfo, of stream: String, on connection: RedisConnection) async throws -> Bool {
        guard let limit = retention.abandonedGroupMilliseconds else { return false }
        let consumers = try await connection.execute(["XINFO", "CONSUMERS", stream, group.name]).array ?? []
        // A group that never had a consumer cannot say how long it has waited: keep its entries.
        guard !consumers.isEmpty else { return false }
        return consumers.allSatisfy { consumer in
            (consumer.keyedPairs["idle"]?.integer).map { $0 > limit } ?? false
        }
    }
}
