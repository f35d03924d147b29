import CheckoutDomain
import ExactlyOnce
import Foundation
import Logging
import Postgres
import Redis
import ServiceLifecycle
import StockReservation
import StreamRuntime
import Synchronization
import Testing
import TestSupport

/// The stream consumer's retry rules, with handlers that fail on purpose, on a real Redis.
@Suite("Stream consumer")
struct StreamConsumerTests {
    struct Outage: Error {}
    struct BadBatch: Error {}

    /// Fails the first `failures` batches with `error`, then acknowledges everything.
    final class ScriptedHandler: StreamBatchHandler {
        let failures: Int
        let error: any Error & Sendable
        let calls = Mutex(0)
        let handled = Mutex<[StreamEntry]>([])

        init(failures: Int, error: any Error & Sendable) {
            self.failures = failures
            self.error = error
        }

        func handle(_ entries: [StreamEntry]) async throws -> BatchOutcome {
            let call = calls.withLock { $0 += 1; return $0 }
            if call <= failures { throw error }
            handled.withLock { $0 += entries }
            return BatchOutcome(acknowledged: entries.map(\.reference))
        }

        func isOutage(_ error: any Error) -> Bool { error is Outage }
    }

    static func run(_ handler: ScriptedHandler, body: (RedisConnection, String, String) async throws -> Void) async throws {
        let servers = try await TestServers.shared()
        let stream = servers.uniqueName("consumer-test")
        let deadLetters = stream + ":dead-letter"
        let consumer = StreamConsumer(
            configuration: StreamConsumerConfiguration(
                group: "scripted", consumer: "scripted-1", streams: [stream], deadLetterStream: deadLetters,
                blockMilliseconds: 20, maxDeliveries: 2, retryBackoffMilliseconds: 5),
            redis: RedisConnection(configuration: servers.redisConfiguration),
            handler: handler,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(configuration: .init(services: [consumer], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await group.run() }
        let redis = RedisConnection(configuration: servers.redisConfiguration)
        defer { Task { await redis.close() } }
        do {
            try await body(redis, stream, deadLetters)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    @Test("a batch failing because a dependency is out is retried from memory: no delivery is counted, nothing is dead-lettered")
    func outageDoesNotBurnDeliveries() async throws {
        let handler = ScriptedHandler(failures: 8, error: Outage())
        try await Self.run(handler) { redis, stream, deadLetters in
            _ = try await redis.execute(["XADD", stream, "*", "k", "v"])
            _ = try await ChorusSystem.eventually("the entry to be handled") {
                handler.handled.withLock { $0.isEmpty } ? nil : true
            }
            #expect(handler.handled.withLock { $0.map(\.deliveryCount) } == [1])
            #expect(try await redis.execute(["XLEN", deadLetters]).integer == 0)
            #expect(handler.calls.withLock { $0 } == 9)
        }
    }

    @Test("a batch that keeps failing for its own sake is delivered again, and dead-lettered after the maximum")
    func badBatchEndsAsDeadLetter() async throws {
        let handler = ScriptedHandler(failures: .max, error: BadBatch())
        try await Self.run(handler) { redis, stream, deadLetters in
            _ = try await redis.execute(["XADD", stream, "*", "k", "v"])
            let letter = try await ChorusSystem.eventually("the entry to be dead-lettered") {
                try await redis.range(of: deadLetters).first
            }
            #expect(letter.fields["reason"]?.contains("BadBatch") == true)
            #expect(Int(letter.fields["deliveries"] ?? "") == 3)
        }
    }
}

/// A worker that committed its batch and then died before publishing leaves its input pending;
/// the next delivery finds the inbox record and publishes the stored outputs, once.
@Suite("Crash between commit and publish", .serialized)
struct CommitThenCrashTests {
    @Test("the stored outputs are published on redelivery, with the same ids, and the effect is not applied again")
    func storedOutputsArePublishedAgain() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI, .stockReservation])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])
        await system.stop(.stockReservation)
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 2)])
        #expect(answer.status == 202)

        // The consumer reads the checkout and commits its effect, then "dies": no publish, no ack.
        let topology = await system.topology
        let entries = try await system.redis.readGroup(
            group: Worker.stockReservation.groupName, consumer: "stock-reservation-1",
            streams: topology.checkoutStreams, count: 10, blockMilliseconds: nil)
        #expect(entries.count == 1)
        let database = PostgresConnection(connectionString: system.configuration.databaseURL)
        defer { Task { await database.close() } }
        let handler = ExactlyOnceHandler(
            effect: StockReservationEffect(), database: database, topology: topology, logger: ChorusSystem.logger)
        let lost = try await handler.handle(entries)
        let lostID = try #require(lost.publish.first?.fields.first { $0.name == "event_id" }?.value)
        #expect(try await system.stock("store-01", "SKU-1")?.reserved == 2)
        #expect(try await system.allEntries().filter { $0.fields["type"] == "StockReserved" }.isEmpty)

        // The same consumer comes back and finds its pending entry.
        try await system.start(.stockReservation)
        let reserved = try await ChorusSystem.eventually("StockReserved to be published") {
            let found = try await system.allEntries().filter { $0.fields["type"] == "StockReserved" }
            return found.isEmpty ? nil : found
        }
        try await system.waitUntilQuiet()
        #expect(reserved.count == 1)
        #expect(reserved.first?.fields["event_id"] == lostID, "the stored event, not a new one")
        #expect(try await system.stock("store-01", "SKU-1")?.reserved == 2, "reserved once")
    }
}
