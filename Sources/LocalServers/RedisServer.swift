import Foundation

/// A `redis-server` with its files in a local directory.
public struct RedisServer: Sendable {
    public var directory: URL
    public var port: Int
    /// Whether writes go to an append-only file, so that data survives a restart.
    public var appendOnly: Bool

    public init(directory: URL, port: Int, appendOnly: Bool) {
        self.directory = directory
        self.port = port
        self.appendOnly = appendOnly
    }

    /// The command that runs the server in the foreground.
    public func serverCommand() throws -> [String] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return [
            try Binaries.find("redis-server", in: ["/usr/bin", "/usr/local/bin", "/usr/sbin"]),
            "--port", String(port), "--bind", "127.0.0.1", "--protected-mode", "yes", "--save", "",
            "--appendonly", appendOnly ? "yes" : "no", "--dir", directory.path,
            "--logfile", directory.appendingPathComponent("redis.log").path,
        ]
    }

    /// `redis://127.0.0.1:<port>`.
    public var url: String { "redis://127.0.0.1:\(port)" }
}
