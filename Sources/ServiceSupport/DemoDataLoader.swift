import CheckoutDomain
import Redis
import StreamRuntime

/// Loads the demo retailer (``DemoData``) onto the reference stream.
///
/// Loading is idempotent twice over: a marker key makes a second load a no-op, and every demo
/// event has a fixed id, so even a forced reload is recognised as duplicates by every service.
public struct DemoDataLoader: Sendable {
    let redis: RedisConnection
    let topology: StreamTopology
    /// See ``DemoData/events(scale:)``.
    let scale: Int

    public init(redis: RedisConnection, topology: StreamTopology, scale: Int = 1) {
        self.redis = redis
        self.topology = topology
        self.scale = max(1, scale)
    }

    /// The key that records that the demo data was loaded.
    public var markerKey: String { "\(topology.prefix):demo-data:v1" }

    /// What a load did.
    public enum Result: Sendable, Equatable {
        case loaded(events: Int)
        case alreadyLoaded
    }

    /// Publishes every demo event unless they were published before (or `force` is set).
    public func load(force: Bool = false) async throws -> Result {
        let claimed = try await redis.execute(["SET", markerKey, Timestamp.format(Timestamp.now()), "NX"])
        guard claimed != .null || force else { return .alreadyLoaded }
        let events = DemoData.events(scale: scale)
        let time = Timestamp.now()
        let entries = events.map { item in
            let envelope = EventEnvelope.starting(item.event, producer: "chorus-seed", eventID: item.eventID, at: time)
            return OutgoingEntry(stream: topology.stream(for: envelope.event), fields: envelope.streamFields)
        }
        do {
            var start = 0
            while start < entries.count {
                let end = min(start + 500, entries.count)
                try await redis.append(Array(entries[start..<end]))
                start = end
            }
        } catch {
            // Let the next attempt load it again.
            _ = try? await redis.execute(["DEL", markerKey])
            throw error
        }
        return .loaded(events: entries.count)
    }
}
