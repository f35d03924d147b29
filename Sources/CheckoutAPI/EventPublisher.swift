import CheckoutDomain
import CoreMetrics
import Observability
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
        for entry in entries {
            guard let type = entry.fields.first(where: { $0.name == StreamField.type })?.value else { continue }
            Counter(
                label: ChorusMetric.eventsPublished.rawValue, dimensions: [("producer", Worker.checkoutAPI.rawValue), ("type", type)],
                factory: metrics
            ).increment()
        }
    }
}
