import CheckoutDomain
import Redis
import StreamRuntime

/// Publishes events a request starts, straight to their stream.
public struct EventPublisher: Sendable {
    let redis: RedisConnectionPool
    public let topology: StreamTopology

    public init(redis: RedisConnectionPool, topology: StreamTopology) {
        self.redis = redis
        self.topology = topology
    }

    /// The stream entry for an envelope.
    public func entry(for envelope: EventEnvelope) -> OutgoingEntry {
        OutgoingEntry(stream: topology.stream(for: envelope.event), fields: envelope.streamFields)
    }

    /// Appends the entries; when this returns, Redis has them.
    public func publish(_ entries: [OutgoingEntry]) async throws {
        try await redis.connection.append(entries)
    }
}
