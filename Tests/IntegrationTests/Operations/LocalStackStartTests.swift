import Foundation
import LocalServers
import Testing

/// `chorus up` as a new user runs it: the whole system on this machine, started by the built
/// binary, with its own Redis and PostgreSQL in a fresh data directory.
@Suite("chorus up", .serialized)
struct LocalStackStartTests {
    @Test("a normal start prints one line per phase, and no 'unreachable' line, then stops on SIGINT")
    func startPrintsOneLinePerPhase() async throws {
        let chorus = try WorkerCrashTests.executable("chorus")
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-up-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: data) }
        let process = Process()
        process.executableURL = chorus
        process.arguments = [
            "up", "--data-dir", data.path, "--bin-dir", chorus.deletingLastPathComponent().path,
            "--gateway-config", repository.appendingPathComponent("deploy/nginx").path,
            "--redis-port", String(try FreePort.next()), "--postgres-port", String(try FreePort.next()),
        ]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHORUS_") }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.runSerialized()
        defer { if process.isRunning { process.terminate() } }

        // Read until the ready line (or the end), then stop it as Ctrl-C would.
        let handle = output.fileHandleForReading
        let processIdentifier = process.processIdentifier
        let text = try await offThePool { () -> String in
            var text = ""
            let deadline = ContinuousClock.now + .seconds(180)
            while !text.contains("Chorus is ready"), ContinuousClock.now < deadline {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            kill(processIdentifier, SIGINT)
            text += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return text
        }

        let lines = text.split(separator: "\n").map(String.init)
        #expect(text.contains("Chorus is ready"), "\(text)")
        #expect(!text.contains("unreachable"), "\(text)")
        for phase in ["created database", "redis on 127.0.0.1", "Chorus processes ready", "loaded the demo data", "Chorus is ready", "stopped"] {
            #expect(lines.filter { $0.contains(phase) }.count == 1, "one line for \(phase): \(text)")
        }
        #expect(process.terminationStatus == 0, "\(text)")
    }
}
