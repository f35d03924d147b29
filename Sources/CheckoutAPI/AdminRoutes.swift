import CheckoutDomain
import HTTPSupport
import Hummingbird
import HummingbirdAuth
import Identity
import Logging
import Postgres
import StreamRuntime

/// Admin endpoints: each one publishes one reference-data event, which every service that
/// needs it folds into its own state. They answer 202 with the event's id.
///
/// An `Idempotency-Key` makes the event's id derive from the key, so that a retried request is
/// applied once everywhere.
///
/// Staff only: `admin` for everything, `inventory` for stock. Each event names the member of
/// staff who asked for it (`actor`), and the audit trail keeps it.
struct AdminRoutes: Sendable {
    let routes: CheckoutRoutes

    struct Published: Encodable {
        var eventID: String
        var type: EventType
        enum CodingKeys: String, CodingKey { case eventID = "event_id", type }
    }

    struct PauseBody: Decodable { var reason: String }
    struct PriceBody: Decodable {
        var priceCents: Int64
        enum CodingKeys: String, CodingKey { case priceCents = "price_cents" }
    }
    struct CreditBody: Decodable {
        var amountCents: Int64
        enum CodingKeys: String, CodingKey { case amountCents = "amount_cents" }
    }

    func register(on router: Router<ChorusRequestContext>) {
        router.post("/admin/stores") { request, context -> Response in
            try context.authorize(.manageStores)
            let body = try await JSONBody.decode(StoreOpened.self, from: request, maxBytes: routes.maxBodyBytes)
            return try await publish(.storeOpened(body), ids: ["store_id": body.storeID], request: request, context: context)
        }
        router.post("/admin/stores/:id/pause") { request, context -> Response in
            try context.authorize(.manageStores)
            let body = try await JSONBody.decode(PauseBody.self, from: request, maxBytes: routes.maxBodyBytes)
            let id = try context.pathParameter("id")
            try await requireKnown([.store(id, field: nil)])
            return try await publish(
                .storePaused(StorePaused(storeID: id, reason: body.reason)), ids: ["store_id": id], request: request, context: context)
        }
        router.post("/admin/stores/:id/resume") { request, context -> Response in
            try context.authorize(.manageStores)
            let id = try context.pathParameter("id")
            try await requireKnown([.store(id, field: nil)])
            return try await publish(.storeResumed(StoreResumed(storeID: id)), ids: ["store_id": id], request: request, context: context)
        }
        router.post("/admin/products") { request, context -> Response in
            try context.authorize(.manageCatalogue)
            let body = try await JSONBody.decode(ProductRegistered.self, from: request, maxBytes: routes.maxBodyBytes)
            return try await publish(.productRegistered(body), ids: ["sku": body.sku], request: request, context: context)
        }
        router.post("/admin/products/:sku/price") { request, context -> Response in
            try context.authorize(.manageCatalogue)
            let body = try await JSONBody.decode(PriceBody.self, from: request, maxBytes: routes.maxBodyBytes)
            let sku = try context.pathParameter("sku")
            try await requireKnown([.product(sku, field: nil)])
            return try await publish(
                .productRepriced(ProductRepriced(sku: sku, priceCents: body.priceCents)), ids: ["sku": sku], request: request, context: context)
        }
        router.post("/admin/stock") { request, context -> Response in
            try context.authorize(.manageStock)
            let body = try await JSONBody.decode(StockReceived.self, from: request, maxBytes: routes.maxBodyBytes)
            try await requireKnown([.store(body.storeID, field: "store_id"), .product(body.sku, field: "sku")])
            return try await publish(.stockReceived(body), ids: ["store_id": body.storeID, "sku": body.sku], request: request, context: context)
        }
        router.post("/admin/customers") { request, context -> Response in
            try context.authorize(.manageCustomers)
            let body = try await JSONBody.decode(CustomerRegistered.self, from: request, maxBytes: routes.maxBodyBytes)
            return try await publish(.customerRegistered(body), ids: ["customer_id": body.customerID], request: request, context: context)
        }
        router.post("/admin/customers/:id/credit") { request, context -> Response in
            try context.authorize(.manageCustomers)
            let body = try await JSONBody.decode(CreditBody.self, from: request, maxBytes: routes.maxBodyBytes)
            let id = try context.pathParameter("id")
            try await requireKnown([.customer(id, field: nil)])
            return try await publish(.accountCredited(AccountCredited(customerID: id, amountCents: body.amountCents)),
                                     ids: ["customer_id": id], request: request, context: context)
        }
    }

    /// Something an admin request names, which the catalogue must know.
    enum Reference {
        /// `field` names the body's member; `nil` when the id is the path's.
        case store(String, field: String?)
        case product(String, field: String?)
        case customer(String, field: String?)
    }

    /// Refuses a request that names a store, product or customer the catalogue does not know:
    /// 404 for the path's resource, 422 for a member of the body. Nothing is published then.
    ///
    /// The catalogue is checkout-api's own (``CatalogueEffect``); a registration made through
    /// these routes is written to it at once (see ``publish(_:ids:request:context:)``), so a
    /// store registered a moment ago is known to the next request.
    private func requireKnown(_ references: [Reference]) async throws {
        for reference in references {
            let (table, column, id, field, noun) =
                switch reference {
                case .store(let id, let field): ("checkout_api.stores", "store_id", id, field, "store")
                case .product(let id, let field): ("checkout_api.products", "sku", id, field, "product")
                case .customer(let id, let field): ("checkout_api.customers", "customer_id", id, field, "customer")
                }
            guard Identifier.isValid(id) else { continue }  // refused as an invalid field by publish
            // Table and column from the fixed list above; the id is a parameter.
            let known = try await routes.database.withConnection(retryingOnceIfLost: { connection in
                try await !connection.query("SELECT 1 FROM \(table) WHERE \(column) = $1", [id]).isEmpty
            })
            guard !known else { continue }
            if let field {
                throw Problem.unprocessable("no \(noun) \(id) in the catalogue", slug: "unknown-\(noun)", field: field)
            }
            throw Problem(.notFound, slug: "not-found", title: "Not found", detail: "no \(noun) \(id)")
        }
    }

    /// Publishes the event a request asked for. The route has authorized the caller already.
    private func publish(_ event: DomainEvent, ids: [String: String], request: Request, context: ChorusRequestContext) async throws -> Response {
        guard let caller = context.identity else { throw Problem.unauthenticated("this request needs a bearer token", error: nil) }
        for (field, value) in ids.sorted(by: { $0.key < $1.key }) where !Identifier.isValid(value) {
            throw Problem.unprocessable("\(field) must be 1 to 64 letters, digits, '-' or '_'", slug: "invalid-field", field: field)
        }
        do {
            try event.payload.validate()
        } catch {
            throw Problem.unprocessable(error.message, slug: "invalid-field", field: error.field)
        }
        @Sendable func entry(_ eventID: String) -> OutgoingEntry {
            routes.publisher.entry(for: EventEnvelope.starting(
                event, producer: CheckoutRoutes.producer, eventID: eventID, correlationID: request.requestID, actor: caller.actor))
        }
        guard let key = try IdempotencyKeys.key(of: request.idempotencyKey, caller: caller) else {
            let eventID = EventIdentity.random()
            try await routes.publish(entry(eventID), logger: nil)
            await writeThrough(event, context: context)
            return try JSONBody.response(Published(eventID: eventID, type: event.type), status: .accepted)
        }
        let fingerprint = EventIdentity.fingerprint("admin|\(event.type.rawValue)|\(event.encodedPayload())")
        let (eventID, _) = try await routes.idempotencyKeys.once(key: key, fingerprint: fingerprint) { _ in
            let eventID = EventIdentity.requestEventID(idempotencyKey: key, purpose: "admin")
            return (eventID, entry(eventID))
        }
        await writeThrough(event, context: context)
        return try JSONBody.response(Published(eventID: eventID, type: event.type), status: .accepted)
    }

    /// Applies a published event to checkout-api's own catalogue at once, as its consumer will
    /// when the event arrives: so that the next request (a stock delivery for a store just
    /// opened) finds it. The same upserts run again then and change nothing; events of one
    /// stream arrive in the order their requests were answered, so the catalogue ends the same.
    /// Best effort: the event is published already, and the consumer writes it in any case.
    private func writeThrough(_ event: DomainEvent, context: ChorusRequestContext) async {
        let envelope = EventEnvelope.starting(event, producer: CheckoutRoutes.producer, eventID: EventIdentity.random(), correlationID: nil)
        do {
            try await routes.database.connection.run { database in _ = try CatalogueEffect().apply(envelope, in: database) }
        } catch {
            context.logger.warning("the catalogue will learn of the event from the stream", metadata: ["error": "\(error)"])
        }
    }
}
