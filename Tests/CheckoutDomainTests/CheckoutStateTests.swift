import Foundation
import Testing

@testable import CheckoutDomain

@Suite("CheckoutState")
struct CheckoutStateTests {
    /// Folds `events` one by one, one second apart, and returns the state after each.
    static func states(_ events: [DomainEvent]) -> [CheckoutState?] {
        var state: CheckoutState?
        return Fixture.history(events).map { envelope in
            state = CheckoutState.fold(state, envelope)
            return state
        }
    }

    static func samples(_ types: EventType...) -> [DomainEvent] { types.map { Fixture.sample($0) } }

    static func failed(_ reason: String, at step: EventType) -> DomainEvent {
        .checkoutFailed(CheckoutFailed(checkoutID: Fixture.checkoutID, reason: reason, failedStep: step))
    }

    static let happyPath = samples(.checkoutInitiated, .stockReserved, .paymentAuthorized, .orderCreated, .checkoutCompleted)
    static let outOfStock = samples(.checkoutInitiated, .stockReservationFailed)
        + [failed("insufficient_stock", at: .stockReservationFailed)]
    static let insufficientFunds = samples(.checkoutInitiated, .stockReserved, .paymentDeclined, .stockReleased)
        + [failed("insufficient_funds", at: .paymentDeclined)]
    static let orderRejected = samples(
        .checkoutInitiated, .stockReserved, .paymentAuthorized, .orderRejected, .paymentRefunded, .stockReleased)
        + [failed("store_paused", at: .orderRejected)]
    static let paths = [happyPath, outOfStock, insufficientFunds, orderRejected]

    // MARK: Happy path

    @Test("happy path: the status moves pending, stock_reserved, payment_authorized, order_created, completed")
    func happyPathStatuses() {
        let states = Self.states(Self.happyPath)
        #expect(states.map { $0?.status } == [.pending, .stockReserved, .paymentAuthorized, .orderCreated, .completed])
    }

    @Test("happy path: the checkout adopts the facts of its first event")
    func happyPathFacts() throws {
        let state = try #require(Self.states(Self.samples(.checkoutInitiated)).last!)
        #expect(state.checkoutID == Fixture.checkoutID)
        #expect(state.customerID == Fixture.customerID)
        #expect(state.storeID == Fixture.storeID)
        #expect(state.lines == Fixture.lines)
        #expect(state.totalCents == Fixture.totalCents)
        #expect(state.reservation == nil)
        #expect(state.payment == nil)
        #expect(state.orderID == nil)
        #expect(state.failureReason == nil)
        #expect(state.compensations.isEmpty)
    }

    @Test("happy path: the reservation is reserved then sold, the payment authorized, the order recorded")
    func happyPathDetails() {
        let states = Self.states(Self.happyPath).map { $0! }
        #expect(states[1].reservation == CheckoutState.Reservation(status: "reserved", lines: Fixture.lines))
        #expect(states[2].payment == CheckoutState.Payment(paymentID: Fixture.paymentID, amountCents: Fixture.totalCents, status: "authorized"))
        #expect(states[3].reservation?.status == "sold")
        #expect(states[3].orderID == Fixture.orderID)
        let final = states[4]
        #expect(final.status == .completed)
        #expect(final.status.isTerminal)
        #expect(final.orderID == Fixture.orderID)
        #expect(final.reservation?.status == "sold")
        #expect(final.payment?.status == "authorized")
        #expect(final.failureReason == nil)
        #expect(final.compensations.isEmpty)
    }

    @Test("the timeline lists every event's type and time, in order")
    func timeline() throws {
        let final = try #require(Self.states(Self.happyPath).last!)
        #expect(final.timeline.map(\.type) == Self.happyPath.map(\.type))
        #expect(
            final.timeline.map(\.at) == [
                "2026-11-22T09:15:02.000Z", "2026-11-22T09:15:03.000Z", "2026-11-22T09:15:04.000Z",
                "2026-11-22T09:15:05.000Z", "2026-11-22T09:15:06.000Z",
            ])
    }

    @Test("rebuild folds a whole history like folding event by event")
    func rebuildMatchesFold() {
        for path in Self.paths {
            #expect(CheckoutState.rebuild(Fixture.history(path)) == Self.states(path).last!)
        }
        #expect(CheckoutState.rebuild([]) == nil)
    }

    // MARK: Failures

    @Test("out of stock: compensating, then failed with the reason, and nothing was reserved")
    func outOfStock() {
        let states = Self.states(Self.outOfStock).map { $0! }
        #expect(states.map(\.status) == [.pending, .compensating, .failed])
        #expect(states[1].failureReason == "insufficient_stock")
        let final = states[2]
        #expect(final.failureReason == "insufficient_stock")
        #expect(final.reservation == nil)
        #expect(final.payment == nil)
        #expect(final.orderID == nil)
        #expect(final.compensations.isEmpty)
        #expect(final.timeline.map(\.type) == Self.outOfStock.map(\.type))
    }

    @Test("insufficient funds: the payment is declined, the stock released, then the checkout fails")
    func insufficientFunds() {
        let states = Self.states(Self.insufficientFunds).map { $0! }
        #expect(states.map(\.status) == [.pending, .stockReserved, .compensating, .compensating, .failed])
        #expect(states[2].payment == CheckoutState.Payment(paymentID: nil, amountCents: Fixture.totalCents, status: "declined"))
        #expect(states[2].reservation?.status == "reserved")
        #expect(states[3].reservation?.status == "released")
        let final = states[4]
        #expect(final.compensations == [.stockReleased])
        #expect(final.reservation == CheckoutState.Reservation(status: "released", lines: Fixture.lines))
        #expect(final.payment?.status == "declined")
        #expect(final.failureReason == "insufficient_funds")
        #expect(final.orderID == nil)
    }

    @Test("order rejected: the payment is refunded and the stock released, in that order, then the checkout fails")
    func orderRejected() {
        let states = Self.states(Self.orderRejected).map { $0! }
        #expect(
            states.map(\.status) == [.pending, .stockReserved, .paymentAuthorized, .compensating, .compensating, .compensating, .failed])
        #expect(states[4].payment?.status == "refunded")
        #expect(states[4].compensations == [.paymentRefunded])
        let final = states[6]
        #expect(final.compensations == [.paymentRefunded, .stockReleased])
        #expect(final.payment == CheckoutState.Payment(paymentID: Fixture.paymentID, amountCents: Fixture.totalCents, status: "refunded"))
        #expect(final.reservation?.status == "released")
        #expect(final.failureReason == "store_paused")
        #expect(final.orderID == nil)
        #expect(final.timeline.map(\.type) == Self.orderRejected.map(\.type))
    }

    @Test("the first failure's reason is kept until CheckoutFailed states the final one")
    func firstFailureReasonWins() {
        var state = CheckoutState.rebuild(Fixture.history(Self.samples(.checkoutInitiated, .stockReserved, .paymentDeclined)))
        #expect(state?.failureReason == "insufficient_funds")
        state = CheckoutState.fold(state, Fixture.envelope(Fixture.sample(.orderRejected)))
        #expect(state?.failureReason == "insufficient_funds")
        state = CheckoutState.fold(state, Fixture.envelope(.checkoutFailed(CheckoutFailed(checkoutID: Fixture.checkoutID, reason: "final", failedStep: .paymentDeclined))))
        #expect(state?.failureReason == "final")
    }

    // MARK: What the fold ignores

    @Test("events of another checkout leave the state unchanged", arguments: Fixture.sagaTypes)
    func otherCheckoutIgnored(type: EventType) {
        let state = CheckoutState.rebuild(Fixture.history(Self.samples(.checkoutInitiated, .stockReserved)))
        let other = Fixture.envelope(Fixture.sample(type, checkoutID: "co-2"), id: "evt-other")
        #expect(CheckoutState.fold(state, other) == state)
    }

    @Test("reference events are ignored", arguments: Fixture.referenceTypes)
    func referenceEventsIgnored(type: EventType) {
        let reference = Fixture.envelope(Fixture.sample(type))
        #expect(CheckoutState.fold(nil, reference) == nil)
        let state = CheckoutState.rebuild(Fixture.history(Self.samples(.checkoutInitiated)))
        #expect(CheckoutState.fold(state, reference) == state)
    }

    @Test("a checkout's state begins with whichever of its events comes first", arguments: Fixture.sagaTypes)
    func firstEventStartsTheState(type: EventType) throws {
        let state = try #require(CheckoutState.fold(nil, Fixture.envelope(Fixture.sample(type, checkoutID: "co-9"))))
        #expect(state.checkoutID == "co-9")
        #expect(state.timeline.map(\.type) == [type])
    }

    static let lateEvents: [EventType] = [.stockReserved, .stockReservationFailed, .paymentAuthorized, .paymentDeclined, .orderCreated, .orderRejected, .paymentRefunded, .stockReleased]

    @Test("a completed checkout stays completed when a late event arrives", arguments: lateEvents)
    func completedIsTerminal(type: EventType) throws {
        let completed = CheckoutState.rebuild(Fixture.history(Self.happyPath))
        let late = try #require(CheckoutState.fold(completed, Fixture.envelope(Fixture.sample(type), id: "evt-late", at: Fixture.time(plus: 99))))
        #expect(late.status == .completed)
        #expect(late.timeline.count == Self.happyPath.count + 1)
    }

    @Test("a failed checkout stays failed when a late event arrives", arguments: lateEvents)
    func failedIsTerminal(type: EventType) throws {
        let failed = CheckoutState.rebuild(Fixture.history(Self.outOfStock))
        let late = try #require(CheckoutState.fold(failed, Fixture.envelope(Fixture.sample(type), id: "evt-late", at: Fixture.time(plus: 99))))
        #expect(late.status == .failed)
    }

    @Test("only completed and failed are terminal")
    func terminalStatuses() {
        let statuses: [CheckoutState.Status] = [.pending, .stockReserved, .paymentAuthorized, .orderCreated, .compensating, .completed, .failed]
        #expect(statuses.filter(\.isTerminal) == [.completed, .failed])
        #expect(statuses.map(\.rawValue) == ["pending", "stock_reserved", "payment_authorized", "order_created", "compensating", "completed", "failed"])
    }

    // MARK: JSON

    @Test("the state encodes with snake_case keys")
    func jsonKeys() throws {
        let state = try #require(CheckoutState.rebuild(Fixture.history(Self.happyPath)))
        let object = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(state)) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "checkout_id", "status", "customer_id", "store_id", "lines", "total_cents", "reservation", "payment", "order_id",
                "compensations", "timeline",
            ])
        #expect(object["status"] as? String == "completed")
        #expect(object["total_cents"] as? Int == 2_499)
        let payment = try #require(object["payment"] as? [String: Any])
        #expect(Set(payment.keys) == ["payment_id", "amount_cents", "status"])
        let reservation = try #require(object["reservation"] as? [String: Any])
        #expect(Set(reservation.keys) == ["status", "lines"])
        let lines = try #require(object["lines"] as? [[String: Any]])
        #expect(Set(lines[0].keys) == ["sku", "quantity", "unit_price_cents", "line_total_cents"])
        let timeline = try #require(object["timeline"] as? [[String: Any]])
        #expect(timeline.first?["type"] as? String == "CheckoutInitiated")
        #expect(timeline.first?["at"] as? String == "2026-11-22T09:15:02.000Z")
    }

    @Test("a failed state encodes its failure reason and compensations by type name")
    func jsonOfAFailure() throws {
        let state = try #require(CheckoutState.rebuild(Fixture.history(Self.orderRejected)))
        let object = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(state)) as? [String: Any])
        #expect(object["failure_reason"] as? String == "store_paused")
        #expect(object["status"] as? String == "failed")
        #expect(object["compensations"] as? [String] == ["PaymentRefunded", "StockReleased"])
    }

    @Test("the state decodes from its own JSON")
    func jsonRoundTrip() throws {
        for path in Self.paths {
            let state = try #require(CheckoutState.rebuild(Fixture.history(path)))
            #expect(try JSONDecoder().decode(CheckoutState.self, from: JSONEncoder().encode(state)) == state)
        }
    }

    @Test("a terminal checkout keeps its outcome: a late CheckoutFailed does not undo a completion, nor the reverse")
    func terminalOutcomeIsFinal() throws {
        let completedThenFailed = try #require(Self.states(Self.happyPath + [Self.failed("late", at: .orderRejected)]).last ?? nil)
        #expect(completedThenFailed.status == .completed)
        #expect(completedThenFailed.failureReason == nil)

        let completion = DomainEvent.checkoutCompleted(CheckoutCompleted(checkoutID: Fixture.checkoutID, orderID: Fixture.orderID))
        let failedThenCompleted = try #require(Self.states(Self.outOfStock + [completion]).last ?? nil)
        #expect(failedThenCompleted.status == .failed)
        #expect(failedThenCompleted.failureReason == "insufficient_stock")
    }
}

