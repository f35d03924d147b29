import CheckoutDomain
import Foundation
import Operations
import Redis
import StreamRuntime
import Testing
import TestSupport

/// Servers that crash and come back: the services heal their connections and answer as if
/// nothing happened, and say "not ready" and 503 only while a server is really down.
@Suite("Recovery from server crashes", .serialized)
struct RecoveryTests {
    @Test("after PostgreSQL, then Redis, crash and restart under an idle checkout-api, every checkout it is sent is answered 202")
    func idleReplicaAnswersAfterRestarts() async throws {
        let servers = try await RestartableTestServers.start()
        defer { servers.stop() }
        let system = try await ChorusSystem.start(servers: servers.servers)
        try await system.seed(products: [("SKU-1", 100, 1_000)], customers: [("cus-1", 1_000_000)])
        var ids: [String] = []
        @Sendable func checkoutAccepted(_ system: ChorusSystem) async throws -> String {
            let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
            #expect(answer.status == 202, "\(String(decoding: answer.body, as: UTF8.self))")
            return try #require(answer.json?["checkout_id"]?.string)
        }
        // Every pooled connection used, so that every one goes stale.
        for _ in 0..<4 { ids.append(try await checkoutAccepted(system)) }

        try await servers.crashPostgres()
        try await servers.startPostgres()
        // Idle, as the replica nginx did not send anything to meanwhile.
        try await Task.sleep(for: .seconds(2))
        for _ in 0..<6 { ids.append(try await checkoutAccepted(system)) }

        // At rest, and past Redis's once-a-second fsync of its append-only file, which a crash
        // may otherwise cut short; this test is about the requests after the restart (the one
        // below restarts Redis under load).
        try await system.waitUntilQuiet()
        try await Task.sleep(for: .milliseconds(1_500))
        try await servers.crashRedis()
        try await servers.startRedis()
        try await Task.sleep(for: .seconds(2))
        for _ in 0..<6 { ids.append(try await checkoutAccepted(system)) }

        for id in ids { #expect(try await system.terminalCheckout(id)["status"]?.string == "completed") }
        await system.shutdown()
    }

    @Test("while PostgreSQL is down a checkout is answered 503 with Retry-After and /ready is unready; once it is back, both recover")
    func outageIsUnavailableNotAnError() async throws {
        let servers = try await RestartableTestServers.start()
        defer { servers.stop() }
        let system = try await ChorusSystem.start(servers: servers.servers)
        try await system.seed(products: [("SKU-1", 100, 1_000)], customers: [("cus-1", 1_000_000)])
        #expect(try await system.get(.checkoutAPI, "/ready", as: nil).status == 200)

        try await servers.crashPostgres()
        for _ in 0..<3 {
            let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
            #expect(answer.status == 503)
            #expect(answer.header("Retry-After") != nil)
            #expect(answer.header("Content-Type")?.hasPrefix("application/problem+json") == true)
        }
        let unready = try await system.get(.checkoutAPI, "/ready", as: nil)
        #expect(unready.status == 503)
        #expect(unready.json?["checks"]?["postgres"]?.string == "unreachable")

        try await servers.startPostgres()
        _ = try await ChorusSystem.eventually("checkout-api to be ready again") {
            try await system.get(.checkoutAPI, "/ready", as: nil).status == 200 ? true : nil
        }
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
        #expect(answer.status == 202)
        await system.shutdown()
    }

    @Test("after Redis restarts from its append-only file, every group's lag reads 0 at rest, and the saga goes on")
    func lagAfterRedisRestart() async throws {
        let servers = try await RestartableTestServers.start()
        defer { servers.stop() }
        let system = try await ChorusSystem.start(servers: servers.servers)
        try await system.seed(products: [("SKU-1", 100, 1_000)], customers: [("cus-1", 100_000_000)])
        @Sendable func load(_ count: Int) async throws -> [String] {
            var ids: [String] = []
            for _ in 0..<count {
                let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
                #expect(answer.status == 202, "\(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
                ids.append(try #require(answer.json?["checkout_id"]?.string))
            }
            return ids
        }
        for id in try await load(40) { _ = try await system.terminalCheckout(id) }
        try await system.waitUntilQuiet()
        let before = try await groupPositions(system)
        try await servers.stopRedis()
        try await servers.startRedis()
        // Every group's position and pending list as they were: Redis replays the transactions
        // of its append-only file (publish-and-acknowledge, and its own record of a read).
        #expect(try await groupPositions(system) == before)
        // Redis 7.0 reloads each group's read counter wrong, and reports lags in the thousands.
        let look = RedisConnection(configuration: servers.servers.redisConfiguration)
        let raw = try await look.execute(["XINFO", "GROUPS", await system.topology.checkoutStream(partition: 0)])
        await look.close()
        print("Redis's own XINFO GROUPS after the restart: \(raw)")
        // The groups may read again what they had read last (every inbox skips it).
        try await system.waitUntilQuiet()

        let report = try await expectEveryGroupCaughtUp(system)
        #expect(report.unsettled.isEmpty, "\(report.unsettled)")
        let verdict = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(verdict.ok, "\(verdict.text)")
        for id in try await load(5) { #expect(try await system.terminalCheckout(id)["status"]?.string == "completed") }
        await system.shutdown()
    }

    /// `chorus lag`'s report, having checked that every group of every event stream has read
    /// everything (lag 0) and acknowledged it (nothing pending).
    @discardableResult
    private func expectEveryGroupCaughtUp(_ system: ChorusSystem) async throws -> LagReport {
        let report = try await LagReport.take(from: system.operatorTarget)
        let deadLetters = await system.topology.deadLetterStream
        for stream in report.streams where stream.name != deadLetters {
            for group in stream.groups {
                #expect(group.lag == 0, "\(group.name) on \(stream.name): lag \(group.lag.map(String.init) ?? "unknown") at rest")
                #expect(group.pending == 0)
            }
        }
        return report
    }

    /// Each group's last delivered id and pending count, per stream.
    private func groupPositions(_ system: ChorusSystem) async throws -> [String: String] {
        let look = RedisConnection(configuration: system.servers.redisConfiguration)
        var positions: [String: String] = [:]
        for stream in await system.topology.eventStreams {
            for group in try await look.groups(of: stream) {
                positions["\(stream) \(group.name)"] = "\(group.lastDeliveredID) pending \(group.pending)"
            }
        }
        await look.close()
        return positions
    }

    @Test("Redis restarted from its append-only file while checkouts flow: every accepted checkout ends, the store misses no event, lag reads 0 and verify is clean")
    func redisRestartUnderLoad() async throws {
        let servers = try await RestartableTestServers.start()
        defer { servers.stop() }
        let system = try await ChorusSystem.start(servers: servers.servers)
        let customers = (1...8).map { "cus-\($0)" }
        try await system.seed(products: [("SKU-1", 100, 100_000)], customers: customers.map { ($0, 100_000_000) })

        // Each client retries a checkout with its key until it is accepted, as a client of a
        // 503 with Retry-After does; a 500 is never an acceptable answer.
        let load = Task {
            try await withThrowingTaskGroup(of: (ids: [String], refusals: [Int: Int]).self) { group in
                for customer in customers {
                    group.addTask {
                        var ids: [String] = []
                        var refusals: [Int: Int] = [:]
                        for index in 0..<30 {
                            let key = "\(customer)-\(index)"
                            while true {
                                let answer = try await system.checkout(customer: customer, store: "store-01", items: [("SKU-1", 1)], idempotencyKey: key)
                                if answer.status == 202, let id = answer.json?["checkout_id"]?.string {
                                    ids.append(id)
                                    break
                                }
                                refusals[answer.status, default: 0] += 1
                                try await Task.sleep(for: .milliseconds(50))
                            }
                        }
                        return (ids, refusals)
                    }
                }
                return try await group.reduce(into: (ids: [String](), refusals: [Int: Int]())) { total, client in
                    total.ids += client.ids
                    total.refusals.merge(client.refusals, uniquingKeysWith: +)
                }
            }
        }
        try await Task.sleep(for: .milliseconds(800))
        try await servers.stopRedis()
        try await servers.startRedis()
        let (ids, refusals) = try await load.value
        print("answers other than 202 around the restart: \(refusals)")
        #expect(refusals[500] == nil)

        #expect(Set(ids).count == customers.count * 30)
        for id in ids { #expect(try await system.terminalCheckout(id)["status"]?.string == "completed") }
        try await system.waitUntilQuiet()
        try await expectEveryGroupCaughtUp(system)
        let verdict = try await InvariantVerifier(target: system.operatorTarget).verify()
        #expect(verdict.ok, "\(verdict.text)")
        await system.shutdown()
    }
}
