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

    @Test("entries read and not acknowledged are pending, with their age and consumer; a deletion makes the lag unknown, not 0")
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

        // Redis cannot count past a deleted entry the group has not read yet.
        _ = try await system.redis.execute(["XDEL", stream, ids[3]])
        let after = try await LagReport.take(from: system.operatorTarget)
        #expect(after.group("inspector", on: stream)?.lag == nil)
        let row = try #require(after.table.split(separator: "\n").first { $0.contains(stream) && $0.contains("inspector") })
        #expect(row.contains("unknown"))
        let json = String(decoding: try JSONEncoder().encode(after), as: UTF8.self)
        #expect(json.contains("\"lag\":null"), "unknown lag is null in JSON, never 0 or absent")
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
}
