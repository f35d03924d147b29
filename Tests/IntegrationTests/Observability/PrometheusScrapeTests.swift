import CheckoutDomain
import Foundation
import LocalServers
import Redis
import StreamRuntime
import TestSupport
import Testing

/// Debian's real Prometheus against the configuration in the repository and against a running
/// system: every process can be scraped, and every metric a dashboard charts has data.
@Suite("Prometheus scrape", .serialized)
struct PrometheusScrapeTests {
    @Test("promtool accepts the compose Prometheus configuration")
    func composeConfigurationIsValid() async throws {
        let promtool = try Binaries.find("promtool", in: ["/usr/bin", "/usr/local/bin"])
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("promtool-\(UUID().uuidString.prefix(8)).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let configuration = GrafanaDashboard.repositoryRoot.appendingPathComponent("deploy/prometheus/prometheus.yml")
        do {
            try await Shell.run([promtool, "check", "config", configuration.path], logTo: log)
        } catch {
            Issue.record("promtool rejects \(configuration.path): \((try? String(contentsOf: log, encoding: .utf8)) ?? "\(error)")")
        }
    }

    @Test("Prometheus accepts every dashboard expression, with Grafana's variables filled in")
    func everyDashboardExpressionParses() async throws {
        let prometheus = try await PrometheusServer.start(scraping: [])
        defer { prometheus.stop() }
        for dashboard in try GrafanaDashboard.all() {
            for expression in dashboard.expressions {
                let answer = try await prometheus.query(PrometheusServer.fillingGrafanaVariables(in: expression))
                #expect(answer["status"]?.string == "success", "\(dashboard.file): \(answer["error"]?.string ?? "?") in \(expression)")
            }
        }
    }

    @Test("every process of a running system is scraped, and every metric a dashboard uses has data")
    func runningSystemIsScrapedAndEveryChartedMetricHasData() async throws {
        // Retention runs too, so that its series have data.
        let system = try await ChorusSystem.start { $0.trimIntervalMilliseconds = 500 }
        defer { Task { await system.shutdown() } }
        try await system.seed(
            products: [("SKU-1", 1_000, 10), ("SKU-2", 300, 1)],
            customers: [("cus-rich", 1_000_000), ("cus-poor", 10)])

        // Make the rarer series happen: an entry left pending by payment's own consumer is
        // redelivered to it when it restarts, one left by another consumer is claimed, and both
        // are dead-lettered because they cannot be decoded.
        await system.stop(.payment)
        let stream = await system.topology.checkoutStream(partition: 0)
        try await system.redis.append([
            OutgoingEntry(stream: stream, fields: [("event_id", "scrape-own"), ("type", "NoSuchEvent"), ("payload", "{}")]),
            OutgoingEntry(stream: stream, fields: [("event_id", "scrape-other"), ("type", "NoSuchEvent"), ("payload", "{}")]),
        ])
        for consumer in ["payment-1", "payment-gone"] {
            _ = try await system.redis.execute(["XREADGROUP", "GROUP", Worker.payment.groupName, consumer, "COUNT", "1", "STREAMS", stream, ">"])
        }
        let paymentPort = try await system.start(.payment)

        var ports = await system.ports
        ports[.payment] = paymentPort
        let prometheus = try await PrometheusServer.start(
            scraping: Worker.allCases.map { worker in (job: worker.rawValue, port: ports[worker] ?? 0) })
        defer { prometheus.stop() }

        // Completed, out of stock and declined checkouts.
        var checkoutIDs: [String] = []
        for (customer, items) in [("cus-rich", [("SKU-1", 2)]), ("cus-rich", [("SKU-2", 5)]), ("cus-poor", [("SKU-1", 1)])] {
            let answer = try await system.checkout(customer: customer, store: "store-01", items: items)
            checkoutIDs.append(try #require(answer.json?["checkout_id"]?.string))
        }
        var statuses: [String] = []
        for id in checkoutIDs { statuses.append(try await system.terminalCheckout(id)["status"]?.string ?? "") }
        #expect(statuses == ["completed", "failed", "failed"])
        try await system.waitUntilQuiet()

        // Deadlines only guard against a hang; what is missing at the end is reported by name.
        var targets: [JSONValue] = []
        _ = try? await ChorusSystem.eventually("Prometheus to scrape every process", timeout: .seconds(60)) { () async throws -> Bool? in
            targets = try await prometheus.activeTargets()
            return targets.count == Worker.allCases.count && targets.allSatisfy { $0["health"]?.string == "up" } ? true : nil
        }
        #expect(Set(targets.compactMap { $0["labels"]?["job"]?.string }) == Set(Worker.allCases.map(\.rawValue)))
        for target in targets where target["health"]?.string != "up" {
            Issue.record("\(target["scrapeUrl"]?.string ?? "?") is \(target["health"]?.string ?? "?"): \(target["lastError"]?.string ?? "")")
        }

        let charted = try GrafanaDashboard.all().reduce(into: Set<String>()) { $0.formUnion($1.metricNames) }
        #expect(!charted.isEmpty)
        var missing = charted
        _ = try? await ChorusSystem.eventually("every charted metric to have data", timeout: .seconds(60)) { () async throws -> Bool? in
            for name in missing.sorted() where try await prometheus.hasData(name) { missing.remove(name) }
            return missing.isEmpty ? true : nil
        }
        #expect(missing.isEmpty, "no data in Prometheus for \(missing.sorted()), which dashboards chart")

        // Every panel shows something: each expression, as Grafana sends it, returns samples.
        let panels = try GrafanaDashboard.all().flatMap { dashboard in dashboard.expressions.map { (file: dashboard.file, expression: $0) } }
        var blank = Set(panels.indices)
        _ = try? await ChorusSystem.eventually("every dashboard expression to return data", timeout: .seconds(60)) { () async throws -> Bool? in
            for index in blank.sorted() where try await prometheus.hasData(PrometheusServer.fillingGrafanaVariables(in: panels[index].expression)) {
                blank.remove(index)
            }
            return blank.isEmpty ? true : nil
        }
        for index in blank.sorted() { Issue.record("no data for \(panels[index].file): \(panels[index].expression)") }

        // The rare paths provoked above are counted, not only declared.
        for rare in ["chorus_consumer_redeliveries_total", "chorus_consumer_claims_total", "chorus_consumer_dead_letters_total"] {
            let counted = try? await ChorusSystem.eventually("payment's \(rare) to count", timeout: .seconds(30)) { () async throws -> Bool? in
                try await prometheus.hasData("\(rare){job=\"payment\"} > 0") ? true : nil
            }
            #expect(counted == true, "\(rare) of payment stays 0")
        }
    }
}

// MARK: - A Prometheus server for one test

/// Debian's `prometheus`, started on a free port with its configuration and data in a
/// temporary directory, under a shell watchdog that stops it (and removes the directory)
/// when ``stop()`` is called or when the test process ends, even if it is killed.
final class PrometheusServer: Sendable {
    let port: Int
    let directory: URL
    private let watchdog: WatchedServer

    private init(port: Int, directory: URL, watchdog: WatchedServer) {
        self.port = port
        self.directory = directory
        self.watchdog = watchdog
    }

    /// Starts Prometheus scraping `/metrics` of `127.0.0.1:<port>` every second, one job per
    /// entry, and waits until it is ready.
    static func start(scraping targets: [(job: String, port: Int)]) async throws -> PrometheusServer {
        let binary = try Binaries.find("prometheus", in: ["/usr/bin", "/usr/local/bin"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-prometheus-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = directory.appendingPathComponent("prometheus.yml")
        try Self.configuration(scraping: targets).write(to: configuration, atomically: true, encoding: .utf8)
        let port = try FreePort.next()
        let command = [
            binary, "--config.file=\(configuration.path)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ]
        let watchdog = try WatchedServer(name: "prometheus", command: command, directory: directory)
        let server = PrometheusServer(port: port, directory: directory, watchdog: watchdog)
        do {
            _ = try await ChorusSystem.eventually("Prometheus to be ready", timeout: .seconds(60)) { () async throws -> Bool? in
                guard watchdog.isRunning else {
                    throw TestServerError("prometheus exited: \(watchdog.output)")
                }
                let answer = try? await HTTPClient.send("GET", server.url("/-/ready"))
                return answer?.status == 200 ? true : nil
            }
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// A scrape configuration with one static job per target.
    static func configuration(scraping targets: [(job: String, port: Int)]) -> String {
        var text = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:

            """
        for target in targets {
            text += """
                  - job_name: "\(target.job)"
                    static_configs:
                      - targets: ["127.0.0.1:\(target.port)"]

                """
        }
        return text
    }

    /// Stops Prometheus; its directory is removed once it has exited.
    func stop() {
        watchdog.stop()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Runs an instant query; returns Prometheus's whole answer, errors included.
    func query(_ expression: String) async throws -> JSONValue {
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expression
        let answer = try await HTTPClient.send("GET", url("/api/v1/query?query=\(encoded)"))
        guard let json = answer.json else { throw TestServerError("Prometheus answered \(answer.status) without JSON") }
        return json
    }

    /// Whether the instant query `expression` returns at least one sample.
    func hasData(_ expression: String) async throws -> Bool {
        try await query(expression)["data"]?["result"]?.array?.isEmpty == false
    }

    /// The active scrape targets, each with its `health`, `labels` and `lastError`.
    func activeTargets() async throws -> [JSONValue] {
        let answer = try await HTTPClient.send("GET", url("/api/v1/targets?state=active"))
        return answer.json?["data"]?["activeTargets"]?.array ?? []
    }

    /// `expression` as Grafana would send it with every variable at "All": the intervals get a
    /// fixed duration and every template variable matches anything.
    static func fillingGrafanaVariables(in expression: String) -> String {
        var filled = expression
            .replacingOccurrences(of: "$__rate_interval", with: "1m")
            .replacingOccurrences(of: "$__interval", with: "15s")
            .replacingOccurrences(of: "$__range", with: "30m")
        for pattern in [#"\$\{[A-Za-z0-9_:]+\}"#, #"\$[A-Za-z0-9_]+"#] {
            filled = filled.replacingOccurrences(of: pattern, with: ".*", options: .regularExpression)
        }
        return filled
    }
}
