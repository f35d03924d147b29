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
        let log = data.appendingPathExtension("log")
        defer { try? FileManager.default.removeItem(at: log) }
        let process = try ChildProcess(
            command: [
                chorus.path, "up", "--data-dir", data.path, "--bin-dir", chorus.deletingLastPathComponent().path,
                "--gateway-config", repository.appendingPathComponent("deploy/nginx").path,
                "--redis-port", String(try FreePort.next()), "--postgres-port", String(try FreePort.next()),
            ],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHORUS_") },
            output: log)
        defer { process.send(SIGKILL) }

        // Read until the ready line (or the end), then stop it as Ctrl-C would.
        let (text, status) = try await offThePool { () -> (String, Int32) in
            func written() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            let deadline = ContinuousClock.now + .seconds(180)
            while !written().contains("Chorus is ready"), process.isRunning, ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.2)
            }
            process.send(SIGINT)
            let status = ChildProcess.exitCode(process.waitForExit())
            return (written(), status)
        }

        let lines = text.split(separator: "\n").map(String.init)
        #expect(text.contains("Chorus is ready"), "\(text)")
        #expect(!text.contains("unreachable"), "\(text)")
        for phase in ["created database", "redis on 127.0.0.1", "Chorus processes ready", "loaded the demo data", "Chorus is ready", "stopped"] {
            #expect(lines.filter { $0.contains(phase) }.count == 1, "one line for \(phase): \(text)")
        }
        #expect(status == 0, "\(text)")
    }
}
