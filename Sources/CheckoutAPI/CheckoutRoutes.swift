import CheckoutDomain
import Foundation
import HTTPSupport
import Hummingbird
import Logging
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

    /// - Parameters:
    ///   - maxBodyBytes: the largest request body accepted; larger ones get 413.
    public init(database: PostgresConnectionPool, publisher: EventPublisher, limits: CheckoutLimits = .init(), maxBodyBytes: Int = 64 * 1024) {
        self.database = database
        self.publisher = publisher
        self.limits = limits
        self.maxBodyBytes = maxBodyBytes
    }

    static let producer = Worker.checkoutAPI.rawValue

    /// The body of a 202 answer to `POST /checkouts`.
    struct Accepted: Encodable {
        var checkoutID: String
        var status = "pending"
        enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id", status }
    }

    struct Product: Encodable {
        var sku: String
        var name: String
        var priceCents: Int64
        enum CodingKeys: String, CodingKey { case sku, name, priceCents = "price_cents" }
    }

    public func register(on router: Router<some RequestContext>) {
        router.post("/checkouts") { request, context -> Response in
            try await self.startCheckout(request, logger: context.logger)
        }
        router.get("/products") { _, _ -> Response in
            let rows = try await database.connection.query("SELECT sku, name, price_cents FROM checkout_api.products ORDER BY sku")
            return try JSONBody.response(try rows.map { row in
                Product(sku: try row.decode("sku"), name: try row.decode("name"), priceCents: try row.decode("price_cents"))
            })
        }
        AdminRoutes(routes: self).register(on: router)
    }

    // MARK: - POST /checkouts

    func startCheckout(_ request: Request, logger: Logger) async throws -> Response {
        let body = try await JSONBody.decode(CheckoutRequest.self, from: request, maxBytes: maxBodyBytes)
        let key = request.idempotencyKey
        if let key {
            guard (1...255).contains(key.utf8.count) else {
                throw Problem.badRequest("Idempotency-Key must be 1 to 255 characters", slug: "invalid-idempotency-key")
            }
            if let replay = try await replayIdempotent(key: key, body: body) { return replay }
        }
        do {
            try CheckoutPricing.validate(body, limits: limits)
        } catch {
            throw Self.problem(for: error)
        }
        let checkoutID = key.map { EventIdentity.checkoutID(idempotencyKey: $0) } ?? EventIdentity.random()
        let facts: CheckoutFacts
        do {
            facts = try CheckoutPricing.price(body, checkoutID: checkoutID, catalogue: try await catalogueView(for: body), limits: limits)
        } catch let rejection as CheckoutRejection {
            throw Self.problem(for: rejection)
        }
        let envelope = EventEnvelope.starting(
            .checkoutInitiated(CheckoutInitiated(checkout: facts)),
            producer: Self.producer,
            eventID: key.map { EventIdentity.requestEventID(idempotencyKey: $0, purpose: "checkout") } ?? EventIdentity.random(),
            correlationID: checkoutID)
        let entry = publisher.entry(for: envelope)
        if let key {
            let stored = try await database.connection.query(
                """
                INSERT INTO checkout_api.idempotency_keys (idempotency_key, fingerprint, checkout_id, stream, event_fields)
                VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (idempotency_key) DO NOTHING
                """,
                [key, EventIdentity.fingerprint(body.canonicalText), checkoutID, entry.stream, try Self.encode(entry.fields)])
            if stored.affectedRows == 0, let replay = try await replayIdempotent(key: key, body: body) {
                return replay
            }
        }
        try await publish(entry, logger: logger)
        if let key {
            try await database.connection.query("UPDATE checkout_api.idempotency_keys SET published = true WHERE idempotency_key = $1", [key])
        }
        return try accepted(checkoutID)
    }

    /// Answers a repeated `Idempotency-Key`: the same body gets the same checkout (published
    /// again if the first attempt could not publish it), another body gets 422.
    private func replayIdempotent(key: String, body: CheckoutRequest) async throws -> Response? {
        guard let row = try await database.connection.query(
            """
            SELECT fingerprint, checkout_id, stream, event_fields::text AS event_fields, published
            FROM checkout_api.idempotency_keys WHERE idempotency_key = $1
            """,
            [key]).first
        else { return nil }
        guard try row.decode("fingerprint", as: String.self) == EventIdentity.fingerprint(body.canonicalText) else {
            throw Problem.unprocessable(
                "this Idempotency-Key was used with another request body", slug: "idempotency-key-reused")
        }
        let checkoutID: String = try row.decode("checkout_id")
        if try !row.decode("published", as: Bool.self) {
            let entry = OutgoingEntry(stream: try row.decode("stream"), fields: try Self.decode(try row.decode("event_fields")))
            try await publish(entry, logger: nil)
            try await database.connection.query("UPDATE checkout_api.idempotency_keys SET published = true WHERE idempotency_key = $1", [key])
        }
        return try accepted(checkoutID)
    }

    private func catalogueView(for body: CheckoutRequest) async throws -> CatalogueView {
        let connection = database.connection
        let context = try await connection.query(
            """
            SELECT (SELECT paused FROM checkout_api.stores WHERE store_id = $1) AS store_paused,
                   EXISTS (SELECT 1 FROM checkout_api.customers WHERE customer_id = $2) AS customer_exists
            """,
            [body.storeID, body.customerID])
        let products = try await connection.query(
            "SELECT sku, price_cents FROM checkout_api.products WHERE sku = ANY($1::text[])",
            [PostgresTextArray(body.items.map(\.sku))])
        var prices: [String: Int64] = [:]
        for row in products { prices[try row.decode("sku")] = try row.decode("price_cents") }
        let first = context.first
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

    private func accepted(_ checkoutID: String) throws -> Response {
        try JSONBody.response(Accepted(checkoutID: checkoutID), status: .accepted, headers: [.location: "/projections/\(checkoutID)"])
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

    static func encode(_ fields: [(name: String, value: String)]) throws -> String {
        String(decoding: try JSONEncoder().encode(fields.map { [$0.name, $0.value] }), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> [(name: String, value: String)] {
        try JSONDecoder().decode([[String]].self, from: Data(text.utf8)).compactMap { pair in
            pair.count == 2 ? (name: pair[0], value: pair[1]) : nil
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
        ChorusProcess(effect: CatalogueEffect(), configuration: configuration, logger: logger, routes: { router, resources in
            CheckoutRoutes(
                database: resources.database,
                publisher: EventPublisher(redis: resources.redis, topology: resources.topology),
                maxBodyBytes: resources.configuration.maxBodyBytes
            ).register(on: router)
        }, onListening: onListening)
    }
}
