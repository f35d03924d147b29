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
    /// The superuser `initdb` creates.
    public var superuser: String
    /// Whether TCP connections must give a password (`scram-sha-256`). The Unix socket stays
    /// trusted: its directory is open to the server's user alone, which is how the superuser
    /// connects. When false, every local connection is trusted (the tests' throw-away cluster).
    public var requiresPasswords: Bool

    public init(dataDirectory: URL, socketDirectory: URL, port: Int, superuser: String = "chorus", requiresPasswords: Bool = false) {
        self.dataDirectory = dataDirectory
        self.socketDirectory = socketDirectory
        self.port = port
        self.superuser = superuser
        self.requiresPasswords = requiresPasswords
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

    /// Writes `pg_hba.conf` for ``requiresPasswords``; run it before the server starts. An older
    /// cluster, made when every connection was trusted, is converted in place.
    public func writeAuthenticationRules() throws {
        guard requiresPasswords else { return }
        let rules = """
            # Written by Chorus at every start: edits are lost.
            # The socket directory is open to the server's user alone: the superuser connects there.
            local all all                trust
            host  all all 127.0.0.1/32   scram-sha-256
            host  all all ::1/128        scram-sha-256

            """
        let file = dataDirectory.appendingPathComponent("pg_hba.conf")
        // Not atomically: the file keeps its owner (the postgres user when this runs as root).
        try rules.write(to: file, atomically: false, encoding: .utf8)
        if geteuid() == 0, let account = getpwnam("postgres") {
            chown(file.path, account.pointee.pw_uid, account.pointee.pw_gid)
        }
        chmod(file.path, 0o600)
    }

    /// A libpq connection string for the superuser, through the Unix socket.
    public func adminConnectionString(database: String) -> String {
        func quoted(_ value: String) -> String {
            "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return "host=\(quoted(socketDirectory.path)) port=\(port) user=\(quoted(superuser)) dbname=\(quoted(database))"
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

    /// A libpq URL for one of the cluster's databases, as the superuser over TCP (which needs
    /// trust: see ``requiresPasswords``).
    public func connectionString(database: String) -> String {
        "postgresql://\(superuser)@127.0.0.1:\(port)/\(database)"
    }

    /// A libpq URL for one of the cluster's databases, as `user`.
    public func connectionString(database: String, user: String, password: String) -> String {
        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        return "postgresql://\(user):\(encoded)@127.0.0.1:\(port)/\(database)"
    }
}
