import Testing

@testable import CheckoutDomain

@Suite("Demo data")
struct DemoDataTests {
    @Test("there are at least 5 stores, 200 products and 1,000 customers")
    func sizes() {
        #expect(DemoData.stores.count >= 5)
        #expect(Set(DemoData.products.map(\.sku)).count >= 200)
        #expect(Set(DemoData.customers.map(\.customerID)).count >= 1_000)
        #expect(DemoData.stores.contains { $0.channel == .web })
    }

    @Test("some stock is scarce and some balances are low, so failures happen naturally")
    func scarcity() {
        let scarce = DemoData.stock.filter { $0.quantity <= 3 }
        #expect(scarce.count > 10)
        let missing = DemoData.stores.count * DemoData.productCount - DemoData.stock.count
        #expect(missing > 0, "some products are out of stock at some stores")
        #expect(DemoData.customers.filter { $0.openingBalanceCents <= 2_000 }.count >= 100)
    }

    @Test("every event is valid and the data is the same on every run")
    func deterministicAndValid() throws {
        let first = DemoData.events
        let second = DemoData.events
        #expect(first.map(\.eventID) == second.map(\.eventID))
        #expect(first.map(\.event) == second.map(\.event))
        #expect(Set(first.map(\.eventID)).count == first.count)
        for (_, event) in first {
            try event.payload.validate()
            #expect(Identifier.isValid(event.aggregates[0].id.replacingOccurrences(of: ":", with: "-")))
        }
        #expect(first.prefix(DemoData.stores.count).allSatisfy { if case .storeOpened = $0.event { true } else { false } })
    }

    @Test("a scale multiplies plentiful stock and solvent balances only, under the same event ids")
    func scaleKeepsTheMix() {
        let base = DemoData.events
        let scaled = DemoData.events(scale: 10)
        #expect(scaled.map(\.eventID) == base.map(\.eventID))
        for (plain, large) in zip(DemoData.stock, DemoData.stock(scale: 10)) {
            #expect(large.quantity == (plain.quantity <= 3 ? plain.quantity : plain.quantity * 10), "\(plain.storeID) \(plain.sku)")
        }
        for (plain, rich) in zip(DemoData.customers, DemoData.customers(scale: 10)) {
            let poor = plain.openingBalanceCents <= 2_000
            #expect(rich.openingBalanceCents == (poor ? plain.openingBalanceCents : plain.openingBalanceCents * 10), "\(plain.customerID)")
        }
    }
}
