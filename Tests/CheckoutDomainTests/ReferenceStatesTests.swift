import Foundation
import Testing

@testable import CheckoutDomain

@Suite("Reference states and aggregates")
struct ReferenceStatesTests {
    static func facts(storeID: String = Fixture.storeID, lines: [CheckoutLine]) -> CheckoutFacts {
        Fixture.facts(storeID: storeID, lines: lines)
    }

    static func received(_ quantity: Int, sku: String = Fixture.skuA, storeID: String = Fixture.storeID) -> EventEnvelope {
        Fixture.envelope(.stockReceived(StockReceived(storeID: storeID, sku: sku, quantity: quantity)))
    }

    static func reserved(_ lines: [CheckoutLine], storeID: String = Fixture.storeID) -> EventEnvelope {
        Fixture.envelope(.stockReserved(StockReserved(checkout: facts(storeID: storeID, lines: lines))))
    }

    static func released(_ lines: [CheckoutLine], storeID: String = Fixture.storeID) -> EventEnvelope {
        Fixture.envelope(.stockReleased(StockReleased(checkoutID: Fixture.checkoutID, storeID: storeID, lines: lines)))
    }

    static func sold(_ lines: [CheckoutLine], storeID: String = Fixture.storeID) -> EventEnvelope {
        Fixture.envelope(.orderCreated(OrderCreated(checkout: facts(storeID: storeID, lines: lines), orderID: Fixture.orderID, paymentID: Fixture.paymentID)))
    }

    static func a(_ quantity: Int) -> CheckoutLine { Fixture.line(Fixture.skuA, quantity: quantity, unitPriceCents: 250) }
    static func b(_ quantity: Int) -> CheckoutLine { Fixture.line(Fixture.skuB, quantity: quantity, unitPriceCents: 1_999) }

    static let item = StockItemState(storeID: Fixture.storeID, sku: Fixture.skuA)

    // MARK: Stock items

    @Test("a new stock item holds nothing")
    func emptyStockItem() {
        #expect(Self.item == StockItemState(storeID: Fixture.storeID, sku: Fixture.skuA, onHand: 0, reserved: 0, sold: 0, received: 0))
        #expect(Self.item.available == 0)
    }

    @Test("received stock goes on hand")
    func stockReceived() {
        let state = StockItemState.fold(Self.item, Self.received(10))
        #expect(state.onHand == 10)
        #expect(state.received == 10)
        #expect(state.available == 10)
        #expect(StockItemState.fold(state, Self.received(5)).received == 15)
    }

    @Test("reserved stock stays on hand but is no longer available; other lines are ignored")
    func stockReserved() {
        let state = [Self.received(10), Self.reserved([Self.a(3), Self.b(4)])].reduce(Self.item, StockItemState.fold)
        #expect(state.onHand == 10)
        #expect(state.reserved == 3)
        #expect(state.available == 7)
    }

    @Test("released stock is available again")
    func stockReleased() {
        let state = [Self.received(10), Self.reserved([Self.a(3)]), Self.released([Self.a(3), Self.b(4)])].reduce(Self.item, StockItemState.fold)
        #expect(state == StockItemState(storeID: Fixture.storeID, sku: Fixture.skuA, onHand: 10, reserved: 0, sold: 0, received: 10))
    }

    @Test("sold stock leaves the reservation and the shelf")
    func stockSold() {
        let state = [Self.received(10), Self.reserved([Self.a(3)]), Self.sold([Self.a(3), Self.b(1)])].reduce(Self.item, StockItemState.fold)
        #expect(state == StockItemState(storeID: Fixture.storeID, sku: Fixture.skuA, onHand: 7, reserved: 0, sold: 3, received: 10))
        #expect(state.available == 7)
    }

    @Test("events of other stores and other products leave a stock item unchanged")
    func otherStockIgnored() {
        let stocked = StockItemState.fold(Self.item, Self.received(10))
        let others = [
            Self.received(4, storeID: "store-2"), Self.received(4, sku: Fixture.skuB),
            Self.reserved([Self.a(3)], storeID: "store-2"), Self.reserved([Self.b(3)]),
            Self.released([Self.a(3)], storeID: "store-2"), Self.released([Self.b(3)]),
            Self.sold([Self.a(3)], storeID: "store-2"), Self.sold([Self.b(3)]),
        ]
        for event in others {
            #expect(StockItemState.fold(stocked, event) == stocked, "\(event.event.type)")
        }
    }

    @Test("events that do not move stock leave a stock item unchanged", arguments: EventType.allCases)
    func nonStockEventsIgnored(type: EventType) {
        let stocked = StockItemState.fold(Self.item, Self.received(10))
        let moves: Set<EventType> = [.stockReceived, .stockReserved, .stockReleased, .orderCreated]
        let after = StockItemState.fold(stocked, Fixture.envelope(Fixture.sample(type)))
        #expect((after != stocked) == moves.contains(type))
    }

    @Test("received always equals on hand plus sold")
    func receivedInvariant() {
        let history = [
            Self.received(10), Self.reserved([Self.a(3)]), Self.sold([Self.a(3)]), Self.received(2),
            Self.reserved([Self.a(4)]), Self.released([Self.a(4)]), Self.reserved([Self.a(5), Self.b(1)]), Self.sold([Self.a(5)]),
            Self.received(1), Self.reserved([Self.a(1)]),
        ]
        var state = Self.item
        for envelope in history {
            state = StockItemState.fold(state, envelope)
            #expect(state.received == state.onHand + state.sold)
            #expect(state.reserved >= 0 && state.reserved <= state.onHand)
        }
        #expect(state == StockItemState(storeID: Fixture.storeID, sku: Fixture.skuA, onHand: 5, reserved: 1, sold: 8, received: 13))
    }

    @Test("a stock item encodes with snake_case keys")
    func stockItemJSON() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.item)) as? [String: Any])
        #expect(Set(object.keys) == ["store_id", "sku", "on_hand", "reserved", "sold", "received"])
    }

    // MARK: Customer accounts

    static let account = CustomerAccountState(customerID: Fixture.customerID)

    static func credited(_ amount: Int64, customerID: String = Fixture.customerID) -> EventEnvelope {
        Fixture.envelope(.accountCredited(AccountCredited(customerID: customerID, amountCents: amount)))
    }

    static func charged(_ amount: Int64, customerID: String = Fixture.customerID) -> EventEnvelope {
        Fixture.envelope(.paymentAuthorized(PaymentAuthorized(checkout: Fixture.facts(customerID: customerID), paymentID: Fixture.paymentID, amountCents: amount)))
    }

    static func refunded(_ amount: Int64, customerID: String = Fixture.customerID) -> EventEnvelope {
        Fixture.envelope(.paymentRefunded(PaymentRefunded(checkoutID: Fixture.checkoutID, customerID: customerID, paymentID: Fixture.paymentID, amountCents: amount)))
    }

    @Test("a registered customer starts with the opening balance, counted as credit")
    func customerRegistered() {
        let state = CustomerAccountState.fold(Self.account, Fixture.envelope(Fixture.sample(.customerRegistered)))
        #expect(state.name == "Ada")
        #expect(state.email == "ada@example.com")
        #expect(state.balanceCents == 10_000)
        #expect(state.creditedCents == 10_000)
        #expect(state.chargedCents == 0)
        #expect(state.refundedCents == 0)
    }

    @Test("credits add, charges take away, refunds give back")
    func accountMovements() {
        let history = [Fixture.envelope(Fixture.sample(.customerRegistered)), Self.credited(500), Self.charged(2_499), Self.refunded(2_499), Self.charged(1_000)]
        let state = history.reduce(Self.account, CustomerAccountState.fold)
        #expect(state.balanceCents == 10_000 + 500 - 2_499 + 2_499 - 1_000)
        #expect(state.creditedCents == 10_500)
        #expect(state.chargedCents == 3_499)
        #expect(state.refundedCents == 2_499)
        #expect(state.balanceCents == state.creditedCents - state.chargedCents + state.refundedCents)
    }

    @Test("events of other customers leave an account unchanged")
    func otherCustomersIgnored() {
        let registered = CustomerAccountState.fold(Self.account, Fixture.envelope(Fixture.sample(.customerRegistered)))
        let other = CustomerRegistered(customerID: "cust-2", name: "Bob", email: "bob@example.com", openingBalanceCents: 1)
        for event in [Fixture.envelope(.customerRegistered(other)), Self.credited(5, customerID: "cust-2"), Self.charged(5, customerID: "cust-2"), Self.refunded(5, customerID: "cust-2")] {
            #expect(CustomerAccountState.fold(registered, event) == registered, "\(event.event.type)")
        }
    }

    @Test("a declined payment does not touch the account")
    func declineIgnored() {
        let registered = CustomerAccountState.fold(Self.account, Fixture.envelope(Fixture.sample(.customerRegistered)))
        #expect(CustomerAccountState.fold(registered, Fixture.envelope(Fixture.sample(.paymentDeclined))) == registered)
    }

    @Test("an account encodes with snake_case keys")
    func accountJSON() throws {
        let state = CustomerAccountState.fold(Self.account, Fixture.envelope(Fixture.sample(.customerRegistered)))
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(state)) as? [String: Any])
        #expect(Set(object.keys) == ["customer_id", "name", "email", "balance_cents", "credited_cents", "charged_cents", "refunded_cents"])
    }

    // MARK: Orders

    @Test("an order is recorded from OrderCreated, with its creation time")
    func orderCreated() {
        let state = OrderState.fold(OrderState(orderID: Fixture.orderID), Fixture.envelope(Fixture.sample(.orderCreated), at: Fixture.time(plus: 3)))
        #expect(state.checkoutID == Fixture.checkoutID)
        #expect(state.customerID == Fixture.customerID)
        #expect(state.storeID == Fixture.storeID)
        #expect(state.paymentID == Fixture.paymentID)
        #expect(state.lines == Fixture.lines)
        #expect(state.totalCents == Fixture.totalCents)
        #expect(state.createdAt == "2026-11-22T09:15:05.000Z")
    }

    @Test("other orders and other events leave an order unchanged", arguments: EventType.allCases)
    func otherOrdersIgnored(type: EventType) {
        let empty = OrderState(orderID: "ord-other")
        #expect(OrderState.fold(empty, Fixture.envelope(Fixture.sample(type))) == empty)
        let mine = OrderState(orderID: Fixture.orderID)
        #expect((OrderState.fold(mine, Fixture.envelope(Fixture.sample(type))) != mine) == (type == .orderCreated))
    }

    // MARK: Stores

    @Test("a store opens, pauses with a reason and resumes")
    func storeLifecycle() {
        let store = StoreState(storeID: Fixture.storeID)
        #expect(!store.isPaused)
        let opened = StoreState.fold(store, Fixture.envelope(Fixture.sample(.storeOpened)))
        #expect(opened.name == "High Street")
        #expect(opened.channel == .physical)
        #expect(!opened.isPaused)
        let paused = StoreState.fold(opened, Fixture.envelope(Fixture.sample(.storePaused)))
        #expect(paused.isPaused)
        #expect(paused.pauseReason == "stocktake")
        let resumed = StoreState.fold(paused, Fixture.envelope(Fixture.sample(.storeResumed)))
        #expect(resumed == opened)
    }

    @Test("events of other stores leave a store unchanged")
    func otherStoresIgnored() {
        let store = StoreState.fold(StoreState(storeID: "store-2"), Fixture.envelope(.storeOpened(StoreOpened(storeID: "store-2", name: "Web", channel: .web))))
        for type in EventType.allCases {
            #expect(StoreState.fold(store, Fixture.envelope(Fixture.sample(type))) == store, "\(type)")
        }
    }

    @Test("a store encodes its pause as paused and pause_reason")
    func storeJSON() throws {
        let paused = StoreState.fold(StoreState(storeID: Fixture.storeID), Fixture.envelope(Fixture.sample(.storePaused)))
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(paused)) as? [String: Any])
        #expect(object["paused"] as? Bool == true)
        #expect(object["pause_reason"] as? String == "stocktake")
        #expect(object["store_id"] as? String == Fixture.storeID)
    }

    // MARK: Products

    @Test("a product is registered at a price and repriced")
    func productLifecycle() {
        let registered = ProductState.fold(ProductState(sku: Fixture.skuA), Fixture.envelope(Fixture.sample(.productRegistered)))
        #expect(registered.name == "Apple")
        #expect(registered.priceCents == 250)
        let repriced = ProductState.fold(registered, Fixture.envelope(Fixture.sample(.productRepriced)))
        #expect(repriced.name == "Apple")
        #expect(repriced.priceCents == 275)
    }

    @Test("events of other products leave a product unchanged")
    func otherProductsIgnored() {
        let product = ProductState(sku: Fixture.skuB)
        for type in EventType.allCases {
            #expect(ProductState.fold(product, Fixture.envelope(Fixture.sample(type))) == product, "\(type)")
        }
    }

    // MARK: Snapshots

    @Test("an empty history rebuilds nothing", arguments: AggregateKind.allCases)
    func emptyHistory(kind: AggregateKind) {
        #expect(AggregateSnapshot.rebuild(AggregateReference(kind: kind, id: "store-1:sku-a"), from: []) == nil)
    }

    @Test("a checkout snapshot is the checkout's fold")
    func checkoutSnapshot() {
        let history = Fixture.history([Fixture.sample(.checkoutInitiated), Fixture.sample(.stockReserved)])
        #expect(AggregateSnapshot.rebuild(AggregateReference(kind: .checkout, id: Fixture.checkoutID), from: history) == CheckoutState.rebuild(history).map(AggregateSnapshot.checkout))
        let snapshot = AggregateSnapshot.rebuild(AggregateReference(kind: .checkout, id: Fixture.checkoutID), from: history)
        guard case .checkout(let state) = snapshot else {
            Issue.record("not a checkout: \(String(describing: snapshot))")
            return
        }
        #expect(state.status == .stockReserved)
    }

    @Test("a checkout with only reference events in its history rebuilds nothing")
    func checkoutSnapshotOfReferenceEvents() {
        #expect(AggregateSnapshot.rebuild(AggregateReference(kind: .checkout, id: Fixture.checkoutID), from: [Fixture.envelope(Fixture.sample(.storeOpened))]) == nil)
    }

    @Test("a stock item snapshot reads its store and sku from the id store:sku")
    func stockItemSnapshot() {
        let history = [Self.received(10), Self.reserved([Self.a(3)])]
        #expect(
            AggregateSnapshot.rebuild(AggregateReference(kind: .stockItem, id: "store-1:sku-a"), from: history)
                == .stockItem(StockItemState(storeID: "store-1", sku: "sku-a", onHand: 10, reserved: 3, sold: 0, received: 10)))
    }

    @Test("a stock item id that is not store:sku rebuilds nothing", arguments: ["store-1", "", ":sku-a", "store-1:"])
    func malformedStockItemID(id: String) {
        #expect(AggregateSnapshot.rebuild(AggregateReference(kind: .stockItem, id: id), from: [Self.received(10)]) == nil)
    }

    @Test("customer, order, store and product snapshots are their folds")
    func otherSnapshots() {
        let history = EventType.allCases.map { Fixture.sample($0) }.enumerated().map { Fixture.envelope($1, id: "evt-\($0)", at: Fixture.time) }
        #expect(
            AggregateSnapshot.rebuild(AggregateReference(kind: .customer, id: Fixture.customerID), from: history)
                == .customer(history.reduce(CustomerAccountState(customerID: Fixture.customerID), CustomerAccountState.fold)))
        #expect(
            AggregateSnapshot.rebuild(AggregateReference(kind: .order, id: Fixture.orderID), from: history)
                == .order(history.reduce(OrderState(orderID: Fixture.orderID), OrderState.fold)))
        #expect(
            AggregateSnapshot.rebuild(AggregateReference(kind: .store, id: Fixture.storeID), from: history)
                == .store(history.reduce(StoreState(storeID: Fixture.storeID), StoreState.fold)))
        guard case .product(let product) = AggregateSnapshot.rebuild(AggregateReference(kind: .product, id: Fixture.skuA), from: history) else {
            Issue.record("not a product")
            return
        }
        #expect(product.name == "Apple")
        #expect(product.priceCents == 275)
        guard case .store(let store) = AggregateSnapshot.rebuild(AggregateReference(kind: .store, id: Fixture.storeID), from: history) else {
            Issue.record("not a store")
            return
        }
        #expect(store.name == "High Street")
        #expect(!store.isPaused)
    }

    @Test("a snapshot encodes as the bare state")
    func snapshotJSON() throws {
        let snapshot = AggregateSnapshot.store(StoreState(storeID: Fixture.storeID))
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(snapshot)) as? [String: Any])
        #expect(object["store_id"] as? String == Fixture.storeID)
        #expect(object["paused"] as? Bool == false)
    }

    // MARK: Which aggregates an event touches

    static func checkout(_ id: String = Fixture.checkoutID) -> AggregateReference { .init(kind: .checkout, id: id) }
    static let stockA = AggregateReference(kind: .stockItem, id: "store-1:sku-a")
    static let stockB = AggregateReference(kind: .stockItem, id: "store-1:sku-b")
    static let customer = AggregateReference(kind: .customer, id: Fixture.customerID)

    static let expectedAggregates: [EventType: [AggregateReference]] = [
        .storeOpened: [.init(kind: .store, id: Fixture.storeID)],
        .storePaused: [.init(kind: .store, id: Fixture.storeID)],
        .storeResumed: [.init(kind: .store, id: Fixture.storeID)],
        .productRegistered: [.init(kind: .product, id: Fixture.skuA)],
        .productRepriced: [.init(kind: .product, id: Fixture.skuA)],
        .stockReceived: [stockA],
        .customerRegistered: [customer],
        .accountCredited: [customer],
        .checkoutInitiated: [checkout()],
        .stockReserved: [checkout(), stockA, stockB],
        .stockReservationFailed: [checkout()],
        .paymentAuthorized: [checkout(), customer],
        .paymentDeclined: [checkout()],
        .orderCreated: [checkout(), .init(kind: .order, id: Fixture.orderID), stockA, stockB],
        .orderRejected: [checkout()],
        .checkoutCompleted: [checkout()],
        .paymentRefunded: [checkout(), customer],
        .stockReleased: [checkout(), stockA, stockB],
        .checkoutFailed: [checkout()],
    ]

    @Test("each event names every aggregate it changes", arguments: EventType.allCases)
    func aggregatesOfEvents(type: EventType) {
        #expect(Fixture.sample(type).aggregates == Self.expectedAggregates[type])
    }

    @Test("a stock item's id is store:sku")
    func stockItemID() {
        #expect(AggregateReference.stockItemID(storeID: "store-1", sku: "sku-a") == "store-1:sku-a")
    }

    static let candidates: [AggregateReference] = [
        checkout(), stockA, stockB, customer, .init(kind: .order, id: Fixture.orderID),
        .init(kind: .store, id: Fixture.storeID), .init(kind: .product, id: Fixture.skuA), .init(kind: .product, id: Fixture.skuB),
    ]

    @Test("every aggregate an event changes is named by the event, so that its history is complete", arguments: EventType.allCases)
    func changedAggregatesAreNamed(type: EventType) {
        // A paused store as the baseline, so that resuming it is a change too.
        let baseline = Fixture.envelope(.storePaused(StorePaused(storeID: Fixture.storeID, reason: "baseline")), id: "evt-baseline")
        let event = Fixture.envelope(Fixture.sample(type))
        var changed: [AggregateReference] = []
        for reference in Self.candidates
        where AggregateSnapshot.rebuild(reference, from: [baseline, event]) != AggregateSnapshot.rebuild(reference, from: [baseline]) {
            changed.append(reference)
        }
        #expect(!changed.isEmpty)
        #expect(Set(changed).isSubset(of: Set(Fixture.sample(type).aggregates)), "\(changed)")
    }

    @Test("the aggregate kinds have their wire names")
    func aggregateKinds() {
        #expect(AggregateKind.allCases.map(\.rawValue) == ["checkout", "stock_item", "customer", "order", "store", "product"])
    }

    @Test("a customer registered twice keeps the first registration: no second opening balance")
    func registrationCountsOnce() {
        let first = DomainEvent.customerRegistered(CustomerRegistered(customerID: "cus-1", name: "First", email: "a@example.com", openingBalanceCents: 500))
        let second = DomainEvent.customerRegistered(CustomerRegistered(customerID: "cus-1", name: "Second", email: "b@example.com", openingBalanceCents: 9_000))
        let state = Fixture.history([first, second]).reduce(CustomerAccountState(customerID: "cus-1"), CustomerAccountState.fold)
        #expect(state.balanceCents == 500)
        #expect(state.name == "First")
    }
}

