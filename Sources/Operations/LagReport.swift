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
        /// What the stream takes in Redis's memory (`MEMORY USAGE`), in bytes; `nil` when it
        /// does not exist yet.
        public var memoryBytes: Int?
        public var groups: [Group]

        enum CodingKeys: String, CodingKey { case name, length, memoryBytes = "memory_bytes", groups }
    }

    public var streams: [Stream]
    /// What the operator should know about the report itself, such as a partition count that
    /// is not the system's.
    public var warnings: [String] = []
    /// When the report was taken, in milliseconds since the Unix epoch.
    public var takenAtMilliseconds: Int64

    enum CodingKeys: String, CodingKey { case streams, warnings, takenAtMilliseconds = "taken_at_ms" }

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
                let memory = try await redis.send(["MEMORY", "USAGE", name]).integer.map { Int($0) }
                streams.append(Stream(name: name, length: try await redis.streamLength(name), memoryBytes: memory, groups: groups))
            }
            var report = LagReport(streams: streams, takenAtMilliseconds: takenAt)
            if let found = try await existingPartitions(of: target.topology, redis: redis), found != target.topology.checkoutPartitions {
                report.warnings.append(
                    "this system has \(found) checkout partition streams (\(target.topology.prefix):checkouts:0…\(found - 1)), "
                        + "but \(target.topology.checkoutPartitions) are configured (CHORUS_PARTITIONS or --partitions): "
                        + (found > target.topology.checkoutPartitions ? "the others are not shown" : "the missing ones are shown empty"))
            }
            return report
        }
    }

    /// How many checkout partition streams exist, counted from 0 until one is missing; `nil`
    /// when there is none yet (a system that has not started, where nothing can be told).
    static func existingPartitions(of topology: StreamTopology, redis: RedisConnection) async throws -> Int? {
        var found = 0
        var checked = 0
        // In pipelined rounds of 64, which covers any usual count in one round trip.
        while checked < 1_024 {
            let round = (checked..<min(checked + 64, 1_024)).map { partition in
                ["EXISTS", topology.checkoutStream(partition: partition)]
            }
            let replies = try await redis.pipeline(round)
            for reply in replies {
                guard reply.integer == 1 else { return found == 0 ? nil : found }
                found += 1
            }
            checked += round.count
        }
        return found
    }

    /// The report as an aligned table, one row per stream and group.
    public var table: String {
        var rows: [[String]] = [["STREAM", "LENGTH", "MEMORY", "GROUP", "LAG", "PENDING", "OLDEST PENDING", "CONSUMERS (IDLE)"]]
        for stream in streams {
            let size = [String(stream.length), stream.memoryBytes.map(Self.bytes) ?? "-"]
            if stream.groups.isEmpty {
                rows.append([stream.name] + size + ["(no group)", "-", "-", "-", "-"])
            }
            for group in stream.groups {
                let consumers = group.consumers.isEmpty
                    ? "none"
                    : group.consumers.map { "\($0.name) (\(Duration.milliseconds($0.idleMilliseconds).compactDescription))" }
                        .joined(separator: ", ")
                rows.append([stream.name] + size + [
                    group.name, group.lag.map(String.init) ?? "unknown", String(group.pending),
                    group.oldestPendingMilliseconds.map { Duration.milliseconds($0).compactDescription } ?? "-",
                    consumers,
                ])
            }
        }
        return TextTable.render(rows)
    }

    /// `812 B`, `14.2 KiB`, `3.1 MiB`.
    static func bytes(_ count: Int) -> String {
        switch count {
        case ..<1_024: "\(count) B"
        case ..<(1_024 * 1_024): String(format: "%.1f KiB", Double(count) / 1_024)
        default: String(format: "%.1f MiB", Double(count) / 1_048_576)
        }
    }
}
