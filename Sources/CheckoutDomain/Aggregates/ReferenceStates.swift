/// The stock of one product at one store.
///
/// `received == onHand + sold` always holds, and `reserved` is what checkouts in flight hold.
public struct StockItemState: Codable, Sendable, Hashable {
    public var storeID: String
    public var sku: String
    public var onHand: Int
    public var reserved: Int
    public var sold: Int
    /// Every unit that ever arrived.
    public var received: Int

    enum CodingKeys: String, CodingKey {
        case storeID = "store_id", sku, onHand = "on_hand", reserved, sold, received
    }

    public init(storeID: String, sku: String, onHand: Int = 0, reserved: Int = 0, sold: Int = 0, received: Int = 0) {
        self.storeID = storeID
        self.sku = sku
        self.onHand = onHand
        self.reserved = reserved
        self.sold = sold
        self.received = received
    }

    /// Units that can still be reserved.
    public var available: Int { onHand - reserved }

    /// Applies one event to the stock item `storeID:sku`.
    public static func fold(_ state: StockItemState, _ envelope: EventEnvelope) -> StockItemState {
        var next = state
        func quantity(in facts: CheckoutFacts) -> Int {
            guard facts.storeID == state.storeID else { return 0 }
            return facts.lines.filter { $0.sku == state.sku }.reduce(0) { $0 + $1.quantity }
        }
        switch envelope.event {
        case .stockReceived(let event) where event.storeID == state.storeID && event.sku == state.sku:
            next.onHand += event.quantity
            next.received += event.quantity
        case .stockReserved(let event):
            next.reserved += quantity(in: event.checkout)
        case .stockReleased(let event) where event.storeID == state.storeID:
            next.reserved -= event.lines.filter { $0.sku == state.sku }.reduce(0) { $0 + $1.quantity }
        case .orderCreated(let event):
            let sold = quantity(in: event.checkout)
            next.reserved -= sold
            next.onHand -= sold
            next.sold += sold
        default:
            break
        }
        return next
    }
}

/// A customer and the balance of their account.
public struct CustomerAccountState: Codable, Sendable, Hashable {
    public var customerID: String
    public var name: String?
    public var email: String?
    public var balanceCents: Int64
    public var creditedCents: Int64
    public var chargedCents: Int64
    public var refundedCents: Int64

    enum CodingKeys: String, CodingKey {
        case customerID = "customer_id", name, email, balanceCents = "balance_cents"
        case creditedCents = "credited_cents", chargedCents = "charged_cents", refundedCents = "refunded_cents"
    }

    public init(customerID: String) {
        self.customerID = customerID
        balanceCents = 0
        creditedCents = 0
        chargedCents = 0
        refundedCents = 0
    }

    /// Applies one event to this customer's account.
    public static func fold(_ state: CustomerAccountState, _ envelope: EventEnvelope) -> CustomerAccountState {
        var next = state
        switch envelope.event {
        case .customerRegistered(let event) where event.customerID == state.customerID:
            // A customer is registered once: a repeated registration changes nothing.
            guard state.name == nil else { break }
            next.name = event.name
            next.email = event.email
            next.balanceCents += event.openingBalanceCents
            next.creditedCents += event.openingBalanceCents
        case .accountCredited(let event) where event.customerID == state.customerID:
            next.balanceCents += event.amountCents
            next.creditedCents += event.amountCents
        case .paymentAuthorized(let event) where event.checkout.customerID == state.customerID:
            next.balanceCents -= event.amountCents
            next.chargedCents += event.amountCents
        case .paymentRefunded(let event) where event.customerID == state.customerID:
            next.balanceCents += event.amountCents
            next.refundedCents += event.amountCents
        default:
            break
        }
        return next
    }
}

/// An order that a completed checkout recorded.
public struct OrderState: Codable, Sendable, Hashable {
    public var orderID: String
    public var checkoutID: String?
    public var customerID: String?
    public var storeID: String?
    public var paymentID: String?
    public var lines: [CheckoutLine]
    public var totalCents: Int64
    public var createdAt: String?

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id", checkoutID = "checkout_id", customerID = "customer_id", storeID = "store_id"
        case paymentID = "payment_id", lines, totalCents = "total_cents", createdAt = "created_at"
    }

    public init(orderID: String) {
        self.orderID = orderID
        lines = []
        totalCents = 0
    }

    /// Applies one event to this order.
    public static func fold(_ state: OrderState, _ envelope: EventEnvelope) -> OrderState {
        guard case .orderCreated(let event) = envelope.event, event.orderID == state.orderID else { return state }
        var next = state
        next.checkoutID = event.checkout.checkoutID
        next.customerID = event.checkout.customerID
        next.storeID = event.checkout.storeID
        next.paymentID = event.paymentID
        next.lines = event.checkout.lines
        next.totalCents = event.checkout.totalCents
        next.createdAt = Timestamp.format(envelope.metadata.occurredAt)
        return next
    }
}

/// A store and whether it takes orders.
public struct StoreState: Codable, Sendable, Hashable {
    public var storeID: String
    public var name: String?
    public var channel: StoreOpened.Channel?
    public var isPaused: Bool
    public var pauseReason: String?

    enum CodingKeys: String, CodingKey {
        case storeID = "store_id", name, channel, isPaused = "paused", pauseReason = "pause_reason"
    }

    public init(storeID: String) {
        self.storeID = storeID
        isPaused = false
    }

    /// Applies one event to this store.
    public static func fold(_ state: StoreState, _ envelope: EventEnvelope) -> StoreState {
        var next = state
        switch envelope.event {
        case .storeOpened(let event) where event.storeID == state.storeID:
            next.name = event.name
            next.channel = event.channel
        case .storePaused(let event) where event.storeID == state.storeID:
            next.isPaused = true
            next.pauseReason = event.reason
        case .storeResumed(let event) where event.storeID == state.storeID:
            next.isPaused = false
            next.pauseReason = nil
        default:
            break
        }
        return next
    }
}

/// A product of the catalogue and its current price.
public struct ProductState: Codable, Sendable, Hashable {
    public var sku: String
    public var name: String?
    public var priceCents: Int64?

    enum CodingKeys: String, CodingKey { case sku, name, priceCents = "price_cents" }

    public init(sku: String) { self.sku = sku }

    /// Applies one event to this product.
    public static func fold(_ state: ProductState, _ envelope: EventEnvelope) -> ProductState {
        var next = state
        switch envelope.event {
        case .productRegistered(let event) where event.sku == state.sku:
            next.name = event.name
            next.priceCents = event.priceCents
        case .productRepriced(let event) where event.sku == state.sku:
            next.priceCents = event.priceCents
        default:
            break
        }
        return next
    }
}

/// Any aggregate, rebuilt from its history.
public enum AggregateSnapshot: Sendable, Hashable, Encodable {
    case checkout(CheckoutState)
    case stockItem(StockItemState)
    case customer(CustomerAccountState)
    case order(OrderState)
    case store(StoreState)
    case product(ProductState)

    /// Folds the history of the aggregate `reference`, oldest event first.
    /// - Returns: `nil` when the history is empty.
    public static func rebuild(_ reference: AggregateReference, from events: [EventEnvelope]) -> AggregateSnapshot? {
        guard !events.isEmpty else { return nil }
        switch reference.kind {
        case .checkout:
            return CheckoutState.rebuild(events).map(AggregateSnapshot.checkout)
        case .stockItem:
            let parts = reference.id.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            return .stockItem(events.reduce(StockItemState(storeID: parts[0], sku: parts[1]), StockItemState.fold))
        case .customer:
            return .customer(events.reduce(CustomerAccountState(customerID: reference.id), CustomerAccountState.fold))
        case .order:
            return .order(events.reduce(OrderState(orderID: reference.id), OrderState.fold))
        case .store:
            return .store(events.reduce(StoreState(storeID: reference.id), StoreState.fold))
        case .product:
            return .product(events.reduce(ProductState(sku: reference.id), ProductState.fold))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .checkout(let state): try state.encode(to: encoder)
        case .stockItem(let state): try state.encode(to: encoder)
        case .customer(let state): try state.encode(to: encoder)
        case .order(let state): try state.encode(to: encoder)
        case .store(let state): try state.encode(to: encoder)
        case .product(let state): try state.encode(to: encoder)
        }
    }
}
