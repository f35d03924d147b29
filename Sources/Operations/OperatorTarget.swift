import CheckoutDomain
import Foundation
import Postgres
import Redis

/// The running system an operator command looks at: its Redis, its PostgreSQL and its streams.
///
/// Every command opens its own connections from here and closes them when it is done, and every
/// message it prints names the servers through ``redisDisplay`` and ``databaseDisplay``, which
/// never carry a password.
public struct OperatorTarget: Sendable, Hashable {
    /// `redis://[user:password@]host:port[/db]`.
    public var redisURL: String
    /// A libpq URL (`postgresql://…`) or key=value connection string.
    public var databaseURL: String
    /// The stream names (prefix and partitions).
    public var topology: StreamTopology

    /// Names a system; nothing connects until a command runs.
    public init(redisURL: String, databaseURL: String, topology: StreamTopology) {
        self.redisURL = redisURL
        self.databaseURL = databaseURL
        self.topology = topology
    }

    /// Redis's address, for messages: the URL with its password replaced.
    public var redisDisplay: String { RedisConfiguration.redacted(redisURL) }

    /// PostgreSQL's address, for messages: host, port and database only.
    public var databaseDisplay: String { Self.databaseLocation(databaseURL) }

    /// `host:port/database` of a libpq URL or connection string; user names and passwords are left out.
    public static func databaseLocation(_ connection: String) -> String {
        if connection.hasPrefix("postgres://") || connection.hasPrefix("postgresql://"),
            let components = URLComponents(string: connection)
        {
            let host = components.host.map { $0.isEmpty ? "localhost" : $0 } ?? "localhost"
            let port = components.port.map { ":\($0)" } ?? ""
            let database = components.path.drop { $0 == "/" }
            return "\(host)\(port)/\(database)"
        }
        // key=value form: keep only the keys that locate the server.
        var values: [String: String] = [:]
        for pair in connection.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
        }
        let host = values["host"] ?? values["hostaddr"] ?? "localhost"
        let port = values["port"].map { ":\($0)" } ?? ""
        return "\(host)\(port)/\(values["dbname"] ?? "")"
    }

    /// Runs `body` with a Redis connection that is closed afterwards; failures become ``OperatorError``.
    func withRedis<Result: Sendable>(_ body: (RedisConnection) async throws -> Result) async throws(OperatorError) -> Result {
        let configuration: RedisConfiguration
        do {
            configuration = try RedisConfiguration(url: redisURL)
        } catch {
            throw .misconfigured("the Redis URL (CHORUS_REDIS_URL or --redis-url) is not usable: \(error.message)")
        }
        // Two attempts with a short backoff: an operator wants to hear about an outage at once.
        let redis = RedisConnection(configuration: configuration, connectAttempts: 2)
        do {
            let result = try await body(redis)
            await redis.close()
            return result
        } catch {
            await redis.close()
            throw classify(error)
        }
    }

    /// Runs `body` with a PostgreSQL connection that is closed afterwards; failures become ``OperatorError``.
    func withDatabase<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws(OperatorError) -> Result {
        if let problem = PostgresConnection.problem(with: databaseURL) {
            throw .misconfigured("the PostgreSQL URL (CHORUS_DATABASE_URL or --database-url) is not usable: \(problem)")
        }
        let database = PostgresConnection(connectionString: databaseURL)
        do {
            let result = try await body(database)
            await database.close()
            return result
        } catch {
            await database.close()
            throw classify(error)
        }
    }

    /// Runs `body` with a Redis connection as this target's user, closed afterwards; a failure
    /// becomes an ``OperatorError`` with its exit status (69 unreachable, 77 refused, 78 a URL
    /// that is not one).
    public func withRedisConnection<Result: Sendable>(
        _ body: (RedisConnection) async throws -> Result
    ) async throws(OperatorError) -> Result {
        try await withRedis(body)
    }

    func classify(_ error: any Error) -> OperatorError {
        switch error {
        case let error as OperatorError: error
        case let error as RedisError: OperatorError.from(error, endpoint: redisDisplay)
        case let error as PostgresError: OperatorError.from(error, endpoint: databaseDisplay)
        default: .failed(String(describing: error))
        }
    }
}
