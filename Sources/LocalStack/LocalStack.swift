import CheckoutDomain
import Foundation
import LocalServers
import Postgres
import Redis
import ServiceSupport

/// The whole system on this machine: Redis and PostgreSQL with their data in one directory,
/// every Chorus process, and the nginx gateway, all supervised.
public struct LocalStack: Sendable {
    /// Where data, logs and runtime files go.
    public var dataDirectory: URL
    /// Where the Chorus executables are.
    public var binDirectory: URL
    /// The gateway's nginx configuration and its `upstreams-local.conf`.
    public var gatewayConfigDirectory: URL
    public var redisPort: Int
    public var postgresPort: Int
    public var gatewayURL: String
    public var loadsDemoData: Bool

    public init(
        dataDirectory: URL, binDirectory: URL, gatewayConfigDirectory: URL,
        redisPort: Int = 6479, postgresPort: Int = 5479, gatewayURL: String = "http://127.0.0.1:8080", loadsDemoData: Bool = true
    ) {
        self.dataDirectory = dataDirectory
        self.binDirectory = binDirectory
        self.gatewayConfigDirectory = gatewayConfigDirectory
        self.redisPort = redisPort
        self.postgresPort = postgresPort
        self.gatewayURL = gatewayURL
        self.loadsDemoData = loadsDemoData
    }

    var logs: URL { dataDirectory.appendingPathComponent("logs") }

    /// The gateway's port, as `deploy/nginx/chorus.conf` sets it.
    public static let gatewayPort = 8080

    /// The processes in start order; they stop in reverse.
    public static let services: [Worker] = [
        .eventStore, .audit, .cqrsProjection, .stockReservation, .payment, .orderCreation, .compensation, .checkoutAPI,
    ]

    /// Starts everything, waits until every process is ready, loads the demo data into an empty
    /// system, then supervises until `stopSignal` finishes; then stops everything cleanly.
    /// - Parameters:
    ///   - isReady: receives readiness checks' URLs, so tests and the CLI share one definition.
    ///   - report: receives progress lines.
    public func run(
        until stopSignal: @escaping @Sendable () async -> Void,
        isReady: @escaping @Sendable (String) async -> Bool,
        report: @escaping @Sendable (String) -> Void
    ) async throws {
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let taken = [redisPort, postgresPort, Self.gatewayPort] + Self.services.map(ChorusConfiguration.defaultPort(of:))
        for port in taken where PortProbe.isListening(port) {
            throw LocalServerError("port \(port) is already in use; is `chorus up` already running? (ports: Redis \(redisPort), PostgreSQL \(postgresPort), gateway \(Self.gatewayPort), services 8081-8088)")
        }
        let supervisor = ProcessSupervisor(report: report)
        let environment = ProcessInfo.processInfo.environment
        let configuration = try ChorusConfiguration.fromEnvironment(environment)
        let redisURL = "redis://127.0.0.1:\(redisPort)"
        let cluster = try postgresCluster()
        let databaseURL = cluster.connectionString(database: "chorus")
        do {
            let redis = RedisServer(directory: dataDirectory.appendingPathComponent("redis"), port: redisPort, appendOnly: true)
            try await supervisor.start(.init(name: "redis", command: try redis.serverCommand(), log: logs.appendingPathComponent("redis.out")))
            try await cluster.initialize(log: logs.appendingPathComponent("initdb.log"))
            try await supervisor.start(.init(
                name: "postgres", command: try cluster.serverCommand(), log: logs.appendingPathComponent("postgres.log"), stopSignal: SIGINT))
            try await createDatabase(cluster, report: report)
            report("redis on \(redisURL), PostgreSQL on 127.0.0.1:\(postgresPort) (data in \(dataDirectory.path))")

            for worker in Self.services {
                let port = ChorusConfiguration.defaultPort(of: worker)
                try await supervisor.start(.init(
                    name: worker.rawValue,
                    command: [binDirectory.appendingPathComponent(worker.rawValue).path],
                    environment: [
                        "CHORUS_REDIS_URL": redisURL, "CHORUS_DATABASE_URL": databaseURL,
                        "CHORUS_HTTP_PORT": String(port), "CHORUS_CONSUMER_NAME": "\(worker.rawValue)-local",
                    ],
                    log: logs.appendingPathComponent("\(worker.rawValue).log")))
            }
            for worker in Self.services {
                try await Self.wait(for: "\(worker.rawValue) to be ready") {
                    await isReady("http://127.0.0.1:\(ChorusConfiguration.defaultPort(of: worker))/ready")
                }
            }
            try await startGateway(supervisor)
            try await Self.wait(for: "the gateway") { await isReady("\(gatewayURL)/health") }

            if loadsDemoData {
                let redis = RedisConnection(configuration: RedisConfiguration(host: "127.0.0.1", port: redisPort))
                let topology = StreamTopology(prefix: configuration.streamPrefix, checkoutPartitions: configuration.partitions)
                switch try await DemoDataLoader(redis: redis, topology: topology).load() {
                case .loaded(let events): report("loaded the demo data (\(events) events)")
                case .alreadyLoaded: report("demo data already loaded")
                }
                await redis.close()
            }
            report("Chorus is ready at \(gatewayURL)  (Ctrl-C stops everything)")
            await stopSignal()
        } catch {
            report("could not start: \(error)")
            await stop(supervisor, report: report)
            throw error
        }
        await stop(supervisor, report: report)
    }

    private func stop(_ supervisor: ProcessSupervisor, report: @Sendable (String) -> Void) async {
        report("stopping")
        await supervisor.stop(["gateway"])
        await supervisor.stop(Self.services.reversed().map(\.rawValue))
        await supervisor.stop(["postgres", "redis"])
        report("stopped; data kept in \(dataDirectory.path)")
    }

    /// PostgreSQL refuses to run as root, and the `postgres` user must reach its directory: as
    /// root, when the data directory's parents are closed to others (a home directory, say),
    /// the cluster lives under /var/lib/chorus instead.
    func postgresCluster() throws -> PostgresCluster {
        var directory = dataDirectory.appendingPathComponent("postgres")
        if geteuid() == 0, !Self.othersCanTraverse(dataDirectory) {
            let name = dataDirectory.path.replacingOccurrences(of: "/", with: "_")
            directory = URL(fileURLWithPath: "/var/lib/chorus").appendingPathComponent(name).appendingPathComponent("postgres")
            try FileManager.default.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        return PostgresCluster(
            dataDirectory: directory, socketDirectory: directory.deletingLastPathComponent().appendingPathComponent("postgres-sockets"),
            port: postgresPort)
    }

    static func othersCanTraverse(_ url: URL) -> Bool {
        var path = url.standardizedFileURL.path
        while !path.isEmpty && path != "/" {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                let permissions = attributes[.posixPermissions] as? Int, permissions & 0o001 == 0
            {
                return false
            }
            path = (path as NSString).deletingLastPathComponent
        }
        return true
    }

    private func createDatabase(_ cluster: PostgresCluster, report: @Sendable (String) -> Void) async throws {
        let admin = PostgresConnection(connectionString: cluster.connectionString(database: "postgres"))
        defer { Task { await admin.close() } }
        try await Self.wait(for: "PostgreSQL") { (try? await admin.query("SELECT 1")) != nil }
        let exists = try await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", ["chorus"])
        if exists.isEmpty {
            // The name is a constant; CREATE DATABASE takes no parameters.
            try await admin.query("CREATE DATABASE chorus")
            report("created database chorus")
        }
    }

    private func startGateway(_ supervisor: ProcessSupervisor) async throws {
        let runtime = dataDirectory.appendingPathComponent("gateway")
        try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true)
        // nginx resolves `include upstreams.conf` next to the file named by -c.
        let config = runtime.appendingPathComponent("chorus.conf")
        let upstreams = runtime.appendingPathComponent("upstreams.conf")
        for file in [config, upstreams] { try? FileManager.default.removeItem(at: file) }
        try FileManager.default.copyItem(at: gatewayConfigDirectory.appendingPathComponent("chorus.conf"), to: config)
        try FileManager.default.copyItem(at: gatewayConfigDirectory.appendingPathComponent("upstreams-local.conf"), to: upstreams)
        let nginx = try Binaries.find("nginx", in: ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"])
        try await supervisor.start(.init(
            name: "gateway", command: [nginx, "-p", runtime.path + "/", "-c", config.path, "-e", "stderr"],
            log: logs.appendingPathComponent("gateway.log"), stopSignal: SIGQUIT))
    }

    /// Polls `probe` for up to two minutes.
    static func wait(for what: String, _ probe: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while !(await probe()) {
            guard ContinuousClock.now < deadline else { throw LocalServerError("gave up waiting for \(what); see the logs") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
