import Foundation
import LocalServers

/// A server process of one test (Prometheus, nginx) under a shell watchdog: it is stopped, and
/// its directory removed, when ``stop()`` is called or when the test process ends, even if the
/// test process is killed.
final class WatchedServer: Sendable {
    let directory: URL
    let log: URL
    private let watchdog: ChildProcess

    /// Starts `command` with its output appended to `<directory>/<name>.log`.
    init(name: String, command: [String], directory: URL, stopSignal: String = "TERM") throws {
        self.directory = directory
        log = directory.appendingPathComponent("\(name).log")
        watchdog = try ChildProcess(
            command: ["/bin/sh", "-c", Self.script(command, log: log, cleanup: directory, stopSignal: stopSignal)], output: nil)
    }

    /// Whether the watchdog (and so the server) still runs.
    var isRunning: Bool { watchdog.isRunning }

    /// What the server wrote so far.
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Stops the server; its directory is removed once it has exited.
    func stop() {
        watchdog.send(SIGTERM)
    }

    private static func script(_ command: [String], log: URL, cleanup: URL, stopSignal: String) -> String {
        let quoted = command.map(quote).joined(separator: " ")
        return """
            \(quoted) >>\(quote(log.path)) 2>&1 &
            server=$!
            trap 'kill -\(stopSignal) $server 2>/dev/null' TERM INT
            while kill -0 \(getpid()) 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.2; done
            kill -\(stopSignal) $server 2>/dev/null
            wait $server 2>/dev/null
            rm -rf \(quote(cleanup.path))
            """
    }

    private static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
