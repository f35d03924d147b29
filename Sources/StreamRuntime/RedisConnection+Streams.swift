import Redis

/// Typed Redis Streams commands. Each one decodes its reply or throws `unexpectedReply`.
extension RedisConnection {
    /// Creates the consumer group at the start of the stream (and the stream if needed).
    /// An existing group is left as it is.
    public func ensureGroup(stream: String, group: String) async throws(RedisError) {
        let reply = try await send(["XGROUP", "CREATE", stream, group, "0", "MKSTREAM"])
        if case .error(let message) = reply, !message.hasPrefix("BUSYGROUP") {
            throw RedisError(code: .commandFailed, message: message, command: "XGROUP CREATE \(stream)")
        }
    }

    /// Appends entries in one round trip.
    /// - Returns: the ids Redis gave them, in order.
    @discardableResult
    public func append(_ entries: [OutgoingEntry]) async throws(RedisError) -> [String] {
        return try await executePipeline(entries.map(Self.appendCommand)).map { $0.string ?? "" }
    }

    /// Acknowledges entries in one round trip, one `XACK` per stream.
    public func acknowledge(_ references: [StreamEntryReference], group: String) async throws(RedisError) {
        _ = try await executePipeline(Self.acknowledgeCommands(references, group: group))
    }

    /// Appends entries, then acknowledges inputs, in one round trip and as one transaction
    /// (`MULTI`, the `XADD`s, the `XACK`s, `EXEC`).
    ///
    /// A command Redis refuses while queueing (no permission, out of memory, a malformed
    /// command) discards the whole transaction: nothing is appended and nothing acknowledged, so
    /// the inputs stay pending and are handled again. With nothing to append, it only acknowledges.
    public func appendAndAcknowledge(
        _ entries: [OutgoingEntry], acknowledging references: [StreamEntryReference], group: String
    ) async throws(RedisError) {
        let acknowledgements = Self.acknowledgeCommands(references, group: group)
        guard !entries.isEmpty else {
            _ = try await executePipeline(acknowledgements)
            return
        }
        let commands = [["MULTI"]] + entries.map(Self.appendCommand) + acknowledgements + [["EXEC"]]
        let replies = try await pipeline(commands)
        for (reply, command) in zip(replies, commands) { _ = try reply.throwingError(command: command) }
        guard case .array(let results)? = replies.last else {
            throw Self.unexpected(replies.last ?? .null, "EXEC")
        }
        for (result, command) in zip(results, commands.dropFirst()) { _ = try result.throwingError(command: command) }
    }

    static func appendCommand(_ entry: OutgoingEntry) -> [String] {
        var command = ["XADD", entry.stream, "*"]
        command.reserveCapacity(3 + entry.fields.count * 2)
        for field in entry.fields {
            command.append(field.name)
            command.append(field.value)
        }
        return command
    }

    static func acknowledgeCommands(_ references: [StreamEntryReference], group: String) -> [[String]] {
        var byStream: [String: [String]] = [:]
        var order: [String] = []
        for reference in references {
            if byStream[reference.stream] == nil { order.append(reference.stream) }
            byStream[reference.stream, default: []].append(reference.id)
        }
        return order.map { ["XACK", $0, group] + (byStream[$0] ?? []) }
    }

    /// Reads entries for a consumer: new ones (`>`) or, with `after`, the consumer's own pending ones.
    /// - Parameters:
    ///   - streams: the streams, in the order their entries are returned.
    ///   - pendingAfter: for each stream, the id after which to list this consumer's pending
    ///     entries; `nil` reads new entries.
    ///   - blockMilliseconds: how long to wait for new entries; `nil` does not wait. Ignored for
    ///     pending entries.
    ///   - fieldsWanted: given a new entry's `type` field, whether its other fields are wanted. An
    ///     entry whose fields are not wanted comes with its `type` field alone, which is enough to
    ///     acknowledge it: every group reads every entry of its streams, and about half are of
    ///     types it does nothing with. Pending entries always come whole.
    public func readGroup(
        group: String,
        consumer: String,
        streams: [String],
        count: Int,
        blockMilliseconds: Int?,
        pendingAfter: [String]? = nil,
        fieldsWanted: @escaping @Sendable (_ type: String) -> Bool = { _ in true }
    ) async throws(RedisError) -> [StreamEntry] {
        var command = ["XREADGROUP", "GROUP", group, consumer, "COUNT", String(count)]
        let readingNew = pendingAfter == nil
        let block = readingNew ? blockMilliseconds ?? 0 : 0
        if block > 0 { command += ["BLOCK", String(block)] }
        command.append("STREAMS")
        command += streams
        command += pendingAfter ?? Array(repeating: ">", count: streams.count)
        let deliveryCount = readingNew ? 1 : 0
        // Pending entries come whole: one may be dead-lettered, and a dead letter keeps all it held.
        let fieldsWanted = readingNew ? fieldsWanted : { _ in true }
        // Decoded from hiredis's reply in place: this runs for every batch of every group.
        let byStream = try await send(command, blockingMilliseconds: block) { reply throws(RedisError) -> [String: [StreamEntry]] in
            try reply.throwIfError(command: command)
            if reply.isNull { return [:] }
            guard let streamCount = reply.count else { throw Self.unexpected(reply.value, "XREADGROUP") }
            var byStream: [String: [StreamEntry]] = [:]
            for index in 0..<streamCount {
                guard let pair = reply[index], pair.count == 2, let name = pair[0]?.string, let entries = pair[1],
                      let entryCount = entries.count
                else { throw Self.unexpected(reply[index]?.value ?? .null, "XREADGROUP") }
                var decoded: [StreamEntry] = []
                decoded.reserveCapacity(entryCount)
                for position in 0..<entryCount {
                    guard let entry = entries[position] else { continue }
                    decoded.append(try Self.decodeEntry(entry, stream: name, deliveryCount: deliveryCount, fieldsWanted: fieldsWanted))
                }
                byStream[name] = decoded
            }
            return byStream
        }
        return streams.flatMap { byStream[$0] ?? [] }
    }

    /// One entry (`[id, [name, value, …]]`) read in place. A pending entry that was deleted from
    /// the stream comes back with null fields, and so with none here.
    static func decodeEntry(
        _ reply: RedisReply, stream: String, deliveryCount: Int, fieldsWanted: (String) -> Bool
    ) throws(RedisError) -> StreamEntry {
        guard reply.count == 2, let id = reply[0]?.string else { throw unexpected(reply.value, "stream entry") }
        var fields: [String: String] = [:]
        if let flat = reply[1], let count = flat.count {
            var typeValue: String?
            var index = 0
            while index + 1 < count {
                if flat[index]?.equals("type") == true { typeValue = flat[index + 1]?.string ?? "" }
                index += 2
            }
            if let typeValue, !fieldsWanted(typeValue) {
                fields["type"] = typeValue
            } else {
                fields.reserveCapacity(count / 2)
                index = 0
                while index + 1 < count {
                    if let name = flat[index]?.string { fields[name] = flat[index + 1]?.string ?? "" }
                    index += 2
                }
            }
        }
        return StreamEntry(reference: StreamEntryReference(stream: stream, id: id), fields: fields, deliveryCount: deliveryCount)
    }

    /// Claims entries that other consumers left pending for at least `minIdleMilliseconds`.
    /// - Returns: the claimed entries, the cursor for the next call (`0-0` when the scan is
    ///   done), and the ids of pending entries that were deleted from the stream meanwhile.
    public func autoClaim(
        stream: String,
        group: String,
        consumer: String,
        minIdleMilliseconds: Int,
        start: String,
        count: Int
    ) async throws(RedisError) -> (entries: [StreamEntry], next: String, deleted: [String]) {
        let reply = try await execute([
            "XAUTOCLAIM", stream, group, consumer, String(minIdleMilliseconds), start, "COUNT", String(count),
        ])
        guard let parts = reply.array, parts.count >= 2, let next = parts[0].string, let claimed = parts[1].array else {
            throw Self.unexpected(reply, "XAUTOCLAIM")
        }
        var entries: [StreamEntry] = []
        for entry in claimed where entry != .null {
            entries.append(try Self.decodeEntry(entry, stream: stream, deliveryCount: 0))
        }
        let deleted = parts.count > 2 ? (parts[2].array ?? []).compactMap(\.string) : []
        return (entries, next, deleted)
    }

    /// The delivery counts of a consumer's pending entries, from `XPENDING`.
    public func deliveryCounts(stream: String, group: String, consumer: String, ids: [String]) async throws(RedisError) -> [String: Int] {
        guard let first = ids.min(by: Self.idLess), let last = ids.max(by: Self.idLess) else { return [:] }
        let reply = try await execute(["XPENDING", stream, group, first, last, String(ids.count * 2 + 10), consumer])
        var counts: [String: Int] = [:]
        for row in reply.array ?? [] {
            guard let fields = row.array, fields.count >= 4, let id = fields[0].string, let count = fields[3].integer else { continue }
            counts[id] = Int(count)
        }
        return counts
    }

    /// One row of `XINFO GROUPS`.
    public struct GroupInfo: Sendable, Hashable {
        public var name: String
        public var consumers: Int
        public var pending: Int
        public var lastDeliveredID: String
        /// Entries not yet delivered to the group; `nil` when Redis cannot tell.
        public var lag: Int?
    }

    /// The consumer groups of a stream, with their lag and pending counts.
    ///
    /// The lag is computed robustly, since Redis's own figure (from its `entries-read`
    /// counter) can be wrong: after a restart from the append-only file, Redis 7.0 reports lags
    /// in the thousands for groups that have read everything. So a group's lag is
    /// - 0 when it was delivered the stream's last entry;
    /// - otherwise Redis's figure, when it is no more than the stream's length;
    /// - otherwise the entries after the last one delivered, counted (up to ``lagCountLimit``);
    /// - `nil` (unknown) only when none of these can be had.
    public func groups(of stream: String) async throws(RedisError) -> [GroupInfo] {
        let replies = try await pipeline([["XINFO", "GROUPS", stream], ["XINFO", "STREAM", stream]])
        let reply = replies[0]
        if case .error(let message) = reply, message.contains("no such key") { return [] }
        guard let rows = try reply.throwingError(command: ["XINFO", "GROUPS", stream]).array else {
            throw Self.unexpected(reply, "XINFO GROUPS")
        }
        let streamFields = replies.count > 1 ? replies[1].keyedPairs : [:]
        let lastGeneratedID = streamFields["last-generated-id"]?.string
        let length = streamFields["length"]?.integer.map { Int($0) }
        var groups: [GroupInfo] = []
        for row in rows {
            let fields = row.keyedPairs
            let lastDeliveredID = fields["last-delivered-id"]?.string ?? ""
            let reported = fields["lag"]?.integer.map { Int($0) }
            let lag: Int?
            if lastDeliveredID == lastGeneratedID {
                lag = 0
            } else if let reported, let length, reported <= length, reported > 0 {
                lag = reported
            } else {
                lag = try await entries(after: lastDeliveredID, in: stream)
            }
            groups.append(GroupInfo(
                name: fields["name"]?.string ?? "",
                consumers: Int(fields["consumers"]?.integer ?? 0),
                pending: Int(fields["pending"]?.integer ?? 0),
                lastDeliveredID: lastDeliveredID,
                lag: lag
            ))
        }
        return groups
    }

    /// How many entries a lag is counted up to when Redis's own figure cannot be trusted.
    public static let lagCountLimit = 100_000

    /// The entries of `stream` after `id`, counted; `nil` past ``lagCountLimit`` or for an id
    /// that is not one.
    private func entries(after id: String, in stream: String) async throws(RedisError) -> Int? {
        guard StreamID(id) != nil else { return nil }
        let reply = try await execute(["XRANGE", stream, "(" + id, "+", "COUNT", String(Self.lagCountLimit + 1)])
        let count = reply.array?.count ?? 0
        return count > Self.lagCountLimit ? nil : count
    }

    /// Every entry of a stream, oldest first; for tests, tools and replays of small streams.
    public func range(of stream: String, count: Int = 10_000) async throws(RedisError) -> [StreamEntry] {
        let reply = try await execute(["XRANGE", stream, "-", "+", "COUNT", String(count)])
        return try (reply.array ?? []).map { entry throws(RedisError) in
            try Self.decodeEntry(entry, stream: stream, deliveryCount: 0)
        }
    }

    static func decodeEntry(_ value: RedisValue, stream: String, deliveryCount: Int) throws(RedisError) -> StreamEntry {
        guard let pair = value.array, pair.count == 2, let id = pair[0].string else {
            throw unexpected(value, "stream entry")
        }
        var fields: [String: String] = [:]
        // A pending entry that was deleted from the stream comes back with null fields.
        if let flat = pair[1].array {
            var index = 0
            while index + 1 < flat.count {
                if let name = flat[index].string { fields[name] = flat[index + 1].string ?? "" }
                index += 2
            }
        }
        return StreamEntry(reference: StreamEntryReference(stream: stream, id: id), fields: fields, deliveryCount: deliveryCount)
    }

    static func unexpected(_ value: RedisValue, _ command: String) -> RedisError {
        RedisError(code: .unexpectedReply, message: "unexpected reply \(String(describing: value).prefix(120))", command: command)
    }

    /// Orders stream ids (`<milliseconds>-<sequence>`) numerically.
    public static func idLess(_ lhs: String, _ rhs: String) -> Bool {
        let zero = StreamID(milliseconds: 0, sequence: 0)
        return (StreamID(lhs) ?? zero) < (StreamID(rhs) ?? zero)
    }
}
