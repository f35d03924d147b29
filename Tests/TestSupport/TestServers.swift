import Foundation
import LocalServers
import Postgres
import Provisioning
import Redis
import Synchronization

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

    @discardableResult
    fileprivate func launchRedis(appendOnly: Bool = false) throws -> ChildProcess {
        let acl = directory.appendingPathComponent("redis").appendingPathComponent("users.acl")
        // A restart keeps the users the file has by then (`ACL SAVE`).
        if !FileManager.default.fileExists(atPath: acl.path) {
            try RedisServer.writePrivateFile(
                """
                \(RedisAccessControl.defaultUserRule)
                user \(redisAdminUser) on >\(redisAdminPassword) ~* &* +@all

                """, to: acl)
        }
        let server = RedisServer(directory: directory.appendingPathComponent("redis"), port: redisPort, appendOnly: appendOnly, aclFile: acl)
        return try Watchdog.launch(name: "redis", command: try server.serverCommand(), stopSignal: "TERM", cleanup: nil)
    }

    fileprivate var postgresCluster: PostgresCluster {
        PostgresCluster(
            dataDirectory: directory.appendingPathComponent("postgres"),
            socketDirectory: directory.appendingPathComponent("sockets"),
            port: postgresPort)
    }

    /// - Parameter removingDirectory: whether the watchdog removes the servers' directory once
    ///   PostgreSQL has stopped (not for a server a test stops and starts again).
    @discardableResult
    /// - Parameter survivesCrashes: whether a commit survives a crash of PostgreSQL (its
    ///   processes; the machine's crash would still lose it, as `fsync` stays off).
    /// - Parameter log: whether PostgreSQL's output goes to `postgres.log` in the directory
    ///   (a failed start then says why), rather than nowhere.
    fileprivate func launchPostgres(
        initialize: Bool = true, removingDirectory: Bool = true, survivesCrashes: Bool = false, log: Bool = false
    ) async throws -> ChildProcess {
        let cluster = postgresCluster
        if initialize { try await cluster.initialize(log: directory.appendingPathComponent("initdb.log")) }
        // Durability is of no use to throw-away test data; speed is. Suites run at once, each
        // with a whole system of a dozen processes and their pools: connections run into the
        // hundreds.
        let settings = [
            "fsync": "off", "synchronous_commit": survivesCrashes ? "on" : "off", "full_page_writes": "off", "max_connections": "1200",
        ]
        return try Watchdog.launch(
            name: "postgres", command: try cluster.serverCommand(settings: settings), stopSignal: "INT",
            cleanup: removingDirectory ? directory.path : nil, log: log ? directory.appendingPathComponent("postgres.log") : nil)
    }

    fileprivate func waitUntilReady() async throws {
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

/// A redis-server (with its append-only file) and a PostgreSQL of one test alone, which the test
/// may kill and start again, as an operator's restart or a crash would: for tests of recovery.
/// The shared servers are never restarted, since every other test runs on them.
public final class RestartableTestServers: Sendable {
    public let servers: TestServers
    private let redis: Mutex<ChildProcess>
    private let postgres: Mutex<ChildProcess>

    private init(servers: TestServers, redis: ChildProcess, postgres: ChildProcess) {
        self.servers = servers
        self.redis = Mutex(redis)
        self.postgres = Mutex(postgres)
    }

    /// Starts both servers in a directory of their own, on ports free a moment ago. Once, under
    /// a loaded full suite, PostgreSQL did not answer in time (another test may have taken its
    /// port first): the pair is then started again, on other ports, in another directory.
    public static func start() async throws -> RestartableTestServers {
        do {
            return try await startOnce()
        } catch {
            return try await startOnce()
        }
    }

    private static func startOnce() async throws -> RestartableTestServers {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-restartable-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let servers = TestServers(redisPort: try FreePort.next(), postgresPort: try FreePort.next(), directory: directory)
        let redis = try servers.launchRedis(appendOnly: true)
        let postgres: ChildProcess
        do {
            postgres = try await servers.launchPostgres(removingDirectory: false, survivesCrashes: true, log: true)
        } catch {
            redis.send(SIGTERM)
            throw error
        }
        do {
            try await servers.waitUntilReady()
        } catch {
            redis.send(SIGTERM)
            postgres.send(SIGTERM)
            throw error
        }
        return RestartableTestServers(servers: servers, redis: redis, postgres: postgres)
    }

    /// Kills PostgreSQL with SIGKILL, postmaster and backends, as a crash would.
    public func crashPostgres() async throws {
        let pidFile = servers.directory.appendingPathComponent("postgres").appendingPathComponent("postmaster.pid")
        let text = try String(contentsOf: pidFile, encoding: .utf8)
        guard let pid = text.split(separator: "\n").first.flatMap({ pid_t($0) }) else {
            throw TestServerError("no postmaster pid in \(pidFile.path)")
        }
        // Its backends first, as a crash of the machine would take them too; a restart finds
        // the shared memory of a backend still alive in use, and refuses. The postmaster is
        // stopped meanwhile, or it would start new ones as the old ones die.
        kill(pid, SIGSTOP)
        try await Self.killChildren(of: pid)
        kill(pid, SIGKILL)
        try await Self.waitUntilGone(pid)
        postgres.withLock { $0.send(SIGTERM) }
    }

    /// Starts PostgreSQL again on the same data and port (it recovers from its WAL), and waits
    /// until it answers.
    public func startPostgres() async throws {
        let restarted = try await servers.launchPostgres(initialize: false, removingDirectory: false, survivesCrashes: true, log: true)
        postgres.withLock { $0 = restarted }
        try await servers.waitUntilReady()
    }

    /// Kills redis-server with SIGKILL, as a crash would.
    public func crashRedis() async throws {
        try await endRedis(with: SIGKILL)
    }

    /// Stops redis-server as an operator's restart does (SIGTERM: it writes its append-only file
    /// out first), and waits until it has exited.
    public func stopRedis() async throws {
        try await endRedis(with: SIGTERM)
    }

    /// Sends `signal` to redis-server and waits until it has exited, with its watchdog.
    private func endRedis(with signal: Int32) async throws {
        let connection = RedisConnection(configuration: servers.redisConfiguration, connectAttempts: 1)
        // The users a test made are written to the ACL file first, as `chorus up`'s Redis has
        // every user in its ACL file from the start: a restart keeps them.
        _ = try await connection.execute(["ACL", "SAVE"])
        let info = try await connection.execute(["INFO", "server"])
        await connection.close()
        guard case .bulk(let text) = info,
            let line = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("process_id:") }),
            let pid = pid_t(line.dropFirst("process_id:".count))
        else { throw TestServerError("redis-server did not say its process id") }
        kill(pid, signal)
        try await Self.waitUntilGone(pid)
        redis.withLock { $0.send(SIGTERM) }
    }

    /// Starts redis-server again from its append-only file on the same port, and waits until it
    /// answers.
    public func startRedis() async throws {
        let restarted = try servers.launchRedis(appendOnly: true)
        redis.withLock { $0 = restarted }
        try await servers.waitUntilReady()
    }

    /// Stops both servers and removes their directory.
    public func stop() {
        redis.withLock { $0.send(SIGTERM) }
        postgres.withLock { $0.send(SIGTERM) }
        let directory = servers.directory
        Task {
            try? await Task.sleep(for: .seconds(2))
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Sends SIGKILL to every child of `pid` and waits until none is left.
    private static func killChildren(of pid: pid_t) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let children = childProcesses(of: pid)
            if children.isEmpty { return }
            for child in children { kill(child, SIGKILL) }
            guard ContinuousClock.now < deadline else { throw TestServerError("the children of \(pid) did not end") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The processes whose parent is `pid`, from /proc.
    private static func childProcesses(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let child = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let afterName = stat.lastIndex(of: ")")
            else { return nil }
            // "<pid> (<name>) <state> <ppid> …": the name may hold spaces, so read after its ')'.
            let fields = stat[stat.index(after: afterName)...].split(separator: " ")
            // A dead child of a stopped parent stays as a zombie until the parent goes: it holds nothing.
            return fields.count > 1 && fields[0] != "Z" && pid_t(fields[1]) == pid ? child : nil
        }
    }

    private static func waitUntilGone(_ pid: pid_t) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while kill(pid, 0) == 0 {
            guard ContinuousClock.now < deadline else { throw TestServerError("process \(pid) did not end") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
