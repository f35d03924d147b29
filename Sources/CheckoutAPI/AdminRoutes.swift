import CheckoutDomain
import HTTPSupport
import Hummingbird
import HummingbirdAuth
import Identity
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
            let id = try context.parameters.require("id")
            return try await publish(
                .storePaused(StorePaused(storeID: id, reason: body.reason)), ids: ["store_id": id], request: request, context: context)
        }
        router.post("/admin/stores/:id/resume") { request, context -> Response in
            try context.authorize(.manageStores)
            let id = try context.parameters.require("id")
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
            let sku = try context.parameters.require("sku")
            return try await publish(
                .productRepriced(ProductRepriced(sku: sku, priceCents: body.priceCents)), ids: ["sku": sku], request: request, context: context)
        }
        router.post("/admin/stock") { request, context -> Response in
            try context.authorize(.manageStock)
            let body = try await JSONBody.decode(StockReceived.self, from: request, maxBytes: routes.maxBodyBytes)
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
            let id = try context.parameters.require("id")
            return try await publish(.accountCredited(AccountCredited(customerID: id, amountCents: body.amountCents)),
                                     ids: ["customer_id": id], request: request, context: context)
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
            throw Problem.unprocessable(error.message, slug: "invalid-field")
        }
        @Sendable func entry(_ eventID: String) -> OutgoingEntry {
            routes.publisher.entry(for: EventEnvelope.starting(
                event, producer: CheckoutRoutes.producer, eventID: eventID, correlationID: request.requestID, actor: caller.actor))
        }
        guard let key = try IdempotencyKeys.key(of: request.idempotencyKey, caller: caller) else {
            let eventID = EventIdentity.random()
            try await routes.publish(entry(eventID), logger: nil)
            return try JSONBody.response(Published(eventID: eventID, type: event.type), status: .accepted)
        }
        let fingerprint = EventIdentity.fingerprint("admin|\(event.type.rawValue)|\(event.encodedPayload())")
        let eventID = try await routes.idempotencyKeys.once(key: key, fingerprint: fingerprint) { _ in
            let eventID = EventIdentity.requestEventID(idempotencyKey: key, purpose: "admin")
            return (eventID, entry(eventID))
        }
        return try JSONBody.response(Published(eventID: eventID, type: event.type), status: .accepted)
    }
}
