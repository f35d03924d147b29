import CheckoutDomain
import Foundation
import Redis
import StreamRuntime

/// How far behind each consumer group is, stream by stream: what `chorus lag` prints.
public struct LagReport: Sendable, Hashable, Encodable {
    /// One consumer of a group.
    public struct Consumer: Sendable, Hashable, Encodable {
        public var name: String
        public var pending: Int
        public var idleMilliseconds: Int64
        enum CodingKeys: String, CodingKey { case name, pending, idleMilliseconds = "idle_ms" }
    }

    /// One consumer group on one stream.
    public struct Group: Sendable, Hashable, Encodable {
        public var name: String
        /// Entries not yet delivered to the group; `nil` when Redis reports the lag as unknown
        /// (after entries were deleted from the part of the stream the group has not read).
        public var lag: Int?
        /// Entries delivered and not yet acknowledged.
        public var pending: Int
        /// How long the oldest pending entry has been in the stream; `nil` when none is pending.
        public var oldestPendingMilliseconds: Int64?
        public var oldestPendingID: String?
        public var lastDeliveredID: String
        public var consumers: [Consumer]

        enum CodingKeys: String, CodingKey {
            case name, lag, pending, oldestPendingMilliseconds = "oldest_pending_age_ms", oldestPendingID = "oldest_pending_id"
            case lastDeliveredID = "last_delivered_id", consumers
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            // An unknown lag is written as null, never left out, so that scripts cannot read it as 0.
            try container.encode(lag, forKey: .lag)
            try container.encode(pending, forKey: .pending)
            try container.encode(oldestPendingMilliseconds, forKey: .oldestPendingMilliseconds)
            try container.encode(oldestPendingID, forKey: .oldestPendingID)
            try container.encode(lastDeliveredID, forKey: .lastDeliveredID)
            try container.encode(consumers, forKey: .consumers)
        }
    }

    /// One stream and its groups.
    public struct Stream: Sendable, Hashable, Encodable {
        public var name: String
        /// Entries in the stream now.
        public var length: Int
        public var groups: [Group]
    }

    public var streams: [Stream]
    /// When the report was taken, in milliseconds since the Unix epoch.
    public var takenAtMilliseconds: Int64

    enum CodingKeys: String, CodingKey { case streams, takenAtMilliseconds = "taken_at_ms" }

    /// Groups with work left: entries not yet delivered (or a lag Redis cannot tell) or not yet
    /// acknowledged, as `group on stream (lag …, pending …)`. Empty when the system is at rest.
    public var unsettled: [String] {
        streams.flatMap { stream in
            stream.groups.filter { $0.lag != 0 || $0.pending > 0 }.map { group in
                "\(group.name) on \(stream.name) (lag \(group.lag.map(String.init) ?? "unknown"), pending \(group.pending))"
            }
        }
    }

    /// The group `group` on `stream`, if there is one.
    public func group(_ group: String, on stream: String) -> Group? {
        streams.first { $0.name == stream }?.groups.first { $0.name == group }
    }

    /// Reads lag, pending entries and consumers of every group on every stream of `target`'s
    /// topology, the dead-letter stream included.
    /// - Parameter now: the clock against which ages are measured, in milliseconds since the epoch.
    public static func take(
        from target: OperatorTarget,
        now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }
    ) async throws(OperatorError) -> LagReport {
        try await target.withRedis { redis in
            var streams: [Stream] = []
            let takenAt = now()
            for name in target.topology.eventStreams + [target.topology.deadLetterStream] {
                var groups: [Group] = []
                for info in try await redis.groups(of: name) {
                    let pending = try await redis.pendingSummary(stream: name, group: info.name)
                    let consumers = try await redis.consumers(of: name, group: info.name)
                    let oldestAge = pending.smallestID
                        .flatMap(RedisConnection.milliseconds(ofStreamID:))
                        .map { max(0, takenAt - $0) }
                    groups.append(Group(
                        name: info.name, lag: info.lag, pending: pending.count,
                        oldestPendingMilliseconds: oldestAge, oldestPendingID: pending.smallestID,
                        lastDeliveredID: info.lastDeliveredID,
                        consumers: consumers.map { Consumer(name: $0.name, pending: $0.pending, idleMilliseconds: $0.idleMilliseconds) }))
                }
                streams.append(Stream(name: name, length: try await redis.streamLength(name), groups: groups))
            }
            return LagReport(streams: streams, takenAtMilliseconds: takenAt)
        }
    }

    /// The report as an aligned table, one row per stream and group.
    public var table: String {
        var rows: [[String]] = [["STREAM", "GROUP", "LAG", "PENDING", "OLDEST PENDING", "CONSUMERS (IDLE)"]]
        for stream in streams {
            if stream.groups.isEmpty {
                rows.append([stream.name, "(no group)", "-", "-", "-", "\(stream.length) \(stream.length == 1 ? "entry" : "entries")"])
            }
            for group in stream.groups {
                let consumers = group.consumers.isEmpty
                    ? "none"
                    : group.consumers.map { "\($0.name) (\(Duration.milliseconds($0.idleMilliseconds).compactDescription))" }
                        .joined(separator: ", ")
                rows.append([
                    stream.name, group.name, group.lag.map(String.init) ?? "unknown", String(group.pending),
                    group.oldestPendingMilliseconds.map { Duration.milliseconds($0).compactDescription } ?? "-",
                    consumers,
                ])
            }
        }
        return TextTable.render(rows)
    }
}
