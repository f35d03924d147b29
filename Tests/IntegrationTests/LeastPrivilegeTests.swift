import Audit
import CQRSProjection
import CheckoutAPI
import CheckoutDomain
import Compensation
import EventStore
import ExactlyOnce
import Foundation
import LocalServers
import OrderCreation
import Payment
import Postgres
import Provisioning
import Redis
import StockReservation
import StreamRuntime
import Testing
import TestSupport

/// Each service reaches its own data and nothing else, in PostgreSQL and in Redis.
///
/// Every system these tests start is provisioned as `chorus up` provisions one; the tests
/// connect as the services' roles and users and try what they must not do.
@Suite("Least privilege")
struct LeastPrivilegeTests {
    /// A provisioned system with no process running: its roles, schemas and users, and each
    /// service's tables, made as each service makes them at start-up: as its own role.
    static func provisioned() async throws -> ChorusSystem {
        let system = try await ChorusSystem.start([])
        let effects: [any EventEffect] = [
            CatalogueEffect(), StockReservationEffect(), PaymentEffect(), OrderCreationEffect(), CompensationEffect(), AuditEffect(),
            ProjectionEffect(),
        ]
        for effect in effects {
            let connection = await database(.service(effect.worker), of: system)
            defer { Task { await connection.close() } }
            try await Migrations.run(schema: effect.schema, statements: Migrations.statements(for: effect), on: connection)
        }
        return system
    }

    /// A PostgreSQL connection as `principal`'s role.
    static func database(_ principal: Principal, of system: ChorusSystem) async -> PostgresConnection {
        PostgresConnection(connectionString: await system.databaseURL(for: principal))
    }

    /// A Redis connection as `principal`'s user.
    static func redis(_ principal: Principal, of system: ChorusSystem) async throws -> RedisConnection {
        RedisConnection(configuration: try RedisConfiguration(url: await system.redisURL(for: principal)))
    }

    /// The SQLSTATE and message `body` fails with; nil if it succeeds.
    /// The table where a worker records the events it applied: its inbox, or for the event
    /// store and the audit trail, their own tables, keyed by event id.
    static func recordTable(of worker: Worker) -> String {
        switch worker {
        case .eventStore: "event_store.events"
        case .audit: "audit.audit_log"
        default: "\(AccessNames.schema(of: worker)).inbox"
        }
    }

    static func failure(_ body: () async throws -> Void) async -> PostgresError? {
        do {
            try await body()
            return nil
        } catch let error as PostgresError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    // MARK: - PostgreSQL

    @Test("the payment role reading stock-reservation's tables is denied (42501)")
    func paymentCannotReadStock() async throws {
        let system = try await Self.provisioned()
        defer { Task { await system.shutdown() } }
        let payment = await Self.database(.service(.payment), of: system)
        defer { Task { await payment.close() } }

        let read = await Self.failure { try await payment.query("SELECT * FROM stock_reservation.stock") }
        #expect(read?.sqlState == "42501", "\(String(describing: read))")
        let write = await Self.failure {
            try await payment.query("INSERT INTO stock_reservation.stock (store_id, sku, on_hand, received) VALUES ('s', 'k', 1, 1)")
        }
        #expect(write?.sqlState == "42501")
        // Its own tables it reads and writes.
        try await payment.query("INSERT INTO payment.accounts (customer_id, balance_cents) VALUES ('cus-1', 100)")
        #expect(try await payment.query("SELECT balance_cents FROM payment.accounts").count == 1)
    }

    @Test("no service role reads another service's schema, and none is a superuser")
    func everyServiceIsConfinedToItsSchema() async throws {
        let system = try await Self.provisioned()
        defer { Task { await system.shutdown() } }
        for worker in Worker.allCases {
            let connection = await Self.database(.service(worker), of: system)
            defer { Task { await connection.close() } }
            let role = try #require(try await connection.query(
                "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user").first)
            #expect(try role.decode("rolsuper", as: Bool.self) == false, "\(worker) is a superuser")
            #expect(try role.decode("rolcreaterole", as: Bool.self) == false)
            #expect(try role.decode("rolcreatedb", as: Bool.self) == false)
            for other in Worker.allCases {
                let inbox = Self.recordTable(of: other)
                let failure = await Self.failure { try await connection.query("SELECT count(*) FROM \(inbox)") }
                if other == worker {
                    #expect(failure == nil, "\(worker) cannot read its own inbox: \(String(describing: failure))")
                } else {
                    #expect(failure?.sqlState == "42501", "\(worker) reads \(inbox)")
                }
            }
            let creates = await Self.failure { try await connection.query("CREATE TABLE public.intruder (id int)") }
            #expect(creates?.sqlState == "42501", "\(worker) creates tables in public")
            let schemas = await Self.failure { try await connection.query("CREATE SCHEMA intruder") }
            #expect(schemas?.sqlState == "42501", "\(worker) creates schemas")
        }
    }

    @Test("the event-store role appends and reads events, but UPDATE and DELETE are denied by grants (42501)")
    func eventStoreIsAppendOnlyByGrant() async throws {
        let system = try await Self.provisioned()
        defer { Task { await system.shutdown() } }
        let store = await Self.database(.service(.eventStore), of: system)
        defer { Task { await store.close() } }

        // The service's own start-up finds its migrations done, though it may not run them.
        let effect = EventStoreEffect()
        try await Migrations.run(schema: effect.schema, statements: Migrations.statements(for: effect), on: store)

        try await store.query(
            """
            INSERT INTO event_store.events (event_id, event_type, payload, correlation_id, producer, occurred_at)
            VALUES ('e-1', 'StoreOpened', '{}', 'c-1', 'test', now())
            """)
        #expect(try await store.query("SELECT event_id FROM event_store.events").count == 1)
        for statement in [
            "UPDATE event_store.events SET producer = 'forger'",
            "DELETE FROM event_store.events",
            "TRUNCATE event_store.events CASCADE",
            "UPDATE event_store.aggregate_events SET version = 9",
            "DELETE FROM event_store.aggregate_events",
            "DROP TRIGGER events_append_only ON event_store.events",
            "ALTER TABLE event_store.events DISABLE TRIGGER ALL",
        ] {
            let failure = await Self.failure { try await store.query(statement) }
            #expect(failure?.sqlState == "42501", "\(statement): \(String(describing: failure))")
            // Refused by the grants, before any trigger could run.
            #expect(failure?.message.contains("immutable") == false, "\(statement) reached the trigger")
        }
        let member = try await store.query(
            "SELECT pg_has_role(current_user, $1, 'MEMBER') AS member", [system.accessNames.ownerRole(of: .eventStore)])
        #expect(try member.first?.decode("member", as: Bool.self) == false, "the event-store role could become the owner")
    }

    @Test("the append-only trigger still refuses UPDATE and DELETE to the events' owner")
    func triggerIsTheSecondWall() async throws {
        let system = try await Self.provisioned()
        defer { Task { await system.shutdown() } }
        let owner = PostgresConnection(connectionString: system.configuration.databaseURL)
        defer { Task { await owner.close() } }
        try await owner.query("SET ROLE \(system.accessNames.ownerRole(of: .eventStore))")
        try await owner.query(
            """
            INSERT INTO event_store.events (event_id, event_type, payload, correlation_id, producer, occurred_at)
            VALUES ('e-1', 'StoreOpened', '{}', 'c-1', 'test', now())
            """)
        for statement in ["UPDATE event_store.events SET producer = 'forger'", "DELETE FROM event_store.events"] {
            let failure = await Self.failure { try await owner.query(statement) }
            #expect(failure?.sqlState == "42501")
            #expect(failure?.message.contains("events are immutable") == true, "\(String(describing: failure))")
        }
    }

    @Test("the operator role reads every schema and writes none")
    func operatorReadsEverything() async throws {
        let system = try await Self.provisioned()
        defer { Task { await system.shutdown() } }
        let operatorDatabase = await Self.database(.operator, of: system)
        defer { Task { await operatorDatabase.close() } }
        for worker in Worker.allCases {
            let inbox = Self.recordTable(of: worker)
            let failure = await Self.failure { try await operatorDatabase.query("SELECT count(*) FROM \(inbox)") }
            #expect(failure == nil, "the operator cannot read \(inbox): \(String(describing: failure))")
        }
        try await operatorDatabase.query("SELECT count(*) FROM event_store.events")
        try await operatorDatabase.query("SELECT count(*) FROM stock_reservation.stock")
        let write = await Self.failure { try await operatorDatabase.query("DELETE FROM payment.accounts") }
        #expect(write?.sqlState == "42501")
    }

    @Test("provisioning again changes nothing, and hands tables an older single-user Chorus made to their service")
    func provisioningIsIdempotentAndAdoptsOldTables() async throws {
        let servers = try await TestServers.shared()
        let url = try await servers.makeDatabase()
        let admin = PostgresConnection(connectionString: url)
        defer { Task { await admin.close() } }
        // What an older Chorus left: schemas and tables owned by the superuser it ran as.
        let effect = EventStoreEffect()
        try await Migrations.run(schema: "payment", statements: ["CREATE TABLE IF NOT EXISTS payment.accounts (customer_id text PRIMARY KEY)"], on: admin)
        try await Migrations.run(schema: effect.schema, statements: Migrations.statements(for: effect), on: admin)

        let names = try AccessNames(prefix: servers.uniqueName("legacy"))
        let credentials = Credentials.generate()
        for _ in 0..<2 {
            try await DatabaseProvisioner(names: names).provision(admin: admin, credentials: credentials, sealed: ChorusSystem.sealedSchemas)
        }
        let owners = try await admin.query(
            """
            SELECT n.nspname || '.' || c.relname AS name, pg_get_userbyid(c.relowner) AS owner
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('payment', 'event_store') AND c.relkind = 'r'
            """)
        #expect(!owners.isEmpty)
        for row in owners {
            let name = try row.decode("name", as: String.self)
            let expected = name.hasPrefix("payment.") ? names.role(for: .service(.payment)) : names.ownerRole(of: .eventStore)
            #expect(try row.decode("owner", as: String.self) == expected, "\(name)")
        }
    }

    @Test("role names derive from the stream prefix, so deployments sharing a server do not share roles")
    func namesFollowThePrefix() throws {
        let names = try AccessNames(prefix: "shop-eu.1")
        #expect(names.role(for: .service(.stockReservation)) == "shop_eu_1_stock_reservation")
        #expect(names.ownerRole(of: .eventStore) == "shop_eu_1_event_store_owner")
        #expect(names.role(for: .operator) == "shop_eu_1_operator")
        #expect(names.redisUser(for: .service(.payment)) == "shop-eu.1-payment")
        #expect(throws: ProvisioningError.self) { try AccessNames(prefix: "chorus*") }
        #expect(throws: ProvisioningError.self) { try AccessNames(prefix: "") }
        for worker in Worker.allCases {
            #expect(names.role(for: .service(worker)).count <= 63)
        }
    }

    @Test("the secrets deploy/compose/make-secrets writes name the roles and users Chorus derives, and provision a system")
    func composeSecretsProvision() async throws {
        let servers = try await TestServers.shared()
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let compose = servers.directory.appendingPathComponent(servers.uniqueName("compose"))
        try FileManager.default.createDirectory(at: compose, withIntermediateDirectories: true)
        let script = compose.appendingPathComponent("make-secrets")
        try FileManager.default.copyItem(at: repository.appendingPathComponent("deploy/compose/make-secrets"), to: script)
        let prefix = servers.uniqueName("Shop")
        let log = compose.appendingPathComponent("make-secrets.log")
        try await Shell.run(["/bin/sh", script.path, "--prefix", prefix], logTo: log)
        let secrets = compose.appendingPathComponent("secrets")
        let first = try SecretFiles.read(secrets.appendingPathComponent("payment-redis-url"))
        try await Shell.run(["/bin/sh", script.path, "--prefix", prefix], logTo: log)
        #expect(try SecretFiles.read(secrets.appendingPathComponent("payment-redis-url")) == first, "a second run changed a password")

        let names = try AccessNames(prefix: prefix)
        let credentials = try SecretFiles.credentials(in: secrets, names: names)
        let admin = PostgresConnection(connectionString: try await servers.makeDatabase())
        defer { Task { await admin.close() } }
        try await DatabaseProvisioner(names: names).provision(admin: admin, credentials: credentials, sealed: ChorusSystem.sealedSchemas)
        let redisAdmin = RedisConnection(configuration: servers.redisConfiguration)
        defer { Task { await redisAdmin.close() } }
        try await RedisAccessControl(names: names).apply(credentials: credentials, on: redisAdmin)

        // The compose URL, pointed at the test server instead of the `redis` container.
        let composeURL = try SecretFiles.read(secrets.appendingPathComponent("payment-redis-url"))
        let payment = RedisConnection(configuration: try RedisConfiguration(
            url: composeURL.replacingOccurrences(of: "@redis:6379", with: "@127.0.0.1:\(servers.redisPort)")))
        defer { Task { await payment.close() } }
        #expect(try await payment.execute(["PING"]) == .status("PONG"))
        let roles = try await admin.query("SELECT count(*) AS value FROM pg_roles WHERE rolname LIKE $1", [names.rolePrefix + "\\_%"])
        #expect(try roles.first?.decode("value", as: Int64.self) == Int64(Principal.all.count + 1))
    }

    @Test("chorus up's PostgreSQL asks TCP clients for a password; the superuser connects only through its socket")
    func clusterRequiresPasswords() async throws {
        let servers = try await TestServers.shared()
        let directory = servers.directory.appendingPathComponent(servers.uniqueName("password-cluster"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let cluster = PostgresCluster(
            dataDirectory: directory.appendingPathComponent("postgres"), socketDirectory: directory.appendingPathComponent("sockets"),
            port: try FreePort.next(), requiresPasswords: true)
        try await cluster.initialize(log: directory.appendingPathComponent("initdb.log"))
        try cluster.writeAuthenticationRules()
        let server = try ChildProcess(command: try cluster.serverCommand(), output: directory.appendingPathComponent("postgres.log"))
        defer { server.send(SIGINT) }

        let admin = PostgresConnection(connectionString: cluster.adminConnectionString(database: "postgres"))
        defer { Task { await admin.close() } }
        _ = try await ChorusSystem.eventually("the cluster to accept its superuser on the socket") {
            try? await admin.query("SELECT 1")
        }
        let password = Secrets.generatePassword()
        // A generated password: base64url, safe to quote.
        try await admin.query("CREATE ROLE chorus_payment LOGIN PASSWORD '\(password)'")

        let superuserOverTCP = PostgresConnection(connectionString: cluster.connectionString(database: "postgres"))
        defer { Task { await superuserOverTCP.close() } }
        await #expect(throws: PostgresError.self) { try await superuserOverTCP.query("SELECT 1") }
        let wrongPassword = PostgresConnection(connectionString: cluster.connectionString(
            database: "postgres", user: "chorus_payment", password: Secrets.generatePassword()))
        defer { Task { await wrongPassword.close() } }
        await #expect(throws: PostgresError.self) { try await wrongPassword.query("SELECT 1") }
        let payment = PostgresConnection(connectionString: cluster.connectionString(
            database: "postgres", user: "chorus_payment", password: password))
        defer { Task { await payment.close() } }
        #expect(try await payment.query("SELECT current_user AS name").first?.decode("name", as: String.self) == "chorus_payment")
    }

    // MARK: - Redis

    @Test("the payment user doing XADD on a stream it does not write gets NOPERM")
    func paymentCannotWriteTheReferenceStream() async throws {
        let system = try await ChorusSystem.start([])
        defer { Task { await system.shutdown() } }
        let payment = try await Self.redis(.service(.payment), of: system)
        defer { Task { await payment.close() } }
        let topology = await system.topology

        let denied = try await payment.send(["XADD", topology.referenceStream, "*", "type", "StoreOpened"])
        guard case .error(let message) = denied else {
            Issue.record("payment added to \(topology.referenceStream): \(denied)")
            return
        }
        #expect(message.hasPrefix("NOPERM"), "\(message)")
        // Nor may it touch keys outside its streams, or run other commands on its own.
        #expect(try await payment.send(["SET", "\(topology.prefix):anything", "1"]).isNoPermission)
        #expect(try await payment.send(["XTRIM", topology.checkoutStream(partition: 0), "MAXLEN", "0"]).isNoPermission)
        #expect(try await payment.send(["FLUSHALL"]).isNoPermission)
        #expect(try await payment.send(["KEYS", "*"]).isNoPermission)

        // What it does: read the reference stream in its group, publish checkout events and dead letters.
        try await payment.ensureGroup(stream: topology.referenceStream, group: Worker.payment.groupName)
        _ = try await payment.readGroup(
            group: Worker.payment.groupName, consumer: "p-1", streams: [topology.referenceStream], count: 10, blockMilliseconds: nil)
        try await payment.append([
            OutgoingEntry(stream: topology.checkoutStream(partition: 1), fields: [(name: "type", value: "PaymentAuthorized")]),
            OutgoingEntry(stream: topology.deadLetterStream, fields: [(name: "reason", value: "test")]),
        ])
        #expect(try await payment.execute(["PING"]) == .status("PONG"))
        _ = try await payment.groups(of: topology.referenceStream)
    }

    @Test("an unauthenticated PING gets NOAUTH: the default user is off")
    func unauthenticatedPingIsRefused() async throws {
        let servers = try await TestServers.shared()
        let anonymous = RedisConnection(configuration: servers.unauthenticatedRedisConfiguration, connectAttempts: 1)
        defer { Task { await anonymous.close() } }
        let reply = try await anonymous.send(["PING"])
        guard case .error(let message) = reply else {
            Issue.record("an unauthenticated PING answered \(reply)")
            return
        }
        #expect(message.hasPrefix("NOAUTH"), "\(message)")
    }

    @Test("each service's user does its job on its streams, and may not XADD where it emits nothing")
    func everyUserFitsItsWorker() async throws {
        let system = try await ChorusSystem.start([])
        defer { Task { await system.shutdown() } }
        let topology = await system.topology
        for worker in Worker.allCases {
            let redis = try await Self.redis(.service(worker), of: system)
            defer { Task { await redis.close() } }
            for stream in topology.streams(readBy: worker) {
                try await redis.ensureGroup(stream: stream, group: worker.groupName)
                _ = try await redis.readGroup(group: worker.groupName, consumer: "c", streams: [stream], count: 1, blockMilliseconds: nil)
                _ = try await redis.groups(of: stream)
            }
            let emitsReference = worker.emits.contains { $0.isReferenceData }
            let emitsCheckout = worker.emits.contains { !$0.isReferenceData }
            for (stream, allowed) in [
                (topology.referenceStream, emitsReference), (topology.checkoutStream(partition: 0), emitsCheckout),
                (topology.deadLetterStream, true),
            ] {
                let reply = try await redis.send(["XADD", stream, "*", "type", "probe"])
                #expect(reply.isNoPermission == !allowed, "\(worker) XADD \(stream): \(reply)")
            }
        }
    }

    @Test("the operator user reads every stream, re-publishes and records retries, and cannot delete streams")
    func operatorUser() async throws {
        let system = try await ChorusSystem.start([])
        defer { Task { await system.shutdown() } }
        let topology = await system.topology
        let operatorRedis = try await Self.redis(.operator, of: system)
        defer { Task { await operatorRedis.close() } }
        try await operatorRedis.append([OutgoingEntry(stream: topology.referenceStream, fields: [(name: "type", value: "probe")])])
        #expect(try await operatorRedis.range(of: topology.referenceStream).count == 1)
        let retried = "\(topology.deadLetterStream):retried"
        let script = "if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 1 then return redis.call('XADD', KEYS[2], '*', 'type', 'probe') end return false"
        let first = try await operatorRedis.execute(["EVAL", script, "2", retried, topology.referenceStream, "dl-1"])
        #expect(first.string != nil)
        #expect(try await operatorRedis.execute(["HGET", retried, "dl-1"]) == .bulk("1"))
        #expect(try await operatorRedis.send(["DEL", topology.referenceStream]).isNoPermission)
        #expect(try await operatorRedis.send(["XGROUP", "DESTROY", topology.referenceStream, "payment"]).isNoPermission)
        #expect(try await operatorRedis.send(["ACL", "LIST"]).isNoPermission)
    }

    @Test("the generated ACL file starts a redis-server with the default user off and every user working")
    func aclFileStartsAServer() async throws {
        let servers = try await TestServers.shared()
        let names = try AccessNames(prefix: "chorus")
        let credentials = Credentials.generate()
        let control = RedisAccessControl(names: names)
        let file = try control.aclFile(credentials: credentials)
        for password in credentials.redis.values {
            #expect(!file.contains(password), "the ACL file holds a password")
        }

        let directory = servers.directory.appendingPathComponent(servers.uniqueName("acl-redis"))
        let acl = directory.appendingPathComponent("users.acl")
        try RedisServer.writePrivateFile(file, to: acl)
        let port = try FreePort.next()
        let server = RedisServer(directory: directory, port: port, appendOnly: false, aclFile: acl)
        let process = try ChildProcess(command: try server.serverCommand(), output: nil)
        defer { process.send(SIGTERM) }
        let payment = RedisConnection(configuration: RedisConfiguration(
            host: "127.0.0.1", port: port, username: names.redisUser(for: .service(.payment)), password: credentials.redis["payment"]))
        defer { Task { await payment.close() } }
        let pong = try await ChorusSystem.eventually("the ACL-protected redis-server to answer") {
            try? await payment.execute(["PING"])
        }
        #expect(pong == .status("PONG"))
        #expect(try await payment.send(["XADD", "chorus:reference", "*", "type", "probe"]).isNoPermission)
        #expect(try await payment.send(["XADD", "chorus:checkouts:3", "*", "type", "probe"]).string != nil)

        let anonymous = RedisConnection(configuration: RedisConfiguration(host: "127.0.0.1", port: port), connectAttempts: 1)
        defer { Task { await anonymous.close() } }
        guard case .error(let message) = try await anonymous.send(["PING"]) else {
            Issue.record("the default user answered")
            return
        }
        #expect(message.hasPrefix("NOAUTH"))
    }
}

extension RedisValue {
    /// Whether the reply is Redis's refusal by ACL.
    var isNoPermission: Bool {
        if case .error(let message) = self { return message.hasPrefix("NOPERM") }
        return false
    }
}
