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
    /// The worker's `handles`, computed once: it is asked for every entry of every batch.
    let handledTypes: Set<EventType>

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
        handledTypes = effect.worker.handles
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

    /// An event type the worker handles, or one it does not know (which it dead-letters whole).
    public func wantsFields(ofType type: String) -> Bool {
        EventType(rawValue: type).map(handledTypes.contains) ?? true
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
            guard handledTypes.contains(eventType) else {
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
        let result: BatchResult
        do {
            result = try await database.withRetryingTransaction { database in
                try Self.applyBatch(batch, isolatingFailures: false, effect: effect, topology: topology, database: database)
            }
        } catch let error as PostgresError where error.isTransient || error.isConnectionProblem {
            throw error
        } catch {
            // The batch is at fault, not the database: apply it again in halves, each in a
            // savepoint, so that the events at fault stand alone and the others commit once.
            logger.warning("batch failed; isolating the events at fault", metadata: ["error": "\(error)", "events": "\(batch.count)"])
            result = try await database.withRetryingTransaction { database in
                try Self.applyBatch(batch, isolatingFailures: true, effect: effect, topology: topology, database: database)
            }
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

    /// What became of one input in a batch.
    private enum ItemResult {
        case applied([OutgoingEntry])
        case duplicate([OutgoingEntry])
        case failed(String)
    }

    private typealias Item = (reference: StreamEntryReference, envelope: EventEnvelope)

    /// Applies a batch in the open transaction.
    /// - Parameter isolatingFailures: `false` applies every new event at once and throws if
    ///   anything fails; `true` applies them in savepoints, halving a failing part until each
    ///   failing event stands alone, and reports those as failures instead of throwing.
    private static func applyBatch(
        _ batch: [Item],
        isolatingFailures: Bool,
        effect: Effect,
        topology: StreamTopology,
        database: isolated PostgresConnection
    ) throws -> BatchResult {
        let stored: [String: [OutgoingEntry]] =
            effect.inbox == .table ? try Inbox.storedOutputs(of: batch.map(\.envelope.eventID), schema: effect.schema, in: database) : [:]
        // Each new event once, in order; a second copy in the same batch is a duplicate of the first.
        var firstCopies: [String: Int] = [:]
        var fresh: [Item] = []
        for (index, item) in batch.enumerated() where stored[item.envelope.eventID] == nil {
            if firstCopies[item.envelope.eventID] == nil {
                firstCopies[item.envelope.eventID] = index
                fresh.append(item)
            }
        }
        var results: [String: ItemResult] = [:]
        if !fresh.isEmpty {
            let now = Timestamp.now()
            if isolatingFailures {
                // The whole batch just failed: start from its halves.
                let items = fresh[...]
                if items.count == 1 {
                    try applyIsolating(items, effect: effect, topology: topology, at: now, into: &results, database: database)
                } else {
                    let middle = items.startIndex + items.count / 2
                    try applyIsolating(items[..<middle], effect: effect, topology: topology, at: now, into: &results, database: database)
                    try applyIsolating(items[middle...], effect: effect, topology: topology, at: now, into: &results, database: database)
                }
            } else {
                for (item, outputs) in zip(fresh, try applyAndRecord(fresh[...], effect: effect, topology: topology, at: now, database: database)) {
                    results[item.envelope.eventID] = .applied(outputs)
                }
            }
        }
        var result = BatchResult()
        for (index, item) in batch.enumerated() {
            let id = item.envelope.eventID
            let outcome: ItemResult =
                if let outputs = stored[id] { .duplicate(outputs) }
                else if firstCopies[id] != index, case .applied(let outputs)? = results[id] { .duplicate(outputs) }
                else { results[id] ?? .failed("the event was not applied") }
            switch outcome {
            case .applied(let outputs):
                result.publish += outputs
                result.done.append(item.reference)
                result.applied.append(item.envelope)
            case .duplicate(let outputs):
                result.publish += outputs
                result.done.append(item.reference)
                result.duplicates.append(item.reference)
            case .failed(let error):
                result.failures.append((item.reference, item.envelope, error))
            }
        }
        return result
    }

    /// Applies `items` in a savepoint; when that fails for the items' sake, applies each half
    /// the same way, down to single events, which are then reported as failed.
    private static func applyIsolating(
        _ items: ArraySlice<Item>,
        effect: Effect,
        topology: StreamTopology,
        at time: Date,
        into results: inout [String: ItemResult],
        database: isolated PostgresConnection
    ) throws {
        do {
            let outputs = try database.withSavepoint {
                try applyAndRecord(items, effect: effect, topology: topology, at: time, database: database)
            }
            for (item, outputs) in zip(items, outputs) { results[item.envelope.eventID] = .applied(outputs) }
        } catch let error as PostgresError where error.isTransient || error.isConnectionProblem {
            // Not these events' fault: the whole batch is rolled back and tried again.
            throw error
        } catch {
            guard items.count > 1 else {
                if let item = items.first { results[item.envelope.eventID] = .failed("\(error)") }
                return
            }
            let middle = items.startIndex + items.count / 2
            try applyIsolating(items[..<middle], effect: effect, topology: topology, at: time, into: &results, database: database)
            try applyIsolating(items[middle...], effect: effect, topology: topology, at: time, into: &results, database: database)
        }
    }

    /// Applies new events, records them in the inbox with their outputs, and returns the outputs.
    private static func applyAndRecord(
        _ items: ArraySlice<Item>,
        effect: Effect,
        topology: StreamTopology,
        at time: Date,
        database: isolated PostgresConnection
    ) throws -> [[OutgoingEntry]] {
        let envelopes = items.map(\.envelope)
        let emitted = try effect.apply(batch: envelopes, in: database)
        guard emitted.count == envelopes.count else {
            throw EffectContractError(worker: effect.worker, inputs: envelopes.count, outputs: emitted.count)
        }
        let outputs = zip(envelopes, emitted).map { envelope, events in
            envelope.causing(events, producer: effect.worker.rawValue, at: time).map { output in
                OutgoingEntry(stream: topology.stream(for: output.event), fields: output.streamFields)
            }
        }
        if effect.inbox == .table {
            try Inbox.record(envelopes, outputs: outputs, schema: effect.schema, in: database)
        }
        return outputs
    }
}

/// An effect returned a number of output lists that differs from the number of its inputs.
struct EffectContractError: Error, CustomStringConvertible {
    var worker: Worker
    var inputs: Int
    var outputs: Int
    var description: String { "\(worker.rawValue) returned \(outputs) output lists for \(inputs) events" }
}
