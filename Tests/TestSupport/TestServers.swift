import Foundation
import LocalServers
import Postgres
import Redis

/// A real `redis-server` and a real PostgreSQL, started once per test process in a temporary
/// directory, and stopped (with the directory removed) when the test process ends.
///
/// Tests share the servers but not their data: each one takes a fresh database with
/// ``makeDatabase()`` and a unique stream prefix with ``uniqueName(_:)``.
///
/// Redis runs as `chorus up` runs it: the default user is off, so every connection
/// authenticates. The tests' own connections use an administrator user, which may run
/// `ACL SETUSER` to create each system's least-privileged users.
public final class TestServers: Sendable {
    public let redisPort: Int
    public let postgresPort: Int
    public let directory: URL
    /// The Redis user allowed everything.
    public let redisAdminUser = "chorus-test-admin"
    public let redisAdminPassword: String

    /// `redis://<admin>:<password>@127.0.0.1:<port>`.
    public var redisURL: String { "redis://\(redisAdminUser):\(redisAdminPassword)@127.0.0.1:\(redisPort)" }

    /// `redis://<user>:<password>@127.0.0.1:<port>`.
    public func redisURL(user: String, password: String) -> String {
        "redis://\(user):\(password)@127.0.0.1:\(redisPort)"
    }

    /// The administrator's configuration.
    public var redisConfiguration: RedisConfiguration {
        RedisConfiguration(host: "127.0.0.1", port: redisPort, username: redisAdminUser, password: redisAdminPassword)
    }

    /// A connection that does not authenticate: Redis's default user.
    public var unauthenticatedRedisConfiguration: RedisConfiguration { RedisConfiguration(host: "127.0.0.1", port: redisPort) }

    /// The servers of this test process, started on first use.
    public static func shared() async throws -> TestServers {
        try await SharedServers.instance.get()
    }

    init(redisPort: Int, postgresPort: Int, directory: URL) {
        self.redisPort = redisPort
        self.postgresPort = postgresPort
        self.directory = directory
        // Base64url-safe and random enough for a throw-away server on the loopback interface.
        redisAdminPassword = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
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
        try await servers.launchPostgres()
        try await servers.waitUntilReady()
        return servers
    }

    private func launchRedis() throws {
        let acl = directory.appendingPathComponent("redis").appendingPathComponent("users.acl")
        try RedisServer.writePrivateFile(
            """
            user default off resetkeys resetchannels -@all
            user \(redisAdminUser) on >\(redisAdminPassword) ~* &* +@all

            """, to: acl)
        let server = RedisServer(directory: directory.appendingPathComponent("redis"), port: redisPort, appendOnly: false, aclFile: acl)
        try Watchdog.launch(name: "redis", command: try server.serverCommand(), stopSignal: "TERM", cleanup: nil)
    }

    private func launchPostgres() async throws {
        let cluster = PostgresCluster(
            dataDirectory: directory.appendingPathComponent("postgres"),
            socketDirectory: directory.appendingPathComponent("sockets"),
            port: postgresPort)
        try await cluster.initialize(log: directory.appendingPathComponent("initdb.log"))
        // Durability is of no use to throw-away test data; speed is.
        let settings = ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "400"]
        try Watchdog.launch(name: "postgres", command: try cluster.serverCommand(settings: settings), stopSignal: "INT", cleanup: directory.path)
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

/// A test server could not be started, or a test waited in vain.
public typealias TestServerError = LocalServerError
