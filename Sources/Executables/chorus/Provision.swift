import ArgumentParser
import CheckoutDomain
import EventStore
import Foundation
import LocalStack
import Postgres
import Provisioning
import Redis
import ServiceSupport

/// `chorus provision`: least privilege for a deployment that is not `chorus up` (compose).
struct Provision: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create every service's PostgreSQL role and schema, and write the Redis ACL file.",
        discussion: """
            Run once before the services start, and again after an upgrade; it is idempotent. It reads each \
            principal's URLs from --secrets-dir (files <name>-database-url and <name>-redis-url, for every service \
            and for operator, as deploy/compose/make-secrets writes them), sets each role's password from its \
            URL, and writes an ACL file (password hashes only) for redis-server --aclfile. compose.yaml runs it \
            as its one-shot `provision` service. `chorus up` provisions by itself.

            Example:
              chorus provision --admin-database-url-file /run/secrets/admin-database-url \\
                --secrets-dir /run/secrets --redis-acl-file /var/lib/chorus/redis-acl/users.acl
            """
    )

    @Option(help: "A file holding a superuser's PostgreSQL URL, for the database to provision.")
    var adminDatabaseURLFile: String

    @Option(help: "The directory of the principals' URL files.")
    var secretsDir = "/run/secrets"

    @Option(help: "Where to write the Redis ACL file.")
    var redisACLFile: String

    @Option(help: "The stream prefix (default: CHORUS_STREAM_PREFIX, else chorus).")
    var prefix: String?

    @Option(help: "How long to wait for PostgreSQL, in seconds.")
    var waitSeconds = 60

    func run() async throws {
        let prefix = try self.prefix ?? ChorusConfiguration.fromEnvironment().streamPrefix
        let names = try AccessNames(prefix: prefix)
        let credentials = try SecretFiles.credentials(in: URL(fileURLWithPath: secretsDir), names: names)
        let adminURL = try Self.read(adminDatabaseURLFile)

        let acl = try RedisAccessControl(names: names).aclFile(credentials: credentials)
        let aclURL = URL(fileURLWithPath: redisACLFile)
        try FileManager.default.createDirectory(at: aclURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Hashes only, so another user may read it: redis-server runs as its own user.
        guard FileManager.default.createFile(atPath: aclURL.path, contents: Data(acl.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw CLIError("cannot write \(aclURL.path)")
        }

        let admin = PostgresConnection(connectionString: adminURL)
        let deadline = ContinuousClock.now + .seconds(waitSeconds)
        while (try? await admin.query("SELECT 1")) == nil {
            guard ContinuousClock.now < deadline else {
                await admin.close()
                throw CLIError("PostgreSQL did not answer within \(waitSeconds) s")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        do {
            try await DatabaseProvisioner(names: names).provision(admin: admin, credentials: credentials, sealed: [LocalStack.sealed(EventStoreEffect())])
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        print("provisioned \(Principal.all.count) roles and Redis users for prefix \(prefix); wrote \(aclURL.path)")
    }

    static func read(_ path: String) throws -> String {
        try SecretFiles.read(URL(fileURLWithPath: path))
    }
}
