import CheckoutDomain
import Foundation
import Operations
import Redis
import StreamRuntime
import Testing

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

    /// Appends a readable event (a store opening) to the reference stream, and a dead letter of
    /// it from each of `groups`, as a group writes one when its effect kept failing: a letter a
    /// retry can help.
    /// - Returns: the entry's event id and stream.
    func appendDeadLetteredEvent(groups: [String]) async throws -> (eventID: String, stream: String) {
        let eventID = UUID().uuidString.lowercased()
        let stream = topology.referenceStream
        let fields = [
            "event_id": eventID, "type": "StoreOpened", "payload": #"{"store_id":"store-dl","name":"Dead letters","channel":"web"}"#,
            "correlation_id": eventID, "producer": "a-test", "occurred_at": Timestamp.format(Date()),
        ]
        let sourceID = try #require(try await redis.execute(["XADD", stream, "*"] + fields.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }).string)
        let original = String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self)
        for group in groups {
            _ = try await redis.execute([
                "XADD", topology.deadLetterStream, "*", DeadLetterFields.reason, "the effect failed 5 times: simulated",
                DeadLetterFields.sourceStream, stream, DeadLetterFields.sourceID, sourceID, DeadLetterFields.group, group,
                DeadLetterFields.deliveries, "5", DeadLetterFields.deadLetteredAt, String(Int64(Date().timeIntervalSince1970 * 1000)),
                DeadLetterFields.entry, original,
            ])
        }
        return (eventID, stream)
    }

    /// How many entries of `stream` carry the event id `eventID`.
    func copies(of eventID: String, in stream: String) async throws -> Int {
        try await redis.range(of: stream).filter { $0.fields["event_id"] == eventID }.count
    }
}
