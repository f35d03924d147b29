/// The stock-reservation service's state for one batch of events, and what the batch does to it,
/// decided in memory.
///
/// The service loads the stock rows and reservations a batch touches (``StockLedger/needs(_:)``
/// says which) in one statement each, applies the batch's events here in order with the same
/// rules as one at a time, and writes what changed with one statement per table
/// (``stockChanges``, ``newReservations``, ``settledReservations``). Applying a batch here equals
/// applying its events one by one against the tables.
public struct StockLedger: Sendable, Hashable {
    /// One product at one store.
    public struct Key: Hashable, Sendable, Comparable {
        public var storeID: String
        public var sku: String
        public init(storeID: String, sku: String) {
            self.storeID = storeID
            self.sku = sku
        }
        public static func < (lhs: Key, rhs: Key) -> Bool { (lhs.storeID, lhs.sku) < (rhs.storeID, rhs.sku) }
    }

    /// The units of one stock row. ``onHand`` counts reserved units until they are sold.
    public struct Level: Hashable, Sendable {
        public var onHand: Int
        public var reserved: Int
        public var sold: Int
        public var received: Int
        public init(onHand: Int = 0, reserved: Int = 0, sold: Int = 0, received: Int = 0) {
            self.onHand = onHand
            self.reserved = reserved
            self.sold = sold
            self.received = received
        }
        /// Units that a checkout can still reserve.
        public var available: Int { onHand - reserved }

        static func - (lhs: Level, rhs: Level) -> Level {
            Level(onHand: lhs.onHand - rhs.onHand, reserved: lhs.reserved - rhs.reserved, sold: lhs.sold - rhs.sold, received: lhs.received - rhs.received)
        }
    }

    /// Where a reservation stands: it is settled once, as released or sold.
    public enum ReservationStatus: String, Sendable, Hashable, CaseIterable {
        case reserved, released, sold
    }

    /// The units held for one checkout.
    public struct Reservation: Hashable, Sendable {
        public var storeID: String
        public var lines: [CheckoutLine]
        public var status: ReservationStatus
        public init(storeID: String, lines: [CheckoutLine], status: ReservationStatus) {
            self.storeID = storeID
            self.lines = lines
            self.status = status
        }
    }

    /// What a batch needs loaded before it can be applied.
    public struct Needs: Hashable, Sendable {
        /// Stock rows the events name (not yet those of the reservations they settle).
        public var stock: Set<Key> = []
        /// Checkouts whose reservations the events settle.
        public var reservations: Set<String> = []
    }

    /// What the service refuses to apply; the event stays pending and, if it keeps failing,
    /// ends as a dead letter.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// A checkout's stock was already reserved (by another event with the same checkout id).
        case alreadyReserved(checkoutID: String)
        public var description: String {
            switch self {
            case .alreadyReserved(let checkoutID): "checkout \(checkoutID) already has a reservation"
            }
        }
    }

    private let loadedLevels: [Key: Level]
    private let loadedReservations: [String: Reservation]
    /// The stock rows as the events applied so far left them; a key missing is a row that does not exist.
    public private(set) var levels: [Key: Level]
    /// The reservations as the events applied so far left them.
    public private(set) var reservations: [String: Reservation]

    /// - Parameters:
    ///   - levels: the stock rows loaded (locked) for the batch.
    ///   - reservations: the reservations loaded (locked) for the batch, by checkout id.
    public init(levels: [Key: Level], reservations: [String: Reservation]) {
        self.loadedLevels = levels
        self.loadedReservations = reservations
        self.levels = levels
        self.reservations = reservations
    }

    /// The stock rows and reservations that `events` touch directly.
    public static func needs(_ events: [DomainEvent]) -> Needs {
        var needs = Needs()
        for event in events {
            switch event {
            case .stockReceived(let event): needs.stock.insert(Key(storeID: event.storeID, sku: event.sku))
            case .checkoutInitiated(let event):
                for line in event.checkout.lines { needs.stock.insert(Key(storeID: event.checkout.storeID, sku: line.sku)) }
            case .stockReleased(let event): needs.reservations.insert(event.checkoutID)
            case .orderCreated(let event): needs.reservations.insert(event.checkout.checkoutID)
            default: break
            }
        }
        return needs
    }

    /// The stock rows that settling `reservations` moves, which must be loaded too.
    public static func stockKeys(of reservations: [String: Reservation]) -> Set<Key> {
        var keys = Set<Key>()
        for reservation in reservations.values {
            for line in reservation.lines { keys.insert(Key(storeID: reservation.storeID, sku: line.sku)) }
        }
        return keys
    }

    /// Applies one event and returns the events to emit.
    public mutating func apply(_ event: DomainEvent) throws(Refusal) -> [DomainEvent] {
        switch event {
        case .stockReceived(let event):
            levels[Key(storeID: event.storeID, sku: event.sku), default: Level()].receive(event.quantity)
            return []
        case .checkoutInitiated(let event):
            return [try reserve(event.checkout)]
        case .stockReleased(let event):
            settle(event.checkoutID, to: .released)
            return []
        case .orderCreated(let event):
            settle(event.checkout.checkoutID, to: .sold)
            return []
        default:
            return []
        }
    }

    private mutating func reserve(_ checkout: CheckoutFacts) throws(Refusal) -> DomainEvent {
        var available: [String: Int] = [:]
        for line in checkout.lines {
            if let level = levels[Key(storeID: checkout.storeID, sku: line.sku)] { available[line.sku] = level.available }
        }
        let decision = StockReservationRule.decide(checkout, available: available)
        guard case .stockReserved = decision else { return decision }
        guard reservations[checkout.checkoutID] == nil else { throw .alreadyReserved(checkoutID: checkout.checkoutID) }
        let requested = StockReservationRule.unitsPerSKU(checkout.lines)
        for sku in requested.order {
            levels[Key(storeID: checkout.storeID, sku: sku), default: Level()].reserved += requested.units[sku] ?? 0
        }
        reservations[checkout.checkoutID] = Reservation(storeID: checkout.storeID, lines: checkout.lines, status: .reserved)
        return decision
    }

    /// Releases or sells a reservation, once: only one still reserved changes. Its own lines
    /// move the stock, whatever the settling event says.
    private mutating func settle(_ checkoutID: String, to status: ReservationStatus) {
        guard var reservation = reservations[checkoutID], reservation.status == .reserved else { return }
        reservation.status = status
        reservations[checkoutID] = reservation
        let units = StockReservationRule.unitsPerSKU(reservation.lines)
        for sku in units.order {
            let key = Key(storeID: reservation.storeID, sku: sku)
            // A row that does not exist has nothing to move, as an UPDATE of no row.
            guard var level = levels[key] else { continue }
            let quantity = units.units[sku] ?? 0
            level.reserved -= quantity
            if status == .sold {
                level.onHand -= quantity
                level.sold += quantity
            }
            levels[key] = level
        }
    }

    /// Per stock row that changed, in key order, what the batch added to each column. Adding
    /// (rather than setting) keeps a row that another consumer created meanwhile right: rows that
    /// existed were locked when loaded, and a new row's units are the batch's own.
    public var stockChanges: [(key: Key, change: Level)] {
        levels.keys.sorted().compactMap { key in
            guard let level = levels[key] else { return nil }
            let change = level - (loadedLevels[key] ?? Level())
            return change == Level() ? nil : (key, change)
        }
    }

    /// Reservations the batch made, in checkout-id order, with the status the batch left them in.
    public var newReservations: [(checkoutID: String, reservation: Reservation)] {
        reservations.keys.filter { loadedReservations[$0] == nil }.sorted().compactMap { id in
            reservations[id].map { (id, $0) }
        }
    }

    /// Loaded reservations the batch settled, in checkout-id order, with their new status.
    public var settledReservations: [(checkoutID: String, status: ReservationStatus)] {
        loadedReservations.keys.sorted().compactMap { id in
            guard let now = reservations[id], now.status != loadedReservations[id]?.status else { return nil }
            return (id, now.status)
        }
    }
}

extension StockLedger.Level {
    mutating func receive(_ quantity: Int) {
        onHand += quantity
        received += quantity
    }
}
