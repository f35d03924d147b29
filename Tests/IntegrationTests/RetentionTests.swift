import CheckoutDomain
import ExactlyOnce
import Foundation
import Logging
import Operations
import Postgres
import Redis
import StreamRuntime
import Testing
import TestSupport

/// Streams and inboxes stay flat: what every group is done with goes, nothing else does.
@Suite("Retention")
struct RetentionTests {
    static func redis() async throws -> (RedisConnection, RedisConnectionPool, TestServers) {
        let servers = try await TestServers.shared()
        return (RedisConnection(configuration: servers.redisConfiguration), RedisConnectionPool(configuration: servers.redisConfiguration, size: 1), servers)
    }

    /// Appends `count` entries and returns their ids, oldest first.
    static func fill(_ stream: String, count: Int, on redis: RedisConnection) async throws -> [String] {
        try await redis.append((0..<count).map { OutgoingEntry(stream: stream, fields: [("n", "\($0)")]) })
    }

    static func read(_ stream: String, group: String, consumer: String, count: Int, on redis: RedisConnection) async throws -> [StreamEntry] {
        try await redis.readGroup(group: group, consumer: consumer, streams: [stream], count: count, blockMilliseconds: nil)
    }

    /// A trimmer of `stream` alone, which keeps no dead letters apart.
    static func trimmer(of stream: String, abandonedAfter milliseconds: Int64?, on pool: RedisConnectionPool) -> StreamTrimmer {
        StreamTrimmer(
            retention: StreamRetention(
                streams: [stream], deadLetterStream: stream + ":dead", deadLetterRetentionMilliseconds: nil,
                abandonedGroupMilliseconds: milliseconds),
            redis: pool)
    }

    static func ids(of stream: String, on redis: RedisConnection) async throws -> [String] {
        try await redis.range(of: stream).map(\.reference.id)
    }

    @Test("trimming keeps every entry some group has not been delivered or still holds pending")
    func trimmingKeepsWhatGroupsNeed() async throws {
        let (redis, pool, servers) = try await Self.redis()
        defer { Task { await redis.close(); await pool.close() } }
        let stream = servers.uniqueName("retention")
        let ids = try await Self.fill(stream, count: 10, on: redis)
        try await redis.ensureGroup(stream: stream, group: "slow")
        try await redis.ensureGroup(stream: stream, group: "fast")
        // fast: delivered 6, acknowledged 0…3, so 4 and 5 are pending.
        let fast = try await Self.read(stream, group: "fast", consumer: "f", count: 6, on: redis)
        try await redis.acknowledge(Array(fast.prefix(4).map(\.reference)), group: "fast")
        // slow: delivered and acknowledged 0…2.
        let slow = try await Self.read(stream, group: "slow", consumer: "s", count: 3, on: redis)
        try await redis.acknowledge(slow.map(\.reference), group: "slow")

        let trimmer = Self.trimmer(of: stream, abandonedAfter: nil, on: pool)
        let first = try await trimmer.trimOnce()
        #expect(first.first?.removed == 3)
        #expect(try await Self.ids(of: stream, on: redis) == Array(ids[3...]), "slow has not been delivered 3 yet")

        // slow catches up entirely: now fast's oldest pending entry, 4, holds the rest.
        let rest = try await Self.read(stream, group: "slow", consumer: "s", count: 100, on: redis)
        try await redis.acknowledge(rest.map(\.reference), group: "slow")
        _ = try await trimmer.trimOnce()
        #expect(try await Self.ids(of: stream, on: redis) == Array(ids[4...]), "4 and 5 are pending at fast")

        // Entries appended later are never delivered to anyone yet: they stay too.
        let later = try await Self.fill(stream, count: 2, on: redis)
        try await redis.acknowledge(fast.suffix(2).map(\.reference), group: "fast")
        _ = try await trimmer.trimOnce()
        #expect(try await Self.ids(of: stream, on: redis) == Array(ids[6...]) + later, "fast has not been delivered 6 yet")
    }

    @Test("a stream no group reads is left alone")
    func streamWithoutGroupsIsKept() async throws {
        let (redis, pool, servers) = try await Self.redis()
        defer { Task { await redis.close(); await pool.close() } }
        let stream = servers.uniqueName("retention-nogroup")
        let ids = try await Self.fill(stream, count: 5, on: redis)
        let trimmer = Self.trimmer(of: stream, abandonedAfter: nil, on: pool)
        _ = try await trimmer.trimOnce()
        #expect(try await Self.ids(of: stream, on: redis) == ids)
    }

    @Test("a group whose consumers have been idle past the setting stops holding entries back, and is reported")
    func abandonedGroupIsPassedOver() async throws {
        let (redis, pool, servers) = try await Self.redis()
        defer { Task { await redis.close(); await pool.close() } }
        let stream = servers.uniqueName("retention-abandoned")
        let ids = try await Self.fill(stream, count: 4, on: redis)
        try await redis.ensureGroup(stream: stream, group: "gone")
        try await redis.ensureGroup(stream: stream, group: "live")
        _ = try await Self.read(stream, group: "gone", consumer: "g", count: 1, on: redis)
        // Idle thresholds with seconds of margin each way: a full suite can hold this test back
        // for a second between two statements.
        try await Task.sleep(for: .milliseconds(10_000))
        let live = try await Self.read(stream, group: "live", consumer: "l", count: 100, on: redis)
        try await redis.acknowledge(live.map(\.reference), group: "live")

        let patient = Self.trimmer(of: stream, abandonedAfter: 60_000, on: pool)
        #expect(try await patient.trimOnce().first?.removed == 0, "gone still holds its pending entry")
        let impatient = Self.trimmer(of: stream, abandonedAfter: 6_000, on: pool)
        let trim = try #require(try await impatient.trimOnce().first)
        #expect(trim.abandonedGroups == ["gone"])
        #expect(trim.removed == ids.count)
    }

    @Test("dead letters are trimmed by age alone")
    func deadLettersByAge() async throws {
        let (redis, pool, servers) = try await Self.redis()
        defer { Task { await redis.close(); await pool.close() } }
        let deadLetters = servers.uniqueName("retention-dead")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for id in ["1000-0", "\(now - 7_200_000)-0"] { _ = try await redis.execute(["XADD", deadLetters, id, "reason", "old"]) }
        let recent = try await redis.append([OutgoingEntry(stream: deadLetters, fields: [("reason", "new")])])
        let trimmer = StreamTrimmer(
            retention: StreamRetention(streams: [], deadLetterStream: deadLetters, deadLetterRetentionMilliseconds: 3_600_000,
                                       abandonedGroupMilliseconds: nil),
            redis: pool)
        _ = try await trimmer.trimOnce()
        #expect(try await Self.ids(of: deadLetters, on: redis) == recent)
    }

    @Test("the inbox forgets only records older than the retention; a redelivery within it is still recognised")
    func inboxPruning() async throws {
        let (handler, database) = try await BatchIsolationTests.handler(schema: "isolation_pruned")
        defer { Task { await database.close() } }
        let entries = BatchIsolationTests.entries(count: 6, poisonAt: [], stream: "s")
        _ = try await handler.handle(entries)
        // Three of them were applied two days ago.
        try await database.query(
            "UPDATE isolation_pruned.inbox SET processed_at = now() - interval '48 hours' WHERE event_id = ANY($1::text[])",
            [PostgresTextArray(["event-0", "event-1", "event-2"])])
        let pruner = InboxPruner(
            effect: handler.effect, retention: .seconds(24 * 3_600), database: database,
            metrics: BatchIsolationTests.noMetrics)
        #expect(try await pruner.pruneOnce() == 3)
        let kept = try await database.query("SELECT event_id FROM isolation_pruned.inbox ORDER BY event_id").map { try $0.decode("event_id", as: String.self) }
        #expect(kept == ["event-3", "event-4", "event-5"])
        let again = try await handler.handle(Array(entries[3...]))
        #expect(again.duplicates.count == 3, "recent events are still recognised")
        #expect(try await database.query("SELECT count(*) AS n FROM isolation_pruned.applied").first?.decode("n", as: Int.self) == 6)
    }

    @Test("a dead letter older than the inbox retention is not republished, and says why")
    func oldDeadLetterIsNotRetried() async throws {
        let system = try await ChorusSystem.start([.audit])
        defer { Task { await system.shutdown() } }
        let topology = await system.topology
        let source = topology.checkoutStream(partition: 0)
        let original = #"{"correlation_id":"c-1","event_id":"old-1","occurred_at":"2026-11-22T09:15:02.123Z","payload":"{\"checkout_id\":\"c-1\",\"order_id\":\"o-1\"}","producer":"a-test","type":"CheckoutCompleted"}"#
        let letterID = try #require(try await system.redis.append([OutgoingEntry(stream: topology.deadLetterStream, fields: [
            (DeadLetterFields.reason, "test"), (DeadLetterFields.sourceStream, source),
            (DeadLetterFields.sourceID, "\(Int64(Date().timeIntervalSince1970 * 1000) - 200 * 3_600_000)-0"),
            (DeadLetterFields.group, "audit"), (DeadLetterFields.deliveries, "5"), (DeadLetterFields.deadLetteredAt, "0"),
            (DeadLetterFields.entry, original),
        ])]).first)
        let refused = try await DeadLetterQueue(target: system.operatorTarget, inboxRetentionMinutes: 10_080).retry(letterID)
        #expect(refused.outcome == .notRetriable)
        #expect(refused.detail?.contains("older than the inbox retention") == true)
        #expect(try await system.copies(of: "old-1", in: source) == 0)
        let forced = try await DeadLetterQueue(target: system.operatorTarget, inboxRetentionMinutes: 0).retry(letterID)
        #expect(forced.outcome == .republished, "with an inbox that never forgets, any age is fine")
    }

    @Test("in a running system the streams are trimmed once every group is done, and each checkout's history stays whole")
    func runningSystemTrimsStreams() async throws {
        let system = try await ChorusSystem.start { $0.trimIntervalMilliseconds = 100 }
        defer { Task { await system.shutdown() } }
        let ids = try await Scenarios.everyKindOfCheckout(on: system)
        try await system.waitUntilQuiet()
        let topology = await system.topology
        _ = try await ChorusSystem.eventually("every event stream to be trimmed to nothing") { () async throws -> Bool? in
            for stream in topology.eventStreams where try await system.redis.execute(["XLEN", stream]).integer != 0 { return nil }
            return true
        }
        let stored = try await system.integer("SELECT count(*)::bigint AS value FROM event_store.events")
        #expect((stored ?? 0) > 20, "the event store keeps what the streams no longer hold")
        for id in ids {
            let answer = try await system.get(.eventStore, "/projections/\(id)")
            #expect(answer.status == 200)
            #expect(answer.json?["state"]?["status"]?.string == "completed" || answer.json?["state"]?["status"]?.string == "failed")
        }
        // The groups' lag stays known after trimming: only entries they were done with went.
        for stream in topology.eventStreams {
            for group in try await system.redis.groups(of: stream) { #expect(group.lag == 0, "\(stream) \(group.name)") }
        }
        // And the saga goes on over trimmed streams.
        let more = try await system.checkout(customer: "cus-rich", store: "store-01", items: [("SKU-1", 1)])
        #expect(more.status == 202)
        let checkout = try await system.terminalCheckout(try #require(more.json?["checkout_id"]?.string))
        #expect(checkout["status"]?.string == "completed")
    }
}
