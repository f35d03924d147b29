import CheckoutDomain
import Foundation
import LocalServers
import Redis
import StreamRuntime
import Testing

@Suite("Checkout API", .serialized)
struct CheckoutAPITests {
    /// How many checkout events the streams hold.
    static func checkoutEvents(_ system: ChorusSystem) async throws -> Int {
        var total = 0
        for stream in await system.topology.checkoutStreams {
            total += Int(try await system.redis.execute(["XLEN", stream]).integer ?? 0)
        }
        return total
    }

    /// Posts `body` as it is, as admin staff (who may name any customer), so that every check
    /// of the body is reached.
    static func raw(_ system: ChorusSystem, _ body: String, contentType: String = "application/json") async throws -> HTTPAnswer {
        try await system.send("POST", .checkoutAPI, "/checkouts", body: Data(body.utf8), headers: ["Content-Type": contentType], as: ChorusSystem.admin)
    }

    @Test("bad requests get a 4xx problem+json answer and publish nothing")
    func badInput() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])

        func item(_ sku: String, _ quantity: Any) -> [String: Any] { ["sku": sku, "quantity": quantity] }
        let valid: [String: Any] = ["customer_id": "cus-1", "store_id": "store-01", "items": [item("SKU-1", 1)]]
        func with(_ key: String, _ value: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: valid.merging([key: value]) { $1 }), as: UTF8.self)
        }
        let json = "application/json"
        let cases: [(name: String, status: Int, slug: String, body: String, contentType: String)] = [
            ("malformed JSON", 400, "malformed-json", #"{"customer_id": "cus-1", "#, json),
            ("a body that is not an object", 400, "malformed-json", "[1, 2]", json),
            ("missing field", 422, "invalid-field", #"{"customer_id": "cus-1", "store_id": "store-01"}"#, json),
            ("quantity of the wrong type", 422, "invalid-field", try with("items", [item("SKU-1", "2")]), json),
            ("fractional quantity", 422, "invalid-field", #"{"customer_id":"cus-1","store_id":"store-01","items":[{"sku":"SKU-1","quantity":1.5}]}"#, json),
            ("unknown SKU", 422, "unknown-product", try with("items", [item("SKU-404", 1)]), json),
            ("unknown store", 422, "unknown-store", try with("store_id", "store-404"), json),
            ("unknown customer", 422, "unknown-customer", try with("customer_id", "cus-404"), json),
            ("quantity 0", 422, "invalid-field", try with("items", [item("SKU-1", 0)]), json),
            ("negative quantity", 422, "invalid-field", try with("items", [item("SKU-1", -3)]), json),
            ("huge quantity", 422, "invalid-field", try with("items", [item("SKU-1", 1_000_000_000)]), json),
            ("quantity beyond 64 bits", 422, "invalid-field",
             #"{"customer_id":"cus-1","store_id":"store-01","items":[{"sku":"SKU-1","quantity":99999999999999999999999}]}"#, json),
            ("no lines", 422, "invalid-field", try with("items", [Any]()), json),
            ("too many lines", 422, "invalid-field", try with("items", (1...51).map { item("SKU-\($0)", 1) }), json),
            ("the same SKU twice", 422, "invalid-field", try with("items", [item("SKU-1", 1), item("SKU-1", 2)]), json),
            ("an id with spaces", 422, "invalid-field", try with("customer_id", "cus 1"), json),
            ("oversized body", 413, "body-too-large", #"{"customer_id":""# + String(repeating: "x", count: 100_000) + #""}"#, json),
            ("wrong content type", 415, "unsupported-media-type", "customer_id=cus-1", "application/x-www-form-urlencoded"),
        ]
        for (name, status, slug, body, contentType) in cases {
            let answer = try await Self.raw(system, body, contentType: contentType)
            #expect(answer.status == status, "\(name)")
            #expect(answer.header("Content-Type") == "application/problem+json", "\(name)")
            #expect(answer.json?["type"]?.string == "/problems/\(slug)", "\(name)")
            #expect(answer.json?["status"]?.int == Int64(status), "\(name)")
            #expect(answer.json?["detail"]?.string?.isEmpty == false, "\(name)")
        }
        // A field that fails to decode is named by its path, as the domain's own checks name theirs.
        for (body, field) in [
            (#"{"customer_id":"cus-1","store_id":"store-01","items":[{"sku":"SKU-1","quantity":1.5}]}"#, "items[0].quantity"),
            (#"{"customer_id":"cus-1","store_id":"store-01","items":[{"sku":"SKU-1","quantity":1},{"quantity":1}]}"#, "items[1].sku"),
            (#"{"customer_id":"cus-1","store_id":7,"items":[]}"#, "store_id"),
            (#"{"customer_id":"cus-1","store_id":"store-01"}"#, "items"),
        ] {
            let answer = try await Self.raw(system, body)
            #expect(answer.status == 422, "\(field)")
            #expect(answer.json?["field"]?.string == field)
        }
        let unknownRoute = try await system.get(.checkoutAPI, "/nowhere")
        #expect(unknownRoute.status == 404)
        #expect(unknownRoute.header("Content-Type") == "application/problem+json")
        #expect(try await Self.checkoutEvents(system) == 0, "nothing was published")
    }

    @Test("the same Idempotency-Key and body give the same checkout once; another body gets 422")
    func idempotencyKey() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5), ("SKU-2", 200, 5)], customers: [("cus-1", 10_000)])

        let first = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1), ("SKU-2", 1)], idempotencyKey: "order-42")
        let again = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-2", 1), ("SKU-1", 1)], idempotencyKey: "order-42")
        #expect(first.status == 202 && again.status == 202)
        let checkoutID = try #require(first.json?["checkout_id"]?.string)
        #expect(again.json?["checkout_id"]?.string == checkoutID)
        #expect(try await system.terminalCheckout(checkoutID)["status"]?.string == "completed")
        try await system.waitUntilQuiet()
        #expect(try await system.balance("cus-1") == Int64(9_700), "charged once")
        let initiated = try await system.allEntries().filter { $0.fields["type"] == "CheckoutInitiated" }
        #expect(initiated.count == 1, "one saga")

        let reused = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 2)], idempotencyKey: "order-42")
        #expect(reused.status == 422)
        #expect(reused.json?["type"]?.string == "/problems/idempotency-key-reused")
    }

    @Test("a repeat with the same Idempotency-Key answers the checkout's status as it is now: pending, then completed, or failed with its reason")
    func repeatAnswersTheCurrentStatus() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 10_000), ("cus-poor", 10)])

        // While order creation is down the saga cannot end: the first answer, and a repeat, say pending.
        await system.stop(.orderCreation)
        let first = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: "now-and-later")
        #expect(first.status == 202 && first.json?["status"]?.string == "pending")
        let checkoutID = try #require(first.json?["checkout_id"]?.string)
        try await system.waitUntilQuiet()
        let meanwhile = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: "now-and-later")
        #expect(meanwhile.json?["status"]?.string == "pending")
        #expect(meanwhile.json?["failure_reason"] == nil)

        try await system.start(.orderCreation)
        _ = try await system.terminalCheckout(checkoutID)
        let later = try await ChorusSystem.eventually("checkout-api to learn the outcome") { () async throws -> HTTPAnswer? in
            let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: "now-and-later")
            return answer.json?["status"]?.string == "pending" ? nil : answer
        }
        #expect(later.status == 202)
        #expect(later.json?["checkout_id"]?.string == checkoutID)
        #expect(later.json?["status"]?.string == "completed")

        let poor = try await system.checkout(customer: "cus-poor", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: "too-dear")
        let poorID = try #require(poor.json?["checkout_id"]?.string)
        _ = try await system.terminalCheckout(poorID)
        let failed = try await ChorusSystem.eventually("checkout-api to learn the failure") { () async throws -> HTTPAnswer? in
            let answer = try await system.checkout(customer: "cus-poor", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: "too-dear")
            return answer.json?["status"]?.string == "pending" ? nil : answer
        }
        #expect(failed.json?["status"]?.string == "failed")
        #expect(failed.json?["failure_reason"]?.string == "insufficient_funds")
        let initiated = try await system.allEntries().filter { $0.fields["type"] == "CheckoutInitiated" }
        #expect(initiated.count == 2, "repeats start nothing")
    }

    @Test("an Idempotency-Key that is empty, too long or holds a control character is refused with 400 and starts nothing")
    func malformedIdempotencyKeys() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 10_000)])
        // A tab is the one control character HTTP lets through in a header value; the server's
        // HTTP parser refuses the others (a DEL, say) with a bare 400 before any route sees them.
        for key in ["order\t42", String(repeating: "k", count: 256)] {
            let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: key)
            #expect(answer.status == 400, "\(key.debugDescription)")
            #expect(answer.json?["type"]?.string == "/problems/invalid-idempotency-key", "\(key.debugDescription)")
        }
        let deleteCharacter = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-1", 1)], idempotencyKey: "order\u{7F}42")
        #expect(deleteCharacter.status == 400)
        #expect(try await Self.checkoutEvents(system) == 0, "nothing was published")
    }

    @Test("when the event cannot be published the answer is 503, never 202; a retry with the same key starts the saga once")
    func unpublishableIs503ThenRetried() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])
        // A second API on the same database, whose Redis is gone.
        let deadRedis = "redis://127.0.0.1:\(try FreePort.next())"
        let port = try await system.start(.checkoutAPI, consumerName: "checkout-api-cut-off") { $0.redisURL = deadRedis }
        let body = Data(#"{"customer_id":"cus-1","store_id":"store-01","items":[{"sku":"SKU-1","quantity":1}]}"#.utf8)
        let headers = ["Content-Type": "application/json", "Idempotency-Key": "retry-me"]
            .merging(try await system.authorization(.customer(id: "cus-1"))) { $1 }
        let answer = try await HTTPClient.send("POST", "http://127.0.0.1:\(port)/checkouts", body: body, headers: headers)
        #expect(answer.status == 503)
        #expect(answer.header("Content-Type") == "application/problem+json")
        #expect(answer.header("Retry-After") != nil)
        #expect(try await system.integer(
            "SELECT count(*) AS value FROM checkout_api.idempotency_keys WHERE idempotency_key = 'customer:cus-1 retry-me' AND NOT published") == 1,
            "the request is kept, unpublished, for its retry")

        let retry = try await HTTPClient.send("POST", await system.url(.checkoutAPI, "/checkouts"), body: body, headers: headers)
        #expect(retry.status == 202)
        #expect(retry.json?["checkout_id"]?.string == EventIdentity.checkoutID(idempotencyKey: "customer:cus-1 retry-me"),
                "the key, in its caller's space, names the checkout")
        let again = try await HTTPClient.send("POST", await system.url(.checkoutAPI, "/checkouts"), body: body, headers: headers)
        #expect(again.json?["checkout_id"] == retry.json?["checkout_id"])
        #expect(try await Self.checkoutEvents(system) == 1, "one CheckoutInitiated, published once")
    }

    @Test("an admin Idempotency-Key is bound to its body: a repeat is applied once, another body is refused")
    func adminIdempotencyKey() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [], customers: [("cus-1", 0), ("cus-2", 0)])
        let seeded = try await system.redis.execute(["XLEN", await system.topology.referenceStream]).integer ?? 0
        let first = try await system.post("/admin/customers/cus-1/credit", ["amount_cents": 100], headers: ["Idempotency-Key": "top-up-7"])
        let repeated = try await system.post("/admin/customers/cus-1/credit", ["amount_cents": 100], headers: ["Idempotency-Key": "top-up-7"])
        #expect(first.status == 202 && repeated.status == 202)
        #expect(first.json?["event_id"] == repeated.json?["event_id"])
        let other = try await system.post("/admin/customers/cus-2/credit", ["amount_cents": 50_000], headers: ["Idempotency-Key": "top-up-7"])
        #expect(other.status == 422)
        #expect(other.json?["type"]?.string == "/problems/idempotency-key-reused")
        #expect(try await system.redis.execute(["XLEN", await system.topology.referenceStream]).integer == seeded + 1)
    }

    @Test("admin endpoints refuse a store, product or customer the catalogue does not know, and publish nothing")
    func adminUnknownReferences() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 1_000)])
        let referenceStream = await system.topology.referenceStream
        let before = try await system.redis.execute(["XLEN", referenceStream]).integer

        for (path, json) in [
            ("/admin/stores/store-404/pause", #"{"reason":"x"}"#), ("/admin/stores/store-404/resume", "{}"),
            ("/admin/products/SKU-404/price", #"{"price_cents":1}"#), ("/admin/customers/cus-404/credit", #"{"amount_cents":1}"#),
        ] {
            let answer = try await system.post(path, try JSONSerialization.jsonObject(with: Data(json.utf8)))
            #expect(answer.status == 404, "\(path)")
            #expect(answer.header("Content-Type") == "application/problem+json", "\(path)")
        }
        for (store, sku, field) in [("store-404", "SKU-1", "store_id"), ("store-01", "SKU-404", "sku")] {
            let answer = try await system.post("/admin/stock", ["store_id": store, "sku": sku, "quantity": 1])
            #expect(answer.status == 422, "\(field)")
            #expect(answer.json?["field"]?.string == field)
        }
        #expect(try await system.redis.execute(["XLEN", referenceStream]).integer == before, "nothing was published")

        // What was registered a moment ago is known to the very next request.
        #expect(try await system.post("/admin/stores", ["store_id": "store-new", "name": "New", "channel": "web"]).status == 202)
        #expect(try await system.post("/admin/stock", ["store_id": "store-new", "sku": "SKU-1", "quantity": 3]).status == 202)
        #expect(try await system.post("/admin/customers", ["customer_id": "cus-new", "name": "New", "email": "new@example.com",
                                                           "opening_balance_cents": 0]).status == 202)
        #expect(try await system.post("/admin/customers/cus-new/credit", ["amount_cents": 500]).status == 202)
    }

    @Test("admin endpoints validate what they publish")
    func adminValidation() async throws {
        let system = try await ChorusSystem.start([.checkoutAPI])
        defer { Task { await system.shutdown() } }
        let negativePrice = try await system.post("/admin/products", ["sku": "SKU-1", "name": "x", "price_cents": -1])
        #expect(negativePrice.status == 422)
        let badID = try await system.post("/admin/stores", ["store_id": "no spaces please", "name": "x", "channel": "physical"])
        #expect(badID.status == 422)
        let badChannel = try await system.post("/admin/stores", ["store_id": "s1", "name": "x", "channel": "teleport"])
        #expect(badChannel.status == 422, "a value outside the field's choices is an invalid field, named")
        #expect(badChannel.json?["field"]?.string == "channel")
        let noStock = try await system.post("/admin/stock", ["store_id": "s1", "sku": "SKU-1", "quantity": 0])
        #expect(noStock.status == 422)
        let entries = try await system.redis.execute(["XLEN", await system.topology.referenceStream]).integer
        #expect(entries == 0)
    }
}
