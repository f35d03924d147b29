import Testing

@testable import CheckoutDomain

@Suite("Saga rules")
struct SagaRulesTests {
    static let facts = Fixture.facts()

    // MARK: Stock reservation

    @Test("when every line is available, the whole checkout is reserved")
    func allAvailable() {
        #expect(StockReservationRule.decide(Self.facts, available: ["sku-a": 10, "sku-b": 10]) == .stockReserved(StockReserved(checkout: Self.facts)))
    }

    @Test("exactly the requested amount is enough")
    func exactAmount() {
        #expect(StockReservationRule.decide(Self.facts, available: ["sku-a": 2, "sku-b": 1]).type == .stockReserved)
    }

    @Test("availability of other products does not matter")
    func otherProductsIrrelevant() {
        #expect(StockReservationRule.decide(Self.facts, available: ["sku-a": 2, "sku-b": 1, "sku-z": -4]).type == .stockReserved)
    }

    @Test("one short line fails the whole reservation, reporting the sku, what was asked and what there is")
    func oneShort() {
        #expect(
            StockReservationRule.decide(Self.facts, available: ["sku-a": 10, "sku-b": 0])
                == .stockReservationFailed(StockReservationFailed(
                    checkoutID: Fixture.checkoutID, reason: "insufficient_stock", sku: "sku-b", requested: 1, available: 0)))
        #expect(
            StockReservationRule.decide(Self.facts, available: ["sku-a": 1, "sku-b": 10])
                == .stockReservationFailed(StockReservationFailed(
                    checkoutID: Fixture.checkoutID, reason: "insufficient_stock", sku: "sku-a", requested: 2, available: 1)))
    }

    @Test("lines of the same product count together: two lines of one unit need two units")
    func repeatedProductLinesAddUp() {
        let twice = Fixture.facts(lines: [
            Fixture.line("sku-a", quantity: 1, unitPriceCents: 100), Fixture.line("sku-a", quantity: 1, unitPriceCents: 100),
        ])
        #expect(
            StockReservationRule.decide(twice, available: ["sku-a": 1])
                == .stockReservationFailed(StockReservationFailed(
                    checkoutID: Fixture.checkoutID, reason: "insufficient_stock", sku: "sku-a", requested: 2, available: 1)))
        #expect(StockReservationRule.decide(twice, available: ["sku-a": 2]).type == .stockReserved)
        let units = StockReservationRule.unitsPerSKU(twice.lines + [Fixture.line("sku-b", quantity: 3, unitPriceCents: 1)])
        #expect(units.order == ["sku-a", "sku-b"] && units.units == ["sku-a": 2, "sku-b": 3])
    }

    @Test("the first line that fails, in checkout order, is the one reported")
    func firstFailureReported() {
        guard case .stockReservationFailed(let failure) = StockReservationRule.decide(Self.facts, available: ["sku-a": 0, "sku-b": 0]) else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.sku == "sku-a")
    }

    @Test("a sku the store does not stock is an unknown product")
    func unknownProduct() {
        #expect(
            StockReservationRule.decide(Self.facts, available: ["sku-a": 10])
                == .stockReservationFailed(StockReservationFailed(
                    checkoutID: Fixture.checkoutID, reason: "not_stocked_at_store", sku: "sku-b", requested: 1, available: 0)))
    }

    @Test("negative availability (more reserved than on hand) is reported as 0", arguments: [-1, -50])
    func negativeAvailability(units: Int) {
        #expect(
            StockReservationRule.decide(Self.facts, available: ["sku-a": units, "sku-b": 10])
                == .stockReservationFailed(StockReservationFailed(
                    checkoutID: Fixture.checkoutID, reason: "insufficient_stock", sku: "sku-a", requested: 2, available: 0)))
    }

    // MARK: Payment

    @Test("with enough money the payment is authorized for the total, with a payment id derived from the checkout")
    func paymentAuthorized() {
        #expect(
            PaymentRule.decide(Self.facts, balanceCents: 10_000)
                == .paymentAuthorized(PaymentAuthorized(
                    checkout: Self.facts, paymentID: EventIdentity.paymentID(checkoutID: Fixture.checkoutID), amountCents: 2_499)))
    }

    @Test("the payment id is the same every time for one checkout and differs between checkouts")
    func paymentIDIsDeterministic() {
        func paymentID(_ facts: CheckoutFacts) -> String? {
            guard case .paymentAuthorized(let payment) = PaymentRule.decide(facts, balanceCents: 10_000) else { return nil }
            return payment.paymentID
        }
        #expect(paymentID(Self.facts) != nil)
        #expect(paymentID(Self.facts) == paymentID(Self.facts))
        #expect(paymentID(Self.facts) != paymentID(Fixture.facts(checkoutID: "co-2")))
    }

    @Test("exactly the total is enough")
    func exactBalance() {
        #expect(PaymentRule.decide(Self.facts, balanceCents: 2_499).type == .paymentAuthorized)
    }

    @Test("a free checkout is authorized even on an empty account")
    func freeCheckout() {
        let free = Fixture.facts(lines: [Fixture.line("gift", quantity: 1, unitPriceCents: 0)])
        #expect(PaymentRule.decide(free, balanceCents: 0).type == .paymentAuthorized)
    }

    @Test("short of the total, the payment is declined for insufficient funds, reporting the balance", arguments: [Int64(2_498), 0, -100])
    func insufficientFunds(balance: Int64) {
        #expect(
            PaymentRule.decide(Self.facts, balanceCents: balance)
                == .paymentDeclined(PaymentDeclined(checkout: Self.facts, reason: "insufficient_funds", balanceCents: balance)))
    }

    @Test("an unknown account is declined as an unknown customer")
    func unknownCustomer() {
        #expect(
            PaymentRule.decide(Self.facts, balanceCents: nil)
                == .paymentDeclined(PaymentDeclined(checkout: Self.facts, reason: "unknown_customer", balanceCents: 0)))
    }

    // MARK: Order creation

    static let authorized = PaymentAuthorized(checkout: facts, paymentID: Fixture.paymentID, amountCents: 2_499)

    @Test("at an open store the order is created and the checkout completed, with an order id derived from the checkout")
    func orderCreated() {
        let orderID = EventIdentity.orderID(checkoutID: Fixture.checkoutID)
        #expect(
            OrderCreationRule.decide(Self.authorized, storeIsPaused: false) == [
                .orderCreated(OrderCreated(checkout: Self.facts, orderID: orderID, paymentID: Fixture.paymentID)),
                .checkoutCompleted(CheckoutCompleted(checkoutID: Fixture.checkoutID, orderID: orderID)),
            ])
    }

    @Test("deciding twice gives the same order id")
    func orderIDIsDeterministic() {
        #expect(OrderCreationRule.decide(Self.authorized, storeIsPaused: false) == OrderCreationRule.decide(Self.authorized, storeIsPaused: false))
    }

    @Test("at a paused store the order is rejected, carrying the payment to refund")
    func storePaused() {
        #expect(
            OrderCreationRule.decide(Self.authorized, storeIsPaused: true) == [
                .orderRejected(OrderRejected(checkout: Self.facts, reason: "store_paused", paymentID: Fixture.paymentID, amountCents: 2_499)),
            ])
    }

    @Test("at an unknown store the order is rejected as unknown_store")
    func unknownStore() {
        #expect(
            OrderCreationRule.decide(Self.authorized, storeIsPaused: nil) == [
                .orderRejected(OrderRejected(checkout: Self.facts, reason: "unknown_store", paymentID: Fixture.paymentID, amountCents: 2_499)),
            ])
    }

    @Test("the amount to refund is the amount that was authorized")
    func rejectionCarriesTheAuthorizedAmount() {
        let partial = PaymentAuthorized(checkout: Self.facts, paymentID: "pay-9", amountCents: 1_234)
        guard case .orderRejected(let rejection) = OrderCreationRule.decide(partial, storeIsPaused: true).first else {
            Issue.record("expected a rejection")
            return
        }
        #expect(rejection.paymentID == "pay-9")
        #expect(rejection.amountCents == 1_234)
    }

    // MARK: Compensation

    static let expectedPlans: [EventType: [EventType]] = [
        .stockReservationFailed: [.checkoutFailed],
        .paymentDeclined: [.stockReleased, .checkoutFailed],
        .orderRejected: [.paymentRefunded, .stockReleased, .checkoutFailed],
    ]

    @Test("each failure is compensated by exactly the events of the table, newest undone first", arguments: EventType.allCases)
    func compensationTable(type: EventType) {
        #expect(CompensationRule.plan(for: Fixture.sample(type)).map(\.type) == Self.expectedPlans[type, default: []])
    }

    @Test("an out-of-stock checkout just fails, with the reservation's reason")
    func compensateStockReservationFailed() {
        #expect(
            CompensationRule.plan(for: Fixture.sample(.stockReservationFailed)) == [
                .checkoutFailed(CheckoutFailed(checkoutID: Fixture.checkoutID, reason: "insufficient_stock", failedStep: .stockReservationFailed)),
            ])
    }

    @Test("a declined payment releases every reserved line at the store, then fails the checkout")
    func compensatePaymentDeclined() {
        #expect(
            CompensationRule.plan(for: Fixture.sample(.paymentDeclined)) == [
                .stockReleased(StockReleased(checkoutID: Fixture.checkoutID, storeID: Fixture.storeID, lines: Fixture.lines)),
                .checkoutFailed(CheckoutFailed(checkoutID: Fixture.checkoutID, reason: "insufficient_funds", failedStep: .paymentDeclined)),
            ])
    }

    @Test("a rejected order refunds the authorized amount to the customer, releases the stock, then fails the checkout")
    func compensateOrderRejected() {
        let rejected = OrderRejected(checkout: Self.facts, reason: "store_paused", paymentID: "pay-7", amountCents: 1_234)
        #expect(
            CompensationRule.plan(for: .orderRejected(rejected)) == [
                .paymentRefunded(PaymentRefunded(checkoutID: Fixture.checkoutID, customerID: Fixture.customerID, paymentID: "pay-7", amountCents: 1_234)),
                .stockReleased(StockReleased(checkoutID: Fixture.checkoutID, storeID: Fixture.storeID, lines: Fixture.lines)),
                .checkoutFailed(CheckoutFailed(checkoutID: Fixture.checkoutID, reason: "store_paused", failedStep: .orderRejected)),
            ])
    }

    @Test("every planned CheckoutFailed names the failure as its failed step", arguments: [EventType.stockReservationFailed, .paymentDeclined, .orderRejected])
    func failedStep(type: EventType) {
        guard case .checkoutFailed(let failed) = CompensationRule.plan(for: Fixture.sample(type)).last else {
            Issue.record("the plan does not end with CheckoutFailed")
            return
        }
        #expect(failed.failedStep == type)
    }

    @Test("every planned event belongs to the failed checkout", arguments: [EventType.stockReservationFailed, .paymentDeclined, .orderRejected])
    func plannedEventsStayInTheCheckout(type: EventType) {
        for event in CompensationRule.plan(for: Fixture.sample(type, checkoutID: "co-5")) {
            #expect(event.checkoutID == "co-5")
        }
    }

    // MARK: Rules and the contract

    @Test("every event a rule produces passes the contract's validation and round trips")
    func ruleOutputsAreValid() throws {
        var outputs: [DomainEvent] = [
            StockReservationRule.decide(Self.facts, available: ["sku-a": 9, "sku-b": 9]),
            StockReservationRule.decide(Self.facts, available: ["sku-a": -3]),
            StockReservationRule.decide(Self.facts, available: [:]),
            PaymentRule.decide(Self.facts, balanceCents: 9_999),
            PaymentRule.decide(Self.facts, balanceCents: 1),
            PaymentRule.decide(Self.facts, balanceCents: nil),
        ]
        outputs += OrderCreationRule.decide(Self.authorized, storeIsPaused: false)
        outputs += OrderCreationRule.decide(Self.authorized, storeIsPaused: true)
        outputs += OrderCreationRule.decide(Self.authorized, storeIsPaused: nil)
        for type in EventType.allCases {
            outputs += CompensationRule.plan(for: Fixture.sample(type))
        }
        for event in outputs {
            #expect(try DomainEvent.decode(type: event.type.rawValue, payload: event.encodedPayload()) == event)
        }
    }
}
