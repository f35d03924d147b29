import Synchronization

/// A few connections used in turn, for servers that run many short statements at once.
/// A transaction always runs on one connection, from `BEGIN` to `COMMIT`.
public final class PostgresConnectionPool: Sendable {
    public let connections: [PostgresConnection]
    private let next = Atomic<Int>(0)

    /// - Parameter size: how many connections to open (at least one).
    /// - Parameter sessionSettings: applied to every connection's sessions.
    public init(connectionString: String, size: Int, sessionSettings: PostgresSessionSettings = .serverDefaults) {
        connections = (0..<max(1, size)).map { _ in PostgresConnection(connectionString: connectionString, sessionSettings: sessionSettings) }
    }

    /// The connection to use for the next statement or transaction.
    public var connection: PostgresConnection {
        let index = next.add(1, ordering: .relaxed).oldValue
        return connections[index % connections.count]
    }

    /// Runs `body` on a connection; when that connection turns out lost, runs it once more on
    /// the next one, which reconnects first if it must. For work that is safe to repeat (reads,
    /// or a transaction that is all or nothing and idempotent): a server that restarted, or a
    /// connection an administrator ended, then costs the caller nothing.
    public func withConnection<Result: Sendable>(
        retryingOnceIfLost body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await body(connection)
        } catch let error as PostgresError where error.isConnectionProblem {
            return try await body(connection)
        }
    }

    public func close() async {
        for connection in connections { await connection.close() }
    }
}
