import CheckoutDomain
import Foundation
import Postgres
import EventStore
import Logging
import Observability
import Operations
import Redis
import StreamRuntime
import TestSupport
import Testing

/// One scrape of a `/metrics` page: series names with their labels and values.
struct Scrape {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    var contentType: String?

    var names: Set<String> { Set(samples.map(\.name)) }

    /// The sum of the samples named `name` whose labels include `matching`.
    func value(_ name: String, _ matching: [String: String] = [:]) -> Double? {
        let found = samples.filter { sample in sample.name == name && matching.allSatisfy { key, value in sample.labels[key] == value } }
        return found.isEmpty ? nil : found.reduce(0) { $0 + $1.value }
    }

    static func fetch(_ url: String) async throws -> Scrape {
        let answer = try await HTTPClient.send("GET", url)
        #expect(answer.status == 200)
        var scrape = try parse(String(decoding: answer.body, as: UTF8.self))
        scrape.contentType = answer.header("Content-Type")
        return scrape
    }

    /// Parses the Prometheus text format (the subset Chorus emits: no escapes in label values
    /// beyond what the tests need).
    static func parse(_ text: String) throws -> Scrape {
        var scrape = Scrape()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
            var labels: [String: String] = [:]
            let name: Substring
            let rest: Substring
            if let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                name = line[..<brace]
                for pair in line[line.index(after: brace)..<close].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    labels[String(parts[0])] = String(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
                }
                rest = line[line.index(after: close)...]
            } else {
                let parts = line.split(separator: " ", maxSplits: 1)
                name = parts[0]
                rest = parts.count > 1 ? parts[1] : ""
            }
            let valueText = rest.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? ""
            let value = valueText == "NaN" ? Double.nan : try #require(Double(valueText), "no value in \(line)")
            scrape.samples.append(Sample(name: String(name), labels: labels, value: value))
        }
        return scrape
    }
}

@Suite("Metrics endpoint", .serialized)
struct MetricsEndpointTests {
    @Test("every process serves its series at /metrics, and together they export exactly the catalogue")
    func catalogue() async throws {
        let system = try await ChorusSystem.start {
            $0.metricsIntervalMilliseconds = 100
            $0.trimIntervalMilliseconds = 100
        }
        defer { Task { await system.shutdown() } }
        let checkouts = try await Scenarios.everyKindOfCheckout(on: system)
        try await system.waitUntilQuiet()

        var exported: Set<String> = []
        for worker in Worker.allCases {
            let scrape = try await Scrape.fetch(await system.url(worker, "/metrics"))
            #expect(scrape.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
            exported.formUnion(scrape.names)
            // Bounded labels only: no checkout id may ever name a series.
            for sample in scrape.samples {
                for value in sample.labels.values {
                    #expect(!checkouts.contains(value), "\(sample.name) has a checkout id as a label")
                }
            }
        }
        #expect(exported.subtracting(ChorusMetric.allSeriesNames).isEmpty, "not in the catalogue: \(exported.subtracting(ChorusMetric.allSeriesNames))")
        #expect(ChorusMetric.allSeriesNames.subtracting(exported).isEmpty, "never exported: \(ChorusMetric.allSeriesNames.subtracting(exported))")
    }

    @Test("saga outcomes add up: every started checkout is counted once as completed or failed, each with a latency")
    func sagaOutcomes() async throws {
        let system = try await ChorusSystem.start { $0.metricsIntervalMilliseconds = 100 }
        defer { Task { await system.shutdown() } }
        let checkouts = try await Scenarios.everyKindOfCheckout(on: system)
        for id in checkouts { _ = try await system.terminalCheckout(id) }
        try await system.waitUntilQuiet()

        let projection = try await Scrape.fetch(await system.url(.cqrsProjection, "/metrics"))
        let started = try #require(projection.value(ChorusMetric.checkoutsStarted.rawValue))
        let completed = try #require(projection.value(ChorusMetric.checkoutsCompleted.rawValue))
        let failed = try #require(projection.value(ChorusMetric.checkoutsFailed.rawValue))
        #expect(started == Double(checkouts.count))
        #expect(completed + failed == started)
        #expect(completed > 0 && failed > 0)
        // One vocabulary: the reasons the read models and the bench show, every one a series.
        for (reason, count) in [("insufficient_stock", 1.0), ("insufficient_funds", 1), ("store_paused", 1), ("not_stocked_at_store", 0)] {
            #expect(projection.value(ChorusMetric.checkoutsFailed.rawValue, ["reason": reason]) == count, "\(reason)")
        }
        #expect(projection.value(ChorusMetric.checkoutDuration.rawValue + "_count") == started)

        let api = try await Scrape.fetch(await system.url(.checkoutAPI, "/metrics"))
        #expect(api.value(ChorusMetric.eventsPublished.rawValue, ["producer": "checkout-api", "type": "CheckoutInitiated"]) == started)
        #expect(api.value(ChorusMetric.httpRequests.rawValue, ["route": "/checkouts", "method": "POST", "status": "202"]) == started)
    }

    @Test("each consumer group counts the events it applied by type, and the store counts its appends once")
    func consumerCounts() async throws {
        let system = try await ChorusSystem.start { $0.metricsIntervalMilliseconds = 100 }
        defer { Task { await system.shutdown() } }
        let checkouts = try await Scenarios.everyKindOfCheckout(on: system)
        for id in checkouts { _ = try await system.terminalCheckout(id) }
        try await system.waitUntilQuiet()
        let stored = try #require(try await system.integer("SELECT count(*) AS value FROM event_store.events"))

        let store = try await Scrape.fetch(await system.url(.eventStore, "/metrics"))
        #expect(store.value(ChorusMetric.eventStoreAppends.rawValue) == Double(stored))
        #expect(store.value(ChorusMetric.consumerEvents.rawValue, ["group": "event-store", "outcome": "applied"]) == Double(stored))
        #expect(store.value(ChorusMetric.eventStoreAppendBatchSize.rawValue + "_sum") == Double(stored))

        let payment = try await Scrape.fetch(await system.url(.payment, "/metrics"))
        let reserved = try #require(try await system.integer(
            "SELECT count(*) AS value FROM event_store.events WHERE event_type = 'StockReserved'"))
        #expect(payment.value(ChorusMetric.consumerEvents.rawValue, ["group": "payment", "type": "StockReserved", "outcome": "applied"])
            == Double(reserved))
        #expect(payment.value(ChorusMetric.consumerDeadLetters.rawValue, ["group": "payment"]) == 0)
        // At rest, the group's gauges show an empty backlog.
        _ = try await ChorusSystem.eventually("the payment group's gauges to settle at zero", timeout: .seconds(30)) {
            let scrape = try await Scrape.fetch(await system.url(.payment, "/metrics"))
            let pending = scrape.value(ChorusMetric.consumerGroupPending.rawValue, ["group": "payment"])
            let lag = scrape.value(ChorusMetric.consumerGroupLag.rawValue, ["group": "payment"])
            return pending == 0 && lag == 0 ? true : nil
        }
    }

    @Test("the group gauges show lag, pending and the oldest pending age, and the lag counted when Redis cannot tell it")
    func groupGauges() async throws {
        let servers = try await TestServers.shared()
        let redis = RedisConnectionPool(configuration: servers.redisConfiguration, size: 1)
        defer { Task { await redis.close() } }
        let stream = servers.uniqueName("gauges")
        let connection = redis.connection
        try await connection.ensureGroup(stream: stream, group: "g")
        var ids: [String] = []
        for index in 0..<5 {
            ids += try await connection.append([OutgoingEntry(stream: stream, fields: [("n", String(index))])])
        }
        _ = try await connection.readGroup(group: "g", consumer: "c", streams: [stream], count: 2, blockMilliseconds: nil)
        try await Task.sleep(for: .milliseconds(30))

        let metrics = ProcessMetrics()
        let monitor = ConsumerGroupMonitor(group: "g", streams: [stream], redis: redis, metrics: metrics.factory)
        try await monitor.sample()
        var scrape = try Scrape.parse(String(decoding: metrics.exposition(), as: UTF8.self))
        #expect(scrape.value(ChorusMetric.consumerGroupLag.rawValue, ["stream": stream, "group": "g"]) == 3)
        #expect(scrape.value(ChorusMetric.consumerGroupPending.rawValue, ["stream": stream, "group": "g"]) == 2)
        let age = try #require(scrape.value(ChorusMetric.consumerOldestPendingAge.rawValue, ["stream": stream, "group": "g"]))
        #expect(age > 0)

        // A deletion in the part the group has not read yet: Redis no longer knows the lag, so
        // the entries left to deliver are counted.
        _ = try await connection.execute(["XDEL", stream, ids[3]])
        try await monitor.sample()
        scrape = try Scrape.parse(String(decoding: metrics.exposition(), as: UTF8.self))
        #expect(scrape.value(ChorusMetric.consumerGroupLag.rawValue, ["stream": stream, "group": "g"]) == 2)

        // Once everything is read and acknowledged the backlog is empty again.
        let rest = try await connection.readGroup(group: "g", consumer: "c", streams: [stream], count: 10, blockMilliseconds: nil)
        let pending = try await connection.readGroup(
            group: "g", consumer: "c", streams: [stream], count: 10, blockMilliseconds: 0, pendingAfter: ["0"])
        try await connection.acknowledge((rest + pending).map(\.reference), group: "g")
        try await monitor.sample()
        scrape = try Scrape.parse(String(decoding: metrics.exposition(), as: UTF8.self))
        #expect(scrape.value(ChorusMetric.consumerGroupPending.rawValue, ["stream": stream, "group": "g"]) == 0)
        #expect(scrape.value(ChorusMetric.consumerOldestPendingAge.rawValue, ["stream": stream, "group": "g"]) == 0)
    }
}

@Suite("Event store staleness", .serialized)
struct EventStoreStalenessTests {
    @Test("the event store's behind-seconds stays 0 when the store rightly skips a republished event with a fresh time")
    func skippedRepublicationIsNotStaleness() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])
        let topology = await system.topology
        // What `chorus seed --force` does: the same event (same id) again, with a fresh time.
        try await Task.sleep(for: .milliseconds(1_500))
        let first = try #require(try await system.redis.range(of: topology.referenceStream).first)
        var fields = first.fields
        fields[StreamField.occurredAt] = Timestamp.format(Date())
        _ = try await system.redis.append([OutgoingEntry(stream: topology.referenceStream, fields: fields.map { ($0.key, $0.value) })])
        try await system.waitUntilQuiet()

        let redis = RedisConnectionPool(configuration: system.servers.redisConfiguration, size: 1)
        let database = PostgresConnectionPool(connectionString: system.configuration.databaseURL, size: 1)
        let monitor = EventStoreLagMonitor(
            streams: topology.streams(readBy: .eventStore), redis: redis, database: database, metrics: ProcessMetrics().factory)
        #expect(try await monitor.sample() == 0, "the skipped copy is not something the store is behind on")
        await redis.close()
        await database.close()
    }
}

@Suite("Bounded labels and credential errors")
struct BoundedLabelTests {
    @Test("requests no route matches, whatever their method or path, create no series; matched ones are counted by route")
    func unmatchedRequests() async throws {
        let system = try await ChorusSystem.start([.payment])
        defer { Task { await system.shutdown() } }
        _ = try await HTTPClient.send("BREW", await system.url(.payment, "/coffee"))
        _ = try await HTTPClient.send("GET", await system.url(.payment, "/no/such/path/\(UUID().uuidString)"))
        #expect(try await HTTPClient.send("GET", await system.url(.payment, "/health")).status == 200)
        let scrape = try await Scrape.fetch(await system.url(.payment, "/metrics"))
        let http = scrape.samples.filter { $0.name == ChorusMetric.httpRequests.rawValue }
        #expect(http.allSatisfy { $0.labels["method"] != "BREW" && $0.labels["route"]?.contains("no/such") != true })
        #expect(scrape.value(ChorusMetric.httpRequests.rawValue, ["route": "/health", "method": "GET", "status": "200"]) == 1)
    }

    @Test("a refused Redis password is an authentication failure, which operators see as denied (77), not as an outage")
    func wrongPassword() async throws {
        let servers = try await TestServers.shared()
        let connection = RedisConnection(
            configuration: try RedisConfiguration(url: servers.redisURL(user: "nobody", password: "wrong")), connectAttempts: 1)
        defer { Task { await connection.close() } }
        let error = await #expect(throws: RedisError.self) { _ = try await connection.execute(["PING"]) }
        #expect(error?.code == .authenticationFailed)
        let target = OperatorTarget(
            redisURL: servers.redisURL(user: "nobody", password: "wrong"), databaseURL: "postgresql://127.0.0.1:1/x",
            topology: StreamTopology(prefix: "p", checkoutPartitions: 1))
        do {
            _ = try await LagReport.take(from: target)
            Issue.record("a refused password must fail")
        } catch {
            #expect(error.exitStatus == 77)
            #expect(!error.description.contains("wrong"))
        }
    }
}
