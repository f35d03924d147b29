import CheckoutDomain
import Foundation
import Operations
import Redis

extension ChorusSystem {
    /// What an operator command run against this system would be given.
    nonisolated var operatorTarget: OperatorTarget {
        OperatorTarget(redisURL: configuration.redisURL, databaseURL: configuration.databaseURL, topology: configuration.topology)
    }

    /// Appends an entry no consumer can decode: its type does not exist. Every group dead-letters it.
    /// - Returns: the entry's event id and stream.
    func appendUndecodableEntry() async throws -> (eventID: String, stream: String) {
        let eventID = UUID().uuidString.lowercased()
        let stream = topology.checkoutStream(partition: 0)
        _ = try await redis.execute([
            "XADD", stream, "*", "event_id", eventID, "type", "NoSuchEvent", "payload", "{\"checkout_id\":\"x\"}",
            "correlation_id", eventID, "producer", "a-test", "occurred_at", "2026-11-22T09:15:02.123Z",
        ])
        return (eventID, stream)
    }

    /// How many entries of `stream` carry the event id `eventID`.
    func copies(of eventID: String, in stream: String) async throws -> Int {
        try await redis.range(of: stream).filter { $0.fields["event_id"] == eventID }.count
    }
}
