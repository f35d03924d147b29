import CheckoutDomain
import Foundation
import Identity
import StreamRuntime
import Testing

/// Who may do what, asked of the services themselves (not the gateway): each one verifies the
/// caller's token and decides. The OWASP API Security Top 10 items that apply to Chorus, one
/// test each: broken object-level authorization (API1), broken authentication (API2), broken
/// object property-level authorization, that is mass assignment and excessive data exposure
/// (API3), and broken function-level authorization (API5).
@Suite("Authorization at the services", .serialized)
struct AuthorizationTests {
    static let alice = Caller.customer(id: "cus-1")
    static let bob = Caller.customer(id: "cus-2")

    /// Every route that needs a caller, with a body that would be accepted.
    static var protectedRoutes: [(method: String, worker: Worker, path: String, body: [String: Any]?)] {
        [
        ("POST", .checkoutAPI, "/checkouts", ["customer_id": "cus-1", "store_id": "store-01", "items": [["sku": "SKU-1", "quantity": 1]]]),
        ("POST", .checkoutAPI, "/admin/stores", ["store_id": "store-09", "name": "Nine", "channel": "physical"]),
        ("POST", .checkoutAPI, "/admin/stores/store-01/pause", ["reason": "x"]),
        ("POST", .checkoutAPI, "/admin/stores/store-01/resume", [:]),
        ("POST", .checkoutAPI, "/admin/products", ["sku": "SKU-9", "name": "Nine", "price_cents": 1]),
        ("POST", .checkoutAPI, "/admin/products/SKU-1/price", ["price_cents": 1]),
        ("POST", .checkoutAPI, "/admin/stock", ["store_id": "store-01", "sku": "SKU-1", "quantity": 5]),
        ("POST", .checkoutAPI, "/admin/customers", ["customer_id": "cus-9", "name": "N", "email": "n@example.com", "opening_balance_cents": 1]),
        ("POST", .checkoutAPI, "/admin/customers/cus-1/credit", ["amount_cents": 100_000_000]),
        ("GET", .cqrsProjection, "/checkouts/00000000-0000-4000-8000-000000000000", nil),
        ("GET", .cqrsProjection, "/customers/cus-1", nil),
        ("GET", .cqrsProjection, "/customers/cus-1/orders", nil),
        ("GET", .cqrsProjection, "/stores/store-01/stock", nil),
        ("GET", .cqrsProjection, "/stores/store-01/sales", nil),
        ("GET", .eventStore, "/projections/cus-1", nil),
        ("GET", .eventStore, "/projections/cus-1/events", nil),
        ]
    }

    static func seeded() async throws -> ChorusSystem {
        let system = try await ChorusSystem.start()
        try await system.seed(products: [("SKU-1", 1_000, 100)], customers: [("cus-1", 100_000), ("cus-2", 100_000)])
        return system
    }

    static func send(
        _ system: ChorusSystem, _ route: (method: String, worker: Worker, path: String, body: [String: Any]?), headers: [String: String]
    ) async throws -> HTTPAnswer {
        let body = try route.body.map { try JSONSerialization.data(withJSONObject: $0) }
        return try await system.send(
            route.method, route.worker, route.path, body: body, headers: ["Content-Type": "application/json"].merging(headers) { $1 }, as: nil)
    }

    static func expectProblem(_ answer: HTTPAnswer, _ status: Int, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(answer.status == status, "\(what): \(String(decoding: answer.body, as: UTF8.self))", sourceLocation: sourceLocation)
        #expect(answer.header("Content-Type") == "application/problem+json", "\(what)", sourceLocation: sourceLocation)
        #expect(answer.json?["status"]?.int == Int64(status), "\(what)", sourceLocation: sourceLocation)
    }

    /// Entries on every stream: what a refused request must not have added to.
    static func published(_ system: ChorusSystem) async throws -> Int {
        try await system.allEntries().count
    }

    @Test("without a token every route but the catalogue and health answers 401 with a Bearer challenge, and nothing is published")
    func anonymous() async throws {
        let system = try await Self.seeded()
        defer { Task { await system.shutdown() } }
        let before = try await Self.published(system)
        for route in Self.protectedRoutes {
            let answer = try await Self.send(system, route, headers: [:])
            Self.expectProblem(answer, 401, "\(route.method) \(route.path)")
            #expect(answer.header("WWW-Authenticate") == #"Bearer realm="chorus""#, "\(route.path)")
            #expect(answer.json?["type"]?.string == "/problems/unauthenticated")
        }
        #expect(try await system.get(.checkoutAPI, "/products", as: nil).status == 200, "the catalogue is public")
        for worker in [Worker.checkoutAPI, .eventStore, .cqrsProjection] {
            #expect(try await system.get(worker, "/health", as: nil).status == 200, "liveness needs no token")
            #expect(try await system.get(worker, "/ready", as: nil).status == 200, "readiness needs no token")
        }
        try await system.waitUntilQuiet()
        #expect(try await Self.published(system) == before, "no refused request published anything")
    }

    @Test("expired, not yet valid, wrongly signed, unsigned, other-audience and other-issuer tokens are refused with 401 invalid_token")
    func badTokens() async throws {
        let system = try await Self.seeded()
        defer { Task { await system.shutdown() } }
        let issuer = system.issuer
        let admin = ["admin"]
        let stranger = TokenIssuer(key: .generate(), issuer: issuer.issuer, audience: issuer.audience)
        let valid = try await issuer.token(subject: "eve", roles: admin)
        let unsignedHeader = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        let tokens: [(String, String)] = [
            ("expired an hour ago", try await issuer.token(subject: "eve", roles: admin, lifetime: .seconds(60), now: Date().addingTimeInterval(-3_600))),
            ("valid only in an hour", try await issuer.token(subject: "eve", roles: admin, now: Date().addingTimeInterval(3_600))),
            ("signed by a key the services do not trust", try await stranger.token(subject: "eve", roles: admin)),
            ("unsigned (alg none)", unsignedHeader + "." + valid.split(separator: ".")[1] + "."),
            ("for another audience", try await issuer.token(subject: "eve", roles: admin, audience: "billing")),
            ("from another issuer", try await issuer.token(subject: "eve", roles: admin, issuer: "https://evil.example")),
            ("without any Chorus role", try await issuer.token(subject: "eve", roles: ["offline_access"])),
            ("not a JWT", "let-me-in"),
        ]
        let before = try await Self.published(system)
        let credit = Self.protectedRoutes.first { $0.path == "/admin/customers/cus-1/credit" }!
        let read = Self.protectedRoutes.first { $0.path == "/customers/cus-1" }!
        for (what, token) in tokens {
            for route in [credit, read] {
                let answer = try await Self.send(system, route, headers: ["Authorization": "Bearer \(token)"])
                Self.expectProblem(answer, 401, "\(what), \(route.path)")
                #expect(answer.header("WWW-Authenticate") == #"Bearer realm="chorus", error="invalid_token""#, "\(what)")
            }
        }
        let basic = try await Self.send(system, credit, headers: ["Authorization": "Basic ZXZlOmV2ZQ=="])
        Self.expectProblem(basic, 401, "basic credentials")
        #expect(basic.header("WWW-Authenticate") == #"Bearer realm="chorus", error="invalid_request""#)
        // The same request with the valid token goes through: the refusals above were the tokens'.
        #expect(try await Self.send(system, read, headers: ["Authorization": "Bearer \(valid)"]).status == 200)
        try await system.waitUntilQuiet()
        #expect(try await Self.published(system) == before, "no refused request published anything")
        #expect(try await system.balance("cus-1") == 100_000, "no credit went through")
    }

    @Test("a customer may not use any staff function, and each staff role opens only its own")
    func functionLevel() async throws {
        let system = try await Self.seeded()
        defer { Task { await system.shutdown() } }
        let before = try await Self.published(system)
        let admin = Self.protectedRoutes.filter { $0.path.hasPrefix("/admin/") }
        let customer = try await system.authorization(Self.alice)
        for route in admin + Self.protectedRoutes.filter({ $0.path.hasPrefix("/stores/") }) {
            let answer = try await Self.send(system, route, headers: customer)
            Self.expectProblem(answer, 403, "a customer on \(route.path)")
            #expect(answer.json?["type"]?.string == "/problems/forbidden")
        }
        try await system.waitUntilQuiet()
        #expect(try await Self.published(system) == before, "a customer changed nothing")

        let inventory = try await system.authorization(.staff(name: "ivan", roles: [.inventory]))
        for route in admin {
            let answer = try await Self.send(system, route, headers: inventory)
            #expect(answer.status == (route.path == "/admin/stock" ? 202 : 403), "inventory on \(route.path)")
        }
        #expect(try await Self.send(system, Self.protectedRoutes.first { $0.path == "/stores/store-01/stock" }!, headers: inventory).status == 200)
        #expect(try await Self.send(system, Self.protectedRoutes.first { $0.path == "/stores/store-01/sales" }!, headers: inventory).status == 403)

        let support = try await system.authorization(.staff(name: "sue", roles: [.support]))
        for route in admin {
            #expect(try await Self.send(system, route, headers: support).status == 403, "support on \(route.path)")
        }
        for route in Self.protectedRoutes where route.method == "GET" && !route.path.hasPrefix("/checkouts/") {
            #expect(try await Self.send(system, route, headers: support).status == 200, "support reads \(route.path)")
        }
    }

    @Test("a customer reads their own checkouts, profile and orders; another customer's look exactly like ids that do not exist")
    func objectLevelReads() async throws {
        let system = try await Self.seeded()
        defer { Task { await system.shutdown() } }
        let answer = try await system.checkout(customer: "cus-2", store: "store-01", items: [("SKU-1", 1)])
        let bobsCheckout = try #require(answer.json?["checkout_id"]?.string)
        _ = try await system.terminalCheckout(bobsCheckout)
        try await system.waitUntilQuiet()

        for path in ["/checkouts/\(bobsCheckout)", "/customers/cus-2", "/customers/cus-2/orders"] {
            let own = try await system.get(.cqrsProjection, path, as: Self.bob)
            #expect(own.status == 200, "bob reads his \(path)")
            let other = try await system.get(.cqrsProjection, path, as: Self.alice)
            Self.expectProblem(other, 404, "alice on bob's \(path)")
            #expect(!String(decoding: other.body, as: UTF8.self).contains("cus-2@example.com"), "no email leaks")
        }
        #expect(try await system.get(.cqrsProjection, "/customers/cus-2", as: Self.bob).json?["email"]?.string == "cus-2@example.com")
        for path in ["/projections/\(bobsCheckout)", "/projections/\(bobsCheckout)/events", "/projections/\(bobsCheckout)?kind=checkout"] {
            #expect(try await system.get(.eventStore, path, as: Self.bob).status == 200, "bob rebuilds his \(path)")
            Self.expectProblem(try await system.get(.eventStore, path, as: Self.alice), 404, "alice on bob's \(path)")
        }
        // Every other aggregate, even her own customer record, is for staff: absent to a customer.
        for path in ["/projections/cus-1", "/projections/store-01", "/projections/cus-2/events", "/projections/\(bobsCheckout)?kind=customer"] {
            Self.expectProblem(try await system.get(.eventStore, path, as: Self.alice), 404, "alice on \(path)")
        }
        // A missing id and another customer's id answer the same, so probing tells nothing.
        let missing = try await system.get(.cqrsProjection, "/checkouts/00000000-0000-4000-8000-000000000000", as: Self.alice)
        let others = try await system.get(.cqrsProjection, "/checkouts/\(bobsCheckout)", as: Self.alice)
        #expect(missing.status == others.status)
        #expect(missing.json?["type"] == others.json?["type"] && missing.json?["title"] == others.json?["title"])
    }

    @Test("a customer cannot spend another customer's balance; without customer_id the checkout is the token's")
    func objectLevelWrites() async throws {
        let system = try await Self.seeded()
        defer { Task { await system.shutdown() } }
        let before = try await Self.published(system)
        let forBob = try await system.post(
            "/checkouts", ["customer_id": "cus-2", "store_id": "store-01", "items": [["sku": "SKU-1", "quantity": 1]]], as: Self.alice)
        Self.expectProblem(forBob, 403, "alice paying with bob's balance")
        try await system.waitUntilQuiet()
        #expect(try await Self.published(system) == before)

        let implicit = try await system.post("/checkouts", ["store_id": "store-01", "items": [["sku": "SKU-1", "quantity": 1]]], as: Self.alice)
        #expect(implicit.status == 202)
        let id = try #require(implicit.json?["checkout_id"]?.string)
        #expect(try await system.terminalCheckout(id)["customer_id"]?.string == "cus-1")
        try await system.waitUntilQuiet()
        #expect(try await system.balance("cus-1") == 99_000)
        #expect(try await system.balance("cus-2") == 100_000)

        // Staff acting for a customer must say which one.
        let unnamed = try await system.post("/checkouts", ["store_id": "store-01", "items": [["sku": "SKU-1", "quantity": 1]]], as: ChorusSystem.admin)
        Self.expectProblem(unnamed, 422, "admin without customer_id")
        #expect(unnamed.json?["field"]?.string == "customer_id")
    }

    @Test("fields a client must not set (prices, totals, status, another customer) are ignored or refused")
    func massAssignment() async throws {
        let system = try await Self.seeded()
        defer { Task { await system.shutdown() } }
        let body: [String: Any] = [
            "store_id": "store-01",
            "items": [["sku": "SKU-1", "quantity": 2, "unit_price_cents": 1, "line_total_cents": 2]],
            "total_cents": 2, "status": "completed", "checkout_id": "00000000-0000-4000-8000-000000000000", "actor": "staff:root",
        ]
        let answer = try await system.post("/checkouts", body, as: Self.alice)
        #expect(answer.status == 202)
        let id = try #require(answer.json?["checkout_id"]?.string)
        #expect(id != "00000000-0000-4000-8000-000000000000", "the client does not choose the checkout's id")
        let initiated = try #require(try await system.allEntries().first { $0.fields[StreamField.type] == EventType.checkoutInitiated.rawValue })
        let payload = try JSONValue(data: Data(try #require(initiated.fields[StreamField.payload]).utf8))
        #expect(payload["checkout"]?["total_cents"]?.int == 2_000, "priced from the catalogue, not the body")
        #expect(payload["checkout"]?["lines"]?[0]?["unit_price_cents"]?.int == 1_000)
        #expect(payload["checkout"]?["checkout_id"]?.string == id)
        #expect(initiated.fields[StreamField.actor] == "customer:cus-1", "the actor comes from the token")
        #expect(try await system.terminalCheckout(id)["status"]?.string == "completed")
        try await system.waitUntilQuiet()
        #expect(try await system.balance("cus-1") == 98_000)
    }

    @Test("every event a request started names who asked, in the stream, the event store and the audit trail")
    func actorIsRecorded() async throws {
        let system = try await Self.seeded()
        defer { Task { await system.shutdown() } }
        let alice = Caller.staff(name: "alice", roles: [.admin])
        #expect(try await system.post("/admin/customers/cus-1/credit", ["amount_cents": 500], as: alice).status == 202)
        let checkout = try await system.checkout(customer: "cus-2", store: "store-01", items: [("SKU-1", 1)])
        let checkoutID = try #require(checkout.json?["checkout_id"]?.string)
        _ = try await system.terminalCheckout(checkoutID)
        try await system.waitUntilQuiet()

        let audit = try await system.database.query(
            "SELECT event_type, actor FROM audit.audit_log WHERE event_type IN ('AccountCredited', 'CheckoutInitiated', 'CheckoutCompleted') ORDER BY position")
        let trail = try audit.map { "\(try $0.decode("event_type", as: String.self))=\(try $0.decodeIfPresent("actor", as: String.self) ?? "-")" }
        #expect(trail == ["AccountCredited=staff:alice", "CheckoutInitiated=customer:cus-2", "CheckoutCompleted=-"])

        let history = try await system.get(.eventStore, "/projections/cus-1/events?kind=customer")
        let credit = try #require(history.json?.array?.last)
        #expect(credit["type"]?.string == "AccountCredited")
        #expect(credit["actor"]?.string == "staff:alice")
        #expect(try await system.integer(
            "SELECT count(*) AS value FROM event_store.events WHERE event_type = 'CheckoutInitiated' AND actor = 'customer:cus-2'") == 1)
    }

    @Test("Idempotency-Keys are each caller's own: two customers choosing the same key start two checkouts")
    func idempotencyKeysPerCaller() async throws {
        let system = try await Self.seeded()
        defer { Task { await system.shutdown() } }
        let first = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: "order-1")
        let second = try await system.checkout(customer: "cus-2", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: "order-1")
        #expect(first.status == 202 && second.status == 202)
        let ids = [first, second].compactMap { $0.json?["checkout_id"]?.string }
        #expect(Set(ids).count == 2)
        for id in ids { _ = try await system.terminalCheckout(id) }
        try await system.waitUntilQuiet()
        #expect(try await system.balance("cus-1") == 99_000)
        #expect(try await system.balance("cus-2") == 99_000)
    }

    @Test("a customer over their checkout rate gets 429 with Retry-After, counted by their token: other customers and staff go on")
    func perCustomerRateLimit() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI]) { $0.customerCheckoutRate = 1 }
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 1_000, 100)], customers: [("cus-1", 100_000), ("cus-2", 100_000)])
        func body(for customer: String? = nil) -> [String: Any] {
            var body: [String: Any] = ["store_id": "store-01", "items": [["sku": "SKU-1", "quantity": 1]]]
            if let customer { body["customer_id"] = customer }
            return body
        }
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await system.post("/checkouts", body(), as: Self.alice).status) }
        #expect(statuses == [202, 202, 429, 429], "a burst of two, then the rate of one a second")
        let limited = try await system.post("/checkouts", body(), as: Self.alice)
        Self.expectProblem(limited, 429, "over the rate")
        #expect(limited.json?["type"]?.string == "/problems/rate-limited")
        #expect(limited.header("Retry-After") == "1")
        #expect(try await system.post("/checkouts", body(), as: Self.bob).status == 202, "another customer has a bucket of their own")
        var staff: [Int] = []
        for _ in 0..<4 { staff.append(try await system.post("/checkouts", body(for: "cus-1"), as: ChorusSystem.admin).status) }
        #expect(staff == [202, 202, 202, 202], "staff are not limited")
        try await Task.sleep(for: .milliseconds(1_100))
        #expect(try await system.post("/checkouts", body(), as: Self.alice).status == 202, "the bucket refills")
        let initiated = try await system.allEntries().filter { $0.fields[StreamField.type] == EventType.checkoutInitiated.rawValue }
        let expected = 8  // two of alice's burst, bob's, four by staff, alice's after the refill
        #expect(initiated.count == expected, "nothing was published for a refused checkout")
    }
}
