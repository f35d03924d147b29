import CheckoutDomain
import CoreMetrics
import Foundation
import Logging
import Observability
import Postgres
import StreamRuntime

/// Turns at-least-once delivery into effects that happen once.
///
/// For each batch, in one PostgreSQL transaction:
/// 1. it looks up the inbox: an event seen before is not applied again, and the events it
///    caused then are published again, exactly as stored;
/// 2. otherwise it applies the effect, records the event's id in the inbox and stores the
///    events to emit, whose ids derive from the input's id.
///
/// After the commit the stream consumer publishes, then acknowledges. A crash anywhere in
/// between leaves the input pending; its next delivery finds the inbox record and republishes.
public struct ExactlyOnceHandler<Effect: EventEffect>: StreamBatchHandler {
    public let effect: Effect
    let database: PostgresConnection
    let topology: StreamTopology
    let logger: Logger
    let metrics: any MetricsFactory
    let eventAge: CoreMetrics.Timer

    /// - Parameters:
    ///   - database: a connection used by this handler alone.
    ///   - metrics: where the handler's and the effect's series go.
    public init(
        effect: Effect, database: PostgresConnection, topology: StreamTopology, logger: Logger,
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.effect = effect
        self.database = database
        self.topology = topology
        self.logger = logger
        self.metrics = metrics
        eventAge = CoreMetrics.Timer(
            label: ChorusMetric.consumerEventAge.rawValue, dimensions: [("group", effect.worker.groupName)], factory: metrics)
    }

    public func logMetadata(of entry: StreamEntry) -> Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        for field in [StreamField.eventID, StreamField.type, StreamField.correlationID] {
            if let value = entry.fields[field] { metadata[field] = "\(value)" }
        }
        if let envelope = try? EventEnvelope(streamFields: entry.fields), let checkoutID = envelope.event.checkoutID {
            metadata["checkout_id"] = "\(checkoutID)"
        }
        return metadata
    }

    static func logMetadata(of envelope: EventEnvelope) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            StreamField.eventID: "\(envelope.eventID)", StreamField.type: "\(envelope.event.type.rawValue)",
            StreamField.correlationID: "\(envelope.metadata.correlationID)",
        ]
        if let checkoutID = envelope.event.checkoutID { metadata["checkout_id"] = "\(checkoutID)" }
        return metadata
    }

    public func metricType(of entry: StreamEntry) -> String {
        entry.fields[StreamField.type].flatMap(EventType.init(rawValue:))?.rawValue ?? "unknown"
    }

    /// Creates the worker's schema, inbox and tables.
    public func migrate() async throws {
        try await Migrations.run(schema: effect.schema, statements: Migrations.statements(for: effect), on: database)
    }

    public func isOutage(_ error: any Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return error.isConnectionProblem || error.isTransient
    }

    public func handle(_ entries: [StreamEntry]) async throws -> BatchOutcome {
        var outcome = BatchOutcome()
        var work: [(reference: StreamEntryReference, envelope: EventEnvelope)] = []
        for entry in entries {
            guard let type = entry.fields[StreamField.type], let eventType = EventType(rawValue: type) else {
                outcome.deadLettered.append(DeadLetter(
                    entry: entry, reason: "unknown event type \(entry.fields[StreamField.type] ?? "(none)")"))
                continue
            }
            guard effect.worker.handles.contains(eventType) else {
                outcome.acknowledged.append(entry.reference)
                outcome.ignored.insert(entry.reference)
                continue
            }
            do {
                work.append((entry.reference, try EventEnvelope(streamFields: entry.fields)))
            } catch {
                outcome.deadLettered.append(DeadLetter(entry: entry, reason: error.description))
            }
        }
        guard !work.isEmpty else { return outcome }

        let now = Date()
        for (_, envelope) in work {
            eventAge.record(.milliseconds(max(0, Int64((now.timeIntervalSince(envelope.metadata.occurredAt) * 1000).rounded()))))
        }
        let effect = self.effect
        let topology = self.topology
        let batch = work
        let started = ContinuousClock.now
        let result = try await database.withRetryingTransaction { database in
            try Self.applyBatch(batch, effect: effect, topology: topology, database: database)
        }
        effect.committed(result.applied, transactionDuration: ContinuousClock.now - started, metrics: metrics)
        outcome.publish += result.publish
        outcome.acknowledged += result.done
        outcome.duplicates.formUnion(result.duplicates)
        for failure in result.failures {
            var metadata = Self.logMetadata(of: failure.envelope)
            metadata["entry"] = "\(failure.reference)"
            metadata["error"] = "\(failure.error)"
            logger.error("event failed; it stays pending", metadata: metadata)
            outcome.failures[failure.reference] = failure.error
        }
        if logger.logLevel <= .debug {
            for envelope in result.applied { logger.debug("applied", metadata: Self.logMetadata(of: envelope)) }
        }
        return outcome
    }

    private struct BatchResult: Sendable {
        var publish: [OutgoingEntry] = []
        var done: [StreamEntryReference] = []
        var duplicates: [StreamEntryReference] = []
        var applied: [EventEnvelope] = []
        var failures: [(reference: StreamEntryReference, envelope: EventEnvelope, error: String)] = []
    }

    private static func applyBatch(
        _ batch: [(reference: StreamEntryReference, envelope: EventEnvelope)],
        effect: Effect,
        topology: StreamTopology,
        database: isolated PostgresConnection
    ) throws -> BatchResult {
        var result = BatchResult()
        var seen = try Inbox.storedOutputs(of: batch.map(\.envelope.eventID), schema: effect.schema, in: database)
        let now = Timestamp.now()
        for (reference, envelope) in batch {
            if let stored = seen[envelope.eventID] {
                result.publish += stored
                result.done.append(reference)
                result.duplicates.append(reference)
                continue
            }
            do {
                let outputs = try database.withSavepoint {
                    let events = try effect.apply(envelope, in: database)
                    let outputs = envelope.causing(events, producer: effect.worker.rawValue, at: now).map { output in
                        OutgoingEntry(stream: topology.stream(for: output.event), fields: output.streamFields)
                    }
                    try Inbox.record(envelope, outputs: outputs, schema: effect.schema, in: database)
                    return outputs
                }
                seen[envelope.eventID] = outputs
                result.publish += outputs
                result.done.append(reference)
                result.applied.append(envelope)
            } catch let error as PostgresError where error.isTransient || error.isConnectionProblem {
                // Not this event's fault: the whole batch is rolled back and tried again.
                throw error
            } catch {
                result.failures.append((reference, envelope, "\(error)"))
            }
        }
        return result
    }
}
