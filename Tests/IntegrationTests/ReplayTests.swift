import CheckoutDomain
import Foundation
import Postgres
import Testing

@Suite("Replay", .serialized)
struct ReplayTests {
    @Test("rebuilding every aggregate from the event store gives the live read models")
    func replayEqualsLiveReadModels() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        _ = try await Scenarios.everyKindOfCheckout(on: system)

        let aggregates = try await system.database.query(
            "SELECT DISTINCT aggregate_kind, aggregate_id FROM event_store.aggregate_events ORDER BY 1, 2")
        var kinds: Set<String> = []
        for row in aggregates {
            let kind: String = try row.decode("aggregate_kind")
            let id: String = try row.decode("aggregate_id")
            kinds.insert(kind)
            let projection = try await system.get(.eventStore, "/projections/\(id)?kind=\(kind)")
            try #require(projection.status == 200, "projection of \(kind) \(id)")
            let state = try #require(projection.json?["state"])
            switch kind {
            case "checkout":
                let live = try await system.get(.cqrsProjection, "/checkouts/\(id)")
                #expect(live.json == state, "checkout \(id)")
            case "stock_item":
                let parts = id.split(separator: ":").map(String.init)
                let live = try await system.database.query(
                    "SELECT on_hand, reserved, sold FROM cqrs_projection.stock_levels WHERE store_id = $1 AND sku = $2", parts)
                let owned = try #require(try await system.stock(parts[0], parts[1]))
                #expect(state["on_hand"]?.int == Int64(owned.onHand) && state["reserved"]?.int == Int64(owned.reserved)
                        && state["sold"]?.int == Int64(owned.sold), "stock \(id) as stock-reservation holds it")
                #expect(try live.first?.decode("on_hand", as: Int64.self) == state["on_hand"]?.int, "stock \(id) read model")
                #expect(try live.first?.decode("reserved", as: Int64.self) == state["reserved"]?.int)
                #expect(try live.first?.decode("sold", as: Int64.self) == state["sold"]?.int)
            case "customer":
                let live = try await system.get(.cqrsProjection, "/customers/\(id)")
                #expect(live.json?["balance_cents"] == state["balance_cents"], "customer \(id) read model")
                #expect(try await system.balance(id) == state["balance_cents"]?.int, "customer \(id) as payment holds it")
            case "order":
                let customer = try #require(state["customer_id"]?.string)
                let live = try await system.get(.cqrsProjection, "/customers/\(customer)/orders")
                let order = live.json?["orders"]?.array?.first { $0["order_id"]?.string == id }
                #expect(order?["total_cents"] == state["total_cents"], "order \(id)")
                #expect(order?["lines"] == state["lines"])
            case "store":
                let paused = try await system.database.query(
                    "SELECT paused FROM checkout_api.stores WHERE store_id = $1", [id]).first?.decode("paused", as: Bool.self)
                #expect(paused == state["paused"]?.bool, "store \(id)")
            case "product":
                let price = try await system.integer("SELECT price_cents AS value FROM checkout_api.products WHERE sku = $1", [id])
                #expect(price == state["price_cents"]?.int, "product \(id)")
            default:
                Issue.record("unexpected aggregate kind \(kind)")
            }
        }
        #expect(kinds == Set(AggregateKind.allCases.map(\.rawValue)), "every kind of aggregate was replayed")

        // Every read model keeps its checkpoint.
        let checkpoints = try await system.database.query(
            "SELECT read_model, events_applied FROM cqrs_projection.checkpoints ORDER BY read_model")
        #expect(try checkpoints.map { try $0.decode("read_model", as: String.self) }
                == ["checkouts", "customer_balances", "orders_by_customer", "sales_by_store_day", "stock_levels"])
        #expect(try checkpoints.allSatisfy { try $0.decode("events_applied", as: Int64.self) > 0 })
    }

    @Test("the event store and the audit trail refuse changes and deletions")
    func historyIsAppendOnly() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-1", 100, 1)], customers: [("cus-1", 100)])
        #expect(try await system.integer("SELECT count(*) AS value FROM event_store.events") == 4)
        #expect(try await system.integer("SELECT count(*) AS value FROM audit.audit_log") == 4)
        for statement in [
            "UPDATE event_store.events SET event_type = 'Forged'",
            "DELETE FROM event_store.events",
            "DELETE FROM event_store.aggregate_events",
            "UPDATE audit.audit_log SET producer = 'someone else'",
            "DELETE FROM audit.audit_log",
        ] {
            let error = try await #require(throws: PostgresError.self, "\(statement)") { try await system.database.query(statement) }
            #expect(error.isPermissionDenied, "\(statement)")
        }
        #expect(try await system.integer("SELECT count(*) AS value FROM event_store.events") == 4)
    }

    @Test("an event touching several aggregates is found from each, and versions count per aggregate")
    func eventsAreIndexedUnderEveryAggregate() async throws {
        let system = try await ChorusSystem.start()
        defer { Task { await system.shutdown() } }
        try await system.seed(products: [("SKU-A", 100, 5), ("SKU-B", 200, 5)], customers: [("cus-1", 10_000)])
        let answer = try await system.checkout(customer: "cus-1", store: "store-01", items: [("SKU-A", 1), ("SKU-B", 2)])
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        _ = try await system.terminalCheckout(checkoutID)
        try await system.waitUntilQuiet()

        let history = try await system.get(.eventStore, "/projections/store-01:SKU-B/events")
        let types = history.json?.array?.compactMap { $0["type"]?.string }
        #expect(types == ["StockReceived", "StockReserved", "OrderCreated"])
        let versions = history.json?.array?.compactMap { $0["version"]?.int }
        #expect(versions == [1, 2, 3])
        let reserved = try #require(history.json?[1])
        #expect(reserved["payload"]?["checkout"]?["checkout_id"]?.string == checkoutID)
        #expect(reserved["causation_id"]?.string != nil)
        #expect(reserved["correlation_id"]?.string == checkoutID)

        let missing = try await system.get(.eventStore, "/projections/no-such-thing")
        #expect(missing.status == 404)
        #expect(missing.header("Content-Type") == "application/problem+json")
        #expect(missing.json?["status"]?.int == 404)
    }
}
