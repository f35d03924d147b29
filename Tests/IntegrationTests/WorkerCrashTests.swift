import CheckoutDomain
import Foundation
import LocalServers
import Postgres
import Redis
import StreamRuntime
import Testing

/// A worker process killed with SIGKILL mid-batch leaves entries pending; they are processed
/// by the same consumer when it restarts, or claimed by another once idle.
@Suite("Worker crashes", .serialized)
struct WorkerCrashTests {
    /// The built `stock-reservation` executable, next to the test bundle.
    static func executable(_ name: String) throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw TestServerFailure("\(name) was not built next to the tests; run `swift build` first")
    }

    struct TestServerFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs the real executable with the system's configuration.
    static func launch(_ name: String, consumer: String, system: ChorusSystem, claimIdleMilliseconds: Int = 1_000) async throws -> ChildProcess {
        let configuration = system.configuration
        let environment = ProcessInfo.processInfo.environment.merging([
            "CHORUS_REDIS_URL": configuration.redisURL,
            "CHORUS_DATABASE_URL": configuration.databaseURL,
            "CHORUS_STREAM_PREFIX": configuration.streamPrefix,
            "CHORUS_PARTITIONS": String(configuration.partitions),
            "CHORUS_BATCH_SIZE": "5",
            "CHORUS_BLOCK_MS": "50",
            "CHORUS_CLAIM_IDLE_MS": String(claimIdleMilliseconds),
            "CHORUS_CLAIM_INTERVAL_MS": "250",
            "CHORUS_CONSUMER_NAME": consumer,
            "CHORUS_HTTP_PORT": "0",
            "CHORUS_LOG_LEVEL": "warning",
        ]) { $1 }
        return try ChildProcess(command: [try executable(name).path], environment: environment, output: nil)
    }

    /// Pending entries of `consumer` in the stock-reservation group, over the checkout streams.
    static func pending(of consumer: String, system: ChorusSystem) async throws -> Int {
        var total = 0
        for stream in await system.topology.checkoutStreams {
            let reply = try await system.redis.send(["XINFO", "CONSUMERS", stream, Worker.stockReservation.groupName])
            for row in reply.array ?? [] where row.keyedPairs["name"]?.string == consumer {
                total += Int(row.keyedPairs["pending"]?.integer ?? 0)
            }
        }
        return total
    }

    /// Seeds, sends `count` checkouts, and starts the real stock-reservation process while a
    /// row lock holds its first batch mid-transaction, then kills it with SIGKILL.
    /// - Returns: the checkouts, and the connection holding the lock (still in its transaction).
    static func crashMidBatch(system: ChorusSystem, consumer: String, count: Int) async throws -> (ids: [String], lock: PostgresConnection) {
        let customers = (1...count).map { (id: String(format: "cus-%03d", $0), balanceCents: Int64(50_000)) }
        try await system.seed(products: [("SKU-1", 100, 1_000)], customers: customers)
        // The in-process stock-reservation took the stock in; the real process takes over from here.
        await system.stop(.stockReservation)
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for customer in customers {
                group.addTask {
                    let answer = try await system.checkout(customer: customer.id, store: "store-01", items: [("SKU-1", 1)])
                    return try #require(answer.json?["checkout_id"]?.string)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Hold the stock row: the worker's reservation blocks inside its batch transaction.
        let lock = PostgresConnection(connectionString: system.configuration.databaseURL)
        try await lock.query("BEGIN")
        try await lock.query("SELECT * FROM stock_reservation.stock WHERE sku = 'SKU-1' FOR UPDATE")
        let worker = try await launch("stock-reservation", consumer: consumer, system: system)
        _ = try await ChorusSystem.eventually("the worker to hold entries pending") {
            try await pending(of: consumer, system: system) > 0 ? true : nil
        }
        worker.send(SIGKILL)
        #expect(ChildProcess.exitCode(worker.waitForExit()) == 128 + SIGKILL)
        #expect(try await pending(of: consumer, system: system) > 0, "the killed worker left entries pending")
        return (ids, lock)
    }

    @Test("a worker killed mid-batch and restarted processes its own pending entries, and every checkout ends")
    func killedWorkerRestarts() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        let (ids, lock) = try await Self.crashMidBatch(system: system, consumer: "stock-reservation-a", count: 20)
        try await lock.query("ROLLBACK")
        await lock.close()

        // Claiming is off (an hour of idleness): only the restarted consumer's own pending scan can do the work.
        let restarted = try await Self.launch("stock-reservation", consumer: "stock-reservation-a", system: system, claimIdleMilliseconds: 3_600_000)
        defer {
            restarted.send(SIGTERM)
            restarted.waitForExit()
        }
        for id in ids { #expect(try await system.terminalCheckout(id)["status"]?.string == "completed") }
        _ = try await ChorusSystem.eventually("the pending entries to be acknowledged") {
            try await Self.pending(of: "stock-reservation-a", system: system) == 0 ? true : nil
        }
        let stock = try #require(try await system.stock("store-01", "SKU-1"))
        #expect(stock.onHand == 980 && stock.reserved == 0 && stock.sold == 20, "each reservation happened once")
    }

    @Test("entries a dead worker left pending are claimed by another consumer once idle")
    func deadWorkersEntriesAreClaimed() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        let (ids, lock) = try await Self.crashMidBatch(system: system, consumer: "stock-reservation-dead", count: 12)
        try await lock.query("ROLLBACK")
        await lock.close()

        try await system.start(.stockReservation, consumerName: "stock-reservation-survivor")
        for id in ids { #expect(try await system.terminalCheckout(id)["status"]?.string == "completed") }
        _ = try await ChorusSystem.eventually("the dead consumer's entries to be claimed") {
            try await Self.pending(of: "stock-reservation-dead", system: system) == 0 ? true : nil
        }
        let stock = try #require(try await system.stock("store-01", "SKU-1"))
        #expect(stock.onHand == 988 && stock.reserved == 0 && stock.sold == 12)
    }

    @Test("SIGTERM lets a worker finish its batch and exit cleanly")
    func gracefulShutdown() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        let worker = try await Self.launch("stock-reservation", consumer: "stock-reservation-term", system: system)
        _ = try await ChorusSystem.eventually("the worker to create its group") {
            let groups = try await system.redis.groups(of: await system.topology.checkoutStream(partition: 0))
            return groups.contains { $0.name == "stock-reservation" } ? true : nil
        }
        worker.send(SIGTERM)
        #expect(ChildProcess.exitCode(worker.waitForExit()) == 0, "it exited by itself, with status 0")
    }
}
