import Synchronization

/// A few connections used in turn, for servers that send many short commands at once.
/// Each connection runs its commands one after another; the pool spreads the load.
public final class RedisConnectionPool: Sendable {
    public let connections: [RedisConnection]
    private let next = Atomic<Int>(0)

    /// - Parameter size: how many connections to open (at least one).
    public init(configuration: RedisConfiguration, size: Int) {
        connections = (0..<max(1, size)).map { _ in RedisConnection(configuration: configuration) }
    }

    /// The connection to use for the next command.
    public var connection: RedisConnection {
        let index = next.add(1, ordering: .relaxed).oldValue
        return connections[index % connections.count]
    }

    public func close() async {
        for connection in connections { await connection.close() }
    }
}
