/// A store (physical or the web shop) starts trading.
public struct StoreOpened: EventPayload {
    public static let eventType = EventType.storeOpened
    /// Whether customers walk in or order online.
    public enum Channel: String, Codable, Sendable, Hashable { case physical, web }
    public var storeID: String
    public var name: String
    public var channel: Channel
    public init(storeID: String, name: String, channel: Channel) {
        self.storeID = storeID
        self.name = name
        self.channel = channel
    }
    enum CodingKeys: String, CodingKey { case storeID = "store_id", name, channel }
    public func validate() throws(EventValidationError) { try EventValidationError.requirePlainText(name, field: "name") }
}

/// A store stops taking orders; checkouts already under way are rejected at order creation.
public struct StorePaused: EventPayload {
    public static let eventType = EventType.storePaused
    public var storeID: String
    public var reason: String
    public init(storeID: String, reason: String) {
        self.storeID = storeID
        self.reason = reason
    }
    enum CodingKeys: String, CodingKey { case storeID = "store_id", reason }
    public func validate() throws(EventValidationError) { try EventValidationError.requirePlainText(reason, field: "reason") }
}

/// A paused store takes orders again.
public struct StoreResumed: EventPayload {
    public static let eventType = EventType.storeResumed
    public var storeID: String
    public init(storeID: String) { self.storeID = storeID }
    enum CodingKeys: String, CodingKey { case storeID = "store_id" }
}

/// A product joins the catalogue at a price.
public struct ProductRegistered: EventPayload {
    public static let eventType = EventType.productRegistered
    public var sku: String
    public var name: String
    public var priceCents: Int64
    public init(sku: String, name: String, priceCents: Int64) {
        self.sku = sku
        self.name = name
        self.priceCents = priceCents
    }
    enum CodingKeys: String, CodingKey { case sku, name, priceCents = "price_cents" }
    public func validate() throws(EventValidationError) {
        try EventValidationError.requirePlainText(name, field: "name")
        try EventValidationError.requireAmount(priceCents, field: "price_cents")
    }
}

/// A product's price changes; checkouts priced before keep their price.
public struct ProductRepriced: EventPayload {
    public static let eventType = EventType.productRepriced
    public var sku: String
    public var priceCents: Int64
    public init(sku: String, priceCents: Int64) {
        self.sku = sku
        self.priceCents = priceCents
    }
    enum CodingKeys: String, CodingKey { case sku, priceCents = "price_cents" }
    public func validate() throws(EventValidationError) {
        try EventValidationError.requireAmount(priceCents, field: "price_cents")
    }
}

/// Units of a product arrive at a store and go on hand.
public struct StockReceived: EventPayload {
    public static let eventType = EventType.stockReceived
    /// The most units one delivery may bring.
    public static let maxQuantity = 1_000_000
    public var storeID: String
    public var sku: String
    public var quantity: Int
    public init(storeID: String, sku: String, quantity: Int) {
        self.storeID = storeID
        self.sku = sku
        self.quantity = quantity
    }
    enum CodingKeys: String, CodingKey { case storeID = "store_id", sku, quantity }
    public func validate() throws(EventValidationError) {
        guard quantity > 0 else { throw EventValidationError("quantity must be positive", field: "quantity") }
        // Stock levels are 32-bit in every service's tables; one delivery stays far below that.
        guard quantity <= Self.maxQuantity else {
            throw EventValidationError("quantity must be at most \(Self.maxQuantity)", field: "quantity")
        }
    }
}

/// A customer opens an account, with an opening balance.
public struct CustomerRegistered: EventPayload {
    public static let eventType = EventType.customerRegistered
    public var customerID: String
    public var name: String
    public var email: String
    public var openingBalanceCents: Int64
    public init(customerID: String, name: String, email: String, openingBalanceCents: Int64) {
        self.customerID = customerID
        self.name = name
        self.email = email
        self.openingBalanceCents = openingBalanceCents
    }
    enum CodingKeys: String, CodingKey {
        case customerID = "customer_id", name, email, openingBalanceCents = "opening_balance_cents"
    }
    public func validate() throws(EventValidationError) {
        try EventValidationError.requirePlainText(name, field: "name")
        try EventValidationError.requirePlainText(email, field: "email")
        try EventValidationError.requireAmount(openingBalanceCents, field: "opening_balance_cents")
    }
}

/// Money is added to a customer's account.
public struct AccountCredited: EventPayload {
    public static let eventType = EventType.accountCredited
    public var customerID: String
    public var amountCents: Int64
    public init(customerID: String, amountCents: Int64) {
        self.customerID = customerID
        self.amountCents = amountCents
    }
    enum CodingKeys: String, CodingKey { case customerID = "customer_id", amountCents = "amount_cents" }
    public func validate() throws(EventValidationError) {
        try EventValidationError.requireAmount(amountCents, field: "amount_cents", positive: true)
    }
}
