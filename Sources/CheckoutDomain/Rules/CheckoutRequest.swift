import Foundation

/// The body of `POST /checkouts`.
public struct CheckoutRequest: Codable, Sendable, Hashable {
    /// One product and how many of it.
    public struct Item: Codable, Sendable, Hashable {
        public var sku: String
        public var quantity: Int
        public init(sku: String, quantity: Int) {
            self.sku = sku
            self.quantity = quantity
        }

        enum CodingKeys: String, CodingKey { case sku, quantity }

        /// A quantity is any JSON number that is a whole `Int` (`2.0` is 2). Another number (1.5,
        /// 10²³) is refused naming the field's path, which a plain `Int` decoding does not say.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            sku = try container.decode(String.self, forKey: .sku)
            let number = try container.decode(Decimal.self, forKey: .quantity)
            let whole = NSDecimalNumber(decimal: number).int64Value
            guard Decimal(whole) == number, let quantity = Int(exactly: whole) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .quantity, in: container, debugDescription: "a quantity is a whole number, at most \(Int.max)")
            }
            self.quantity = quantity
        }
    }

    public var customerID: String
    public var storeID: String
    public var items: [Item]

    public init(customerID: String, storeID: String, items: [Item]) {
        self.customerID = customerID
        self.storeID = storeID
        self.items = items
    }

    enum CodingKeys: String, CodingKey { case customerID = "customer_id", storeID = "store_id", items }

    /// A canonical text of the request (items sorted), so that the same order written two ways
    /// has the same fingerprint under an `Idempotency-Key`.
    public var canonicalText: String {
        let items = items.sorted { $0.sku < $1.sku }.map { "\($0.sku)*\($0.quantity)" }.joined(separator: ",")
        return "\(customerID)|\(storeID)|\(items)"
    }
}

/// The bounds a checkout request must keep.
public struct CheckoutLimits: Sendable, Hashable {
    /// The most lines one checkout may have.
    public var maxLines: Int
    /// The most units of one product one line may ask for.
    public var maxQuantity: Int

    /// - Parameters:
    ///   - maxLines: at least 1.
    ///   - maxQuantity: at least 1.
    public init(maxLines: Int = 50, maxQuantity: Int = 1_000) {
        self.maxLines = max(1, maxLines)
        self.maxQuantity = max(1, maxQuantity)
    }
}

/// Why a checkout request is refused before any event is published.
public enum CheckoutRejection: Error, Sendable, Hashable {
    /// A field is missing, empty or out of bounds.
    case invalidField(field: String, detail: String)
    case unknownStore(String)
    case storePaused(String)
    case unknownCustomer(String)
    case unknownProducts([String])

    /// A short machine-readable name, used as the problem's type.
    public var code: String {
        switch self {
        case .invalidField: "invalid-field"
        case .unknownStore: "unknown-store"
        case .storePaused: "store-paused"
        case .unknownCustomer: "unknown-customer"
        case .unknownProducts: "unknown-product"
        }
    }

    /// A sentence for the problem's detail.
    public var detail: String {
        switch self {
        case .invalidField(let field, let detail): "\(field): \(detail)"
        case .unknownStore(let id): "no store \(id)"
        case .storePaused(let id): "store \(id) is not taking orders"
        case .unknownCustomer(let id): "no customer \(id)"
        case .unknownProducts(let skus): "no product " + skus.joined(separator: ", ")
        }
    }
}

/// What the checkout API knows of the catalogue when it prices a request.
public struct CatalogueView: Sendable, Hashable {
    /// Price in cents of each known product of the request.
    public var prices: [String: Int64]
    /// Whether the store exists (`nil` when it does not) and is paused.
    public var storeIsPaused: Bool?
    public var customerExists: Bool

    public init(prices: [String: Int64], storeIsPaused: Bool?, customerExists: Bool) {
        self.prices = prices
        self.storeIsPaused = storeIsPaused
        self.customerExists = customerExists
    }
}

/// The rules of `POST /checkouts`: validate the request, then price it from the catalogue.
public enum CheckoutPricing {
    /// Checks what can be checked without the catalogue.
    public static func validate(_ request: CheckoutRequest, limits: CheckoutLimits = .init()) throws(CheckoutRejection) {
        guard Identifier.isValid(request.customerID) else {
            throw .invalidField(field: "customer_id", detail: "must be 1 to 64 letters, digits, '-' or '_'")
        }
        guard Identifier.isValid(request.storeID) else {
            throw .invalidField(field: "store_id", detail: "must be 1 to 64 letters, digits, '-' or '_'")
        }
        guard !request.items.isEmpty else { throw .invalidField(field: "items", detail: "must not be empty") }
        guard request.items.count <= limits.maxLines else {
            throw .invalidField(field: "items", detail: "at most \(limits.maxLines) lines")
        }
        var seen: Set<String> = []
        for (index, item) in request.items.enumerated() {
            guard Identifier.isValid(item.sku) else {
                throw .invalidField(field: "items[\(index)].sku", detail: "must be 1 to 64 letters, digits, '-' or '_'")
            }
            guard (1...limits.maxQuantity).contains(item.quantity) else {
                throw .invalidField(field: "items[\(index)].quantity", detail: "must be between 1 and \(limits.maxQuantity)")
            }
            guard seen.insert(item.sku).inserted else {
                throw .invalidField(field: "items[\(index)].sku", detail: "\(item.sku) appears more than once")
            }
        }
    }

    /// Prices a valid request: each line at the catalogue's price, and the total.
    public static func price(
        _ request: CheckoutRequest,
        checkoutID: String,
        catalogue: CatalogueView,
        limits: CheckoutLimits = .init()
    ) throws(CheckoutRejection) -> CheckoutFacts {
        try validate(request, limits: limits)
        guard let paused = catalogue.storeIsPaused else { throw .unknownStore(request.storeID) }
        guard !paused else { throw .storePaused(request.storeID) }
        guard catalogue.customerExists else { throw .unknownCustomer(request.customerID) }
        let unknown = request.items.map(\.sku).filter { catalogue.prices[$0] == nil }
        guard unknown.isEmpty else { throw .unknownProducts(unknown) }
        var lines: [CheckoutLine] = []
        for (index, item) in request.items.enumerated() {
            let price = catalogue.prices[item.sku] ?? 0
            guard let total = Money.lineTotal(unitPriceCents: price, quantity: item.quantity) else {
                throw .invalidField(field: "items[\(index)].quantity", detail: "the line's total is too large")
            }
            lines.append(CheckoutLine(sku: item.sku, quantity: item.quantity, unitPriceCents: price, lineTotalCents: total))
        }
        guard let total = Money.sum(lines.map(\.lineTotalCents)) else {
            throw .invalidField(field: "items", detail: "the checkout's total is too large")
        }
        return CheckoutFacts(
            checkoutID: checkoutID,
            customerID: request.customerID,
            storeID: request.storeID,
            lines: lines,
            totalCents: total
        )
    }
}

/// The ids of stores, customers and products: short, printable, safe in URLs and stream keys.
public enum Identifier {
    public static func isValid(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }
}
