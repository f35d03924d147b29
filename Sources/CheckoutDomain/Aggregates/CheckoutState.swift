import Foundation

/// A checkout as its events tell it: the saga's progress, what was done and what was undone.
public struct CheckoutState: Codable, Sendable, Hashable {
    /// Where the saga stands. `completed` and `failed` are terminal.
    public enum Status: String, Codable, Sendable {
        case pending
        case stockReserved = "stock_reserved"
        case paymentAuthorized = "payment_authorized"
        case orderCreated = "order_created"
        /// A step failed; compensations are under way.
        case compensating
        case completed
        case failed

        public var isTerminal: Bool { self == .completed || self == .failed }
    }

    /// The stock held for the checkout.
    public struct Reservation: Codable, Sendable, Hashable {
        /// `reserved`, `released` or `sold`.
        public var status: String
        public var lines: [CheckoutLine]
    }

    /// The money taken for the checkout.
    public struct Payment: Codable, Sendable, Hashable {
        public var paymentID: String?
        public var amountCents: Int64
        /// `authorized`, `declined` or `refunded`.
        public var status: String
        enum CodingKeys: String, CodingKey { case paymentID = "payment_id", amountCents = "amount_cents", status }
    }

    /// One step of the saga, for the timeline.
    public struct Step: Codable, Sendable, Hashable {
        public var type: EventType
        public var at: String
    }

    public var checkoutID: String
    public var status: Status
    public var customerID: String?
    public var storeID: String?
    public var lines: [CheckoutLine]
    public var totalCents: Int64
    public var reservation: Reservation?
    public var payment: Payment?
    public var orderID: String?
    public var failureReason: String?
    /// The compensating events applied, in the order they were: a refund comes before the
    /// release of the stock it paid for.
    public var compensations: [EventType]
    public var timeline: [Step]

    enum CodingKeys: String, CodingKey {
        case checkoutID = "checkout_id", status, customerID = "customer_id", storeID = "store_id", lines
        case totalCents = "total_cents", reservation, payment, orderID = "order_id"
        case failureReason = "failure_reason", compensations, timeline
    }

    init(checkoutID: String) {
        self.checkoutID = checkoutID
        status = .pending
        lines = []
        totalCents = 0
        compensations = []
        timeline = []
    }

    /// Applies one event. Events of other checkouts and of other kinds leave the state unchanged.
    public static func fold(_ state: CheckoutState?, _ envelope: EventEnvelope) -> CheckoutState? {
        guard let checkoutID = envelope.event.checkoutID else { return state }
        if let state, state.checkoutID != checkoutID { return state }
        var next = state ?? CheckoutState(checkoutID: checkoutID)
        next.apply(envelope.event)
        next.timeline.append(Step(type: envelope.event.type, at: Timestamp.format(envelope.metadata.occurredAt)))
        return next
    }

    /// Folds a whole history, oldest first.
    public static func rebuild(_ events: [EventEnvelope]) -> CheckoutState? {
        events.reduce(nil, fold)
    }

    private mutating func adopt(_ facts: CheckoutFacts) {
        customerID = facts.customerID
        storeID = facts.storeID
        lines = facts.lines
        totalCents = facts.totalCents
    }

    private mutating func fail(_ reason: String) {
        if !status.isTerminal { status = .compensating }
        failureReason = failureReason ?? reason
    }

    private mutating func apply(_ event: DomainEvent) {
        switch event {
        case .checkoutInitiated(let event):
            adopt(event.checkout)
        case .stockReserved(let event):
            adopt(event.checkout)
            reservation = Reservation(status: "reserved", lines: event.checkout.lines)
            if !status.isTerminal { status = .stockReserved }
        case .stockReservationFailed(let event):
            fail(event.reason)
        case .paymentAuthorized(let event):
            adopt(event.checkout)
            payment = Payment(paymentID: event.paymentID, amountCents: event.amountCents, status: "authorized")
            if !status.isTerminal { status = .paymentAuthorized }
        case .paymentDeclined(let event):
            adopt(event.checkout)
            payment = Payment(paymentID: nil, amountCents: event.checkout.totalCents, status: "declined")
            fail(event.reason)
        case .orderCreated(let event):
            adopt(event.checkout)
            orderID = event.orderID
            reservation?.status = "sold"
            if !status.isTerminal { status = .orderCreated }
        case .orderRejected(let event):
            adopt(event.checkout)
            fail(event.reason)
        case .checkoutCompleted(let event):
            orderID = event.orderID
            if !status.isTerminal { status = .completed }
        case .paymentRefunded:
            payment?.status = "refunded"
            compensations.append(.paymentRefunded)
        case .stockReleased:
            reservation?.status = "released"
            compensations.append(.stockReleased)
        case .checkoutFailed(let event):
            guard !status.isTerminal else { break }
            failureReason = event.reason
            status = .failed
        default:
            break
        }
    }
}
