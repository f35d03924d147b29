import CheckoutDomain
import Foundation
import ExactlyOnce
import LocalServers
import Postgres
import Provisioning
import Redis
import ServiceSupport

/// The whole system on this machine: Redis and PostgreSQL with their data in one directory,
/// every Chorus process, and the nginx gateway, all supervised.
///
/// Each process connects with its own least-privileged PostgreSQL role and Redis user. Their
/// passwords are made on the first start and kept in the data directory
/// (``LocalStackCredentials``); Redis runs with the default user off, PostgreSQL asks TCP
/// clients for a password, and provisioning (roles, schemas, grants) runs at every start.
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
    /// Multiplies the demo data's plentiful stock and solvent balances (``DemoData/events(scale:)``),
    /// for load tests long enough to drain the usual amounts.
    public var demoScale: Int
    /// The schemas whose tables belong to a role no service logs in as, migrated at
    /// provisioning (``sealed(_:)``): the event store's, so that its role may append events
    /// but never change them. A schema left out belongs to its service's role.
    public var sealedSchemas: [DatabaseProvisioner.SealedSchema]

    public init(
        dataDirectory: URL, binDirectory: URL, gatewayConfigDirectory: URL,
        redisPort: Int = 6479, postgresPort: Int = 5479, gatewayURL: String = "http://127.0.0.1:8080", loadsDemoData: Bool = true,
        demoScale: Int = 1, sealedSchemas: [DatabaseProvisioner.SealedSchema] = []
    ) {
        self.dataDirectory = dataDirectory
        self.binDirectory = binDirectory
        self.gatewayConfigDirectory = gatewayConfigDirectory
        self.redisPort = redisPort
        self.postgresPort = postgresPort
        self.gatewayURL = gatewayURL
        self.loadsDemoData = loadsDemoData
        self.demoScale = demoScale
        self.sealedSchemas = sealedSchemas
    }

    /// Seals `effect`'s schema: provisioning runs its migrations as the schema's owner.
    public static func sealed(_ effect: some EventEffect) -> DatabaseProvisioner.SealedSchema {
        let schema = effect.schema
        let statements = Migrations.statements(for: effect)
        return DatabaseProvisioner.SealedSchema(worker: effect.worker) { connection in
            try await Migrations.run(schema: schema, statements: statements, on: connection)
        }
    }

    /// The database every process uses.
    static let databaseName = "chorus"

    var logs: URL { dataDirectory.appendingPathComponent("logs") }

    /// The gateway's plain HTTP port, as `deploy/nginx/chorus.conf` sets it: for this machine only.
    public static let gatewayPort = 8080
    /// The gateway's HTTPS port, as `deploy/nginx/chorus.conf` sets it.
    public static let gatewayTLSPort = 8443

    /// The second checkout-api process's name, behind the gateway with the first.
    public static let secondCheckoutAPI = "checkout-api-2"

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
        let taken = [redisPort, postgresPort, Self.gatewayPort, Self.gatewayTLSPort, ChorusConfiguration.secondCheckoutAPIPort]
            + Self.services.map(ChorusConfiguration.defaultPort(of:))
        for port in taken where PortProbe.isListening(port) {
            throw LocalServerError("port \(port) is already in use; is `chorus up` already running? (ports: Redis \(redisPort), PostgreSQL \(postgresPort), gateway \(Self.gatewayPort) and \(Self.gatewayTLSPort), services 8081-8088 and 8091)")
        }
        let supervisor = ProcessSupervisor(report: report)
        let environment = ProcessInfo.processInfo.environment
        let configuration = try ChorusConfiguration.fromEnvironment(environment)
        let names = try AccessNames(prefix: configuration.streamPrefix)
        let cluster = try postgresCluster()
        let olderDirectory = cluster.isInitialized && !LocalStackCredentials.exist(dataDirectory: dataDirectory)
        let credentials = try LocalStackCredentials.loadOrCreate(dataDirectory: dataDirectory)
        if olderDirectory {
            report("this data directory predates per-service credentials: made them in \(LocalStackCredentials.directory(dataDirectory: dataDirectory).path); provisioning hands the existing tables to each service's role")
        }
        try LocalStackCredentials.writeURLFiles(
            credentials, names: names, dataDirectory: dataDirectory, redisPort: redisPort, cluster: cluster, database: Self.databaseName)
        // Services trust the local issuer unless this environment names another one.
        var tokenEnvironment: [String: String] = [:]
        if configuration.tokens == nil {
            _ = try LocalIdentity.loadOrCreate(dataDirectory: dataDirectory)
            tokenEnvironment = [
                "CHORUS_JWKS_FILE": LocalIdentity.keySetFile(dataDirectory: dataDirectory).path,
                "CHORUS_TOKEN_ISSUER": LocalIdentity.issuer, "CHORUS_TOKEN_AUDIENCE": LocalIdentity.audience,
            ]
        }
        do {
            let redisDirectory = dataDirectory.appendingPathComponent("redis")
            let aclFile = redisDirectory.appendingPathComponent("users.acl")
            try RedisServer.writePrivateFile(try RedisAccessControl(names: names).aclFile(credentials: credentials), to: aclFile)
            let redis = RedisServer(directory: redisDirectory, port: redisPort, appendOnly: true, aclFile: aclFile)
            try await supervisor.start(.init(name: "redis", command: try redis.serverCommand(), log: logs.appendingPathComponent("redis.out")))
            try await cluster.initialize(log: logs.appendingPathComponent("initdb.log"))
            try cluster.writeAuthenticationRules()
            try await supervisor.start(.init(
                name: "postgres", command: try cluster.serverCommand(settings: Self.postgresSettings),
                log: logs.appendingPathComponent("postgres.log"), stopSignal: SIGINT))
            try await createDatabase(cluster, report: report)
            try await provision(cluster, names: names, credentials: credentials)
            report("redis on 127.0.0.1:\(redisPort), PostgreSQL on 127.0.0.1:\(postgresPort) (data in \(dataDirectory.path); passwords in \(LocalStackCredentials.directory(dataDirectory: dataDirectory).path))")

            for worker in Self.services {
                try await supervisor.start(.init(
                    name: worker.rawValue,
                    command: [binDirectory.appendingPathComponent(worker.rawValue).path],
                    environment: try serviceEnvironment(worker, port: ChorusConfiguration.defaultPort(of: worker), consumerName: "\(worker.rawValue)-local")
                        .merging(tokenEnvironment) { $1 },
                    log: logs.appendingPathComponent("\(worker.rawValue).log")))
            }
            // The gateway balances checkouts over two checkout-api replicas.
            try await supervisor.start(.init(
                name: Self.secondCheckoutAPI,
                command: [binDirectory.appendingPathComponent(Worker.checkoutAPI.rawValue).path],
                environment: try serviceEnvironment(
                    .checkoutAPI, port: ChorusConfiguration.secondCheckoutAPIPort, consumerName: "\(Self.secondCheckoutAPI)-local")
                    .merging(tokenEnvironment) { $1 },
                log: logs.appendingPathComponent("\(Self.secondCheckoutAPI).log")))
            for worker in Self.services {
                try await Self.wait(for: "\(worker.rawValue) to be ready") {
                    await isReady("http://127.0.0.1:\(ChorusConfiguration.defaultPort(of: worker))/ready")
                }
            }
            try await Self.wait(for: "\(Self.secondCheckoutAPI) to be ready") {
                await isReady("http://127.0.0.1:\(ChorusConfiguration.secondCheckoutAPIPort)/ready")
            }
            report("\(Self.services.count + 1) Chorus processes ready (two checkout-api replicas), logs in \(logs.path)")
            try await startGateway(supervisor)
            try await Self.wait(for: "the gateway") { await isReady("\(gatewayURL)/health") }

            if loadsDemoData {
                let operatorURL = try Self.readURL(LocalStackCredentials.urlFile(.operator, .redis, dataDirectory: dataDirectory))
                let redis = RedisConnection(configuration: try RedisConfiguration(url: operatorURL))
                let topology = StreamTopology(prefix: configuration.streamPrefix, checkoutPartitions: configuration.partitions)
                switch try await DemoDataLoader(redis: redis, topology: topology, scale: demoScale).load() {
                case .loaded(let events): report("loaded the demo data (\(events) events)")
                case .alreadyLoaded: report("demo data already loaded")
                }
                await redis.close()
            }
            report("Chorus is ready at \(gatewayURL) and https://localhost:\(Self.gatewayTLSPort) (trust \(LocalCertificates.authorityCertificate(dataDirectory: dataDirectory).path))  (Ctrl-C stops everything)")
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
        await supervisor.stop([Self.secondCheckoutAPI] + Self.services.reversed().map(\.rawValue))
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
            port: postgresPort, requiresPasswords: true)
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

    /// What a process of `worker` runs with, besides this process's environment: its own
    /// credentials (read from the data directory), its port and its consumer name. Replicas of
    /// one service share the credentials and differ in port and consumer name.
    func serviceEnvironment(_ worker: Worker, port: Int, consumerName: String) throws -> [String: String] {
        [
            "CHORUS_REDIS_URL": try Self.readURL(LocalStackCredentials.urlFile(.service(worker), .redis, dataDirectory: dataDirectory)),
            "CHORUS_DATABASE_URL": try Self.readURL(LocalStackCredentials.urlFile(.service(worker), .database, dataDirectory: dataDirectory)),
            "CHORUS_HTTP_PORT": String(port), "CHORUS_CONSUMER_NAME": consumerName,
        ]
    }

    static func readURL(_ file: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: file.path) else { throw LocalServerError("cannot read \(file.path)") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Roles, schemas and grants, as the superuser through the Unix socket.
    private func provision(_ cluster: PostgresCluster, names: AccessNames, credentials: Credentials) async throws {
        let admin = PostgresConnection(connectionString: cluster.adminConnectionString(database: Self.databaseName))
        defer { Task { await admin.close() } }
        try await DatabaseProvisioner(names: names).provision(admin: admin, credentials: credentials, sealed: sealedSchemas)
    }

    private func createDatabase(_ cluster: PostgresCluster, report: @Sendable (String) -> Void) async throws {
        let admin = PostgresConnection(connectionString: cluster.adminConnectionString(database: "postgres"))
        defer { Task { await admin.close() } }
        try await Self.wait(for: "PostgreSQL") { (try? await admin.query("SELECT 1")) != nil }
        let exists = try await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [Self.databaseName])
        if exists.isEmpty {
            // The name is a constant; CREATE DATABASE takes no parameters.
            try await admin.query("CREATE DATABASE chorus")
            report("created database chorus")
        }
        // Per-statement counts and times, for whoever measures (see docs/benchmarks.md).
        let chorus = PostgresConnection(connectionString: cluster.adminConnectionString(database: Self.databaseName))
        defer { Task { await chorus.close() } }
        try await chorus.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    }

    /// What `chorus up` changes from PostgreSQL's defaults, all listed in the README.
    ///
    /// Durability is untouched: `synchronous_commit` stays on, because a worker acknowledges its
    /// input once its transaction has committed, and a commit lost after that would be a lost
    /// effect. The rest gives the write-heavy load room: WAL segments recycled rather than
    /// created, checkpoints spread out, a larger buffer cache, and per-statement statistics.
    public static let postgresSettings: [String: String] = [
        "synchronous_commit": "on",
        "shared_buffers": "256MB",
        "max_wal_size": "4GB",
        "min_wal_size": "1GB",
        "checkpoint_timeout": "15min",
        "shared_preload_libraries": "pg_stat_statements",
        "pg_stat_statements.track": "top",
    ]

    /// `api/openapi.json` beside `deploy/nginx` (the gateway's configuration directory).
    public static func apiDocument(gatewayConfigDirectory: URL) -> URL {
        gatewayConfigDirectory.standardizedFileURL.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("api").appendingPathComponent("openapi.json")
    }

    private func startGateway(_ supervisor: ProcessSupervisor) async throws {
        let runtime = dataDirectory.appendingPathComponent("gateway")
        try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true)
        // nginx resolves `include upstreams.conf` next to the file named by -c.
        let config = runtime.appendingPathComponent("chorus.conf")
        let upstreams = runtime.appendingPathComponent("upstreams.conf")
        let headers = runtime.appendingPathComponent("response-headers.conf")
        for file in [config, upstreams, headers] { try? FileManager.default.removeItem(at: file) }
        try Self.gatewayConfiguration(
            try String(contentsOf: gatewayConfigDirectory.appendingPathComponent("chorus.conf"), encoding: .utf8),
            checkoutsPerClient: ProcessInfo.processInfo.environment["CHORUS_GATEWAY_CHECKOUT_RATE"]
        ).write(to: config, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: gatewayConfigDirectory.appendingPathComponent("upstreams-local.conf"), to: upstreams)
        try FileManager.default.copyItem(at: gatewayConfigDirectory.appendingPathComponent("response-headers.conf"), to: headers)
        try LocalCertificates.prepare(dataDirectory: dataDirectory)
        try Self.tlsConfiguration(dataDirectory: dataDirectory)
            .write(to: runtime.appendingPathComponent("tls.conf"), atomically: true, encoding: .utf8)
        try Self.corsOrigins(ProcessInfo.processInfo.environment["CHORUS_CORS_ORIGINS"] ?? "")
            .write(to: runtime.appendingPathComponent("cors-origins.conf"), atomically: true, encoding: .utf8)
        // The local issuer's public keys, which the gateway publishes at /.well-known/jwks.json.
        let published = runtime.appendingPathComponent("jwks.json")
        try? FileManager.default.removeItem(at: published)
        if let keySet = FileManager.default.contents(atPath: LocalIdentity.keySetFile(dataDirectory: dataDirectory).path) {
            try keySet.write(to: published)
        }
        // The HTTP contract, which the gateway serves at /openapi.json: api/openapi.json of the
        // repository whose deploy/nginx is the gateway's configuration.
        let contract = runtime.appendingPathComponent("openapi.json")
        try? FileManager.default.removeItem(at: contract)
        try? FileManager.default.copyItem(at: Self.apiDocument(gatewayConfigDirectory: gatewayConfigDirectory), to: contract)
        let nginx = try Binaries.find("nginx", in: ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"])
        try await supervisor.start(.init(
            name: "gateway", command: [nginx, "-p", runtime.path + "/", "-c", config.path, "-e", "stderr"],
            log: logs.appendingPathComponent("gateway.log"), stopSignal: SIGQUIT))
    }

    /// `deploy/nginx/chorus.conf` with its per-client checkout limit (100 a second, bursts of
    /// twice that) set to `CHORUS_GATEWAY_CHECKOUT_RATE` when given: a load test through the
    /// gateway from one address needs more.
    static func gatewayConfiguration(_ shipped: String, checkoutsPerClient: String?) throws -> String {
        guard let text = checkoutsPerClient else { return shipped }
        guard let rate = Int(text), (1...1_000_000).contains(rate) else {
            throw LocalServerError("CHORUS_GATEWAY_CHECKOUT_RATE must be a whole number from 1 to 1000000 (checkouts per second per client)")
        }
        guard shipped.contains("rate=100r/s"), shipped.contains("burst=200") else {
            throw LocalServerError("the gateway configuration no longer has the shipped checkout limit (rate=100r/s, burst=200) to change")
        }
        return shipped.replacingOccurrences(of: "rate=100r/s", with: "rate=\(rate)r/s").replacingOccurrences(of: "burst=200", with: "burst=\(2 * rate)")
    }

    /// The gateway's `tls.conf`: the local authority's certificate for it.
    public static func tlsConfiguration(dataDirectory: URL) -> String {
        """
        # Written by chorus up at every start: a certificate from the local authority (\(LocalCertificates.authorityCertificate(dataDirectory: dataDirectory).path)).
        ssl_certificate     "\(LocalCertificates.gatewayCertificate(dataDirectory: dataDirectory).path)";
        ssl_certificate_key "\(LocalCertificates.gatewayKey(dataDirectory: dataDirectory).path)";

        """
    }

    /// The gateway's `cors-origins.conf` from `CHORUS_CORS_ORIGINS` (comma-separated origins,
    /// such as `https://shop.example.com`); each origin is checked, since it lands in nginx's
    /// configuration.
    public static func corsOrigins(_ list: String) throws -> String {
        var lines = ["# Written by chorus up from CHORUS_CORS_ORIGINS."]
        for origin in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !origin.isEmpty {
            guard origin.wholeMatch(of: /https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?/) != nil else {
                throw LocalServerError("CHORUS_CORS_ORIGINS: \(origin) is not an origin like https://shop.example.com (scheme, host and port only)")
            }
            lines.append("\"\(origin)\" $http_origin;")
        }
        return lines.joined(separator: "\n") + "\n"
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
