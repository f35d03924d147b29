import CheckoutDomain
import Postgres

/// Creates one deployment's PostgreSQL roles and schemas, with least privilege.
///
/// - Every service logs in as its own role (`chorus_payment`), which owns its schema and so
///   creates its own tables at start-up, and has no right on any other schema.
/// - A *sealed* schema (the event store's) belongs to a role nobody logs in as
///   (`chorus_event_store_owner`); its migrations run here, as that owner, and the service's role
///   may only `SELECT` and `INSERT`: never `UPDATE`, `DELETE` or change the tables. The event
///   store's append-only trigger stays, as a second wall.
/// - The operator role reads every schema and writes none.
/// - `PUBLIC` may not connect to the database nor use the `public` schema.
///
/// Provisioning is idempotent: it runs at every `chorus up` and compose start, sets the
/// passwords it is given, and hands objects left by an older, single-role Chorus to their owners.
public struct DatabaseProvisioner: Sendable {
    public let names: AccessNames

    /// A schema whose objects belong to a role no service logs in as.
    public struct SealedSchema: Sendable {
        public var worker: Worker
        /// Creates the schema's tables on a connection already acting as the owner; it must be
        /// safe to run again (`Migrations.run` is).
        public var migrate: @Sendable (PostgresConnection) async throws -> Void

        /// Seals `worker`'s schema; `migrate` creates its tables.
        public init(worker: Worker, migrate: @escaping @Sendable (PostgresConnection) async throws -> Void) {
            self.worker = worker
            self.migrate = migrate
        }
    }

    /// Provisions the deployment `names` describes.
    public init(names: AccessNames) {
        self.names = names
    }

    /// Provisions the database `admin` is connected to.
    /// - Parameters:
    ///   - admin: a superuser connection (or one with `CREATEROLE` that owns the database).
    ///   - credentials: every principal's PostgreSQL password.
    ///   - sealed: the schemas whose owner is not the service's login role.
    public func provision(admin: PostgresConnection, credentials: Credentials, sealed: [SealedSchema]) async throws {
        let sealedWorkers = Set(sealed.map(\.worker))
        for principal in Principal.all {
            guard let password = credentials.postgres[principal.name], Secrets.isWellFormed(password) else {
                throw ProvisioningError("no well-formed PostgreSQL password for \(principal)")
            }
            try await ensureRole(names.role(for: principal), login: true, password: password, on: admin)
        }
        for worker in sealedWorkers.sorted(by: { $0.rawValue < $1.rawValue }) {
            try await ensureRole(names.ownerRole(of: worker), login: false, password: nil, on: admin)
        }

        let names = self.names
        let database = try await admin.query("SELECT quote_ident(current_database()) AS name").first?.decode("name", as: String.self)
        guard let database else { throw ProvisioningError("PostgreSQL did not name the current database") }
        try await admin.withRetryingTransaction { admin in
            // Roles are server-wide: serialise provisioners of this database.
            try admin.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["chorus-provisioning"])
            // `database` was quoted by PostgreSQL itself; every other identifier below is made by
            // AccessNames from a fixed alphabet. Utility statements take no parameters.
            try admin.query("REVOKE ALL ON DATABASE \(database) FROM PUBLIC")
            try admin.query("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            for principal in Principal.all {
                try admin.query("GRANT CONNECT ON DATABASE \(database) TO \(names.role(for: principal))")
            }
            for worker in Worker.allCases {
                let schema = AccessNames.schema(of: worker)
                let owner = sealedWorkers.contains(worker) ? names.ownerRole(of: worker) : names.role(for: .service(worker))
                try admin.query("CREATE SCHEMA IF NOT EXISTS \(schema) AUTHORIZATION \(owner)")
                try admin.query("ALTER SCHEMA \(schema) OWNER TO \(owner)")
                try admin.query("REVOKE ALL ON SCHEMA \(schema) FROM PUBLIC")
                try Self.handOver(schema: schema, to: owner, in: admin)
            }
        }

        for schema in sealed {
            try await admin.query("SET ROLE \(names.ownerRole(of: schema.worker))")
            do {
                try await schema.migrate(admin)
            } catch {
                _ = try? await admin.query("RESET ROLE")
                throw error
            }
            try await admin.query("RESET ROLE")
        }

        try await admin.withRetryingTransaction { admin in
            try admin.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["chorus-provisioning"])
            let reader = names.role(for: .operator)
            for worker in Worker.allCases {
                let schema = AccessNames.schema(of: worker)
                let login = names.role(for: .service(worker))
                let owner = sealedWorkers.contains(worker) ? names.ownerRole(of: worker) : login
                if sealedWorkers.contains(worker) {
                    // Append and read, nothing else: the owner keeps every other right.
                    try admin.query("GRANT USAGE ON SCHEMA \(schema) TO \(login)")
                    try admin.query("REVOKE ALL ON ALL TABLES IN SCHEMA \(schema) FROM \(login)")
                    try admin.query("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA \(schema) TO \(login)")
                    try admin.query("GRANT USAGE ON ALL SEQUENCES IN SCHEMA \(schema) TO \(login)")
                    try admin.query("ALTER DEFAULT PRIVILEGES FOR ROLE \(owner) IN SCHEMA \(schema) GRANT SELECT, INSERT ON TABLES TO \(login)")
                    try admin.query("ALTER DEFAULT PRIVILEGES FOR ROLE \(owner) IN SCHEMA \(schema) GRANT USAGE ON SEQUENCES TO \(login)")
                }
                try admin.query("GRANT USAGE ON SCHEMA \(schema) TO \(reader)")
                try admin.query("GRANT SELECT ON ALL TABLES IN SCHEMA \(schema) TO \(reader)")
                // Tables a service creates later are readable by the operator too.
                try admin.query("ALTER DEFAULT PRIVILEGES FOR ROLE \(owner) IN SCHEMA \(schema) GRANT SELECT ON TABLES TO \(reader)")
            }
        }
    }

    /// Creates `role` or, when it exists, resets its attributes and password.
    private func ensureRole(_ role: String, login: Bool, password: String?, on admin: PostgresConnection) async throws {
        // `role` is made by AccessNames and `password` is checked by Secrets.isWellFormed, both
        // from fixed alphabets: CREATE ROLE and ALTER ROLE take no parameters.
        let attributes = (login ? "LOGIN" : "NOLOGIN") + " NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
            + (password.map { " PASSWORD '\($0)'" } ?? " PASSWORD NULL")
        let exists = try await !admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]).isEmpty
        if !exists {
            do {
                try await admin.query("CREATE ROLE \(role) \(attributes)")
                return
            } catch {
                // Another provisioner created it meanwhile (roles are server-wide): set it as ours.
                guard error.sqlState == "42710" || error.isUniqueViolation else { throw error }
            }
        }
        try await admin.query("ALTER ROLE \(role) \(attributes)")
    }

    /// Gives `owner` every table and routine of `schema` that another role owns: those an older
    /// Chorus created as its single database user.
    private static func handOver(schema: String, to owner: String, in admin: isolated PostgresConnection) throws {
        // `schema` and `owner` come from AccessNames (a fixed alphabet); catalogue names are
        // quoted by format('%I') and regprocedure.
        try admin.query(
            """
            DO $$
            DECLARE
                item record;
            BEGIN
                FOR item IN
                    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = '\(schema)' AND c.relkind IN ('r', 'p') AND c.relowner <> '\(owner)'::regrole
                LOOP
                    EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', '\(schema)', item.relname, '\(owner)');
                END LOOP;
                FOR item IN
                    SELECT p.oid::regprocedure AS signature FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = '\(schema)' AND p.proowner <> '\(owner)'::regrole
                LOOP
                    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', item.signature, '\(owner)');
                END LOOP;
            END
            $$
            """)
    }
}
