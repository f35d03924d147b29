import Foundation

/// Where the server binaries are, in Debian's and Ubuntu's layout.
public enum Binaries {
    /// The path of `name` in the first of `directories` that has it.
    public static func find(_ name: String, in directories: [String]) throws -> String {
        for directory in directories where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        throw LocalServerError("\(name) is not installed; run ./scripts/test or ./scripts/up, which install it")
    }

    /// The newest PostgreSQL's `bin` directory of Debian's layout.
    public static func postgresBinDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        guard let newest = versions.compactMap(Int.init).max() else {
            throw LocalServerError("PostgreSQL is not installed under \(root); run ./scripts/test or ./scripts/up, which install it")
        }
        return "\(root)/\(newest)/bin"
    }
}

/// Runs a command to completion.
public enum Shell {
    /// Runs `command`, appending its output to `log`; throws if it fails. Waits without
    /// blocking a thread of the concurrency pool.
    public static func run(_ command: [String], logTo log: URL) async throws {
        let child = try ChildProcess(command: command, output: log)
        while child.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        guard child.status == 0 else {
            throw LocalServerError("\(command.joined(separator: " ")) failed; see \(log.path)")
        }
    }
}

/// Starts a server under a small shell watchdog that stops it when the test process ends,
/// even when the test process is killed, so that no server outlives the tests.
public enum Watchdog {
    /// Starts `command` in the background under the watchdog.
    /// - Parameters:
    ///   - stopSignal: the signal that stops the server cleanly (`TERM`, `INT`).
    ///   - cleanup: a directory to remove once the server has stopped.
    ///   - log: a file that receives the server's output (appended); `nil` discards it.
    /// - Returns: the watchdog; sending it SIGTERM stops the server before the test process ends.
    @discardableResult
    public static func launch(name: String, command: [String], stopSignal: String, cleanup: String?, log: URL? = nil) throws -> ChildProcess {
        let quoted = command.map(quote).joined(separator: " ")
        let remove = cleanup.map { "rm -rf \(quote($0))" } ?? ":"
        let output = log.map { " >>\(quote($0.path)) 2>&1" } ?? ""
        let script = """
            \(quoted)\(output) &
            server=$!
            trap 'kill -\(stopSignal) $server 2>/dev/null' TERM INT
            while kill -0 \(getpid()) 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.2; done
            kill -\(stopSignal) $server 2>/dev/null
            wait $server 2>/dev/null
            \(remove)
            """
        return try ChildProcess(command: ["/bin/sh", "-c", script], output: nil)
    }

    private static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Free TCP ports on the loopback interface.
public enum FreePort {
    /// Asks the kernel for a port that is free now.
    public static func next() throws -> Int {
        let socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketDescriptor >= 0 else { throw LocalServerError("socket() failed") }
        defer { close(socketDescriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw LocalServerError("bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketDescriptor, $0, &length) }
        }
        guard named == 0 else { throw LocalServerError("getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Whether something listens on a loopback port.
public enum PortProbe {
    /// Tries to connect to `127.0.0.1:port`.
    public static func isListening(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}
