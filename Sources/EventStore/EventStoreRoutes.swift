import CheckoutDomain
import Foundation
import HTTPSupport
import Hummingbird
import HummingbirdAuth
import Identity
import Logging
import Observability
import ServiceLifecycle
import ServiceSupport
import StreamRuntime

/// The event store's HTTP API: aggregates rebuilt by folding their events, and raw histories.
public struct EventStoreRoutes: Sendable {
    let reader: EventStoreReader

    public init(reader: EventStoreReader) {
        self.reader = reader
    }

    /// The body of `GET /projections/<id>`.
    struct Projection: Encodable {
        var aggregateID: String
        var kind: AggregateKind
        var version: Int
        var state: AggregateSnapshot
        enum CodingKeys: String, CodingKey { case aggregateID = "aggregate_id", kind, version, state }
    }

    /// One event of `GET /projections/<id>/events`.
    struct HistoryEntry: Encodable {
        var position: Int64
        var version: Int
        var eventID: String
        var type: EventType
        var payload: DomainEventPayload
        var correlationID: String
        var causationID: String?
        var producer: String
        var occurredAt: String
        var actor: String?
        enum CodingKeys: String, CodingKey {
            case position, version, eventID = "event_id", type, payload, correlationID = "correlation_id"
            case causationID = "causation_id", producer, occurredAt = "occurred_at", actor
        }
    }

    /// Encodes an event's payload as the contract's JSON object.
    struct DomainEventPayload: Encodable {
        var event: DomainEvent
        func encode(to encoder: any Encoder) throws { try event.payload.encode(to: encoder) }
    }

    /// Staff with a reading role see every aggregate; a customer sees only their own checkouts,
    /// and every other id looks absent to them.
    public func register(on router: Router<ChorusRequestContext>) {
        router.get("/projections/:id") { request, context -> Response in
            let history = try await self.history(request, context)
            guard let state = AggregateSnapshot.rebuild(history.reference, from: history.events.map(\.envelope)) else {
                throw Problem.notFound("no aggregate \(history.reference.id)")
            }
            return try JSONBody.response(Projection(
                aggregateID: history.reference.id, kind: history.reference.kind,
                version: history.events.last?.version ?? 0, state: state))
        }
        router.get("/projections/:id/events") { request, context -> Response in
            let history = try await self.history(request, context)
            // Pages by version: an aggregate such as a customer or a store gains events forever.
            let page = try PageRequest(request)
            var after = 0
            if let cursor = page.after {
                guard let version = Int(cursor), version >= 0 else {
                    throw Problem.badRequest("after must be a cursor from a previous page's next link", slug: "invalid-parameter")
                }
                after = version
            }
            let rest = history.events.drop { $0.version <= after }
            let events = rest.prefix(page.limit)
            let next = page.next(
                path: "/projections/\(PageRequest.pathSegment(history.reference.id))/events",
                lastPosition: rest.count > page.limit ? events.last.map { String($0.version) } : nil)
            var headers = next?.header ?? [:]
            if request.uri.queryParameters.get("kind") != nil, let link = next?.link {
                headers[.link] = "<\(link)&kind=\(history.reference.kind.rawValue)>; rel=\"next\""
            }
            return try JSONBody.response(events.map { stored in
                HistoryEntry(
                    position: stored.position, version: stored.version, eventID: stored.envelope.eventID,
                    type: stored.envelope.event.type, payload: DomainEventPayload(event: stored.envelope.event),
                    correlationID: stored.envelope.metadata.correlationID, causationID: stored.envelope.metadata.causationID,
                    producer: stored.envelope.metadata.producer, occurredAt: Timestamp.format(stored.envelope.metadata.occurredAt),
                    actor: stored.envelope.metadata.actor)
            }, headers: headers)
        }
    }

    private func history(_ request: Request, _ context: ChorusRequestContext) async throws -> AggregateHistory {
        let id = try context.pathParameter("id")
        guard let caller = context.identity else { throw Problem.unauthenticated("reading the event store needs a bearer token", error: nil) }
        var kind: AggregateKind?
        if let name = request.uri.queryParameters.get("kind") {
            guard let parsed = AggregateKind(rawValue: name) else {
                throw Problem.badRequest("kind must be one of " + AggregateKind.allCases.map(\.rawValue).joined(separator: ", "))
            }
            kind = parsed
        }
        let mayReadAny = AccessPolicy.decide(.readAnyAggregate, for: caller)
        if mayReadAny != .allowed {
            // Only a checkout can be theirs: look for nothing else.
            guard kind == nil || kind == .checkout else { throw Problem.notFound("no aggregate \(id)") }
            kind = .checkout
        }
        do {
            let history = try await reader.history(of: id, kind: kind)
            if mayReadAny != .allowed {
                let owner = history.events.lazy.compactMap { stored -> String? in
                    if case .checkoutInitiated(let initiated) = stored.envelope.event { initiated.checkout.customerID } else { nil }
                }.first
                try context.authorize(.readCheckout(customer: owner ?? ""), notFound: "no aggregate \(id)")
            }
            return history
        } catch EventStoreReadError.notFound {
            throw Problem.notFound("no aggregate \(id)")
        } catch EventStoreReadError.ambiguous(_, let kinds) {
            throw Problem(.conflict, slug: "ambiguous-id", title: "Ambiguous id",
                          detail: "several aggregates are named \(id); add ?kind= one of " + kinds.map(\.rawValue).joined(separator: ", "))
        }
    }
}

extension ChorusProcess where Effect == EventStoreEffect {
    /// The `event-store` process: its appending consumer and `/projections`.
    public static func eventStore(
        configuration: ChorusConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> Self {
        ChorusProcess(effect: EventStoreEffect(), configuration: configuration, logger: logger, routes: { router, resources in
            EventStoreRoutes(reader: EventStoreReader(database: resources.database)).register(on: router)
        }, routesNeedCallers: true, monitors: { resources in
            let configuration = resources.configuration
            var services: [any Service] = [EventStoreLagMonitor(
                streams: resources.topology.streams(readBy: .eventStore), redis: resources.redis, database: resources.database,
                metrics: resources.metrics.factory
            ).periodically(every: .milliseconds(configuration.metricsIntervalMilliseconds), logger: resources.logger)]
            // The event store trims the streams: it keeps every event for good, so an entry that
            // every group is done with is still in the history.
            if configuration.trimIntervalMilliseconds > 0 {
                let retention = StreamRetention(
                    streams: resources.topology.eventStreams, deadLetterStream: resources.topology.deadLetterStream,
                    deadLetterRetentionMilliseconds: configuration.deadLetterRetentionHours > 0
                        ? Int64(configuration.deadLetterRetentionHours) * 3_600_000 : nil,
                    abandonedGroupMilliseconds: configuration.abandonedGroupMilliseconds > 0 ? Int64(configuration.abandonedGroupMilliseconds) : nil)
                services.append(StreamTrimmer(retention: retention, redis: resources.redis, metrics: resources.metrics.factory)
                    .periodically(every: .milliseconds(configuration.trimIntervalMilliseconds), logger: resources.logger))
            }
            return services
        }, onListening: onListening)
    }
}
