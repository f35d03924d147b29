import CheckoutDomain
import Foundation
import HTTPSupport
import Hummingbird
import HummingbirdAuth
import Identity
import Logging
import Postgres
import ServiceSupport

/// The read side over HTTP: checkouts, customers and their orders, store stock and sales.
/// Every answer comes from this service's own read models.
///
/// A customer reads their own checkouts, profile and orders; another customer's look absent
/// (404). Staff read according to their roles.
public struct ReadModelRoutes: Sendable {
    let database: PostgresConnectionPool

    public init(database: PostgresConnectionPool) {
        self.database = database
    }

    struct Customer: Encodable {
        var customerID: String
        var name: String?
        var email: String?
        var balanceCents: Int64
        enum CodingKeys: String, CodingKey { case customerID = "customer_id", name, email, balanceCents = "balance_cents" }
    }

    struct CustomerOrder: Encodable {
        var orderID: String
        var checkoutID: String
        var storeID: String
        var totalCents: Int64
        var lines: [CheckoutLine]
        var createdAt: String
        enum CodingKeys: String, CodingKey {
            case orderID = "order_id", checkoutID = "checkout_id", storeID = "store_id", totalCents = "total_cents", lines
            case createdAt = "created_at"
        }
    }

    /// One page of a customer's orders, newest first; `next` is the following page's path, absent
    /// on the last page.
    struct CustomerOrders: Encodable {
        var customerID: String
        var orders: [CustomerOrder]
        var next: String?
        enum CodingKeys: String, CodingKey { case customerID = "customer_id", orders, next }
    }

    struct StockLevel: Encodable {
        var sku: String
        var onHand: Int
        var reserved: Int
        var available: Int
        var sold: Int
        enum CodingKeys: String, CodingKey { case sku, onHand = "on_hand", reserved, available, sold }
    }

    struct StoreStock: Encodable {
        var storeID: String
        var items: [StockLevel]
        enum CodingKeys: String, CodingKey { case storeID = "store_id", items }
    }

    struct StoreSales: Encodable {
        var storeID: String
        var date: String
        var orders: Int
        var units: Int
        var revenueCents: Int64
        enum CodingKeys: String, CodingKey { case storeID = "store_id", date, orders, units, revenueCents = "revenue_cents" }
    }

    public func register(on router: Router<ChorusRequestContext>) {
        router.get("/checkouts/:id") { _, context -> Response in
            let id = try context.pathParameter("id")
            guard context.identity != nil else { throw Problem.unauthenticated("reading a checkout needs a bearer token", error: nil) }
            guard let row = try await database.connection.query(
                "SELECT state::text AS state FROM cqrs_projection.checkouts WHERE checkout_id = $1", [id]).first
            else { throw Problem.notFound("no checkout \(id)") }
            let state = try JSONDecoder().decode(CheckoutState.self, from: Data(try row.decode("state", as: String.self).utf8))
            try context.authorize(.readCheckout(customer: state.customerID ?? ""), notFound: "no checkout \(id)")
            return try JSONBody.response(state)
        }
        router.get("/customers/:id") { _, context -> Response in
            let id = try context.pathParameter("id")
            try context.authorize(.readCustomer(id), notFound: "no customer \(id)")
            guard let row = try await database.connection.query(
                "SELECT customer_id, name, email, balance_cents FROM cqrs_projection.customer_balances WHERE customer_id = $1", [id]).first
            else { throw Problem.notFound("no customer \(id)") }
            return try JSONBody.response(Customer(
                customerID: try row.decode("customer_id"), name: try row.decodeIfPresent("name"),
                email: try row.decodeIfPresent("email"), balanceCents: try row.decode("balance_cents")))
        }
        router.get("/customers/:id/orders") { request, context -> Response in
            let id = try context.pathParameter("id")
            try context.authorize(.readCustomer(id), notFound: "no customer \(id)")
            let page = try PageRequest(request)
            // Newest first, by (created_at in microseconds, order_id): the cursor is that pair.
            var position: (micros: Int64, orderID: String)?
            if let after = page.after {
                let parts = after.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let micros = Int64(parts[0]) else {
                    throw Problem.badRequest("after must be a cursor from a previous page's next link", slug: "invalid-parameter")
                }
                position = (micros, String(parts[1]))
            }
            let rows = try await database.connection.query(
                """
                SELECT order_id, checkout_id, store_id, total_cents, lines::text AS lines,
                       (extract(epoch FROM created_at) * 1000000)::bigint AS created_micros,
                       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at
                FROM cqrs_projection.orders_by_customer
                WHERE customer_id = $1
                  AND ($2::bigint IS NULL OR (extract(epoch FROM created_at) * 1000000)::bigint < $2
                       OR ((extract(epoch FROM created_at) * 1000000)::bigint = $2 AND order_id > $3))
                ORDER BY created_at DESC, order_id
                LIMIT $4
                """,
                [id, position?.micros, position?.orderID, page.limit + 1])
            let orders = try rows.prefix(page.limit).map { row in
                CustomerOrder(
                    orderID: try row.decode("order_id"), checkoutID: try row.decode("checkout_id"), storeID: try row.decode("store_id"),
                    totalCents: try row.decode("total_cents"),
                    lines: try JSONDecoder().decode([CheckoutLine].self, from: Data(try row.decode("lines", as: String.self).utf8)),
                    createdAt: try row.decode("created_at"))
            }
            let last = rows.count > page.limit ? rows[page.limit - 1] : nil
            let next = try page.next(
                path: "/customers/\(PageRequest.pathSegment(id))/orders",
                lastPosition: try last.map { "\(try $0.decode("created_micros", as: Int64.self)) \(try $0.decode("order_id", as: String.self))" })
            return try JSONBody.response(CustomerOrders(customerID: id, orders: orders, next: next?.link), headers: next?.header ?? [:])
        }
        router.get("/stores/:id/stock") { _, context -> Response in
            let id = try context.pathParameter("id")
            try context.authorize(.readStock)
            let rows = try await database.connection.query(
                "SELECT sku, on_hand, reserved, sold FROM cqrs_projection.stock_levels WHERE store_id = $1 ORDER BY sku", [id])
            guard !rows.isEmpty else { throw Problem.notFound("no stock at store \(id)") }
            let items = try rows.map { row in
                let onHand: Int = try row.decode("on_hand")
                let reserved: Int = try row.decode("reserved")
                return StockLevel(sku: try row.decode("sku"), onHand: onHand, reserved: reserved, available: onHand - reserved,
                                  sold: try row.decode("sold"))
            }
            return try JSONBody.response(StoreStock(storeID: id, items: items))
        }
        router.get("/stores/:id/sales") { request, context -> Response in
            let id = try context.pathParameter("id")
            try context.authorize(.readSales)
            let date = request.uri.queryParameters.get("date") ?? String(Timestamp.format(Date()).prefix(10))
            guard Self.isCalendarDate(date) else { throw Problem.badRequest("date must be YYYY-MM-DD", slug: "invalid-date") }
            let row = try await database.connection.query(
                "SELECT orders, units, revenue_cents FROM cqrs_projection.sales_by_store_day WHERE store_id = $1 AND day = $2::date",
                [id, date]).first
            return try JSONBody.response(StoreSales(
                storeID: id, date: date, orders: try row?.decode("orders") ?? 0, units: try row?.decode("units") ?? 0,
                revenueCents: try row?.decode("revenue_cents") ?? 0))
        }
    }

    static func isCalendarDate(_ text: String) -> Bool {
        // Year 0000 parses, but PostgreSQL's dates begin at 0001.
        guard text.utf8.count == 10, !text.hasPrefix("0000"), let date = Timestamp.parse(text + "T00:00:00Z") else { return false }
        return Timestamp.format(date).hasPrefix(text)
    }
}

extension ChorusProcess where Effect == ProjectionEffect {
    /// The `cqrs-projection` process: its projecting consumer and the read-side routes.
    public static func cqrsProjection(
        configuration: ChorusConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> Self {
        ChorusProcess(effect: ProjectionEffect(), configuration: configuration, logger: logger, routes: { router, resources in
            ReadModelRoutes(database: resources.database).register(on: router)
        }, routesNeedCallers: true, onListening: onListening)
    }
}
