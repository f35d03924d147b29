import Redis

/// Read-only looks at streams and consumer groups, for operator tools: who reads, what waits,
/// and single entries by id.
extension RedisConnection {
    /// One row of `XINFO CONSUMERS`.
    public struct ConsumerInfo: Sendable, Hashable {
        public var name: String
        /// Entries delivered to this consumer and not yet acknowledged.
        public var pending: Int
        /// Milliseconds since the consumer last interacted with the group (read, claim or ack).
        public var idleMilliseconds: Int64
        /// Milliseconds since its last successful read; `nil` before Redis 7.2, which does not report it.
        public var inactiveMilliseconds: Int64?
    }

    /// The consumers of a group with their pending counts and idle times.
    public func consumers(of stream: String, group: String) async throws(RedisError) -> [ConsumerInfo] {
        let reply = try await execute(["XINFO", "CONSUMERS", stream, group])
        guard let rows = reply.array else { throw Self.unexpected(reply, "XINFO CONSUMERS") }
        return rows.map { row in
            let fields = row.keyedPairs
            let inactive = fields["inactive"]?.integer
            return ConsumerInfo(
                name: fields["name"]?.string ?? "",
                pending: Int(fields["pending"]?.integer ?? 0),
                idleMilliseconds: fields["idle"]?.integer ?? 0,
                // Redis 7.2 reports -1 for a consumer that never read successfully.
                inactiveMilliseconds: inactive.flatMap { $0 < 0 ? nil : $0 }
            )
        }
    }

    /// The summary form of `XPENDING`: how many entries wait for acknowledgement in a group,
    /// the smallest and largest of their ids, and how many each consumer holds.
    public struct PendingSummary: Sendable, Hashable {
        public var count: Int
        public var smallestID: String?
        public var largestID: String?
        public var perConsumer: [String: Int]
    }

    /// The group's pending entries, summarised (`XPENDING <stream> <group>`).
    public func pendingSummary(stream: String, group: String) async throws(RedisError) -> PendingSummary {
        let reply = try await execute(["XPENDING", stream, group])
        guard let parts = reply.array, parts.count >= 4 else { throw Self.unexpected(reply, "XPENDING") }
        var perConsumer: [String: Int] = [:]
        for row in parts[3].array ?? [] {
            guard let pair = row.array, pair.count == 2, let name = pair[0].string, let count = pair[1].integer else { continue }
            perConsumer[name] = Int(count)
        }
        return PendingSummary(
            count: Int(parts[0].integer ?? 0),
            smallestID: parts[1].string,
            largestID: parts[2].string,
            perConsumer: perConsumer
        )
    }

    /// The newest entries of a stream first (`XREVRANGE`), at most `count`.
    public func reverseRange(of stream: String, count: Int) async throws(RedisError) -> [StreamEntry] {
        let reply = try await execute(["XREVRANGE", stream, "+", "-", "COUNT", String(max(1, count))])
        return try (reply.array ?? []).map { entry throws(RedisError) in
            try Self.decodeEntry(entry, stream: stream, deliveryCount: 0)
        }
    }

    /// Up to `count` entries of a stream after the id `after` (from the start when `nil`), oldest first:
    /// pages through a stream of any length.
    public func entries(of stream: String, after: String?, count: Int) async throws(RedisError) -> [StreamEntry] {
        let reply = try await execute(["XRANGE", stream, after.map { "(" + $0 } ?? "-", "+", "COUNT", String(max(1, count))])
        return try (reply.array ?? []).map { entry throws(RedisError) in
            try Self.decodeEntry(entry, stream: stream, deliveryCount: 0)
        }
    }

    /// The entry `id` of a stream, or `nil` when there is none.
    public func entry(_ id: String, in stream: String) async throws(RedisError) -> StreamEntry? {
        let reply = try await execute(["XRANGE", stream, id, id, "COUNT", "1"])
        guard let first = reply.array?.first else { return nil }
        return try Self.decodeEntry(first, stream: stream, deliveryCount: 0)
    }

    /// How many entries a stream holds (`XLEN`); 0 for a stream that does not exist.
    public func streamLength(_ stream: String) async throws(RedisError) -> Int {
        Int(try await execute(["XLEN", stream]).integer ?? 0)
    }

    /// The milliseconds part of a stream id (`<milliseconds>-<sequence>`): when Redis added it.
    public static func milliseconds(ofStreamID id: String) -> Int64? {
        id.split(separator: "-", maxSplits: 1).first.flatMap { Int64($0) }
    }
}
