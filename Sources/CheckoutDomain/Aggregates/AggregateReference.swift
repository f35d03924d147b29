/// The kinds of aggregate the event store can rebuild.
public enum AggregateKind: String, Codable, Sendable, CaseIterable {
    case checkout
    case stockItem = "stock_item"
    case customer
    case order
    case store
    case product
}

/// One aggregate an event belongs to.
public struct AggregateReference: Hashable, Sendable, Codable {
    public var kind: AggregateKind
    public var id: String
    public init(kind: AggregateKind, id: String) {
        self.kind = kind
        self.id = id
    }

    /// The id of the stock of one product at one store: `<store_id>:<sku>`.
    public static func stockItemID(storeID: String, sku: String) -> String { "\(storeID):\(sku)" }
}

extension DomainEvent {
    /// Every aggregate this event changes. An event that touches several (a reservation touches
    /// one stock item per line) is found from each of them.
    public var aggregates: [AggregateReference] {
        func checkout(_ id: String) -> AggregateReference { .init(kind: .checkout, id: id) }
        func stock(_ storeID: String, _ lines: [CheckoutLine]) -> [AggregateReference] {
            lines.map { .init(kind: .stockItem, id: AggregateReference.stockItemID(storeID: storeID, sku: $0.sku)) }
        }
        func customer(_ id: String) -> AggregateReference { .init(kind: .customer, id: id) }
        switch self {
        case .storeOpened(let event): return [.init(kind: .store, id: event.storeID)]
        case .storePaused(let event): return [.init(kind: .store, id: event.storeID)]
        case .storeResumed(let event): return [.init(kind: .store, id: event.storeID)]
        case .productRegistered(let event): return [.init(kind: .product, id: event.sku)]
        case .productRepriced(let event): return [.init(kind: .product, id: event.sku)]
        case .stockReceived(let event):
            return [.init(kind: .stockItem, id: AggregateReference.stockItemID(storeID: event.storeID, sku: event.sku))]
        case .customerRegistered(let event): return [customer(event.customerID)]
        case .accountCredited(let event): return [customer(event.customerID)]
        case .checkoutInitiated(let event): return [checkout(event.checkout.checkoutID)]
        case .stockReserved(let event):
            return [checkout(event.checkout.checkoutID)] + stock(event.checkout.storeID, event.checkout.lines)
        case .stockReservationFailed(let event): return [checkout(event.checkoutID)]
        case .paymentAuthorized(let event):
            return [checkout(event.checkout.checkoutID), customer(event.checkout.customerID)]
        case .paymentDeclined(let event): return [checkout(event.checkout.checkoutID)]
        case .orderCreated(let event):
            return [checkout(event.checkout.checkoutID), .init(kind: .order, id: event.orderID)]
                + stock(event.checkout.storeID, event.checkout.lines)
        case .orderRejected(let event): return [checkout(event.checkout.checkoutID)]
        case .checkoutCompleted(let event): return [checkout(event.checkoutID)]
        case .paymentRefunded(let event): return [checkout(event.checkoutID), customer(event.customerID)]
        case .stockReleased(let event): return [checkout(event.checkoutID)] + stock(event.storeID, event.lines)
        case .checkoutFailed(let event): return [checkout(event.checkoutID)]
        }
    }
}
