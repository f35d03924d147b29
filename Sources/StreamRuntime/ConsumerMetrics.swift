import CoreMetrics
import Foundation
import Observability

/// The series one consumer group records: what happened to each entry, how long batches take,
/// redeliveries, claims, dead letters, and what it published.
struct ConsumerMetrics: Sendable {
    let group: String
    let factory: any MetricsFactory
    let handlerDuration: CoreMetrics.Timer
    let redeliveries: Counter
    let claims: Counter
    let deadLetters: Counter

    init(group: String, factory: any MetricsFactory) {
        self.group = group
        self.factory = factory
        let dimensions = [("group", group)]
        handlerDuration = CoreMetrics.Timer(label: ChorusMetric.consumerHandlerDuration.rawValue, dimensions: dimensions, factory: factory)
        // Created up front, so that a quiet group shows 0 rather than no series at all.
        redeliveries = Counter(label: ChorusMetric.consumerRedeliveries.rawValue, dimensions: dimensions, factory: factory)
        claims = Counter(label: ChorusMetric.consumerClaims.rawValue, dimensions: dimensions, factory: factory)
        deadLetters = Counter(label: ChorusMetric.consumerDeadLetters.rawValue, dimensions: dimensions, factory: factory)
    }

    /// What became of one entry.
    enum Outcome: String {
        case applied, duplicate, ignored
        case deadLettered = "dead_lettered"
        case failed
    }

    func record(_ outcome: Outcome, type: String, count: Int = 1) {
        Counter(
            label: ChorusMetric.consumerEvents.rawValue,
            dimensions: [("group", group), ("type", type), ("outcome", outcome.rawValue)],
            factory: factory
        ).increment(by: count)
    }

}

/// Counts the events a producer appends to its streams, by type
/// (`chorus_events_published_total`): the consumers' outputs and the checkout-api's requests alike.
public struct PublishMetrics: Sendable {
    let producer: String
    let factory: any MetricsFactory

    public init(producer: String, factory: any MetricsFactory) {
        self.producer = producer
        self.factory = factory
    }

    /// Counts appended entries by their `type` field; entries without one (dead letters) are
    /// counted as dead letters instead.
    public func record(_ entries: [OutgoingEntry]) {
        var counts: [String: Int] = [:]
        for entry in entries {
            guard let type = entry.fields.first(where: { $0.name == "type" })?.value else { continue }
            counts[type, default: 0] += 1
        }
        for (type, count) in counts {
            Counter(
                label: ChorusMetric.eventsPublished.rawValue, dimensions: [("producer", producer), ("type", type)], factory: factory
            ).increment(by: count)
        }
    }
}
