import CheckoutDomain
import ExactlyOnce
import Foundation
import Logging
import Observability
import Payment
import Postgres
import ServiceSupport
import StreamRuntime
import TestSupport
import Synchronization
import Testing

/// Lines written by a ``JSONLogHandler``, kept for the test to read.
final class CapturedLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }

    func logger(label: String = "test", service: String = "test", level: Logger.Level = .trace) -> Logger {
        Logger(label: label) { label in JSONLogHandler(label: label, service: service, level: level) { self.append($0) } }
    }

    /// Each line decoded as a JSON object.
    func objects() throws -> [[String: String]] {
        try all.map { line in try JSONDecoder().decode([String: String].self, from: Data(line.utf8)) }
    }
}

@Suite("Logs")
struct LoggingTests {
    @Test("every line is one JSON object with time, level, service, message and the metadata as fields")
    func oneObjectPerLine() throws {
        let captured = CapturedLines()
        var logger = captured.logger(service: "payment")
        logger[metadataKey: "group"] = "payment"
        logger.info("applied", metadata: ["checkout_id": "c-1", "event_id": "e-1", "correlation_id": "req-9"])

        let lines = captured.all
        #expect(lines.count == 1)
        #expect(lines.allSatisfy { $0.hasSuffix("}\n") && $0.filter { $0 == "\n" }.count == 1 })
        let object = try #require(try captured.objects().first)
        #expect(object["level"] == "info")
        #expect(object["service"] == "payment")
        #expect(object["message"] == "applied")
        #expect(object["checkout_id"] == "c-1")
        #expect(object["event_id"] == "e-1")
        #expect(object["correlation_id"] == "req-9")
        #expect(object["group"] == "payment")
        let time = try #require(object["time"])
        #expect(time.count == 24 && time.hasSuffix("Z"), "ISO 8601 UTC with milliseconds, got \(time)")
    }

    @Test("a request's lines carry one request id, the gateway's X-Request-Id, and the replica's name")
    func oneRequestIDAndTheReplica() async throws {
        let system = try await ChorusSystem.start([.stockReservation, .payment, .orderCreation, .compensation, .cqrsProjection])
        defer { Task { await system.shutdown() } }
        let captured = CapturedLines()
        try await system.start(.checkoutAPI, consumerName: "checkout-api-2", logger: captured.logger(service: "checkout-api"))
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])
        let answer = try await system.post(
            "/checkouts", ["customer_id": "cus-1", "store_id": "store-01", "items": [["sku": "SKU-1", "quantity": 1]]],
            headers: ["X-Request-Id": "req-42"])
        #expect(answer.status == 202)

        let lines = try captured.objects().filter { $0["request_id"] != nil }
        let accepted = try #require(lines.first { $0["message"] == "checkout accepted" })
        #expect(accepted["request_id"] == "req-42")
        #expect(accepted["correlation_id"] == "req-42", "the saga's correlation id is the same id")
        #expect(accepted["instance"] == "checkout-api-2")
        #expect(try captured.objects().allSatisfy { $0["hb.request.id"] == nil }, "no second id")
    }

    @Test("quotes, backslashes, newlines and control characters in messages stay inside one valid line")
    func escaping() throws {
        let captured = CapturedLines()
        captured.logger().warning("a \"quoted\" \\ path\nsecond line\u{1}\ttab")
        #expect(captured.all.count == 1)
        #expect(try captured.objects().first?["message"] == "a \"quoted\" \\ path\nsecond line\u{1}\ttab")
    }

    @Test("lines below the configured level are not written")
    func level() {
        let captured = CapturedLines()
        let logger = captured.logger(level: .warning)
        logger.info("quiet")
        logger.debug("quieter")
        logger.error("loud")
        #expect(captured.all.count == 1)
        #expect(captured.all.first?.contains("loud") == true)
    }

    @Test("CHORUS_LOG_LEVEL and CHORUS_LOG_FORMAT configure the logs, and bad values are refused")
    func configuration() throws {
        let configured = try ChorusConfiguration.fromEnvironment(["CHORUS_LOG_LEVEL": "debug", "CHORUS_LOG_FORMAT": "text"])
        #expect(configured.logLevel == .debug)
        #expect(configured.logFormat == .text)
        #expect(try ChorusConfiguration.fromEnvironment([:]).logFormat == .json)
        #expect(throws: ConfigurationError.self) { try ChorusConfiguration.fromEnvironment(["CHORUS_LOG_LEVEL": "loud"]) }
        #expect(throws: ConfigurationError.self) { try ChorusConfiguration.fromEnvironment(["CHORUS_LOG_FORMAT": "xml"]) }
    }

    @Test("a process that cannot reach Redis or PostgreSQL logs why, but never their passwords or connection strings")
    func noSecrets() async throws {
        let secret = "s3cr3t-\(UUID().uuidString.prefix(8))"
        let captured = CapturedLines()
        var configuration = ChorusConfiguration(
            redisURL: "redis://payment:\(secret)@127.0.0.1:1",
            databaseURL: "postgresql://chorus_payment:\(secret)@127.0.0.1:1/chorus",
            httpPort: 0)
        configuration.logLevel = .trace
        let process = ChorusProcess(effect: PaymentEffect(), configuration: configuration, logger: captured.logger(service: "payment"))
        let task = Task { try await process.run() }
        defer { task.cancel() }
        _ = try await ChorusSystem.eventually("the process logs that PostgreSQL is not reachable", timeout: .seconds(30)) {
            captured.all.contains { $0.contains("PostgreSQL") } ? true : nil
        }
        task.cancel()
        _ = await task.result
        let lines = captured.all
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(!line.contains(secret), "a log line holds the password: \(line)")
            #expect(!line.contains("postgresql://"), "a log line holds the connection string: \(line)")
        }
    }
}

@Suite("Logs of the consumer")
struct ConsumerLoggingTests {
    @Test("a failing event's log lines carry its event id, type, correlation id and checkout id")
    func failingEventMetadata() async throws {
        let servers = try await TestServers.shared()
        let database = PostgresConnection(connectionString: try await servers.makeDatabase())
        defer { Task { await database.close() } }
        let captured = CapturedLines()
        let handler = ExactlyOnceHandler(
            effect: PaymentEffect(), database: database, topology: StreamTopology(prefix: servers.uniqueName("log"), checkoutPartitions: 1),
            logger: captured.logger(service: "payment"))
        try await handler.migrate()
        // The effect's table is gone: applying any payment event fails.
        try await database.query("DROP TABLE payment.accounts")
        let facts = CheckoutFacts(
            checkoutID: "chk-log-1", customerID: "cus-1", storeID: "store-01",
            lines: [CheckoutLine(sku: "SKU-1", quantity: 1, unitPriceCents: 100, lineTotalCents: 100)], totalCents: 100)
        let envelope = EventEnvelope.starting(.stockReserved(StockReserved(checkout: facts)), producer: "test", correlationID: "req-77")
        let fields = Dictionary(uniqueKeysWithValues: envelope.streamFields.map { ($0.name, $0.value) })
        let entry = StreamEntry(reference: StreamEntryReference(stream: "s", id: "1-0"), fields: fields, deliveryCount: 1)

        let outcome = try await handler.handle([entry])
        #expect(outcome.failures[entry.reference] != nil)
        let line = try #require(try captured.objects().first { $0["message"] == "event failed; it stays pending" })
        #expect(line["event_id"] == envelope.eventID)
        #expect(line["type"] == "StockReserved")
        #expect(line["correlation_id"] == "req-77")
        #expect(line["checkout_id"] == "chk-log-1")
        #expect(line["level"] == "error")
        #expect(handler.logMetadata(of: entry)["checkout_id"] == "chk-log-1")
    }
}
