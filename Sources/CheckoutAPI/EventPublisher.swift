import CheckoutDomain
import CoreMetrics
import Redis
import StreamRuntime

/// Publishes events a request starts, straight to their stream.
public struct EventPublisher: Sendable {
    let redis: RedisConnectionPool
    public let topology: StreamTopology
    let metrics: any MetricsFactory

    public init(redis: RedisConnectionPool, topology: StreamTopology, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.redis = redis
        self.topology = topology
        self.metrics = metrics
    }

    /// The stream entry for an envelope.
    public func entry(for envelope: EventEnvelope) -> OutgoingEntry {
        OutgoingEntry(stream: topology.stream(for: envelope.event), fields: envelope.streamFields)
    }

    /// Appends the entries; when this returns, Redis has them.
    ///
    /// A connection found lost is followed by one more try on the same connection, which has
    /// dropped its socket and opens a fresh one (the pool's next connection may be as stale,
    /// when Redis restarted moments ago). Should the first try have reached Redis after all,
    /// the entries are in the stream twice with the same event ids, and every consumer's inbox
    /// skips the copy.
    public func publish(_ entries: [OutgoingEntry]) async throws {
        let connection = redis.connection
        do {
            _ = try await connection.append(entries)
        } catch {
            guard error.code == .connectionLost || error.code == .connectionFailed else { throw error }
            _ = try await connection.append(entries)
        }
        PublishMetrics(producer: Worker.checkoutAPI.rawValue, factory: metrics).record(entries)
    }
}
