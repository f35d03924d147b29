import CheckoutDomain
import Foundation
import Histogram
import Operations
import Redis
import StreamRuntime
import Synchronization
import TestSupport
import Testing

/// `chorus bench` against a real system: it sends real checkouts, sees every one of them end,
/// and sums up consistently.
@Suite("Bench against a running system", .serialized)
struct BenchRunTests {
    /// One store, two plentiful products and a scarce one, a rich customer and a poor one: with
    /// this catalogue some checkouts complete and others fail, as with the demo data.
    static let catalogue = BenchCatalogue(
        customers: ["cus-rich", "cus-poor"], stores: ["store-01"], skus: ["SKU-A", "SKU-B", "SKU-SCARCE"])

    static func seededSystem() async throws -> ChorusSystem {
        let system = try await ChorusSystem.start()
        try await system.seed(
            products: [("SKU-A", 1_250, 1_000), ("SKU-B", 399, 1_000), ("SKU-SCARCE", 999, 1)],
            customers: [("cus-rich", 100_000_000), ("cus-poor", 500)])
        return system
    }

    /// A run against `system`, each customer signing their checkouts with their own token.
    static func configuration(of system: ChorusSystem, mode: BenchMode, duration: Duration? = nil, count: Int? = nil) async throws -> BenchConfiguration {
        var tokens: [String: String] = [:]
        for customer in catalogue.customers { tokens[customer] = try await system.token(for: .customer(id: customer)) }
        return BenchConfiguration(
            baseURL: await system.url(.checkoutAPI, ""),
            redis: system.servers.redisConfiguration,
            topology: await system.topology,
            mode: mode,
            duration: duration,
            count: count,
            timeout: .seconds(60),
            seed: 7,
            catalogue: catalogue,
            tokens: .perCustomer(tokens))
    }

    /// The terminal events of the run on the streams, by type.
    static func terminalEvents(in system: ChorusSystem) async throws -> (completed: Int, failed: Int) {
        let types = try await system.allEntries().compactMap { $0.fields[StreamField.type] }
        return (types.filter { $0 == EventType.checkoutCompleted.rawValue }.count, types.filter { $0 == EventType.checkoutFailed.rawValue }.count)
    }

    @Test("a closed-loop run of 20 checkouts sees every accepted checkout complete or fail, and measures each once")
    func closedLoopEndsEveryCheckout() async throws {
        let system = try await Self.seededSystem()
        defer { Task { await system.shutdown() } }
        let runner = try BenchRunner(configuration: try await Self.configuration(of: system, mode: .closedLoop(concurrency: 4), count: 20))
        let progress = ProgressLog()

        let results = try await runner.run(progressInterval: .milliseconds(100)) { progress.append($0) }

        #expect(results.mode == "closed-loop")
        #expect(results.concurrency == 4)
        #expect(results.sent == 20)
        #expect(results.accepted == 20)
        #expect(results.rejectedTotal == 0 && results.postErrors == 0)
        #expect(results.timedOut == 0)
        #expect(results.completed + results.failed == results.accepted)
        #expect(results.latency.count == results.completed + results.failed)
        #expect(results.latency.min > 0 && results.latency.p50 <= results.latency.p99 && results.latency.p99 <= results.latency.max)
        #expect(results.completed > 0, "the rich customer's plentiful products complete")
        #expect(results.failed > 0, "the poor customer and the scarce product fail")
        #expect(results.failureReasons.values.reduce(0, +) == results.failed)
        #expect(results.throughputPerSecond > 0)
        #expect(results.problems.isEmpty)
        // What the bench counted is what the system published.
        try await system.waitUntilQuiet()
        let published = try await Self.terminalEvents(in: system)
        #expect(published.completed == results.completed)
        #expect(published.failed == results.failed)
        // The progress ends with a final, complete picture.
        let last = try #require(progress.entries.last)
        #expect(last.phase == .done)
        #expect(last.sent == 20 && last.inFlight == 0)
    }

    @Test("an open-loop run at 10 checkouts per second for 2 seconds sends 20 checkouts, due on schedule")
    func openLoopSendsTheRateTimesTheDuration() async throws {
        let system = try await Self.seededSystem()
        defer { Task { await system.shutdown() } }
        let runner = try BenchRunner(configuration: try await Self.configuration(of: system, mode: .openLoop(ratePerSecond: 10), duration: .seconds(2)))

        let results = try await runner.run()

        #expect(results.mode == "open-loop")
        #expect(results.ratePerSecond == 10)
        #expect(results.sent == 20)
        #expect(results.accepted == 20)
        #expect(results.timedOut == 0)
        #expect(results.completed + results.failed == 20)
        #expect(results.latency.count == 20)
        // The last checkout is due 1.9 s after the first, so sending cannot end sooner.
        #expect(results.sendingSeconds >= 1.9)
        #expect(results.problems.isEmpty)
    }

    @Test("a run that is stopped sends nothing more and still waits for the checkouts in flight", .timeLimit(.minutes(2)))
    func stoppingDrainsWhatIsInFlight() async throws {
        let system = try await Self.seededSystem()
        defer { Task { await system.shutdown() } }
        let runner = try BenchRunner(configuration: try await Self.configuration(of: system, mode: .closedLoop(concurrency: 2), duration: .seconds(600)))
        let run = Task { try await runner.run(progressInterval: .milliseconds(50)) }
        _ = try await ChorusSystem.eventually("some checkouts to end") { () async throws -> Bool? in
            let published = try await Self.terminalEvents(in: system)
            return published.completed + published.failed >= 4 ? true : nil
        }

        await runner.stop()
        let results = try await run.value

        #expect(results.sent >= 4)
        #expect(results.completed + results.failed == results.accepted)
        #expect(results.timedOut == 0)
        #expect(results.sendingSeconds < 600)
    }

    @Test("checkouts that never end count as timed out, take no latency sample, and fail the run")
    func stalledCheckoutsTimeOut() async throws {
        // Without order creation, a paid checkout never completes.
        let system = try await ChorusSystem.start(Worker.allCases.filter { $0 != .orderCreation })
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-A", 1_250, 1_000)], customers: [("cus-rich", 100_000_000)])
        var configuration = try await Self.configuration(of: system, mode: .closedLoop(concurrency: 2), count: 2)
        configuration.catalogue = BenchCatalogue(customers: ["cus-rich"], stores: ["store-01"], skus: ["SKU-A"])
        configuration.timeout = .seconds(2)

        let results = try await BenchRunner(configuration: configuration).run()

        #expect(results.accepted == 2)
        #expect(results.timedOut == 2)
        #expect(results.completed == 0 && results.failed == 0)
        #expect(results.latency.count == 0)
        #expect(results.problems.count == 1)
        #expect(BenchReport.table(results).contains("problem: 2 accepted checkout(s) reached no terminal state"))
    }

    @Test("a target that does not answer fails the start with exit status 69")
    func unreachableTargetIsUnavailable() async throws {
        let servers = try await TestServersAccess.redis()
        let runner = try BenchRunner(configuration: BenchConfiguration(
            baseURL: "http://127.0.0.1:1", redis: servers, topology: StreamTopology(prefix: "unused"),
            mode: .closedLoop(concurrency: 1), count: 1))
        await #expect {
            _ = try await runner.run()
        } throws: { error in
            guard let error = error as? BenchError, case .unavailable = error else { return false }
            return error.exitStatus == 69
        }
    }

    @Test("an unreachable Redis fails the start with exit status 69, before any checkout is sent")
    func unreachableRedisIsUnavailable() async throws {
        let system = try await Self.seededSystem()
        defer { Task { await system.shutdown() } }
        var configuration = try await Self.configuration(of: system, mode: .closedLoop(concurrency: 1), count: 1)
        configuration.redis = RedisConfiguration(host: "127.0.0.1", port: 1, connectTimeoutMilliseconds: 500)
        let runner = try BenchRunner(configuration: configuration)

        await #expect {
            _ = try await runner.run()
        } throws: { error in
            guard let error = error as? BenchError, case .unavailable(let server, _) = error else { return false }
            return server.hasPrefix("Redis") && error.exitStatus == 69
        }
        try await system.waitUntilQuiet()
        let published = try await Self.terminalEvents(in: system)
        #expect(published.completed == 0 && published.failed == 0)
    }
}

/// The parts of the bench that need no server: the mix, the schedule, the verdict and the output.
@Suite("Bench results and output")
struct BenchOutputTests {
    static let sample = BenchResults(
        mode: "open-loop", ratePerSecond: 50, concurrency: nil, seed: 42, runID: "0badcafe", url: "http://127.0.0.1:8080",
        startedAt: "2025-01-02T03:04:05.678Z", sendingSeconds: 60, elapsedSeconds: 60.25, sent: 3_000, accepted: 2_990,
        rejected: ["429": 7, "503": 3], postErrors: 0, completed: 2_500, failed: 490,
        failureReasons: ["insufficient_funds": 400, "insufficient_stock": 90], timedOut: 0, throughputPerSecond: 49.6265,
        latency: LatencySummary(count: 2_990, min: 2_100, p50: 8_250, p90: 15_000, p95: 19_999, p99: 41_007, p999: 80_000, max: 120_500),
        problems: [])

    @Test("results written as JSON read back the same, with snake_case keys")
    func resultsRoundTripThroughJSON() throws {
        let data = try Self.sample.jsonData()
        #expect(try BenchResults(jsonData: data) == Self.sample)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["throughput_per_second"] != nil)
        #expect(object["failure_reasons"] != nil)
        #expect((object["latency"] as? [String: Any])?["unit"] as? String == "microseconds")
    }

    @Test("the closing table gives every count, the throughput and the latency percentiles in milliseconds")
    func tableShowsEveryFigure() {
        let table = BenchReport.table(Self.sample)
        let rows = Dictionary(
            table.split(separator: "\n").map { line in
                let cells = line.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
                return (cells.first ?? "", cells.dropFirst().joined(separator: " "))
            },
            uniquingKeysWith: { first, _ in first })
        #expect(rows["mode"] == "open-loop (50 checkouts/s intended)")
        #expect(rows["sent"] == "3000")
        #expect(rows["accepted (202)"] == "2990")
        #expect(rows["rejected"] == "10 (429: 7, 503: 3)")
        #expect(rows["completed"] == "2500")
        #expect(rows["failed"] == "490 (insufficient_funds: 400, insufficient_stock: 90)")
        #expect(rows["timed out"] == "0")
        #expect(rows["throughput"] == "49.6 terminal checkouts/s")
        #expect(rows["latency p50"] == "8.250 ms")
        #expect(rows["latency p95"] == "19.999 ms")
        #expect(rows["latency p99"] == "41.007 ms")
        #expect(rows["latency max"] == "120.500 ms")
        #expect(table.contains("from the intended send time"))
        #expect(!table.contains("problem:"))
    }

    @Test("the table names each problem that fails the run")
    func tableNamesProblems() {
        var results = Self.sample
        results.problems = ["3 accepted checkout(s) reached no terminal state within the timeout"]
        #expect(BenchReport.table(results).hasSuffix("problem: 3 accepted checkout(s) reached no terminal state within the timeout"))
    }

    @Test("business failures do not fail a run; timeouts, nothing accepted, and POST errors beyond the threshold do")
    func problemsFollowTheThreshold() {
        #expect(BenchResults.problems(sent: 100, accepted: 100, postErrors: 0, serverErrors: 0, timedOut: 0, maxErrorPercent: 1).isEmpty)
        #expect(BenchResults.problems(sent: 100, accepted: 99, postErrors: 1, serverErrors: 0, timedOut: 0, maxErrorPercent: 1).isEmpty)
        #expect(BenchResults.problems(sent: 100, accepted: 98, postErrors: 1, serverErrors: 1, timedOut: 0, maxErrorPercent: 1).count == 1)
        #expect(BenchResults.problems(sent: 100, accepted: 100, postErrors: 0, serverErrors: 0, timedOut: 1, maxErrorPercent: 1).count == 1)
        #expect(BenchResults.problems(sent: 5, accepted: 0, postErrors: 0, serverErrors: 0, timedOut: 0, maxErrorPercent: 100).count == 1)
        #expect(Self.sample.serverErrors == 3)
    }

    @Test("the latency summary reads percentiles and the exact maximum from the histogram, in microseconds")
    func latencySummaryFromHistogram() {
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        for value in 1...100 { histogram.record(UInt64(value * 1_000)) }
        histogram.record(2_345_678)
        let summary = LatencySummary(histogram)
        #expect(summary.count == 101)
        #expect(summary.min == 1_000)
        #expect(summary.max == 2_345_678)
        #expect((50_000...51_100).contains(summary.p50))
        #expect((99_000...100_100).contains(summary.p99))
        #expect(LatencySummary(Histogram<UInt64>(numberOfSignificantValueDigits: .three)).count == 0)
    }

    @Test("the progress bar fills with the share sent, and the log line carries the same figures")
    func progressRendering() {
        let halfway = BenchProgress(
            phase: .sending, elapsed: .seconds(15), plannedDuration: .seconds(30), plannedCount: nil,
            sent: 100, completed: 80, failed: 10, rejected: 2, postErrors: 0, timedOut: 0)
        #expect(halfway.inFlight == 8)
        #expect(BenchReport.progressBar(halfway, width: 10) == "[#####-----] 15.0/30.0 s  sent 100  completed 80  failed 10  in flight 8  rejected 2")
        #expect(BenchReport.progressLine(halfway) == "bench: 15.0/30.0 s  sent 100  completed 80  failed 10  in flight 8  rejected 2")
        var counted = halfway
        counted.plannedCount = 400
        #expect(BenchReport.progressBar(counted, width: 8).hasPrefix("[##------]"))
        counted.phase = .draining
        #expect(BenchReport.progressBar(counted, width: 4).hasPrefix("[####] 15.0 s"))
        #expect(BenchReport.progressLine(counted).hasSuffix("(waiting for the last checkouts)"))
    }

    @Test("the mix is the same for the same seed, differs for another seed, and keeps to the catalogue")
    func mixIsDeterministic() {
        let mix = CheckoutMix(seed: 1, catalogue: .demo)
        let bodies = (0..<200).map(mix.checkout)
        #expect(bodies == (0..<200).map(CheckoutMix(seed: 1, catalogue: .demo).checkout))
        #expect(bodies != (0..<200).map(CheckoutMix(seed: 2, catalogue: .demo).checkout))
        // Index by index, whatever order workers take them in.
        #expect(mix.checkout(150) == bodies[150])
        let catalogue = BenchCatalogue.demo
        for body in bodies {
            #expect(catalogue.customers.contains(body.customerID) && catalogue.stores.contains(body.storeID))
            #expect((1...3).contains(body.items.count))
            #expect(Set(body.items.map(\.sku)).count == body.items.count)
            #expect(body.items.allSatisfy { (1...3).contains($0.quantity) && catalogue.skus.contains($0.sku) })
        }
        #expect(Set(bodies.map(\.storeID)).count == DemoData.storeCount, "every store gets traffic")
        #expect(CheckoutMix.idempotencyKey(runID: "abc", index: 3) == "bench-abc-3")
    }

    @Test("an open-loop run plans the rate times the duration, capped by the count")
    func openLoopPlan() throws {
        func plan(_ rate: Int, _ duration: Duration?, _ count: Int?) -> Int? {
            BenchConfiguration(
                baseURL: "http://127.0.0.1:8080", redis: RedisConfiguration(), topology: StreamTopology(),
                mode: .openLoop(ratePerSecond: rate), duration: duration, count: count
            ).plannedOpenLoopCount
        }
        #expect(plan(10, .milliseconds(2_500), nil) == 25)
        #expect(plan(10, .seconds(60), 100) == 100)
        #expect(plan(10, nil, 7) == 7)
    }

    @Test("a configuration that cannot run is refused as a usage error")
    func invalidConfigurationIsAUsageError() {
        func attempt(_ mode: BenchMode, duration: Duration? = .seconds(1), count: Int? = nil, url: String = "http://127.0.0.1:8080") -> BenchError? {
            do {
                _ = try BenchRunner(configuration: BenchConfiguration(
                    baseURL: url, redis: RedisConfiguration(), topology: StreamTopology(), mode: mode, duration: duration, count: count))
                return nil
            } catch {
                return error
            }
        }
        #expect(attempt(.closedLoop(concurrency: 2)) == nil)
        #expect(attempt(.closedLoop(concurrency: 0))?.exitStatus == 64)
        #expect(attempt(.openLoop(ratePerSecond: 0))?.exitStatus == 64)
        #expect(attempt(.closedLoop(concurrency: 1), duration: nil)?.exitStatus == 64)
        #expect(attempt(.openLoop(ratePerSecond: 1), duration: .milliseconds(100))?.exitStatus == 64, "sends nothing")
        #expect(attempt(.closedLoop(concurrency: 1), url: "localhost:8080")?.exitStatus == 64)
    }
}

/// Collects progress reports from the runner's background task.
private final class ProgressLog: Sendable {
    private let storage = Mutex<[BenchProgress]>([])
    func append(_ progress: BenchProgress) { storage.withLock { $0.append(progress) } }
    var entries: [BenchProgress] { storage.withLock { $0 } }
}

/// The shared test Redis, for tests that need no whole system.
private enum TestServersAccess {
    static func redis() async throws -> RedisConfiguration {
        try await TestServers.shared().redisConfiguration
    }
}
