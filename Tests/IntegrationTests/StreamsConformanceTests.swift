import CheckoutDomain
import Foundation
import StreamRuntime
import Testing

/// What the services really write to Redis, checked against the AsyncAPI document in
/// `streams/` by `scripts/validate-streams` (Python's `jsonschema`). `CHORUS_PYTHON` names the
/// interpreter that has it (`scripts/test` sets it to its tools' virtual environment).
@Suite("Streams conformance")
struct StreamsConformanceTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("every entry of a run with every kind of checkout, all reference data and a dead letter validates against streams/asyncapi.json")
    func emittedEntriesMatchTheContract() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        _ = try await Scenarios.everyKindOfCheckout(on: system)
        let stream = await system.topology.checkoutStream(partition: 0)
        try await system.redis.append([OutgoingEntry(stream: stream, fields: [("event_id", "bad-1"), ("type", "NoSuchEvent"), ("payload", "{}")])])
        try await system.waitUntilQuiet()

        let topology = await system.topology
        var lines: [String] = []
        var types: Set<String> = []
        for name in topology.eventStreams + [topology.deadLetterStream] {
            for entry in try await system.redis.range(of: name) where entry.fields["event_id"] != "bad-1" {
                if let type = entry.fields["type"], name != topology.deadLetterStream { types.insert(type) }
                let line: [String: Any] = ["stream": name, "id": entry.reference.id, "fields": entry.fields]
                lines.append(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
            }
        }
        #expect(Set(EventType.allCases.map(\.rawValue)).subtracting(types).isEmpty, "event types the run did not emit")
        #expect(try await system.deadLetters().isEmpty == false)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-entries-\(UUID().uuidString.prefix(8)).jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let arguments = [
            Self.repository.appendingPathComponent("scripts/validate-streams").path, "--entries", file.path,
            "--prefix", system.configuration.streamPrefix, "--partitions", String(system.configuration.partitions),
        ]
        let run = try await offThePool { try Self.python(arguments) }
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("\(lines.count) of \(lines.count) entries valid"), "\(run.output)")
    }

    /// Runs the Python interpreter of `CHORUS_PYTHON` (default `python3`); output and errors together.
    static func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let run = try runToEnd(["/usr/bin/env", ProcessInfo.processInfo.environment["CHORUS_PYTHON"] ?? "python3"] + arguments, in: repository)
        return (run.status, run.output)
    }
}
