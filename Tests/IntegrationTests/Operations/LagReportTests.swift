import CheckoutDomain
import Foundation
import Operations
import Redis
import StreamRuntime
import Testing

@Suite("Operator: lag", .serialized)
struct LagReportTests {
    @Test("every worker's group appears on each stream it reads, caught up once the system is quiet")
    func everyGroupIsListed() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])

        let report = try await LagReport.take(from: system.operatorTarget)
        let topology = await system.topology
        #expect(report.streams.map(\.name) == topology.eventStreams + [topology.deadLetterStream])
        for worker in Worker.allCases {
            for stream in topology.streams(readBy: worker) {
                let group = try #require(report.group(worker.groupName, on: stream), "\(worker) on \(stream)")
                #expect(group.lag == 0 && group.pending == 0 && group.oldestPendingMilliseconds == nil, "\(worker) on \(stream)")
                #expect(group.consumers.map(\.name) == ["\(worker.rawValue)-1"])
            }
        }
        #expect(report.table.contains("(no group)"), "the dead-letter stream has no reader and says so")
    }

    @Test("entries read and not acknowledged are pending, with their age and consumer; after a deletion the lag is counted, not taken as 0")
    func pendingAndUnknownLag() async throws {
        let system = try await ChorusSystem.start([])
        defer { Task { await system.shutdown() } }
        let stream = await system.topology.checkoutStream(partition: 1)
        try await system.redis.ensureGroup(stream: stream, group: "inspector")
        var ids: [String] = []
        for index in 0..<5 {
            ids.append(try #require(try await system.redis.execute(["XADD", stream, "*", "n", String(index)]).string))
        }
        let read = try await system.redis.readGroup(group: "inspector", consumer: "reader-1", streams: [stream], count: 2, blockMilliseconds: nil)
        #expect(read.count == 2)

        let before = try await LagReport.take(from: system.operatorTarget)
        let group = try #require(before.group("inspector", on: stream))
        #expect(group.lag == 3)
        #expect(group.pending == 2)
        #expect(group.oldestPendingID == ids[0])
        let added = try #require(RedisConnection.milliseconds(ofStreamID: ids[0]))
        #expect(group.oldestPendingMilliseconds == max(0, before.takenAtMilliseconds - added))
        #expect(group.consumers.map(\.name) == ["reader-1"])
        #expect(group.consumers.first?.pending == 2)
        #expect(try #require(group.consumers.first?.idleMilliseconds) >= 0)

        // Redis cannot count past a deleted entry the group has not read yet: the entries are
        // counted instead (Redis itself says the lag is unknown).
        _ = try await system.redis.execute(["XDEL", stream, ids[3]])
        let redisSays = try await system.redis.execute(["XINFO", "GROUPS", stream]).array?.first?.keyedPairs["lag"]
        #expect(redisSays == .null)
        let after = try await LagReport.take(from: system.operatorTarget)
        #expect(after.group("inspector", on: stream)?.lag == 2, "ids[2] and ids[4] are left to deliver")
        let row = try #require(after.table.split(separator: "\n").first { $0.contains(stream) && $0.contains("inspector") })
        #expect(row.contains(" 2 "))
    }

    @Test("an unreachable Redis or PostgreSQL is reported as unavailable, exit status 69")
    func unreachableServers() async throws {
        let target = OperatorTarget(redisURL: "redis://127.0.0.1:1", databaseURL: "postgresql://nobody@127.0.0.1:1/none",
                                    topology: StreamTopology(prefix: "nowhere"))
        let error = await #expect(throws: OperatorError.self) { try await LagReport.take(from: target) }
        #expect(error?.exitStatus == 69)
        let verifyError = await #expect(throws: OperatorError.self) { try await InvariantVerifier(target: target).verify() }
        #expect(verifyError?.exitStatus == 69)
        #expect(verifyError?.description.contains("127.0.0.1:1/none") == true)
    }

    @Test("messages name PostgreSQL by host, port and database, never with credentials")
    func databaseLocationHidesCredentials() {
        #expect(OperatorTarget.databaseLocation("postgresql://operator:s3cret@db.internal:5479/chorus?sslmode=disable") == "db.internal:5479/chorus")
        #expect(OperatorTarget.databaseLocation("host=db.internal port=5479 dbname=chorus user=operator password=s3cret") == "db.internal:5479/chorus")
        let target = OperatorTarget(redisURL: "redis://operator:s3cret@cache:6479", databaseURL: "postgresql://a:s3cret@h/d", topology: StreamTopology())
        #expect(!target.redisDisplay.contains("s3cret") && !target.databaseDisplay.contains("s3cret"))
    }

    @Test("each stream shows its length and memory; a partition count that is not the system's is said, both ways")
    func lengthMemoryAndPartitions() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)])
        _ = try await system.terminalCheckout(try #require(answer.json?["checkout_id"]?.string))

        let report = try await LagReport.take(from: system.operatorTarget)
        #expect(report.warnings.isEmpty, "\(report.warnings)")
        let reference = try #require(report.streams.first { $0.name == system.configuration.topology.referenceStream })
        #expect(reference.length > 0 && (reference.memoryBytes ?? 0) > 0)
        #expect(report.table.hasPrefix("STREAM") && report.table.contains("MEMORY"))

        // The system has 2 partitions.
        for configured in [1, 6] {
            var target = system.operatorTarget
            target.topology = StreamTopology(prefix: system.configuration.streamPrefix, checkoutPartitions: configured)
            let mismatched = try await LagReport.take(from: target)
            #expect(mismatched.warnings.count == 1, "\(configured)")
            #expect(mismatched.warnings.first?.contains("this system has 2 checkout partition streams") == true, "\(mismatched.warnings)")
        }
    }
}
