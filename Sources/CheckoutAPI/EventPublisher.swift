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
    public func publish(_ entries: [OutgoingEntry]) async throws {
        try await redis.connection.append(entries)
        PublishMetrics(producer: Worker.checkoutAPI.rawValue, factory: metrics).record(entries)
    }
}
