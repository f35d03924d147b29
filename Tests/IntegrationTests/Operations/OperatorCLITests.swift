import CheckoutDomain
import Foundation
import Provisioning
import Testing

/// The built `chorus` binary, run as an operator runs it: its wiring of options, credentials,
/// output and exit codes, on a real system.
@Suite("Operator CLI", .serialized)
struct OperatorCLITests {
    struct Run {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs `chorus arguments…` with `environment` added to (and `CHORUS_*` removed from) this
    /// process's environment, in an empty directory so that no `.chorus` is found by accident.
    static func chorus(_ arguments: [String], environment: [String: String]) async throws -> Run {
        try await offThePool { try runChorus(arguments, environment: environment) }
    }

    private static func runChorus(_ arguments: [String], environment: [String: String]) throws -> Run {
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHORUS_") }
        base.merge(environment) { $1 }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try runToEnd(
            [try WorkerCrashTests.executable("chorus").path] + arguments, in: directory, environment: base, separatingErrors: true)
        return Run(status: run.status, output: run.output, errors: run.errors)
    }

    @Test("with the operator's URLs, lag, verify and history answer and exit 0; unknown ids exit 1; missing credentials exit 77")
    func exitCodes() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 500, 5)], customers: [("cus-1", 10_000)])
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        _ = try await system.terminalCheckout(checkoutID)
        try await system.waitUntilQuiet()
        let configuration = system.configuration
        let operatorEnvironment = [
            "CHORUS_REDIS_URL": await system.redisURL(for: .operator),
            "CHORUS_DATABASE_URL": await system.databaseURL(for: .operator),
            "CHORUS_STREAM_PREFIX": configuration.streamPrefix,
            "CHORUS_PARTITIONS": String(configuration.partitions),
        ]

        let lag = try await Self.chorus(["lag", "--json"], environment: operatorEnvironment)
        #expect(lag.status == 0, "\(lag.errors)")
        #expect(lag.output.contains(configuration.topology.checkoutStreams[0]))

        let verify = try await Self.chorus(["verify", "--wait-for-rest", "10"], environment: operatorEnvironment)
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")
        #expect(verify.output.contains("every invariant holds"))

        let history = try await Self.chorus(["history", checkoutID], environment: operatorEnvironment)
        #expect(history.status == 0, "\(history.errors)")
        #expect(history.output.contains("CheckoutCompleted"))

        let unknown = try await Self.chorus(["history", "no-such-checkout"], environment: operatorEnvironment)
        #expect(unknown.status == 1)
        let unknownLetter = try await Self.chorus(["dlq", "show", "1-0"], environment: operatorEnvironment)
        #expect(unknownLetter.status == 1)

        // No URLs and no credentials where chorus up would keep them: Redis refuses, and says so.
        var missing = operatorEnvironment
        missing["CHORUS_REDIS_URL"] = nil
        missing["CHORUS_DATABASE_URL"] = nil
        missing["CHORUS_DATA_DIR"] = "/nonexistent-chorus-data"
        let refused = try await Self.chorus(["lag", "--redis-url", "redis://127.0.0.1:\(system.servers.redisPort)"], environment: missing)
        #expect(refused.status == 77, "\(refused.errors)")
        #expect(refused.errors.contains("refused the credentials"))

        let badVariable = try await Self.chorus(["lag"], environment: operatorEnvironment.merging(["CHORUS_PARTITIONS": "zero"]) { $1 })
        #expect(badVariable.status == 78)
        let usage = try await Self.chorus(["lag", "--no-such-flag"], environment: operatorEnvironment)
        #expect(usage.status == 64)
        let unreachable = try await Self.chorus(
            ["lag"], environment: operatorEnvironment.merging(["CHORUS_REDIS_URL": "redis://127.0.0.1:1"]) { $1 })
        #expect(unreachable.status == 69)

        // The same causes, the same codes, whatever the command.
        let notAURL = try await Self.chorus(["lag"], environment: operatorEnvironment.merging(["CHORUS_REDIS_URL": "notaurl"]) { $1 })
        #expect(notAURL.status == 78, "\(notAURL.errors)")
        let notAConnectionString = try await Self.chorus(
            ["verify", "--wait-for-rest", "0"], environment: operatorEnvironment.merging(["CHORUS_DATABASE_URL": "notaurl"]) { $1 })
        #expect(notAConnectionString.status == 78, "\(notAConnectionString.errors)")
        let anonymous = "redis://127.0.0.1:\(system.servers.redisPort)"
        let seedWithoutCredentials = try await Self.chorus(["seed"], environment: missing.merging(["CHORUS_REDIS_URL": anonymous]) { $1 })
        #expect(seedWithoutCredentials.status == 77, "\(seedWithoutCredentials.errors)")
        #expect(seedWithoutCredentials.errors.contains("refused the credentials"))
        let benchWithoutCredentials = try await Self.chorus(
            ["bench", "--url", await system.url(.checkoutAPI, ""), "--concurrency", "1", "--count", "1", "--quiet"],
            environment: missing.merging(["CHORUS_REDIS_URL": anonymous, "CHORUS_TOKEN": "unused"]) { $1 })
        #expect(benchWithoutCredentials.status == 77, "\(benchWithoutCredentials.errors)")
        let otherPrefix = try await Self.chorus(["lag"], environment: operatorEnvironment.merging(["CHORUS_STREAM_PREFIX": "someone-else"]) { $1 })
        #expect(otherPrefix.status == 77)
        #expect(otherPrefix.errors.contains("CHORUS_STREAM_PREFIX") && !otherPrefix.errors.contains("refused the credentials"), "\(otherPrefix.errors)")

        // A data directory left by another system: the error says which credentials were used.
        let stale = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-stale-\(UUID().uuidString.prefix(8))")
        let credentials = stale.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: stale) }
        try "redis://chorus-operator:wrong@127.0.0.1:\(system.servers.redisPort)\n".write(
            to: credentials.appendingPathComponent("operator.redis-url"), atomically: true, encoding: .utf8)
        try "postgresql://chorus_operator:wrong@127.0.0.1:\(system.servers.postgresPort)/none\n".write(
            to: credentials.appendingPathComponent("operator.database-url"), atomically: true, encoding: .utf8)
        var staleEnvironment = missing
        staleEnvironment["CHORUS_DATA_DIR"] = stale.path
        let staleRun = try await Self.chorus(["lag"], environment: staleEnvironment)
        #expect(staleRun.status == 77)
        #expect(staleRun.errors.contains("credentials in \(credentials.standardizedFileURL.path)"), "\(staleRun.errors)")
        #expect(!staleRun.errors.contains("wrong"), "the password was printed")

        for run in [lag, verify, history, unknown, refused, unreachable, notAURL, notAConnectionString] {
            #expect(!run.output.contains(configuration.redisURL) && !run.errors.contains("@127.0.0.1"), "a URL with its password was printed")
        }
    }

    @Test("chorus status prints one line for a checkout, its JSON with --json, and refuses other aggregates and ids that would name another route")
    func statusOfACheckout() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 500, 5)], customers: [("cus-1", 10_000)])
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 2)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        _ = try await system.terminalCheckout(checkoutID)
        let environment = ["CHORUS_TOKEN": try await system.token(for: .staff(name: "cli-test", roles: [.support]))]
        let eventStore = await system.url(.eventStore, "")

        let status = try await Self.chorus(["status", "--url", eventStore, checkoutID], environment: environment)
        #expect(status.status == 0, "\(status.errors)")
        #expect(status.output.hasPrefix("checkout \(checkoutID): completed, 10.00, order "), "\(status.output)")
        #expect(status.output.split(separator: "\n").count == 1)

        let json = try await Self.chorus(["status", "--url", eventStore, "--json", checkoutID], environment: environment)
        #expect(json.status == 0)
        #expect(try JSONValue(data: Data(json.output.utf8))["state"]?["status"]?.string == "completed")

        // Another aggregate's id, and ids that would reach another route or add a query.
        for id in ["cus-1", "store-01", "../products", "x?kind=customer", "\(checkoutID)/events"] {
            let refused = try await Self.chorus(["status", "--url", eventStore, id], environment: environment)
            #expect(refused.status == 3, "\(id): \(refused.output)\(refused.errors)")
            #expect(refused.output.isEmpty, "\(id): nothing on stdout")
            #expect(refused.errors.contains("no checkout"), "\(id)")
        }
    }

    @Test("chorus rebuild, next to a system, rebuilds the read models and reports what it did")
    func rebuildCommand() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 500, 5)], customers: [("cus-1", 10_000)])
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
        _ = try await system.terminalCheckout(try #require(answer.json?["checkout_id"]?.string))
        try await system.waitUntilQuiet()
        let environment = [
            "CHORUS_REDIS_URL": await system.redisURL(for: .operator),
            "CHORUS_DATABASE_URL": await system.databaseURL(for: .operator),
            "CHORUS_READ_MODELS_DATABASE_URL": await system.databaseURL(for: .service(.cqrsProjection)),
            "CHORUS_STREAM_PREFIX": system.configuration.streamPrefix,
        ]
        let stored = try #require(try await system.integer("SELECT count(*) AS value FROM event_store.events"))

        let rebuild = try await Self.chorus(["rebuild", "--json"], environment: environment)
        #expect(rebuild.status == 0, "\(rebuild.errors)")
        let report = try JSONValue(data: Data(rebuild.output.utf8))
        #expect(report["events"]?.int == stored)
        #expect(report["rows"]?["checkouts"]?.int == 1)

        // Without the read models' owner: the operator alone may not write them.
        var operatorOnly = environment
        operatorOnly["CHORUS_READ_MODELS_DATABASE_URL"] = await system.databaseURL(for: .operator)
        let refused = try await Self.chorus(["rebuild"], environment: operatorOnly)
        #expect(refused.status == 77, "\(refused.errors)")
        #expect(refused.errors.contains("refused"), "\(refused.errors)")
    }
}
