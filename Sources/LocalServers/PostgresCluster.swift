import Foundation

/// A PostgreSQL cluster in a local directory, run by Debian's server binaries.
///
/// PostgreSQL refuses to run as root; when this process is root, the cluster's files belong to
/// the `postgres` user and the server runs as that user (through `setpriv`).
public struct PostgresCluster: Sendable {
    /// The data directory.
    public var dataDirectory: URL
    /// Where the server puts its Unix socket.
    public var socketDirectory: URL
    public var port: Int
    /// The superuser `initdb` creates; local connections are trusted.
    public var superuser: String

    public init(dataDirectory: URL, socketDirectory: URL, port: Int, superuser: String = "chorus") {
        self.dataDirectory = dataDirectory
        self.socketDirectory = socketDirectory
        self.port = port
        self.superuser = superuser
    }

    /// Whether `initdb` has run in the data directory.
    public var isInitialized: Bool {
        FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path)
    }

    /// The command prefix that runs a server binary as the right user.
    public static func runAs() throws -> [String] {
        guard geteuid() == 0 else { return [] }
        guard getpwnam("postgres") != nil else {
            throw LocalServerError("running as root and there is no postgres user; install the postgresql package")
        }
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
    }

    /// Creates the directories (owned by the user the server runs as) and, if needed, the cluster.
    /// - Parameter log: where `initdb` writes.
    public func initialize(log: URL) async throws {
        for folder in [dataDirectory, socketDirectory] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if geteuid() == 0, let account = getpwnam("postgres") {
                chown(folder.path, account.pointee.pw_uid, account.pointee.pw_gid)
            }
        }
        guard !isInitialized else { return }
        try await Shell.run(
            try Self.runAs() + ["\(try Binaries.postgresBinDirectory())/initdb", "-D", dataDirectory.path, "-U", superuser,
                                "-A", "trust", "-E", "UTF8", "--locale=C"],
            logTo: log)
    }

    /// The command that runs the server in the foreground.
    /// - Parameter settings: extra `-c name=value` settings.
    public func serverCommand(settings: [String: String] = [:]) throws -> [String] {
        var command = try Self.runAs() + [
            "\(try Binaries.postgresBinDirectory())/postgres", "-D", dataDirectory.path, "-p", String(port),
            "-k", socketDirectory.path, "-c", "listen_addresses=127.0.0.1",
        ]
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) { command += ["-c", "\(name)=\(value)"] }
        return command
    }

    /// A libpq URL for one of the cluster's databases.
    public func connectionString(database: String) -> String {
        "postgresql://\(superuser)@127.0.0.1:\(port)/\(database)"
    }
}
