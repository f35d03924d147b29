import CheckoutDomain
import Foundation
import HTTPSupport
import Hummingbird
import HummingbirdAuth
import Identity
import Logging
import Observability
import Postgres
import ServiceSupport
import StreamRuntime

/// The write side over HTTP: `POST /checkouts`, the catalogue, and the admin endpoints that
/// publish reference-data events.
public struct CheckoutRoutes: Sendable {
    let database: PostgresConnectionPool
    let publisher: EventPublisher
    let limits: CheckoutLimits
    let maxBodyBytes: Int
    let publishedMarks: PublishedMarks
    /// Checkouts per customer; `nil` when unlimited.
    let customerRateLimit: CustomerRateLimit?

    /// - Parameters:
    ///   - maxBodyBytes: the largest request body accepted; larger ones get 413.
    ///   - publishedMarks: where published idempotency keys wait to be marked; its owner flushes it.
    init(
        database: PostgresConnectionPool, publisher: EventPublisher, limits: CheckoutLimits = .init(), maxBodyBytes: Int = 64 * 1024,
        publishedMarks: PublishedMarks, customerRateLimit: CustomerRateLimit? = nil
    ) {
        self.customerRateLimit = customerRateLimit
        self.database = database
        self.publisher = publisher
        self.limits = limits
        self.maxBodyBytes = maxBodyBytes
        self.publishedMarks = publishedMarks
    }

    static let producer = Worker.checkoutAPI.rawValue

    /// The body of a 202 answer to `POST /checkouts`.
    /// The answer to `POST /checkouts`: the checkout, and its status as checkout-api knows it:
    /// `pending` until its terminal event arrives, then `completed` or `failed` (with the reason),
    /// which a repeat with the same `Idempotency-Key` answers.
    struct Accepted: Encodable {
        var checkoutID: String
        var status = "pending"
        var failureReason: String?
        enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id", status, failureReason = "failure_reason" }
    }

    struct Product: Encodable {
        var sku: String
        var name: String
        var priceCents: Int64
        enum CodingKeys: String, CodingKey { case sku, name, priceCents = "price_cents" }
    }

    /// The body of `POST /checkouts`. A customer may leave out `customer_id` (it is the token's
    /// subject); staff acting for a customer must name one. Any other member (a price, a total,
    /// a status) is not read: what a checkout costs is the catalogue's business.
    struct PostedCheckout: Decodable {
        var customerID: String?
        var storeID: String
        var items: [CheckoutRequest.Item]
        enum CodingKeys: String, CodingKey { case customerID = "customer_id", storeID = "store_id", items }
    }

    public func register(on router: Router<ChorusRequestContext>) {
        router.post("/checkouts") { request, context -> Response in
            try await self.startCheckout(request, context: context)
        }
        // The catalogue is public: a web shop lists it before anyone signs in.
        router.get("/products") { _, _ -> Response in
            let rows = try await database.withConnection(retryingOnceIfLost: { connection in
                try await connection.query("SELECT sku, name, price_cents FROM checkout_api.products ORDER BY sku")
            })
            return try JSONBody.response(try rows.map { row in
                Product(sku: try row.decode("sku"), name: try row.decode("name"), priceCents: try row.decode("price_cents"))
            })
        }
        AdminRoutes(routes: self).register(on: router)
    }

    // MARK: - POST /checkouts

    func startCheckout(_ request: Request, context: ChorusRequestContext) async throws -> Response {
        let logger = context.logger
        guard let caller = context.identity else { throw Problem.unauthenticated("placing a checkout needs a bearer token", error: nil) }
        let posted = try await JSONBody.decode(PostedCheckout.self, from: request, maxBytes: maxBodyBytes)
        let customer: String
        switch (caller, posted.customerID) {
        case (.customer(let id), nil): customer = id
        case (_, let named?): customer = named
        case (.staff, nil):
            throw Problem.unprocessable("customer_id is required when staff place a checkout", slug: "invalid-field", field: "customer_id")
        }
        try context.authorize(.placeCheckout(customer: customer))
        if case .customer(let id) = caller { try customerRateLimit?.admit(id) }
        let body = CheckoutRequest(customerID: customer, storeID: posted.storeID, items: posted.items)
        let requestID = request.requestID
        let actor = caller.actor
        guard let key = try IdempotencyKeys.key(of: request.idempotencyKey, caller: caller) else {
            let checkoutID = EventIdentity.random()
            let eventID = EventIdentity.random()
            // Reads only: safe to run again on a fresh connection.
            let (_, entry) = try await database.withConnection(retryingOnceIfLost: { connection in
                try await connection.run { [self] database in
                    try initiation(
                        of: body, checkoutID: checkoutID, eventID: eventID, correlationID: requestID ?? checkoutID, actor: actor, in: database)
                }
            })
            try await publish(entry, logger: logger)
            logger.debug("checkout accepted", metadata: ["checkout_id": "\(checkoutID)", "correlation_id": "\(requestID ?? checkoutID)"])
            return try accepted(checkoutID)
        }
        let (checkoutID, outcome) = try await idempotencyKeys.once(key: key, fingerprint: EventIdentity.fingerprint("checkout|" + body.canonicalText)) {
            [self] database in
            let checkoutID = EventIdentity.checkoutID(idempotencyKey: key)
            return try initiation(
                of: body, checkoutID: checkoutID,
                eventID: EventIdentity.requestEventID(idempotencyKey: key, purpose: "checkout"), correlationID: requestID ?? checkoutID,
                actor: actor, in: database)
        }
        logger.debug("checkout accepted", metadata: ["checkout_id": "\(checkoutID)", "correlation_id": "\(requestID ?? checkoutID)"])
        return try accepted(checkoutID, outcome: outcome)
    }

    /// Validates and prices the request into the `CheckoutInitiated` that starts the saga.
    /// - Parameters:
    ///   - correlationID: the gateway's request id, so that logs and events of the whole saga can
    ///     be found from one access-log line; the checkout id when there is none.
    ///   - actor: who asked, as the event's metadata names them.
    private func initiation(
        of body: CheckoutRequest, checkoutID: String, eventID: String, correlationID: String, actor: String,
        in database: isolated PostgresConnection
    ) throws -> (String, OutgoingEntry) {
        let facts: CheckoutFacts
        do {
            try CheckoutPricing.validate(body, limits: limits)
            facts = try CheckoutPricing.price(body, checkoutID: checkoutID, catalogue: try Self.catalogueView(for: body, in: database), limits: limits)
        } catch let rejection as CheckoutRejection {
            throw Self.problem(for: rejection)
        }
        let envelope = EventEnvelope.starting(
            .checkoutInitiated(CheckoutInitiated(checkout: facts)), producer: Self.producer, eventID: eventID, correlationID: correlationID,
            actor: actor)
        return (checkoutID, publisher.entry(for: envelope))
    }

    var idempotencyKeys: IdempotencyKeys {
        IdempotencyKeys(database: database, publishedMarks: publishedMarks) { entry in try await publish(entry, logger: nil) }
    }

    /// The store, the customer and the prices of the request's products, in one round trip: one
    /// row per known product (or one row with no product when none is known).
    private static func catalogueView(for body: CheckoutRequest, in database: isolated PostgresConnection) throws -> CatalogueView {
        let rows = try database.query(
            """
            SELECT (SELECT paused FROM checkout_api.stores WHERE store_id = $1) AS store_paused,
                   EXISTS (SELECT 1 FROM checkout_api.customers WHERE customer_id = $2) AS customer_exists,
                   p.sku, p.price_cents
            FROM (SELECT 1) AS one
            LEFT JOIN checkout_api.products AS p ON p.sku = ANY($3::text[])
            """,
            [body.storeID, body.customerID, PostgresTextArray(body.items.map(\.sku))])
        var prices: [String: Int64] = [:]
        for row in rows {
            if let sku = try row.decodeIfPresent("sku", as: String.self) { prices[sku] = try row.decode("price_cents") }
        }
        let first = rows.first
        return CatalogueView(
            prices: prices,
            storeIsPaused: try first?.decodeIfPresent("store_paused"),
            customerExists: try first?.decode("customer_exists") ?? false)
    }

    func publish(_ entry: OutgoingEntry, logger: Logger?) async throws {
        do {
            try await publisher.publish([entry])
        } catch {
            logger?.error("could not publish", metadata: ["stream": "\(entry.stream)", "error": "\(error)"])
            throw Problem.unavailable("the event could not be published; try again")
        }
    }

    private func accepted(_ checkoutID: String, outcome: IdempotencyKeys.Outcome? = nil) throws -> Response {
        var body = Accepted(checkoutID: checkoutID)
        if let outcome {
            body.status = outcome.status
            body.failureReason = outcome.failureReason
        }
        return try JSONBody.response(body, status: .accepted, headers: [.location: "/projections/\(checkoutID)"])
    }

    static func problem(for rejection: CheckoutRejection) -> Problem {
        switch rejection {
        case .invalidField(let field, _):
            return .unprocessable(rejection.detail, slug: rejection.code, field: field)
        case .storePaused:
            return Problem(.conflict, slug: rejection.code, title: "Store paused", detail: rejection.detail)
        case .unknownStore, .unknownCustomer, .unknownProducts:
            return .unprocessable(rejection.detail, slug: rejection.code)
        }
    }
}


extension ChorusProcess where Effect == CatalogueEffect {
    /// The `checkout-api` process: its catalogue consumer and its HTTP routes.
    public static func checkoutAPI(
        configuration: ChorusConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> Self {
        let publishedMarks = PublishedMarks()
        let rate = configuration.customerCheckoutRate
        let customerRateLimit = rate > 0 ? CustomerRateLimit(perSecond: rate, burst: 2 * rate) : nil
        return ChorusProcess(effect: CatalogueEffect(), configuration: configuration, logger: logger, routes: { router, resources in
            CheckoutRoutes(
                database: resources.database,
                publisher: EventPublisher(redis: resources.redis, topology: resources.topology, metrics: resources.metrics.factory),
                maxBodyBytes: resources.configuration.maxBodyBytes,
                publishedMarks: publishedMarks,
                customerRateLimit: customerRateLimit
            ).register(on: router)
        }, routesNeedCallers: true, monitors: { resources in
            [PeriodicSampler("the published idempotency keys to mark", every: .milliseconds(100), logger: resources.logger) {
                try await publishedMarks.flush(database: resources.database)
            }]
        },
        // A request's key record need not wait for its own flush to disk: the event it stores has
        // an id derived from the key, so if a crash of PostgreSQL lost the record after the 202,
        // a retry publishes the same event again and every consumer's inbox skips it. (What is
        // lost is only the check of that retry's body: one with another body would be answered
        // with the same checkout instead of 422.) The workers, whose acknowledgements rest on
        // their commits, keep synchronous commits.
        routeSessionSettings: PostgresSessionSettings.keyLookups.adding("synchronous_commit", "off"),
        onListening: onListening)
    }
}
