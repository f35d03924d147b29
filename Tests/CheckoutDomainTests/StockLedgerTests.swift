import Testing

@testable import CheckoutDomain

@Suite("Stock ledger: a batch of stock events decided in memory")
struct StockLedgerTests {
    typealias Key = StockLedger.Key
    typealias Level = StockLedger.Level

    static let keyA = Key(storeID: Fixture.storeID, sku: Fixture.skuA)
    static let keyB = Key(storeID: Fixture.storeID, sku: Fixture.skuB)

    static func initiated(_ checkoutID: String = Fixture.checkoutID, lines: [CheckoutLine] = Fixture.lines) -> DomainEvent {
        .checkoutInitiated(CheckoutInitiated(checkout: Fixture.facts(checkoutID: checkoutID, lines: lines)))
    }

    static func released(_ checkoutID: String = Fixture.checkoutID) -> DomainEvent {
        .stockReleased(StockReleased(checkoutID: checkoutID, storeID: Fixture.storeID, lines: Fixture.lines))
    }

    static func ordered(_ checkoutID: String = Fixture.checkoutID) -> DomainEvent {
        .orderCreated(OrderCreated(checkout: Fixture.facts(checkoutID: checkoutID), orderID: Fixture.orderID, paymentID: Fixture.paymentID))
    }

    static func received(_ sku: String, _ quantity: Int) -> DomainEvent {
        .stockReceived(StockReceived(storeID: Fixture.storeID, sku: sku, quantity: quantity))
    }

    /// 2 × sku-a and 1 × sku-b asked for; `a` and `b` units on hand.
    static func ledger(a: Int, b: Int, reservations: [String: StockLedger.Reservation] = [:]) -> StockLedger {
        StockLedger(levels: [keyA: Level(onHand: a, received: a), keyB: Level(onHand: b, received: b)], reservations: reservations)
    }

    @Test("a batch needs the rows its checkouts and arrivals name, and the reservations it settles")
    func needs() {
        let needs = StockLedger.needs([Self.initiated(), Self.received("sku-z", 1), Self.released("co-2"), Self.ordered("co-3"),
                                       .storePaused(StorePaused(storeID: Fixture.storeID, reason: "x"))])
        #expect(needs.stock == [Self.keyA, Self.keyB, Key(storeID: Fixture.storeID, sku: "sku-z")])
        #expect(needs.reservations == ["co-2", "co-3"])
        let reservation = StockLedger.Reservation(storeID: "store-9", lines: Fixture.lines, status: .reserved)
        #expect(StockLedger.stockKeys(of: ["co-2": reservation]) == [Key(storeID: "store-9", sku: Fixture.skuA), Key(storeID: "store-9", sku: Fixture.skuB)])
    }

    @Test("a reservation takes every line's units and records the reservation; the rule's event is emitted")
    func reserves() throws {
        var ledger = Self.ledger(a: 5, b: 1)
        #expect(try ledger.apply(Self.initiated()) == [.stockReserved(StockReserved(checkout: Fixture.facts()))])
        #expect(ledger.levels[Self.keyA] == Level(onHand: 5, reserved: 2, received: 5))
        #expect(ledger.levels[Self.keyB] == Level(onHand: 1, reserved: 1, received: 1))
        #expect(ledger.stockChanges.map(\.key) == [Self.keyA, Self.keyB])
        #expect(ledger.stockChanges.map(\.change) == [Level(reserved: 2), Level(reserved: 1)])
        #expect(ledger.newReservations.map(\.checkoutID) == [Fixture.checkoutID])
        #expect(ledger.newReservations.first?.reservation == StockLedger.Reservation(storeID: Fixture.storeID, lines: Fixture.lines, status: .reserved))
    }

    @Test("a later checkout in the batch sees what an earlier one reserved: the last unit goes once")
    func laterCheckoutSeesEarlierReservation() throws {
        var ledger = Self.ledger(a: 3, b: 1)
        #expect(try ledger.apply(Self.initiated("co-1")).first?.type == .stockReserved)
        let second = try ledger.apply(Self.initiated("co-2"))
        #expect(second == [.stockReservationFailed(StockReservationFailed(
            checkoutID: "co-2", reason: FailureReason.insufficientStock.rawValue, sku: Fixture.skuA, requested: 2, available: 1))])
        #expect(ledger.newReservations.map(\.checkoutID) == ["co-1"])
        #expect(ledger.levels[Self.keyA]?.reserved == 2)
    }

    @Test("a failed reservation changes nothing")
    func failedReservationChangesNothing() throws {
        var ledger = Self.ledger(a: 1, b: 1)
        #expect(try ledger.apply(Self.initiated()).first?.type == .stockReservationFailed)
        #expect(ledger.stockChanges.isEmpty)
        #expect(ledger.newReservations.isEmpty)
    }

    @Test("a product without a row at the store is not stocked there")
    func missingRowIsNotStocked() throws {
        var ledger = StockLedger(levels: [Self.keyA: Level(onHand: 9)], reservations: [:])
        let decision = try ledger.apply(Self.initiated())
        guard case .stockReservationFailed(let failure)? = decision.first else {
            Issue.record("expected a failure, got \(decision)")
            return
        }
        #expect(failure.reason == FailureReason.notStockedAtStore.rawValue)
        #expect(failure.sku == Fixture.skuB)
    }

    @Test("arrivals add to a row, or make one, before later checkouts of the batch reserve from it")
    func arrivalsComeFirst() throws {
        var ledger = StockLedger(levels: [Self.keyA: Level(onHand: 2, received: 2)], reservations: [:])
        _ = try ledger.apply(Self.received(Fixture.skuB, 4))
        _ = try ledger.apply(Self.received(Fixture.skuA, 1))
        #expect(try ledger.apply(Self.initiated()).first?.type == .stockReserved)
        #expect(ledger.stockChanges.map(\.change) == [Level(onHand: 1, reserved: 2, received: 1), Level(onHand: 4, reserved: 1, received: 4)])
    }

    @Test("a second reservation for one checkout is refused, so that its event is isolated")
    func secondReservationRefused() throws {
        var ledger = Self.ledger(a: 10, b: 10)
        _ = try ledger.apply(Self.initiated())
        #expect(throws: StockLedger.Refusal.alreadyReserved(checkoutID: Fixture.checkoutID)) { try ledger.apply(Self.initiated()) }
        let loaded = Self.ledger(a: 10, b: 10, reservations: [
            Fixture.checkoutID: StockLedger.Reservation(storeID: Fixture.storeID, lines: Fixture.lines, status: .released),
        ])
        var again = loaded
        #expect(throws: StockLedger.Refusal.self) { try again.apply(Self.initiated()) }
    }

    @Test("a release gives the reservation's units back, once")
    func releaseOnce() throws {
        var ledger = Self.ledger(a: 5, b: 1)
        _ = try ledger.apply(Self.initiated())
        _ = try ledger.apply(Self.released())
        _ = try ledger.apply(Self.released())
        #expect(ledger.stockChanges.isEmpty, "reserved and released in one batch: no net change")
        #expect(ledger.newReservations.first?.reservation.status == .released)
    }

    @Test("a sale takes the units off the shelf: on hand and reserved down, sold up, once")
    func saleOnce() throws {
        let reservation = StockLedger.Reservation(storeID: Fixture.storeID, lines: Fixture.lines, status: .reserved)
        var ledger = StockLedger(
            levels: [Self.keyA: Level(onHand: 5, reserved: 2, received: 5), Self.keyB: Level(onHand: 1, reserved: 1, received: 1)],
            reservations: [Fixture.checkoutID: reservation])
        _ = try ledger.apply(Self.ordered())
        _ = try ledger.apply(Self.released())
        _ = try ledger.apply(Self.ordered())
        #expect(ledger.levels[Self.keyA] == Level(onHand: 3, reserved: 0, sold: 2, received: 5))
        #expect(ledger.levels[Self.keyB] == Level(onHand: 0, reserved: 0, sold: 1, received: 1))
        #expect(ledger.stockChanges.map(\.change) == [Level(onHand: -2, reserved: -2, sold: 2), Level(onHand: -1, reserved: -1, sold: 1)])
        #expect(ledger.settledReservations.map(\.checkoutID) == [Fixture.checkoutID])
        #expect(ledger.settledReservations.map(\.status) == [.sold])
        #expect(ledger.newReservations.isEmpty)
    }

    @Test("a settlement moves the reservation's own lines, whatever the event says; without a reservation it does nothing")
    func settlementUsesStoredLines() throws {
        let stored = [Fixture.line(Fixture.skuA, quantity: 1, unitPriceCents: 250), Fixture.line(Fixture.skuA, quantity: 1, unitPriceCents: 250)]
        var ledger = StockLedger(
            levels: [Self.keyA: Level(onHand: 4, reserved: 2)],
            reservations: [Fixture.checkoutID: StockLedger.Reservation(storeID: Fixture.storeID, lines: stored, status: .reserved)])
        _ = try ledger.apply(Self.released())
        _ = try ledger.apply(Self.released("co-unknown"))
        #expect(ledger.levels[Self.keyA] == Level(onHand: 4, reserved: 0))
        #expect(ledger.levels[Self.keyB] == nil)
    }

    @Test("events the service does not handle change nothing and emit nothing")
    func otherEvents() throws {
        var ledger = Self.ledger(a: 1, b: 1)
        for type in EventType.allCases where ![.stockReceived, .checkoutInitiated, .stockReleased, .orderCreated].contains(type) {
            #expect(try ledger.apply(Fixture.sample(type)) == [])
        }
        #expect(ledger == Self.ledger(a: 1, b: 1))
    }
}

@Suite("Account ledger: a batch of payment events decided in memory")
struct AccountLedgerTests {
    typealias Account = AccountLedger.Account

    static func reserved(_ checkoutID: String = Fixture.checkoutID, customer: String = Fixture.customerID) -> DomainEvent {
        .stockReserved(StockReserved(checkout: Fixture.facts(checkoutID: checkoutID, customerID: customer)))
    }

    static func refunded(_ paymentID: String, customer: String = Fixture.customerID, amount: Int64 = Fixture.totalCents) -> DomainEvent {
        .paymentRefunded(PaymentRefunded(checkoutID: Fixture.checkoutID, customerID: customer, paymentID: paymentID, amountCents: amount))
    }

    static func registered(_ customer: String, opening: Int64) -> DomainEvent {
        .customerRegistered(CustomerRegistered(customerID: customer, name: "Ada", email: "ada@example.com", openingBalanceCents: opening))
    }

    static func credited(_ customer: String, _ amount: Int64) -> DomainEvent {
        .accountCredited(AccountCredited(customerID: customer, amountCents: amount))
    }

    static let paymentID = EventIdentity.paymentID(checkoutID: Fixture.checkoutID)

    @Test("a batch needs the accounts its events name, those it may open, and the payments it refunds")
    func needs() {
        let needs = AccountLedger.needs([Self.reserved(customer: "c-1"), Self.registered("c-2", opening: 1), Self.credited("c-3", 1),
                                         Self.refunded("p-9"), Fixture.sample(.checkoutCompleted)])
        #expect(needs.accounts == ["c-1", "c-2", "c-3"])
        #expect(needs.opened == ["c-2", "c-3"])
        #expect(needs.payments == ["p-9"])
        let payment = AccountLedger.Payment(checkoutID: "co", customerID: "c-7", amountCents: 1, status: .authorized)
        #expect(AccountLedger.customers(of: ["p-9": payment]) == ["c-7"])
    }

    @Test("enough balance authorizes and debits; the payment is recorded")
    func authorizes() {
        var ledger = AccountLedger(accounts: [Fixture.customerID: Account(balanceCents: 3_000, registered: true)], payments: [:])
        let emitted = ledger.apply(Self.reserved())
        #expect(emitted.first?.type == .paymentAuthorized)
        #expect(ledger.accountChanges.map(\.account) == [Account(balanceCents: 501, registered: true)])
        #expect(ledger.newPayments.map(\.paymentID) == [Self.paymentID])
        #expect(ledger.newPayments.first?.payment == AccountLedger.Payment(
            checkoutID: Fixture.checkoutID, customerID: Fixture.customerID, amountCents: Fixture.totalCents, status: .authorized))
    }

    @Test("a later checkout of the batch sees the balance an earlier one left")
    func laterCheckoutSeesDebit() {
        var ledger = AccountLedger(accounts: [Fixture.customerID: Account(balanceCents: 4_000, registered: true)], payments: [:])
        #expect(ledger.apply(Self.reserved("co-1")).first?.type == .paymentAuthorized)
        #expect(ledger.apply(Self.reserved("co-2")) == [.paymentDeclined(PaymentDeclined(
            checkout: Fixture.facts(checkoutID: "co-2"), reason: FailureReason.insufficientFunds.rawValue, balanceCents: 1_501))])
        #expect(ledger.newPayments.count == 1)
    }

    @Test("an unknown customer is declined, and nothing is written")
    func unknownCustomer() {
        var ledger = AccountLedger(accounts: [:], payments: [:])
        #expect(ledger.apply(Self.reserved()).first == .paymentDeclined(PaymentDeclined(
            checkout: Fixture.facts(), reason: FailureReason.unknownCustomer.rawValue, balanceCents: 0)))
        #expect(ledger.accountChanges.isEmpty)
        #expect(ledger.newPayments.isEmpty)
    }

    @Test("a registration opens the account with its opening balance, once; a credit adds, and may open an unregistered account")
    func registrationAndCredit() {
        var ledger = AccountLedger(accounts: [:], payments: [:])
        _ = ledger.apply(Self.credited("c-1", 100))
        _ = ledger.apply(Self.registered("c-1", opening: 1_000))
        _ = ledger.apply(Self.registered("c-1", opening: 1_000))
        _ = ledger.apply(Self.registered("c-2", opening: 50))
        _ = ledger.apply(Self.credited("c-3", 7))
        #expect(ledger.accounts == [
            "c-1": Account(balanceCents: 1_100, registered: true),
            "c-2": Account(balanceCents: 50, registered: true),
            "c-3": Account(balanceCents: 7, registered: false),
        ])
        #expect(ledger.accountChanges.map(\.customerID) == ["c-1", "c-2", "c-3"])
    }

    @Test("a refund credits the payment's amount back once, to the payment's customer; an unknown payment does nothing")
    func refundOnce() {
        let payment = AccountLedger.Payment(checkoutID: Fixture.checkoutID, customerID: "c-1", amountCents: 900, status: .authorized)
        var ledger = AccountLedger(accounts: ["c-1": Account(balanceCents: 100, registered: true)], payments: ["p-1": payment])
        _ = ledger.apply(Self.refunded("p-1", customer: "someone-else", amount: 5))
        _ = ledger.apply(Self.refunded("p-1"))
        _ = ledger.apply(Self.refunded("p-unknown"))
        #expect(ledger.accounts["c-1"] == Account(balanceCents: 1_000, registered: true))
        #expect(ledger.refundedPayments == ["p-1"])
        #expect(ledger.newPayments.isEmpty)
    }

    @Test("a payment made and refunded in one batch is recorded as refunded, and the balance is whole again")
    func paidAndRefundedInOneBatch() {
        var ledger = AccountLedger(accounts: [Fixture.customerID: Account(balanceCents: 3_000, registered: true)], payments: [:])
        _ = ledger.apply(Self.reserved())
        _ = ledger.apply(Self.refunded(Self.paymentID))
        #expect(ledger.accountChanges.isEmpty)
        #expect(ledger.newPayments.map(\.payment.status) == [.refunded])
        #expect(ledger.refundedPayments.isEmpty, "only loaded payments are updated")
    }

    @Test("a checkout paid twice in one batch lists its payment twice, so that the payments table refuses the batch")
    func paidTwice() {
        var ledger = AccountLedger(accounts: [Fixture.customerID: Account(balanceCents: 10_000, registered: true)], payments: [:])
        _ = ledger.apply(Self.reserved())
        _ = ledger.apply(Self.reserved())
        #expect(ledger.newPayments.map(\.paymentID) == [Self.paymentID, Self.paymentID])
    }

    @Test("events the service does not handle change nothing and emit nothing")
    func otherEvents() {
        let start = AccountLedger(accounts: [Fixture.customerID: Account(balanceCents: 1, registered: true)], payments: [:])
        var ledger = start
        for type in EventType.allCases where ![.customerRegistered, .accountCredited, .stockReserved, .paymentRefunded].contains(type) {
            #expect(ledger.apply(Fixture.sample(type)) == [])
        }
        #expect(ledger == start)
    }
}
