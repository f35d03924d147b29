import CheckoutDomain
import EventStore
import Foundation
import Postgres

/// The data of ``VerificationTables`` decoded, with every aggregate rebuilt from the event store.
struct VerificationFacts {
    typealias Violation = InvariantReport.Violation

    struct StockRow: Hashable {
        var onHand: Int, reserved: Int, sold: Int, received: Int
    }

    struct OpenReservationLine {
        var checkoutID: String, storeID: String, sku: String, quantity: Int, updatedAtMilliseconds: Int64
    }

    struct Payment {
        var paymentID: String, checkoutID: String, customerID: String, amountCents: Int64, status: String
        /// What the customer is out of pocket for this checkout: the debit, unless refunded.
        var netChargeCents: Int64 { status == "authorized" ? amountCents : 0 }
    }

    struct Order {
        var orderID: String, checkoutID: String, customerID: String, storeID: String, totalCents: Int64
    }

    let tables: VerificationTables
    let nowMilliseconds: Int64
    let settleMilliseconds: Int64

    /// Every aggregate folded from its events, in version order.
    var checkouts: [String: CheckoutState] = [:]
    var stockItems: [String: StockItemState] = [:]
    var customers: [String: CustomerAccountState] = [:]
    var orders: [String: OrderState] = [:]
    /// When each checkout's first event happened, in milliseconds since the epoch.
    var checkoutStarts: [String: Int64] = [:]
    var eventCount = 0
    var undecodable: [Violation] = []

    init(_ tables: VerificationTables, now: Date, settleSeconds: Int) throws {
        self.tables = tables
        nowMilliseconds = Timestamp.milliseconds(now)
        settleMilliseconds = Int64(settleSeconds) * 1_000
        var envelopes: [Int64: EventEnvelope] = [:]
        for row in tables.events {
            eventCount += 1
            do {
                envelopes[try row.decode("position")] = try EventEnvelope(eventStoreRow: row)
            } catch EventStoreReadError.undecodable(let eventID, let reason) {
                undecodable.append(Violation(subject: "event \(eventID)", message: "does not decode: \(reason)"))
            }
        }
        var histories: [AggregateReference: [EventEnvelope]] = [:]
        var order: [AggregateReference] = []
        for row in tables.aggregateIndex {
            guard let kind = AggregateKind(rawValue: try row.decode("aggregate_kind")),
                let envelope = envelopes[try row.decode("position", as: Int64.self)]
            else { continue }
            let reference = AggregateReference(kind: kind, id: try row.decode("aggregate_id"))
            if histories[reference] == nil { order.append(reference) }
            histories[reference, default: []].append(envelope)
        }
        for reference in order {
            let history = histories[reference] ?? []
            switch AggregateSnapshot.rebuild(reference, from: history) {
            case .checkout(let state):
                checkouts[reference.id] = state
                checkoutStarts[reference.id] = history.first.map { Timestamp.milliseconds($0.metadata.occurredAt) }
            case .stockItem(let state): stockItems[reference.id] = state
            case .customer(let state): customers[reference.id] = state
            case .order(let state): orders[reference.id] = state
            case .store, .product, nil: break
            }
        }
    }

    // MARK: - Helpers

    /// Whether a checkout that has not ended is still young enough to be in flight.
    func isInFlight(_ checkoutID: String, fallbackStart: Int64? = nil) -> Bool {
        if checkouts[checkoutID]?.status.isTerminal == true { return false }
        guard let start = checkoutStarts[checkoutID] ?? fallbackStart else { return false }
        return nowMilliseconds - start < settleMilliseconds
    }

    /// `completed`, `failed`, `stuck in <status>` or `unknown to the event store`.
    func describe(_ checkoutID: String) -> String {
        guard let state = checkouts[checkoutID] else { return "unknown to the event store" }
        return state.status.isTerminal ? state.status.rawValue : "stuck in \(state.status.rawValue)"
    }

    func age(_ checkoutID: String) -> String {
        guard let start = checkoutStarts[checkoutID] else { return "unknown age" }
        return "started " + Duration.milliseconds(max(0, nowMilliseconds - start)).compactDescription + " ago"
    }

    static func cents(_ value: Int64) -> String {
        let sign = value < 0 ? "-" : ""
        let magnitude = value.magnitude
        return "\(sign)\(magnitude / 100).\(magnitude % 100 < 10 ? "0" : "")\(magnitude % 100)"
    }

    func payments() throws -> [Payment] {
        try tables.payments.map { row in
            Payment(
                paymentID: try row.decode("payment_id"), checkoutID: try row.decode("checkout_id"),
                customerID: try row.decode("customer_id"), amountCents: try row.decode("amount_cents"), status: try row.decode("status"))
        }
    }

    func serviceOrders() throws -> [Order] {
        try tables.orders.map { row in
            Order(
                orderID: try row.decode("order_id"), checkoutID: try row.decode("checkout_id"), customerID: try row.decode("customer_id"),
                storeID: try row.decode("store_id"), totalCents: try row.decode("total_cents"))
        }
    }

    // MARK: - 1. Stock

    func checkStock() throws -> InvariantReport.Result {
        var violations: [Violation] = []
        var inFlight: [Violation] = []
        var rows: [String: StockRow] = [:]
        for row in tables.stock {
            let id = AggregateReference.stockItemID(storeID: try row.decode("store_id"), sku: try row.decode("sku"))
            rows[id] = StockRow(
                onHand: try row.decode("on_hand"), reserved: try row.decode("reserved"), sold: try row.decode("sold"),
                received: try row.decode("received"))
        }
        var open: [String: [OpenReservationLine]] = [:]
        for row in tables.openReservationLines {
            let line = OpenReservationLine(
                checkoutID: try row.decode("checkout_id"), storeID: try row.decode("store_id"), sku: try row.decode("sku"),
                quantity: try row.decode("quantity"), updatedAtMilliseconds: try row.decode("updated_ms"))
            open[AggregateReference.stockItemID(storeID: line.storeID, sku: line.sku), default: []].append(line)
        }
        let ids = Set(rows.keys).union(stockItems.keys).union(open.keys).sorted()
        for id in ids {
            let subject = id.replacingOccurrences(of: ":", with: " ")
            let received = stockItems[id]?.received ?? 0
            guard let row = rows[id] else {
                violations.append(Violation(subject: subject, message: "\(received) received in the event store, but stock-reservation has no stock row"))
                continue
            }
            let available = row.onHand - row.reserved
            if received != available + row.reserved + row.sold {
                violations.append(Violation(
                    subject: subject,
                    message: "received \(received) ≠ available \(available) + reserved \(row.reserved) + sold \(row.sold) = \(available + row.reserved + row.sold)"))
            }
            if available < 0 || row.reserved < 0 || row.sold < 0 {
                violations.append(Violation(subject: subject, message: "negative stock: available \(available), reserved \(row.reserved), sold \(row.sold)"))
            }
            let lines = open[id] ?? []
            let held = lines.reduce(0) { $0 + $1.quantity }
            if row.reserved != held {
                violations.append(Violation(subject: subject, message: "reserved \(row.reserved), but open reservations hold \(held)"))
            }
            for line in lines {
                let what = "\(line.quantity) reserved for checkout \(line.checkoutID)"
                if isInFlight(line.checkoutID, fallbackStart: line.updatedAtMilliseconds) {
                    inFlight.append(Violation(subject: subject, message: "\(what), \(age(line.checkoutID))"))
                } else {
                    violations.append(Violation(subject: subject, message: "\(what), which is \(describe(line.checkoutID)): reserved must be 0 at rest"))
                }
            }
        }
        return InvariantReport.Result(
            invariant: .stock, title: Invariant.stock.title, checked: ids.count, violations: violations, inFlight: inFlight)
    }

    // MARK: - 2. Money

    func checkMoney() throws -> InvariantReport.Result {
        var violations: [Violation] = []
        var inFlight: [Violation] = []
        let payments = try payments()
        let orders = try serviceOrders()
        let ordersByCheckout = Dictionary(grouping: orders, by: \.checkoutID)
        let paymentsByCheckout = Dictionary(grouping: payments, by: \.checkoutID)
        for (checkoutID, charges) in paymentsByCheckout.sorted(by: { $0.key < $1.key }) {
            let subject = "checkout \(checkoutID)"
            let net = charges.reduce(0) { $0 + $1.netChargeCents }
            let matching = ordersByCheckout[checkoutID] ?? []
            if net != 0 && matching.isEmpty {
                let message = "charged \(Self.cents(net)) with no order"
                if isInFlight(checkoutID) {
                    inFlight.append(Violation(subject: subject, message: "\(message) yet, \(age(checkoutID))"))
                } else {
                    violations.append(Violation(subject: subject, message: "\(message); the checkout is \(describe(checkoutID))"))
                }
            }
            if checkouts[checkoutID]?.status == .failed && net != 0 {
                violations.append(Violation(subject: subject, message: "failed, but its net charge is \(Self.cents(net)), not 0"))
            }
        }
        for (checkoutID, matching) in ordersByCheckout.sorted(by: { $0.key < $1.key }) {
            let subject = "checkout \(checkoutID)"
            let net = (paymentsByCheckout[checkoutID] ?? []).reduce(0) { $0 + $1.netChargeCents }
            if matching.count > 1 {
                violations.append(Violation(subject: subject, message: "\(matching.count) orders: " + matching.map(\.orderID).joined(separator: ", ")))
            }
            for order in matching where order.totalCents != net {
                violations.append(Violation(
                    subject: subject, message: "order \(order.orderID) totals \(Self.cents(order.totalCents)), but the net charge is \(Self.cents(net))"))
            }
        }
        for (checkoutID, state) in checkouts.sorted(by: { $0.key < $1.key }) where state.status == .completed {
            if ordersByCheckout[checkoutID] == nil {
                violations.append(Violation(subject: "checkout \(checkoutID)", message: "completed, but order-creation holds no order for it"))
            }
        }
        return InvariantReport.Result(
            invariant: .money, title: Invariant.money.title, checked: Set(paymentsByCheckout.keys).union(ordersByCheckout.keys).count,
            violations: violations, inFlight: inFlight)
    }

    // MARK: - 3. Checkouts

    func checkCheckouts() -> InvariantReport.Result {
        var violations: [Violation] = []
        var inFlight: [Violation] = []
        for (checkoutID, state) in checkouts.sorted(by: { $0.key < $1.key }) where !state.status.isTerminal {
            let subject = "checkout \(checkoutID)"
            let accepted = state.timeline.contains { $0.type == .checkoutInitiated }
            if isInFlight(checkoutID) {
                inFlight.append(Violation(subject: subject, message: "\(state.status.rawValue), \(age(checkoutID))"))
            } else {
                let detail = accepted ? "" : " (and its CheckoutInitiated is not in the event store)"
                violations.append(Violation(
                    subject: subject, message: "stuck in \(state.status.rawValue), \(age(checkoutID)); no CheckoutCompleted or CheckoutFailed\(detail)"))
            }
        }
        return InvariantReport.Result(
            invariant: .checkouts, title: Invariant.checkouts.title, checked: checkouts.count, violations: violations, inFlight: inFlight)
    }

    // MARK: - 4. Event store

    func checkEventStore() throws -> InvariantReport.Result {
        var violations = try tables.duplicateEventIDs.map { row in
            Violation(subject: "event \(try row.decode("event_id", as: String.self))",
                      message: "stored \(try row.decode("copies", as: Int.self)) times")
        }
        violations += undecodable
        return InvariantReport.Result(
            invariant: .eventStore, title: Invariant.eventStore.title, checked: eventCount, violations: violations, inFlight: [])
    }

    // MARK: - 5. Read models and service tables

    func checkReadModels() throws -> InvariantReport.Result {
        var violations: [Violation] = []
        var inFlight: [Violation] = []
        var checked = 0
        /// Records a violation naming each field whose live value (second) differs from the rebuild's (third).
        @discardableResult
        func differ(_ subject: String, _ what: String, _ fields: [(String, String, String)]) -> Bool {
            let differences = fields.filter { $0.1 != $0.2 }.map { "\($0.0) \($0.1) (rebuild: \($0.2))" }
            guard !differences.isEmpty else { return false }
            violations.append(Violation(subject: subject, message: "\(what) differs: " + differences.joined(separator: ", ")))
            return true
        }

        // Checkouts: the read model's state against the fold.
        var seen: Set<String> = []
        for row in tables.readCheckouts {
            checked += 1
            let checkoutID: String = try row.decode("checkout_id")
            seen.insert(checkoutID)
            let subject = "checkout \(checkoutID)"
            let live = try? JSONDecoder().decode(CheckoutState.self, from: Data(try row.decode("state", as: String.self).utf8))
            guard let rebuilt = checkouts[checkoutID] else {
                violations.append(Violation(subject: subject, message: "in the read model, but the event store has no event of it"))
                continue
            }
            guard let live, live != rebuilt else { continue }
            if isInFlight(checkoutID) {
                inFlight.append(Violation(subject: subject, message: "read model at \(live.status.rawValue), rebuild at \(rebuilt.status.rawValue)"))
                continue
            }
            let named = differ(subject, "read model", [
                ("status", live.status.rawValue, rebuilt.status.rawValue),
                ("total_cents", String(live.totalCents), String(rebuilt.totalCents)),
                ("order_id", live.orderID ?? "none", rebuilt.orderID ?? "none"),
                ("failure_reason", live.failureReason ?? "none", rebuilt.failureReason ?? "none"),
                ("payment", live.payment.map { "\($0.status) \($0.amountCents)" } ?? "none",
                 rebuilt.payment.map { "\($0.status) \($0.amountCents)" } ?? "none"),
                ("reservation", live.reservation?.status ?? "none", rebuilt.reservation?.status ?? "none"),
                ("compensations", live.compensations.map(\.rawValue).joined(separator: "+"), rebuilt.compensations.map(\.rawValue).joined(separator: "+")),
                ("timeline", live.timeline.map(\.type.rawValue).joined(separator: ">"), rebuilt.timeline.map(\.type.rawValue).joined(separator: ">")),
                ("lines", String(live.lines.count), String(rebuilt.lines.count)),
            ])
            if !named {
                violations.append(Violation(subject: subject, message: "read model differs from the rebuild in its details (customer, store or timestamps)"))
            }
        }
        for checkoutID in checkouts.keys.sorted() where !seen.contains(checkoutID) {
            let subject = "checkout \(checkoutID)"
            if isInFlight(checkoutID) {
                inFlight.append(Violation(subject: subject, message: "not in the read model yet"))
            } else {
                violations.append(Violation(subject: subject, message: "missing from the read model (cqrs_projection.checkouts)"))
            }
        }

        // Stock levels: the read model and stock-reservation's own table.
        func stockFields(_ row: PostgresRow) throws -> StockRow {
            StockRow(onHand: try row.decode("on_hand"), reserved: try row.decode("reserved"), sold: try row.decode("sold"), received: try row.decode("received"))
        }
        for (label, rows) in [("read model", tables.readStock), ("stock-reservation", tables.stock)] {
            var present: Set<String> = []
            for row in rows {
                checked += 1
                let id = AggregateReference.stockItemID(storeID: try row.decode("store_id"), sku: try row.decode("sku"))
                present.insert(id)
                let live = try stockFields(row)
                let rebuilt = stockItems[id] ?? StockItemState(storeID: "", sku: "")
                differ(id.replacingOccurrences(of: ":", with: " "), label, [
                    ("on_hand", String(live.onHand), String(rebuilt.onHand)), ("reserved", String(live.reserved), String(rebuilt.reserved)),
                    ("sold", String(live.sold), String(rebuilt.sold)), ("received", String(live.received), String(rebuilt.received)),
                ])
            }
            for id in stockItems.keys.sorted() where !present.contains(id) {
                violations.append(Violation(subject: id.replacingOccurrences(of: ":", with: " "), message: "missing from the \(label)"))
            }
        }

        // Balances: the read model and payment's accounts.
        var balancesSeen: Set<String> = []
        for row in tables.readBalances {
            checked += 1
            let customerID: String = try row.decode("customer_id")
            balancesSeen.insert(customerID)
            let rebuilt = customers[customerID] ?? CustomerAccountState(customerID: customerID)
            differ("customer \(customerID)", "read model", [
                ("balance_cents", String(try row.decode("balance_cents", as: Int64.self)), String(rebuilt.balanceCents)),
                ("credited_cents", String(try row.decode("credited_cents", as: Int64.self)), String(rebuilt.creditedCents)),
                ("charged_cents", String(try row.decode("charged_cents", as: Int64.self)), String(rebuilt.chargedCents)),
                ("refunded_cents", String(try row.decode("refunded_cents", as: Int64.self)), String(rebuilt.refundedCents)),
            ])
        }
        for row in tables.accounts {
            checked += 1
            let customerID: String = try row.decode("customer_id")
            let rebuilt = customers[customerID] ?? CustomerAccountState(customerID: customerID)
            differ("customer \(customerID)", "payment's account", [
                ("balance_cents", String(try row.decode("balance_cents", as: Int64.self)), String(rebuilt.balanceCents)),
            ])
        }
        for customerID in customers.keys.sorted() where !balancesSeen.contains(customerID) {
            violations.append(Violation(subject: "customer \(customerID)", message: "missing from the read model (cqrs_projection.customer_balances)"))
        }

        // Orders: the read model and order-creation's table.
        var readOrders: [String: (customer: String, checkout: String, store: String, total: Int64)] = [:]
        for row in tables.readOrders {
            readOrders[try row.decode("order_id")] = (
                try row.decode("customer_id"), try row.decode("checkout_id"), try row.decode("store_id"), try row.decode("total_cents"))
        }
        let owned = Dictionary(try serviceOrders().map { ($0.orderID, $0) }) { first, _ in first }
        for orderID in Set(orders.keys).union(readOrders.keys).union(owned.keys).sorted() {
            checked += 1
            let subject = "order \(orderID)"
            guard let rebuilt = orders[orderID] else {
                violations.append(Violation(subject: subject, message: "held by \(owned[orderID] != nil ? "order-creation" : "the read model"), but the event store has no OrderCreated for it"))
                continue
            }
            let expectedCheckout = rebuilt.checkoutID ?? ""
            if let live = readOrders[orderID] {
                differ(subject, "read model (orders_by_customer)", [
                    ("customer_id", live.customer, rebuilt.customerID ?? ""), ("checkout_id", live.checkout, expectedCheckout),
                    ("store_id", live.store, rebuilt.storeID ?? ""), ("total_cents", String(live.total), String(rebuilt.totalCents)),
                ])
            } else {
                violations.append(Violation(subject: subject, message: "missing from the read model (orders_by_customer)"))
            }
            if let live = owned[orderID] {
                differ(subject, "order-creation's order", [
                    ("checkout_id", live.checkoutID, expectedCheckout), ("total_cents", String(live.totalCents), String(rebuilt.totalCents)),
                ])
            } else {
                violations.append(Violation(subject: subject, message: "missing from order-creation's orders"))
            }
        }

        // Sales per store and day: the sum of the rebuilt orders.
        var sales: [String: (orders: Int, units: Int, revenue: Int64)] = [:]
        for order in orders.values {
            guard let store = order.storeID, let created = order.createdAt else { continue }
            let key = "\(store) \(created.prefix(10))"
            let current = sales[key] ?? (0, 0, 0)
            sales[key] = (current.orders + 1, current.units + order.lines.reduce(0) { $0 + $1.quantity }, current.revenue + order.totalCents)
        }
        var salesSeen: Set<String> = []
        for row in tables.readSales {
            checked += 1
            let key = "\(try row.decode("store_id", as: String.self)) \(try row.decode("day", as: String.self))"
            salesSeen.insert(key)
            let rebuilt = sales[key] ?? (0, 0, 0)
            differ("sales \(key)", "read model", [
                ("orders", String(try row.decode("orders", as: Int.self)), String(rebuilt.orders)),
                ("units", String(try row.decode("units", as: Int.self)), String(rebuilt.units)),
                ("revenue_cents", String(try row.decode("revenue_cents", as: Int64.self)), String(rebuilt.revenue)),
            ])
        }
        for key in sales.keys.sorted() where !salesSeen.contains(key) {
            violations.append(Violation(subject: "sales \(key)", message: "missing from the read model (sales_by_store_day)"))
        }
        return InvariantReport.Result(
            invariant: .readModels, title: Invariant.readModels.title, checked: checked, violations: violations, inFlight: inFlight)
    }
}
