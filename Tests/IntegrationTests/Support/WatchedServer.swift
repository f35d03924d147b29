import Foundation
import LocalServers

/// A server process of one test (Prometheus, nginx) under LocalServers' ``Watchdog``: it is
/// stopped, and its directory removed, when ``stop()`` is called or when the test process ends,
/// even if the test process is killed.
final class WatchedServer: Sendable {
    let directory: URL
    let log: URL
    private let watchdog: ChildProcess

    /// Starts `command` with its output appended to `<directory>/<name>.log`.
    init(name: String, command: [String], directory: URL, stopSignal: String = "TERM") throws {
        self.directory = directory
        log = directory.appendingPathComponent("\(name).log")
        watchdog = try Watchdog.launch(name: name, command: command, stopSignal: stopSignal, cleanup: directory.path, log: log)
    }

    /// Whether the watchdog (and so the server) still runs.
    var isRunning: Bool { watchdog.isRunning }

    /// What the server wrote so far.
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Stops the server; its directory is removed once it has exited.
    func stop() {
        watchdog.send(SIGTERM)
    }
}
