import Foundation
import Testing

@testable import CheckoutDomain

@Suite("CheckoutPricing")
struct CheckoutPricingTests {
    typealias Item = CheckoutRequest.Item

    static func request(
        customerID: String = Fixture.customerID,
        storeID: String = Fixture.storeID,
        items: [Item] = [Item(sku: Fixture.skuA, quantity: 2), Item(sku: Fixture.skuB, quantity: 1)]
    ) -> CheckoutRequest {
        CheckoutRequest(customerID: customerID, storeID: storeID, items: items)
    }

    static let catalogue = CatalogueView(prices: [Fixture.skuA: 250, Fixture.skuB: 1_999], storeIsPaused: false, customerExists: true)

    static let badIdentifiers = [
        "", String(repeating: "a", count: 65), "a b", "a/b", "a:b", "a.b", "a|b", "a*b", "café", "🙂", "a\n", " a",
        String(repeating: "é", count: 33),
    ]
    static let goodIdentifiers = ["a", "Z", "0", "-", "_", "store-1", "SKU_42", String(repeating: "a", count: 64)]

    // MARK: Identifiers

    @Test("an identifier is 1 to 64 ASCII letters, digits, '-' or '_'", arguments: goodIdentifiers)
    func validIdentifier(text: String) {
        #expect(Identifier.isValid(text))
    }

    @Test("anything else is not an identifier", arguments: badIdentifiers)
    func invalidIdentifier(text: String) {
        #expect(!Identifier.isValid(text))
    }

    // MARK: Validation

    @Test("a well-formed request is valid")
    func validRequest() {
        #expect(rejection(of: Self.request()) == nil)
    }

    @Test("the customer id must be an identifier", arguments: badIdentifiers)
    func badCustomer(id: String) {
        #expect(
            rejection(of: Self.request(customerID: id))
                == .invalidField(field: "customer_id", detail: "must be 1 to 64 letters, digits, '-' or '_'"))
    }

    @Test("the store id must be an identifier", arguments: badIdentifiers)
    func badStore(id: String) {
        #expect(
            rejection(of: Self.request(storeID: id))
                == .invalidField(field: "store_id", detail: "must be 1 to 64 letters, digits, '-' or '_'"))
    }

    @Test("every sku must be an identifier, and the rejection names the item", arguments: badIdentifiers)
    func badSku(sku: String) {
        let items = [Item(sku: Fixture.skuA, quantity: 1), Item(sku: sku, quantity: 1)]
        #expect(
            rejection(of: Self.request(items: items))
                == .invalidField(field: "items[1].sku", detail: "must be 1 to 64 letters, digits, '-' or '_'"))
    }

    @Test("the longest identifiers are accepted everywhere")
    func longestIdentifiers() {
        let id = String(repeating: "x", count: 64)
        #expect(rejection(of: Self.request(customerID: id, storeID: id, items: [Item(sku: id, quantity: 1)])) == nil)
    }

    @Test("a request must have items")
    func noItems() {
        #expect(rejection(of: Self.request(items: [])) == .invalidField(field: "items", detail: "must not be empty"))
    }

    @Test("a request may have at most the limit's number of lines")
    func tooManyLines() {
        let items = (0..<51).map { Item(sku: "sku-\($0)", quantity: 1) }
        #expect(rejection(of: Self.request(items: Array(items.prefix(50)))) == nil)
        #expect(rejection(of: Self.request(items: items)) == .invalidField(field: "items", detail: "at most 50 lines"))
        #expect(rejection(of: Self.request(items: Array(items.prefix(3))), limits: CheckoutLimits(maxLines: 2)) == .invalidField(field: "items", detail: "at most 2 lines"))
    }

    @Test("a quantity must be between 1 and the limit", arguments: [0, -1, -1_000, 1_001, Int.max, Int.min])
    func badQuantity(quantity: Int) {
        let items = [Item(sku: Fixture.skuA, quantity: 1), Item(sku: Fixture.skuB, quantity: quantity)]
        #expect(rejection(of: Self.request(items: items)) == .invalidField(field: "items[1].quantity", detail: "must be between 1 and 1000"))
    }

    @Test("the bounds of the quantity are allowed", arguments: [1, 1_000])
    func quantityBounds(quantity: Int) {
        #expect(rejection(of: Self.request(items: [Item(sku: Fixture.skuA, quantity: quantity)])) == nil)
    }

    @Test("a custom quantity limit applies")
    func customQuantityLimit() {
        let limits = CheckoutLimits(maxQuantity: 5)
        #expect(rejection(of: Self.request(items: [Item(sku: Fixture.skuA, quantity: 5)]), limits: limits) == nil)
        #expect(rejection(of: Self.request(items: [Item(sku: Fixture.skuA, quantity: 6)]), limits: limits)?.invalidField == "items[0].quantity")
    }

    @Test("a sku may appear only once, and the rejection names the repeat")
    func duplicateSku() {
        let items = [Item(sku: "a", quantity: 1), Item(sku: "b", quantity: 1), Item(sku: "a", quantity: 2)]
        #expect(rejection(of: Self.request(items: items)) == .invalidField(field: "items[2].sku", detail: "a appears more than once"))
    }

    @Test("skus differing in case are different products")
    func skusAreCaseSensitive() {
        #expect(rejection(of: Self.request(items: [Item(sku: "a", quantity: 1), Item(sku: "A", quantity: 1)])) == nil)
    }

    @Test("validation reports the first problem: customer, store, items, then each item in order")
    func validationOrder() {
        #expect(rejection(of: Self.request(customerID: "", storeID: "", items: []))?.invalidField == "customer_id")
        #expect(rejection(of: Self.request(storeID: "", items: []))?.invalidField == "store_id")
        let items = [Item(sku: "a", quantity: 0), Item(sku: "", quantity: 1)]
        #expect(rejection(of: Self.request(items: items))?.invalidField == "items[0].quantity")
    }

    // MARK: Pricing

    @Test("a request is priced line by line at the catalogue's prices")
    func pricing() throws {
        let facts = try CheckoutPricing.price(Self.request(), checkoutID: "co-42", catalogue: Self.catalogue)
        #expect(facts.checkoutID == "co-42")
        #expect(facts.customerID == Fixture.customerID)
        #expect(facts.storeID == Fixture.storeID)
        #expect(
            facts.lines == [
                CheckoutLine(sku: Fixture.skuA, quantity: 2, unitPriceCents: 250, lineTotalCents: 500),
                CheckoutLine(sku: Fixture.skuB, quantity: 1, unitPriceCents: 1_999, lineTotalCents: 1_999),
            ])
        #expect(facts.totalCents == 2_499)
        try facts.validate()
    }

    @Test("lines keep the order of the request")
    func lineOrder() throws {
        let items = [Item(sku: Fixture.skuB, quantity: 3), Item(sku: Fixture.skuA, quantity: 1)]
        let facts = try CheckoutPricing.price(Self.request(items: items), checkoutID: "co-1", catalogue: Self.catalogue)
        #expect(facts.lines.map(\.sku) == [Fixture.skuB, Fixture.skuA])
        #expect(facts.totalCents == 3 * 1_999 + 250)
    }

    @Test("a free product costs nothing")
    func freeProduct() throws {
        let catalogue = CatalogueView(prices: ["gift": 0], storeIsPaused: false, customerExists: true)
        let facts = try CheckoutPricing.price(Self.request(items: [Item(sku: "gift", quantity: 3)]), checkoutID: "co-1", catalogue: catalogue)
        #expect(facts.totalCents == 0)
        try facts.validate()
    }

    @Test("pricing validates the request first")
    func pricingValidates() {
        let unknownEverything = CatalogueView(prices: [:], storeIsPaused: nil, customerExists: false)
        #expect(pricingRejection(of: Self.request(items: []), catalogue: unknownEverything)?.invalidField == "items")
    }

    @Test("an unknown store is refused")
    func unknownStore() {
        let catalogue = CatalogueView(prices: Self.catalogue.prices, storeIsPaused: nil, customerExists: false)
        #expect(pricingRejection(of: Self.request(), catalogue: catalogue) == .unknownStore(Fixture.storeID))
    }

    @Test("a paused store is refused")
    func pausedStore() {
        let catalogue = CatalogueView(prices: Self.catalogue.prices, storeIsPaused: true, customerExists: false)
        #expect(pricingRejection(of: Self.request(), catalogue: catalogue) == .storePaused(Fixture.storeID))
    }

    @Test("an unknown customer is refused")
    func unknownCustomer() {
        let catalogue = CatalogueView(prices: [:], storeIsPaused: false, customerExists: false)
        #expect(pricingRejection(of: Self.request(), catalogue: catalogue) == .unknownCustomer(Fixture.customerID))
    }

    @Test("unknown products are refused, listing every unknown sku in request order")
    func unknownProducts() {
        let items = [Item(sku: "z", quantity: 1), Item(sku: Fixture.skuA, quantity: 1), Item(sku: "x", quantity: 1)]
        #expect(pricingRejection(of: Self.request(items: items), catalogue: Self.catalogue) == .unknownProducts(["z", "x"]))
    }

    @Test("a line whose total does not fit in 64 bits is refused instead of trapping")
    func lineOverflow() {
        let catalogue = CatalogueView(prices: ["gold": Int64.max / 2], storeIsPaused: false, customerExists: true)
        let items = [Item(sku: Fixture.skuA, quantity: 1), Item(sku: "gold", quantity: 3)]
        #expect(
            pricingRejection(of: Self.request(items: items), catalogue: catalogue.adding(Self.catalogue))
                == .invalidField(field: "items[1].quantity", detail: "the line's total is too large"))
    }

    @Test("a total that does not fit in 64 bits is refused instead of trapping")
    func totalOverflow() {
        let catalogue = CatalogueView(prices: ["gold": Int64.max - 10, "silver": Int64.max - 10], storeIsPaused: false, customerExists: true)
        let items = [Item(sku: "gold", quantity: 1), Item(sku: "silver", quantity: 1)]
        #expect(
            pricingRejection(of: Self.request(items: items), catalogue: catalogue)
                == .invalidField(field: "items", detail: "the checkout's total is too large"))
    }

    @Test("the largest total that fits is priced")
    func largestTotal() throws {
        let catalogue = CatalogueView(prices: ["gold": Int64.max / 2], storeIsPaused: false, customerExists: true)
        let facts = try CheckoutPricing.price(Self.request(items: [Item(sku: "gold", quantity: 2)]), checkoutID: "co-1", catalogue: catalogue)
        #expect(facts.totalCents == Int64.max - 1)
    }

    // MARK: Rejections

    @Test(
        "each rejection has a code and a sentence",
        arguments: [
            (CheckoutRejection.invalidField(field: "items", detail: "must not be empty"), "invalid-field", "items: must not be empty"),
            (.unknownStore("s-1"), "unknown-store", "no store s-1"),
            (.storePaused("s-1"), "store-paused", "store s-1 is not taking orders"),
            (.unknownCustomer("c-1"), "unknown-customer", "no customer c-1"),
            (.unknownProducts(["a", "b"]), "unknown-product", "no product a, b"),
        ]
    )
    func rejectionText(rejection: CheckoutRejection, code: String, detail: String) {
        #expect(rejection.code == code)
        #expect(rejection.detail == detail)
    }

    // MARK: Canonical text

    @Test("the canonical text lists customer, store and the items sorted by sku")
    func canonicalText() {
        let request = Self.request(items: [Item(sku: "b", quantity: 2), Item(sku: "a", quantity: 1)])
        #expect(request.canonicalText == "cust-1|store-1|a*1,b*2")
    }

    @Test("the canonical text does not depend on the order of the items")
    func canonicalTextIgnoresOrder() {
        let items = [Item(sku: "c", quantity: 3), Item(sku: "a", quantity: 1), Item(sku: "b", quantity: 2)]
        let texts = Set([items, items.reversed(), [items[1], items[0], items[2]]].map { Self.request(items: $0).canonicalText })
        #expect(texts.count == 1)
        #expect(EventIdentity.fingerprint(Self.request(items: items).canonicalText) == EventIdentity.fingerprint(Self.request(items: items.reversed()).canonicalText))
    }

    @Test("the canonical text changes with any part of the request")
    func canonicalTextDistinguishes() {
        let base = Self.request(items: [Item(sku: "a", quantity: 1)])
        let variants = [
            Self.request(customerID: "cust-2", items: [Item(sku: "a", quantity: 1)]),
            Self.request(storeID: "store-2", items: [Item(sku: "a", quantity: 1)]),
            Self.request(items: [Item(sku: "a", quantity: 2)]),
            Self.request(items: [Item(sku: "b", quantity: 1)]),
            Self.request(items: [Item(sku: "a", quantity: 1), Item(sku: "b", quantity: 1)]),
        ]
        for variant in variants {
            #expect(variant.canonicalText != base.canonicalText)
        }
    }

    @Test("the request reads its body with snake_case keys")
    func requestJSON() throws {
        let body = #"{"customer_id":"cust-1","store_id":"store-1","items":[{"sku":"sku-a","quantity":2},{"sku":"sku-b","quantity":1}]}"#
        #expect(try JSONDecoder().decode(CheckoutRequest.self, from: Data(body.utf8)) == Self.request())
    }
}

extension CatalogueView {
    /// This catalogue with the prices of `other` too.
    func adding(_ other: CatalogueView) -> CatalogueView {
        CatalogueView(prices: prices.merging(other.prices) { mine, _ in mine }, storeIsPaused: storeIsPaused, customerExists: customerExists)
    }
}
