import Foundation
import Postgres
import Redis

/// A real `redis-server` and a real PostgreSQL, started once per test process in a temporary
/// directory, and stopped (with the directory removed) when the test process ends.
///
/// Tests share the servers but not their data: each one takes a fresh database with
/// ``makeDatabase()`` and a unique stream prefix with ``uniqueName(_:)``.
public final class TestServers: Sendable {
    public let redisPort: Int
    public let postgresPort: Int
    public let directory: URL

    /// `redis://127.0.0.1:<port>`.
    public var redisURL: String { "redis://127.0.0.1:\(redisPort)" }

    public var redisConfiguration: RedisConfiguration { RedisConfiguration(host: "127.0.0.1", port: redisPort) }

    /// The servers of this test process, started on first use.
    public static func shared() async throws -> TestServers {
        try await SharedServers.instance.get()
    }

    init(redisPort: Int, postgresPort: Int, directory: URL) {
        self.redisPort = redisPort
        self.postgresPort = postgresPort
        self.directory = directory
    }

    /// Creates an empty database and returns its connection string.
    public func makeDatabase() async throws -> String {
        let name = uniqueName("test").replacingOccurrences(of: "-", with: "_")
        let admin = PostgresConnection(connectionString: connectionString(database: "postgres"))
        defer { Task { await admin.close() } }
        // CREATE DATABASE takes no parameters; the name is made here, of letters, digits and '_'.
        try await admin.query("CREATE DATABASE \(name)")
        return connectionString(database: name)
    }

    /// A libpq URL for a database of the test cluster.
    public func connectionString(database: String) -> String {
        "postgresql://chorus@127.0.0.1:\(postgresPort)/\(database)"
    }

    /// A name no other test uses, for stream prefixes, databases and consumers.
    public func uniqueName(_ base: String) -> String {
        "\(base)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Starts both servers; the watchdog of each stops it when this process exits.
    static func start() async throws -> TestServers {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-tests-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let redisPort = try FreePort.next()
        let postgresPort = try FreePort.next()
        let servers = TestServers(redisPort: redisPort, postgresPort: postgresPort, directory: directory)
        try servers.launchRedis()
        try servers.launchPostgres()
        try await servers.waitUntilReady()
        return servers
    }

    private func launchRedis() throws {
        let redisDirectory = directory.appendingPathComponent("redis")
        try FileManager.default.createDirectory(at: redisDirectory, withIntermediateDirectories: true)
        let binary = try Binaries.find("redis-server", in: ["/usr/bin", "/usr/local/bin", "/usr/sbin"])
        try Watchdog.launch(
            name: "redis",
            command: [binary, "--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                      "--dir", redisDirectory.path, "--logfile", redisDirectory.appendingPathComponent("redis.log").path],
            stopSignal: "TERM",
            cleanup: nil)
    }

    private func launchPostgres() throws {
        let binDirectory = try Binaries.postgresBinDirectory()
        let data = directory.appendingPathComponent("postgres")
        let sockets = directory.appendingPathComponent("sockets")
        for folder in [data, sockets] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // PostgreSQL refuses to run as root; as root, run it as the `postgres` user.
        let asUser: [String]
        if geteuid() == 0 {
            guard let account = getpwnam("postgres") else { throw TestServerError("running as root and there is no postgres user") }
            for folder in [data, sockets] { chown(folder.path, account.pointee.pw_uid, account.pointee.pw_gid) }
            asUser = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        } else {
            asUser = []
        }
        try Shell.run(asUser + ["\(binDirectory)/initdb", "-D", data.path, "-U", "chorus", "-A", "trust", "-E", "UTF8",
                                "--locale=C", "--no-sync"], logTo: directory.appendingPathComponent("initdb.log"))
        try Watchdog.launch(
            name: "postgres",
            command: asUser + ["\(binDirectory)/postgres", "-D", data.path, "-p", String(postgresPort), "-k", sockets.path,
                               "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                               "-c", "full_page_writes=off", "-c", "max_connections=400", "-c", "shared_buffers=128MB"],
            stopSignal: "INT",
            cleanup: directory.path)
    }

    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        let redis = RedisConnection(configuration: redisConfiguration, connectAttempts: 1)
        while true {
            if (try? await redis.execute(["PING"])) != nil { break }
            guard ContinuousClock.now < deadline else { throw TestServerError("redis-server did not start; see \(directory.path)/redis") }
            try await Task.sleep(for: .milliseconds(50))
        }
        await redis.close()
        while true {
            let connection = PostgresConnection(connectionString: connectionString(database: "postgres"))
            let ready = (try? await connection.query("SELECT 1")) != nil
            await connection.close()
            if ready { break }
            guard ContinuousClock.now < deadline else { throw TestServerError("PostgreSQL did not start; see \(directory.path)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// Starts the servers once, whatever the number of tests asking concurrently.
actor SharedServers {
    static let instance = SharedServers()
    private var started: Task<TestServers, any Error>?

    func get() async throws -> TestServers {
        if let started { return try await started.value }
        let task = Task { try await TestServers.start() }
        started = task
        return try await task.value
    }
}

/// A test server could not be started.
public struct TestServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
