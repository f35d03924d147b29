import CheckoutDomain
import Postgres
import Synchronization

/// The stock movements of a batch, summed per (store, SKU): one row per item to write, however
/// many events moved it. Additions commute, so the sum equals applying the events one by one.
struct StockMovements {
    struct Key: Hashable, Comparable {
        var storeID: String
        var sku: String
        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.storeID, lhs.sku) < (rhs.storeID, rhs.sku) }
    }

    struct Delta: Equatable {
        var onHand = 0
        var reserved = 0
        var sold = 0
        var received = 0
    }

    private(set) var deltas: [Key: Delta] = [:]

    /// Adds the event's movements; returns whether it moved stock.
    mutating func add(_ event: DomainEvent) -> Bool {
        switch event {
        case .stockReceived(let event):
            move(event.storeID, event.sku) { $0.onHand += event.quantity; $0.received += event.quantity }
        case .stockReserved(let event):
            for line in event.checkout.lines { move(event.checkout.storeID, line.sku) { $0.reserved += line.quantity } }
        case .stockReleased(let event):
            for line in event.lines { move(event.storeID, line.sku) { $0.reserved -= line.quantity } }
        case .orderCreated(let event):
            for line in event.checkout.lines {
                move(event.checkout.storeID, line.sku) {
                    $0.onHand -= line.quantity
                    $0.reserved -= line.quantity
                    $0.sold += line.quantity
                }
            }
        default:
            return false
        }
        return true
    }

    private mutating func move(_ storeID: String, _ sku: String, _ change: (inout Delta) -> Void) {
        change(&deltas[Key(storeID: storeID, sku: sku), default: Delta()])
    }

    /// Adds the sums to `stock_levels` in one statement, rows in key order so that concurrent
    /// batches lock the rows they share in one order.
    func write(into tables: ReadModelTables, in database: isolated PostgresConnection) throws {
        guard !deltas.isEmpty else { return }
        let keys = deltas.keys.sorted()
        let rows = keys.map { deltas[$0] ?? Delta() }
        try database.query(
            """
            INSERT INTO \(tables.stockLevels) AS stock_levels (store_id, sku, on_hand, reserved, sold, received)
            SELECT * FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::integer[], $6::integer[])
            ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = stock_levels.on_hand + EXCLUDED.on_hand,
                reserved = stock_levels.reserved + EXCLUDED.reserved, sold = stock_levels.sold + EXCLUDED.sold,
                received = stock_levels.received + EXCLUDED.received
            """,
            [PostgresTextArray(keys.map(\.storeID)), PostgresTextArray(keys.map(\.sku)),
             PostgresTextArray(rows.map(\.onHand)), PostgresTextArray(rows.map(\.reserved)),
             PostgresTextArray(rows.map(\.sold)), PostgresTextArray(rows.map(\.received))])
    }
}

/// The account movements of a batch: credits, charges and refunds summed per customer, and
/// each customer's first registration.
///
/// A registration counts once per customer, ever: the write skips one for a customer already
/// registered, and within a batch only the first one is kept. Every other movement adds up.
struct BalanceMovements {
    struct Delta: Equatable {
        var credited: Int64 = 0
        var charged: Int64 = 0
        var refunded: Int64 = 0
    }

    struct Registration: Equatable {
        var name: String
        var email: String
        var openingBalanceCents: Int64
    }

    private(set) var deltas: [String: Delta] = [:]
    private(set) var registrations: [String: Registration] = [:]

    /// Adds the event's movement; returns whether it concerns an account.
    mutating func add(_ event: DomainEvent) -> Bool {
        switch event {
        case .customerRegistered(let event):
            if registrations[event.customerID] == nil {
                registrations[event.customerID] = Registration(
                    name: event.name, email: event.email, openingBalanceCents: event.openingBalanceCents)
            }
        case .accountCredited(let event):
            deltas[event.customerID, default: Delta()].credited += event.amountCents
        case .paymentAuthorized(let event):
            deltas[event.checkout.customerID, default: Delta()].charged += event.amountCents
        case .paymentRefunded(let event):
            deltas[event.customerID, default: Delta()].refunded += event.amountCents
        default:
            return false
        }
        return true
    }

    /// Writes the movements, then the registrations: two statements at most.
    func write(into tables: ReadModelTables, in database: isolated PostgresConnection) throws {
        if !deltas.isEmpty {
            let customers = deltas.keys.sorted()
            let rows = customers.map { deltas[$0] ?? Delta() }
            try database.query(
                """
                INSERT INTO \(tables.customerBalances) AS customer_balances
                    (customer_id, balance_cents, credited_cents, charged_cents, refunded_cents)
                SELECT id, credited + refunded - charged, credited, charged, refunded
                FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS m(id, credited, charged, refunded)
                ON CONFLICT (customer_id) DO UPDATE SET
                    balance_cents = customer_balances.balance_cents + EXCLUDED.balance_cents,
                    credited_cents = customer_balances.credited_cents + EXCLUDED.credited_cents,
                    charged_cents = customer_balances.charged_cents + EXCLUDED.charged_cents,
                    refunded_cents = customer_balances.refunded_cents + EXCLUDED.refunded_cents
                """,
                [PostgresTextArray(customers), PostgresTextArray(rows.map(\.credited)),
                 PostgresTextArray(rows.map(\.charged)), PostgresTextArray(rows.map(\.refunded))])
        }
        if !registrations.isEmpty {
            let customers = registrations.keys.sorted()
            let rows = customers.compactMap { registrations[$0] }
            try database.query(
                """
                INSERT INTO \(tables.customerBalances) AS customer_balances
                    (customer_id, name, email, balance_cents, credited_cents, registered)
                SELECT id, name, email, opening, opening, true
                FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS r(id, name, email, opening)
                ON CONFLICT (customer_id) DO UPDATE SET registered = true, name = EXCLUDED.name, email = EXCLUDED.email,
                    balance_cents = customer_balances.balance_cents + EXCLUDED.balance_cents,
                    credited_cents = customer_balances.credited_cents + EXCLUDED.credited_cents
                WHERE NOT customer_balances.registered
                """,
                [PostgresTextArray(customers), PostgresTextArray(rows.map(\.name)),
                 PostgresTextArray(rows.map(\.email)), PostgresTextArray(rows.map(\.openingBalanceCents))])
        }
    }
}

/// The checkout states this process wrote last, by checkout, with the revision token written
/// beside each in the row.
///
/// A state is taken from here only when the row still carries the same token: a write that was
/// rolled back, or made by another process, has another token, so its row is read and decoded
/// instead. Decoding a state costs more than the rest of folding an event into it.
final class CheckoutStateCache: Sendable {
    private struct Entry {
        var revision: String
        var state: CheckoutState
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let serial = Atomic<Int>(0)
    /// Tokens of this process: a random prefix, then a counter.
    private let prefix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// Beyond this many checkouts the cache starts afresh; only the states in flight matter.
    static let capacity = 50_000

    /// A token no other write has.
    func newRevision() -> String {
        "\(prefix)-\(serial.add(1, ordering: .relaxed).newValue)"
    }

    /// The state written with `revision`, if this process wrote it.
    func state(of checkoutID: String, revision: String) -> CheckoutState? {
        entries.withLock { entries in
            entries[checkoutID].flatMap { $0.revision == revision ? $0.state : nil }
        }
    }

    func remember(_ written: [(checkoutID: String, revision: String, state: CheckoutState)]) {
        entries.withLock { entries in
            if entries.count + written.count > Self.capacity { entries.removeAll(keepingCapacity: true) }
            for (checkoutID, revision, state) in written { entries[checkoutID] = Entry(revision: revision, state: state) }
        }
    }
}
