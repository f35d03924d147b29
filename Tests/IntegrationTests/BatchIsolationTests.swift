import CheckoutDomain
import CoreMetrics
import ExactlyOnce
import Foundation
import Logging
import Postgres
import Redis
import ServiceLifecycle
import StreamRuntime
import Synchronization
import Testing
import TestSupport

/// A batch is applied as one, in one transaction; when it fails for its own sake, it is applied
/// again in halves, each in a savepoint, so that only the events at fault are left to fail.
@Suite("Batch isolation")
struct BatchIsolationTests {
    static let noMetrics: any MetricsFactory = NOOPMetricsHandler.instance

    /// Records every event's id with one statement per batch, and fails any batch that holds an
    /// event correlated to "poison" (as a constraint or a bad row would).
    struct RecordingEffect: EventEffect {
        let worker = Worker.audit
        let schema: String
        let calls = Counter()

        final class Counter: Sendable {
            let batchSizes = Mutex<[Int]>([])
        }

        struct Poisoned: Error, CustomStringConvertible {
            var eventID: String
            var description: String { "poisoned event \(eventID)" }
        }

        var migrations: [String] {
            ["CREATE TABLE IF NOT EXISTS \(schema).applied (event_id text PRIMARY KEY, position serial)"]
        }

        func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
            calls.batchSizes.withLock { $0.append(batch.count) }
            try database.query(
                "INSERT INTO \(schema).applied (event_id) SELECT * FROM unnest($1::text[])", [PostgresTextArray(batch.map(\.eventID))])
            if let poisoned = batch.first(where: { $0.metadata.correlationID == "poison" }) {
                throw Poisoned(eventID: poisoned.eventID)
            }
            return batch.map { _ in [] }
        }
    }

    static func entries(count: Int, poisonAt poisoned: Set<Int>, stream: String) -> [StreamEntry] {
        (0..<count).map { index in
            let envelope = EventEnvelope.starting(
                .accountCredited(AccountCredited(customerID: "cus-\(index)", amountCents: 100)),
                producer: "test", eventID: "event-\(index)", correlationID: poisoned.contains(index) ? "poison" : "fine")
            var fields: [String: String] = [:]
            for field in envelope.streamFields { fields[field.name] = field.value }
            return StreamEntry(reference: StreamEntryReference(stream: stream, id: "1-\(index)"), fields: fields, deliveryCount: 1)
        }
    }

    static func handler(schema: String) async throws -> (ExactlyOnceHandler<RecordingEffect>, PostgresConnection) {
        let servers = try await TestServers.shared()
        let database = PostgresConnection(connectionString: try await servers.makeDatabase())
        let effect = RecordingEffect(schema: schema)
        let handler = ExactlyOnceHandler(
            effect: effect, database: database, topology: StreamTopology(prefix: "isolation"),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await handler.migrate()
        return (handler, database)
    }

    @Test("a batch that succeeds is applied with one call of the effect, in one transaction")
    func wholeBatchAtOnce() async throws {
        let (handler, database) = try await Self.handler(schema: "isolation_whole")
        defer { Task { await database.close() } }
        let outcome = try await handler.handle(Self.entries(count: 16, poisonAt: [], stream: "s"))
        #expect(outcome.acknowledged.count == 16)
        #expect(handler.effect.calls.batchSizes.withLock { $0 } == [16])
        #expect(try await database.query("SELECT count(*) AS n FROM isolation_whole.inbox").first?.decode("n", as: Int.self) == 16)
    }

    @Test("one poison event in a batch fails alone; the rest of its batch is applied once, in halves")
    func poisonIsIsolated() async throws {
        let (handler, database) = try await Self.handler(schema: "isolation_poison")
        defer { Task { await database.close() } }
        let entries = Self.entries(count: 16, poisonAt: [5], stream: "s")
        let outcome = try await handler.handle(entries)

        #expect(Set(outcome.acknowledged) == Set(entries.map(\.reference)).subtracting([entries[5].reference]))
        #expect(Array(outcome.failures.keys) == [entries[5].reference])
        #expect(outcome.failures[entries[5].reference]?.contains("poisoned event event-5") == true)
        let applied = try await database.query("SELECT event_id FROM isolation_poison.applied ORDER BY position")
            .map { try $0.decode("event_id", as: String.self) }
        #expect(applied == (0..<16).filter { $0 != 5 }.map { "event-\($0)" }, "every other event once, in order")
        let recorded = try await database.query("SELECT count(*) AS n FROM isolation_poison.inbox").first?.decode("n", as: Int.self)
        #expect(recorded == 15)
        // The whole batch, then halves down to the poison, in order: 8 (fails), 4 (fine), 4 (fails),
        // 2 (fails), 1 (fine), 1 (the poison), 2 (fine), then the second half of 8 (fine).
        let sizes = handler.effect.calls.batchSizes.withLock { $0 }
        #expect(sizes == [16, 8, 4, 4, 2, 1, 1, 2, 8], "halving, not one savepoint per event")

        // Delivered again: the 15 are duplicates, the poison fails again, nothing is applied twice.
        let again = try await handler.handle(entries)
        #expect(again.duplicates.count == 15)
        #expect(Array(again.failures.keys) == [entries[5].reference])
        #expect(try await database.query("SELECT count(*) AS n FROM isolation_poison.applied").first?.decode("n", as: Int.self) == 15)
    }

    @Test("several poison events are each isolated; a duplicate copy within the batch is applied once")
    func severalPoisonsAndCopies() async throws {
        let (handler, database) = try await Self.handler(schema: "isolation_several")
        defer { Task { await database.close() } }
        var entries = Self.entries(count: 10, poisonAt: [0, 9], stream: "s")
        var copy = entries[3]
        copy.reference.id = "2-0"
        entries.append(copy)
        let outcome = try await handler.handle(entries)
        #expect(Set(outcome.failures.keys) == [entries[0].reference, entries[9].reference])
        #expect(outcome.acknowledged.count == 9)
        #expect(outcome.duplicates == [copy.reference])
        #expect(try await database.query("SELECT count(*) AS n FROM isolation_several.applied").first?.decode("n", as: Int.self) == 8)
    }

    @Test("through the consumer, the poison event ends as a dead letter and every other event is applied once")
    func poisonIsDeadLetteredThroughTheConsumer() async throws {
        let servers = try await TestServers.shared()
        let (handler, database) = try await Self.handler(schema: "isolation_consumer")
        defer { Task { await database.close() } }
        let stream = servers.uniqueName("isolation")
        let deadLetters = stream + ":dead-letter"
        let redis = RedisConnection(configuration: servers.redisConfiguration)
        defer { Task { await redis.close() } }
        let entries = Self.entries(count: 12, poisonAt: [7], stream: stream)
        try await redis.append(entries.map { entry in
            OutgoingEntry(stream: stream, fields: entry.fields.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) })
        })
        let consumer = StreamConsumer(
            configuration: StreamConsumerConfiguration(
                group: "isolation", consumer: "isolation-1", streams: [stream], deadLetterStream: deadLetters,
                blockMilliseconds: 20, claimIdleMilliseconds: 50, claimIntervalMilliseconds: 50, maxDeliveries: 2,
                retryBackoffMilliseconds: 5),
            redis: RedisConnection(configuration: servers.redisConfiguration), handler: handler,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(configuration: .init(services: [consumer], logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await group.run() }
        defer { Task { await group.triggerGracefulShutdown(); _ = try? await task.value } }

        let letter = try await ChorusSystem.eventually("the poison event to be dead-lettered") {
            try await redis.range(of: deadLetters).first
        }
        #expect(letter.fields["entry"]?.contains("event-7") == true)
        #expect(letter.fields["reason"]?.contains("poisoned event event-7") == true)
        let applied = try await database.query("SELECT event_id FROM isolation_consumer.applied ORDER BY position")
            .map { try $0.decode("event_id", as: String.self) }
        #expect(applied == (0..<12).filter { $0 != 7 }.map { "event-\($0)" })
        let pending = try await redis.execute(["XPENDING", stream, "isolation"]).array?.first?.integer
        #expect(pending == 0, "every entry acknowledged, the poison with its dead letter")
        #expect(try await redis.range(of: deadLetters).count == 1)
    }
}
