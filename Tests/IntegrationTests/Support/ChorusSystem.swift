import Audit
import CQRSProjection
import CheckoutAPI
import CheckoutDomain
import Compensation
import EventStore
import ExactlyOnce
import Foundation
import Identity
import LocalServers
import Logging
import OrderCreation
import Payment
import Postgres
import Provisioning
import Redis
import ServiceLifecycle
import ServiceSupport
import StockReservation
import StreamRuntime
import TestSupport

/// A whole Chorus, run in this test process against the real test servers: the same processes
/// the executables run, each with its consumer loop and HTTP server on a free port.
///
/// Every system has its own database and its own stream prefix, so systems never see each
/// other's data.
///
/// Each process runs as it runs in production: with its own least-privileged PostgreSQL role
/// and Redis user, provisioned for this system. So every test also proves that the grants are
/// enough. The test's own connections (``redis``, ``database``, ``configuration``) are
/// administrators, free to inspect and tamper.
actor ChorusSystem {
    let servers: TestServers
    /// The system's settings, with administrator URLs.
    let configuration: ChorusConfiguration
    /// The names of the system's roles and users.
    let accessNames: AccessNames
    /// The passwords of the system's roles and users.
    let credentials: Credentials
    /// A connection for the test's own looks at Redis, as an administrator.
    let redis: RedisConnection
    /// A connection for the test's own looks at PostgreSQL, as the superuser.
    let database: PostgresConnection
    /// The system's identity provider: its services trust this issuer's key (and no other), so
    /// the test mints real tokens for any caller it plays.
    let issuer: TokenIssuer
    private var running: [String: RunningProcess] = [:]
    /// The consumer group of each running process, by process name.
    private var runningGroups: [String: String] = [:]
    private(set) var ports: [Worker: Int] = [:]

    private struct RunningProcess {
        let group: ServiceGroup
        let task: Task<Void, any Error>
    }

    var topology: StreamTopology { configuration.topology }

    /// Creates a system with fresh storage and starts `workers`.
    /// - Parameter beforeProvisioning: runs on the empty database as its superuser, before
    ///   provisioning: to lay out what an older Chorus left there, say.
    /// - Parameter servers: the servers to run on; the test process's shared ones by default.
    static func start(
        _ workers: [Worker] = Worker.allCases,
        servers: TestServers? = nil,
        configure: (inout ChorusConfiguration) -> Void = { _ in },
        beforeProvisioning: (PostgresConnection) async throws -> Void = { _ in }
    ) async throws -> ChorusSystem {
        let servers = if let servers { servers } else { try await TestServers.shared() }
        var configuration = ChorusConfiguration(
            redisURL: servers.redisURL,
            databaseURL: try await servers.makeDatabase(),
            streamPrefix: servers.uniqueName("t"),
            partitions: 2,
            batchSize: 50,
            blockMilliseconds: 50,
            claimIdleMilliseconds: 1_000,
            claimIntervalMilliseconds: 250,
            maxDeliveries: 3,
            httpHost: "127.0.0.1",
            httpPort: 0,
            poolSize: 2,
            logLevel: .warning,
            // Tests read the streams' whole history; a test of retention turns trimming on.
            trimIntervalMilliseconds: 0,
            // Tests fire checkouts of one customer at once (races, bursts); the limit's own test turns it on.
            customerCheckoutRate: 0)
        let issuer = TokenIssuer(key: .generate(), issuer: "chorus-test", audience: "chorus")
        let keySet = FileManager.default.temporaryDirectory.appendingPathComponent("\(configuration.streamPrefix)-jwks.json")
        try Data(issuer.key.publicKeySet.utf8).write(to: keySet)
        configuration.tokens = .init(keys: .file(keySet.path), issuer: issuer.issuer, audience: issuer.audience)
        configure(&configuration)
        let system = ChorusSystem(
            servers: servers, configuration: configuration, accessNames: try AccessNames(prefix: configuration.streamPrefix),
            credentials: Credentials.generate(), issuer: issuer)
        try await beforeProvisioning(system.database)
        try await system.provision()
        for worker in workers { try await system.start(worker) }
        return system
    }

    private init(
        servers: TestServers, configuration: ChorusConfiguration, accessNames: AccessNames, credentials: Credentials, issuer: TokenIssuer
    ) {
        self.issuer = issuer
        self.servers = servers
        self.configuration = configuration
        self.accessNames = accessNames
        self.credentials = credentials
        self.redis = RedisConnection(configuration: servers.redisConfiguration)
        self.database = PostgresConnection(connectionString: configuration.databaseURL)
    }

    /// The sealed schemas, migrated by provisioning as their owner: the event store's.
    static var sealedSchemas: [DatabaseProvisioner.SealedSchema] {
        let effect = EventStoreEffect()
        return [DatabaseProvisioner.SealedSchema(worker: effect.worker) { connection in
            try await Migrations.run(schema: effect.schema, statements: Migrations.statements(for: effect), on: connection)
        }]
    }

    /// Creates the system's roles, schemas and Redis users, as `chorus up` does.
    private func provision() async throws {
        try await DatabaseProvisioner(names: accessNames).provision(admin: database, credentials: credentials, sealed: Self.sealedSchemas)
        try await RedisAccessControl(names: accessNames).apply(credentials: credentials, on: redis)
    }

    /// The PostgreSQL URL of `principal`'s role in this system's database.
    func databaseURL(for principal: Principal) -> String {
        let name = URL(string: configuration.databaseURL)?.lastPathComponent ?? ""
        return "postgresql://\(accessNames.role(for: principal)):\(credentials.postgres[principal.name] ?? "")@127.0.0.1:\(servers.postgresPort)/\(name)"
    }

    /// The Redis URL of `principal`'s user.
    func redisURL(for principal: Principal) -> String {
        servers.redisURL(user: accessNames.redisUser(for: principal), password: credentials.redis[principal.name] ?? "")
    }

    /// The configuration a process of `worker` runs with: its own role and user.
    func configuration(for worker: Worker) -> ChorusConfiguration {
        var configuration = self.configuration
        configuration.databaseURL = databaseURL(for: .service(worker))
        configuration.redisURL = redisURL(for: .service(worker))
        return configuration
    }

    static var logger: Logger {
        var logger = Logger(label: "chorus.test") { label -> any LogHandler in
            if ProcessInfo.processInfo.environment["CHORUS_TEST_LOGS"] == nil { return SwiftLogNoOpLogHandler() }
            return StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = Logger.Level.info
        return logger
    }

    /// Starts one process of `worker`; several can run under distinct consumer names.
    /// - Parameter logger: where the process logs; nowhere by default (`CHORUS_TEST_LOGS` to see).
    /// - Returns: the port its HTTP server listens on.
    @discardableResult
    func start(
        _ worker: Worker, consumerName: String? = nil, logger: Logger? = nil, configure: (inout ChorusConfiguration) -> Void = { _ in }
    ) async throws -> Int {
        var configuration = self.configuration(for: worker)
        configuration.consumerName = consumerName ?? "\(worker.rawValue)-1"
        configure(&configuration)
        let key = configuration.consumerName ?? worker.rawValue
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let onListening: @Sendable (Int) async -> Void = { continuation.yield($0) }
        let logger = logger ?? Self.logger
        let process: any Service =
            switch worker {
            case .checkoutAPI: ChorusProcess.checkoutAPI(configuration: configuration, logger: logger, onListening: onListening)
            case .eventStore: ChorusProcess.eventStore(configuration: configuration, logger: logger, onListening: onListening)
            case .cqrsProjection: ChorusProcess.cqrsProjection(configuration: configuration, logger: logger, onListening: onListening)
            case .stockReservation:
                ChorusProcess(effect: StockReservationEffect(), configuration: configuration, logger: logger, onListening: onListening)
            case .payment: ChorusProcess(effect: PaymentEffect(), configuration: configuration, logger: logger, onListening: onListening)
            case .orderCreation:
                ChorusProcess(effect: OrderCreationEffect(), configuration: configuration, logger: logger, onListening: onListening)
            case .compensation:
                ChorusProcess(effect: CompensationEffect(), configuration: configuration, logger: logger, onListening: onListening)
            case .audit: ChorusProcess(effect: AuditEffect(), configuration: configuration, logger: logger, onListening: onListening)
            }
        let group = ServiceGroup(configuration: .init(services: [process], logger: logger))
        let task = Task { try await group.run() }
        running[key] = RunningProcess(group: group, task: task)
        runningGroups[key] = worker.groupName
        let port = try await Self.first(of: ports, within: .seconds(60), what: "\(key) to listen")
        // The first consumer of each worker answers its routes; a restart of it moves it to a new port.
        if self.ports[worker] == nil || key == "\(worker.rawValue)-1" { self.ports[worker] = port }
        return port
    }

    /// Stops the process named `consumerName` (by default the first of `worker`) gracefully.
    func stop(_ worker: Worker, consumerName: String? = nil) async {
        let key = consumerName ?? "\(worker.rawValue)-1"
        runningGroups[key] = nil
        guard let process = running.removeValue(forKey: key) else { return }
        await process.group.triggerGracefulShutdown()
        _ = try? await process.task.value
    }

    /// Stops every process and closes the test's connections.
    func shutdown() async {
        for key in running.keys.sorted() {
            if let process = running.removeValue(forKey: key) {
                await process.group.triggerGracefulShutdown()
                _ = try? await process.task.value
            }
        }
        await redis.close()
        await database.close()
    }

    /// The base URL of the process serving `worker`'s HTTP routes.
    func url(_ worker: Worker, _ path: String) -> String {
        "http://127.0.0.1:\(ports[worker] ?? 0)\(path)"
    }

    // MARK: - Waiting

    /// Waits until the group of every running worker has read and acknowledged everything on
    /// every stream: nothing is in flight. Checked twice in a row with no new entries between.
    /// Groups of stopped workers are left out: their backlog waits for them.
    func waitUntilQuiet(timeout: Duration = .seconds(90)) async throws {
        var previous: Int?
        _ = try await Self.eventually("the system to go quiet", timeout: timeout) { () async throws -> Bool? in
            let snapshot: Int?
            do {
                snapshot = try await self.quietSnapshot()
            } catch let error as RedisError where error.code == .connectionLost {
                return nil  // a test restarted Redis: the next look reconnects
            }
            defer { previous = snapshot }
            guard let snapshot, snapshot == previous else { return nil }
            return true
        }
    }

    /// The total number of entries added to all streams, if every group is caught up; else nil.
    private func quietSnapshot() async throws -> Int? {
        var total = 0
        for stream in topology.eventStreams {
            let reply = try await redis.send(["XINFO", "STREAM", stream])
            if case .error = reply { continue }  // no such stream yet: nothing in flight there
            total += Int(reply.keyedPairs["entries-added"]?.integer ?? 0)
            let active = Set(runningGroups.values)
            for group in try await redis.groups(of: stream) where active.contains(group.name) {
                guard group.pending == 0, group.lag == 0 else { return nil }
            }
        }
        return total
    }

    /// Polls `probe` until it returns a value. The timeout only guards against a hang: it is a
    /// failure, never a measurement.
    static func eventually<Value>(
        _ what: String,
        timeout: Duration = .seconds(60),
        isolation: isolated (any Actor)? = #isolation,
        _ probe: () async throws -> Value?
    ) async throws -> Value {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = try await probe() { return value }
            guard ContinuousClock.now < deadline else { throw TestServerError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private static func first(of stream: AsyncStream<Int>, within timeout: Duration, what: String) async throws -> Int {
        try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                for await value in stream { return value }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw TestServerError("timed out waiting for \(what)") }
            return first
        }
    }

    // MARK: - Client helpers

    /// The member of staff the helpers act as by default.
    static let admin = Caller.staff(name: "test-admin", roles: [.admin])

    /// A token for `caller`, from the system's issuer.
    func token(for caller: Caller) async throws -> String {
        try await issuer.token(for: caller)
    }

    /// `Authorization: Bearer …` for `caller`; no header for `nil`.
    func authorization(_ caller: Caller?) async throws -> [String: String] {
        guard let caller else { return [:] }
        return ["Authorization": "Bearer \(try await token(for: caller))"]
    }

    /// Sends a request to `worker`'s routes as `caller` (anonymously for `nil`).
    func send(
        _ method: String, _ worker: Worker, _ path: String, body: Data? = nil, headers: [String: String] = [:], as caller: Caller?
    ) async throws -> HTTPAnswer {
        try await HTTPClient.send(method, url(worker, path), body: body, headers: try await authorization(caller).merging(headers) { $1 })
    }

    /// `GET` from `worker`, as admin staff unless told otherwise.
    func get(_ worker: Worker, _ path: String, as caller: Caller? = ChorusSystem.admin) async throws -> HTTPAnswer {
        try await send("GET", worker, path, as: caller)
    }

    /// Posts JSON to the checkout API, as `caller`; by default as the customer a checkout names,
    /// and as admin staff for everything else.
    func post(_ path: String, _ body: sending Any, headers: [String: String] = [:], as caller: Caller?? = nil) async throws -> HTTPAnswer {
        let customer = path == "/checkouts" ? (body as? [String: Any])?["customer_id"] as? String : nil
        let data = try JSONSerialization.data(withJSONObject: body)
        let signer: Caller? = caller ?? customer.map { .customer(id: $0) } ?? Self.admin
        return try await send("POST", .checkoutAPI, path, body: data, headers: ["Content-Type": "application/json"].merging(headers) { $1 }, as: signer)
    }

    /// Sends a checkout; returns the answer.
    func checkout(customer: String, store: String, items: [(String, Int)], idempotencyKey: String? = nil) async throws -> HTTPAnswer {
        try await post(
            "/checkouts",
            ["customer_id": customer, "store_id": store, "items": items.map { ["sku": $0.0, "quantity": $0.1] }],
            headers: idempotencyKey.map { ["Idempotency-Key": $0] } ?? [:])
    }

    /// Seeds stores, products with stock at every store, and customers through the admin
    /// endpoints, then waits until every service has them.
    func seed(
        stores: [String] = ["store-01"],
        products: [(sku: String, priceCents: Int64, stock: Int)],
        customers: [(id: String, balanceCents: Int64)]
    ) async throws {
        for store in stores {
            try await expectAccepted(post("/admin/stores", ["store_id": store, "name": "Store \(store)", "channel": "physical"]))
        }
        for product in products {
            try await expectAccepted(post("/admin/products", ["sku": product.sku, "name": "Product \(product.sku)", "price_cents": product.priceCents]))
            for store in stores where product.stock > 0 {
                try await expectAccepted(post("/admin/stock", ["store_id": store, "sku": product.sku, "quantity": product.stock]))
            }
        }
        for customer in customers {
            try await expectAccepted(post("/admin/customers", [
                "customer_id": customer.id, "name": "Customer \(customer.id)", "email": "\(customer.id)@example.com",
                "opening_balance_cents": customer.balanceCents,
            ]))
        }
        try await waitUntilQuiet()
    }

    private func expectAccepted(_ answer: HTTPAnswer) throws {
        guard answer.status == 202 else {
            throw TestServerError("admin request answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
        }
    }

    /// The checkout's read model, once it is terminal.
    func terminalCheckout(_ id: String) async throws -> JSONValue {
        try await Self.eventually("checkout \(id) to end") {
            let answer = try await self.get(.cqrsProjection, "/checkouts/\(id)")
            guard answer.status == 200, let json = answer.json, let status = json["status"]?.string,
                status == "completed" || status == "failed"
            else { return nil }
            return json
        }
    }

    // MARK: - Looking at storage

    /// One integer from a query whose column is named `value`, e.g. a count or a stock level.
    func integer(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> Int64? {
        try await database.query(sql, parameters).first.flatMap { row in try row.decodeIfPresent("value", as: Int64.self) }
    }

    /// (on_hand, reserved, sold) of a stock item as stock-reservation holds it.
    func stock(_ store: String, _ sku: String) async throws -> (onHand: Int, reserved: Int, sold: Int)? {
        guard let row = try await database.query(
            "SELECT on_hand, reserved, sold FROM stock_reservation.stock WHERE store_id = $1 AND sku = $2", [store, sku]).first
        else { return nil }
        return (try row.decode("on_hand"), try row.decode("reserved"), try row.decode("sold"))
    }

    /// A customer's balance as payment holds it.
    func balance(_ customer: String) async throws -> Int64? {
        try await integer("SELECT balance_cents AS value FROM payment.accounts WHERE customer_id = $1", [customer])
    }

    /// Every entry of every event stream.
    func allEntries() async throws -> [StreamEntry] {
        var entries: [StreamEntry] = []
        for stream in topology.eventStreams { entries += try await redis.range(of: stream) }
        return entries
    }

    /// The entries of the dead-letter stream.
    func deadLetters() async throws -> [StreamEntry] {
        try await redis.range(of: topology.deadLetterStream)
    }
}
