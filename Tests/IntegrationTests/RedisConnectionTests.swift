import Foundation
import LocalServers
import Redis
import StreamRuntime
import Testing
import TestSupport

/// The hiredis wrapper against a real redis-server.
@Suite("Redis connection")
struct RedisConnectionTests {
    static func connection() async throws -> (RedisConnection, String) {
        let servers = try await TestServers.shared()
        return (RedisConnection(configuration: servers.redisConfiguration), servers.uniqueName("redis-test"))
    }

    @Test("arguments travel as argv: spaces, quotes, newlines and unicode arrive unchanged")
    func argvIsBinarySafe() async throws {
        let (redis, key) = try await Self.connection()
        defer { Task { await redis.close() } }
        let value = "a b \"c\"\r\n* $3 ✓ \u{0}end"
        _ = try await redis.execute(["SET", key, value])
        #expect(try await redis.execute(["GET", key]) == .bulk(value))
    }

    @Test("replies decode into the enum: status, integer, bulk, null and arrays")
    func replyShapes() async throws {
        let (redis, key) = try await Self.connection()
        defer { Task { await redis.close() } }
        #expect(try await redis.execute(["PING"]) == .status("PONG"))
        #expect(try await redis.execute(["INCRBY", key, "41"]) == .integer(41))
        #expect(try await redis.execute(["GET", "\(key)-missing"]) == .null)
        _ = try await redis.execute(["RPUSH", "\(key)-list", "x", "y"])
        #expect(try await redis.execute(["LRANGE", "\(key)-list", "0", "-1"]) == .array([.bulk("x"), .bulk("y")]))
    }

    @Test("a reply read in place answers as its decoded value does: strings, arrays, nulls and errors")
    func replyReadInPlace() async throws {
        let (redis, key) = try await Self.connection()
        defer { Task { await redis.close() } }
        _ = try await redis.execute(["RPUSH", key, "type", "ünïcode value"])
        let read = try await redis.send(["LRANGE", key, "0", "-1"]) { reply in
            (reply.count, reply[0]?.equals("type"), reply[0]?.equals("typ"), reply[1]?.string, reply[2] == nil, reply.value)
        }
        #expect(read.0 == 2)
        #expect(read.1 == true && read.2 == false)
        #expect(read.3 == "ünïcode value")
        #expect(read.4, "no element past the end")
        #expect(read.5 == .array([.bulk("type"), .bulk("ünïcode value")]))
        #expect(try await redis.send(["GET", "\(key)-missing"]) { $0.isNull })
        let message = try await redis.send(["INCR", key]) { $0.errorMessage }
        #expect(message?.hasPrefix("WRONGTYPE") == true)
        await #expect(throws: RedisError.self) {
            try await redis.send(["INCR", key]) { reply throws(RedisError) in try reply.throwIfError(command: ["INCR", key]) }
        }
    }

    @Test("a group read brings new entries of unwanted types with their type alone, and pending entries whole")
    func unwantedFieldsAreNotRead() async throws {
        let (redis, stream) = try await Self.connection()
        defer { Task { await redis.close() } }
        try await redis.ensureGroup(stream: stream, group: "g")
        try await redis.append([
            OutgoingEntry(stream: stream, fields: [("event_id", "e-1"), ("type", "Wanted"), ("payload", "{}")]),
            OutgoingEntry(stream: stream, fields: [("event_id", "e-2"), ("type", "Unwanted"), ("payload", "{}")]),
        ])
        let new = try await redis.readGroup(
            group: "g", consumer: "c", streams: [stream], count: 10, blockMilliseconds: nil, fieldsWanted: { $0 == "Wanted" })
        #expect(new.map(\.fields) == [["event_id": "e-1", "type": "Wanted", "payload": "{}"], ["type": "Unwanted"]])
        #expect(new.map(\.deliveryCount) == [1, 1])
        let pending = try await redis.readGroup(
            group: "g", consumer: "c", streams: [stream], count: 10, blockMilliseconds: nil, pendingAfter: ["0"],
            fieldsWanted: { _ in false })
        #expect(pending.map { $0.fields["event_id"] } == ["e-1", "e-2"], "a pending entry may be dead-lettered: it comes whole")
    }

    @Test("an error reply is a typed error naming the command and key, never the values")
    func errorReplyIsTyped() async throws {
        let (redis, key) = try await Self.connection()
        defer { Task { await redis.close() } }
        _ = try await redis.execute(["SET", key, "secret-value"])
        let error = try await #require(throws: RedisError.self) { try await redis.execute(["LPUSH", key, "secret-value"]) }
        #expect(error.code == .commandFailed)
        #expect(error.serverErrorPrefix == "WRONGTYPE")
        #expect(error.command == "LPUSH \(key)")
        #expect(!error.description.contains("secret-value"))
    }

    @Test("a pipeline answers every command in order, with an error reply as a value among them")
    func pipelineKeepsOrder() async throws {
        let (redis, key) = try await Self.connection()
        defer { Task { await redis.close() } }
        let replies = try await redis.pipeline([["SET", key, "1"], ["INCR", key], ["HGET", key, "field"], ["INCR", key]])
        #expect(replies.count == 4)
        #expect(replies[0] == .status("OK") && replies[1] == .integer(2) && replies[3] == .integer(3))
        guard case .error(let message) = replies[2] else { Issue.record("expected an error reply"); return }
        #expect(message.hasPrefix("WRONGTYPE"))
        await #expect(throws: RedisError.self) { try await redis.executePipeline([["INCR", key], ["HGET", key, "f"]]) }
    }

    @Test("a dropped connection fails the command in flight as connectionLost, and the next command reconnects")
    func reconnectsAfterTheServerDropsIt() async throws {
        let (redis, key) = try await Self.connection()
        defer { Task { await redis.close() } }
        let (killer, _) = try await Self.connection()
        defer { Task { await killer.close() } }
        _ = try await redis.execute(["CLIENT", "SETNAME", key])
        let id = try #require(try await redis.execute(["CLIENT", "ID"]).integer)
        _ = try await killer.execute(["CLIENT", "KILL", "ID", String(id)])
        let error = try await #require(throws: RedisError.self) { try await redis.execute(["PING"]) }
        #expect(error.code == .connectionLost)
        #expect(try await redis.execute(["PING"]) == .status("PONG"))
    }

    @Test("a server that is not there gives connectionFailed after the configured attempts")
    func unreachableServer() async throws {
        let port = try FreePort.next()
        let redis = RedisConnection(
            configuration: RedisConfiguration(port: port, reconnectBackoffMilliseconds: 1...2), connectAttempts: 3)
        defer { Task { await redis.close() } }
        let error = try await #require(throws: RedisError.self) { try await redis.execute(["PING"]) }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("\(port)"))
    }

    @Test("URLs are read with credentials and database, and redacted for logs")
    func urls() throws {
        let configuration = try RedisConfiguration(url: "redis://payment:s3cr%40t@cache.internal:6380/2")
        #expect(configuration.host == "cache.internal" && configuration.port == 6380 && configuration.database == 2)
        #expect(configuration.username == "payment" && configuration.password == "s3cr@t")
        #expect(RedisConfiguration.redacted("redis://payment:s3cr%40t@cache.internal:6380/2") == "redis://payment:***@cache.internal:6380/2")
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "http://localhost") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://host:99999") }
    }
}
