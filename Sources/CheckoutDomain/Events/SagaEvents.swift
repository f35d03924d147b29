/// One priced line of a checkout.
public struct CheckoutLine: Codable, Sendable, Hashable {
    public var sku: String
    public var quantity: Int
    /// The catalogue price when the checkout began.
    public var unitPriceCents: Int64
    public var lineTotalCents: Int64
    public init(sku: String, quantity: Int, unitPriceCents: Int64, lineTotalCents: Int64) {
        self.sku = sku
        self.quantity = quantity
        self.unitPriceCents = unitPriceCents
        self.lineTotalCents = lineTotalCents
    }
    enum CodingKeys: String, CodingKey {
        case sku, quantity, unitPriceCents = "unit_price_cents", lineTotalCents = "line_total_cents"
    }
}

/// The facts every step of one checkout carries forward, so that no step has to look them up.
public struct CheckoutFacts: Codable, Sendable, Hashable {
    public var checkoutID: String
    public var customerID: String
    public var storeID: String
    public var lines: [CheckoutLine]
    public var totalCents: Int64
    public init(checkoutID: String, customerID: String, storeID: String, lines: [CheckoutLine], totalCents: Int64) {
        self.checkoutID = checkoutID
        self.customerID = customerID
        self.storeID = storeID
        self.lines = lines
        self.totalCents = totalCents
    }
    enum CodingKeys: String, CodingKey {
        case checkoutID = "checkout_id", customerID = "customer_id", storeID = "store_id", lines, totalCents = "total_cents"
    }

    /// Checks what every saga event must hold: lines with positive quantities and a total that adds up.
    public func validate() throws(EventValidationError) {
        guard !lines.isEmpty else { throw EventValidationError("lines must not be empty") }
        guard Set(lines.map(\.sku)).count == lines.count else { throw EventValidationError("each sku may appear on one line only") }
        for line in lines {
            guard line.quantity > 0 else { throw EventValidationError("quantity of \(line.sku) must be positive") }
            guard line.unitPriceCents >= 0, Money.lineTotal(unitPriceCents: line.unitPriceCents, quantity: line.quantity) == line.lineTotalCents
            else { throw EventValidationError("line_total_cents of \(line.sku) does not match its price and quantity") }
        }
        guard Money.sum(lines.map(\.lineTotalCents)) == totalCents else {
            throw EventValidationError("total_cents does not match the lines")
        }
    }
}

/// A customer asked to buy these lines at this store; the saga starts here.
public struct CheckoutInitiated: EventPayload {
    public static let eventType = EventType.checkoutInitiated
    public var checkout: CheckoutFacts
    public init(checkout: CheckoutFacts) { self.checkout = checkout }
    enum CodingKeys: String, CodingKey { case checkout }
    public func validate() throws(EventValidationError) { try checkout.validate() }
}

/// Every line is reserved at the store.
public struct StockReserved: EventPayload {
    public static let eventType = EventType.stockReserved
    public var checkout: CheckoutFacts
    public init(checkout: CheckoutFacts) { self.checkout = checkout }
    enum CodingKeys: String, CodingKey { case checkout }
    public func validate() throws(EventValidationError) { try checkout.validate() }
}

/// No line was reserved, because this one could not be.
public struct StockReservationFailed: EventPayload {
    public static let eventType = EventType.stockReservationFailed
    public var checkoutID: String
    /// A ``FailureReason`` of this step: `insufficient_stock` or `not_stocked_at_store`.
    public var reason: String
    public var sku: String
    public var requested: Int
    public var available: Int
    public init(checkoutID: String, reason: String, sku: String, requested: Int, available: Int) {
        self.checkoutID = checkoutID
        self.reason = reason
        self.sku = sku
        self.requested = requested
        self.available = available
    }
    enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id", reason, sku, requested, available }
}

/// The customer's account was debited.
public struct PaymentAuthorized: EventPayload {
    public static let eventType = EventType.paymentAuthorized
    public var checkout: CheckoutFacts
    public var paymentID: String
    public var amountCents: Int64
    public init(checkout: CheckoutFacts, paymentID: String, amountCents: Int64) {
        self.checkout = checkout
        self.paymentID = paymentID
        self.amountCents = amountCents
    }
    enum CodingKeys: String, CodingKey { case checkout, paymentID = "payment_id", amountCents = "amount_cents" }
    public func validate() throws(EventValidationError) { try checkout.validate() }
}

/// The customer's account could not be debited; the reserved stock must be released.
public struct PaymentDeclined: EventPayload {
    public static let eventType = EventType.paymentDeclined
    public var checkout: CheckoutFacts
    /// A ``FailureReason`` of this step: `insufficient_funds` or `unknown_customer`.
    public var reason: String
    public var balanceCents: Int64
    public init(checkout: CheckoutFacts, reason: String, balanceCents: Int64) {
        self.checkout = checkout
        self.reason = reason
        self.balanceCents = balanceCents
    }
    enum CodingKeys: String, CodingKey { case checkout, reason, balanceCents = "balance_cents" }
    public func validate() throws(EventValidationError) { try checkout.validate() }
}

/// The order is recorded and the reserved units are sold.
public struct OrderCreated: EventPayload {
    public static let eventType = EventType.orderCreated
    public var checkout: CheckoutFacts
    public var orderID: String
    public var paymentID: String
    public init(checkout: CheckoutFacts, orderID: String, paymentID: String) {
        self.checkout = checkout
        self.orderID = orderID
        self.paymentID = paymentID
    }
    enum CodingKeys: String, CodingKey { case checkout, orderID = "order_id", paymentID = "payment_id" }
    public func validate() throws(EventValidationError) { try checkout.validate() }
}

/// The order could not be recorded; the payment must be refunded and the stock released.
public struct OrderRejected: EventPayload {
    public static let eventType = EventType.orderRejected
    public var checkout: CheckoutFacts
    /// A ``FailureReason`` of this step: `store_paused`, or `unknown_store` when order creation
    /// has never heard of the store.
    public var reason: String
    public var paymentID: String
    public var amountCents: Int64
    public init(checkout: CheckoutFacts, reason: String, paymentID: String, amountCents: Int64) {
        self.checkout = checkout
        self.reason = reason
        self.paymentID = paymentID
        self.amountCents = amountCents
    }
    enum CodingKeys: String, CodingKey { case checkout, reason, paymentID = "payment_id", amountCents = "amount_cents" }
    public func validate() throws(EventValidationError) { try checkout.validate() }
}

/// The saga ended well.
public struct CheckoutCompleted: EventPayload {
    public static let eventType = EventType.checkoutCompleted
    public var checkoutID: String
    public var orderID: String
    public init(checkoutID: String, orderID: String) {
        self.checkoutID = checkoutID
        self.orderID = orderID
    }
    enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id", orderID = "order_id" }
}

/// Compensation: the payment is to be given back. The payment service applies it to the account.
public struct PaymentRefunded: EventPayload {
    public static let eventType = EventType.paymentRefunded
    public var checkoutID: String
    public var customerID: String
    public var paymentID: String
    public var amountCents: Int64
    public init(checkoutID: String, customerID: String, paymentID: String, amountCents: Int64) {
        self.checkoutID = checkoutID
        self.customerID = customerID
        self.paymentID = paymentID
        self.amountCents = amountCents
    }
    enum CodingKeys: String, CodingKey {
        case checkoutID = "checkout_id", customerID = "customer_id", paymentID = "payment_id", amountCents = "amount_cents"
    }
    public func validate() throws(EventValidationError) {
        guard amountCents >= 0 else { throw EventValidationError("amount_cents must not be negative") }
    }
}

/// Compensation: the reserved units go back. The stock-reservation service applies it.
public struct StockReleased: EventPayload {
    public static let eventType = EventType.stockReleased
    public var checkoutID: String
    public var storeID: String
    public var lines: [CheckoutLine]
    public init(checkoutID: String, storeID: String, lines: [CheckoutLine]) {
        self.checkoutID = checkoutID
        self.storeID = storeID
        self.lines = lines
    }
    enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id", storeID = "store_id", lines }
    public func validate() throws(EventValidationError) {
        guard lines.allSatisfy({ $0.quantity > 0 }) else { throw EventValidationError("quantities must be positive") }
    }
}

/// The saga ended badly; every compensation it needed has been published before this.
public struct CheckoutFailed: EventPayload {
    public static let eventType = EventType.checkoutFailed
    public var checkoutID: String
    /// The ``FailureReason`` of the step that failed, as that step gave it.
    public var reason: String
    /// The event that made the saga fail.
    public var failedStep: EventType
    public init(checkoutID: String, reason: String, failedStep: EventType) {
        self.checkoutID = checkoutID
        self.reason = reason
        self.failedStep = failedStep
    }
    enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id", reason, failedStep = "failed_step" }
}
