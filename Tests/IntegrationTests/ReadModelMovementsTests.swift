import CheckoutDomain
import Testing

@testable import CQRSProjection

/// The projection sums a batch's movements per row before it writes them: the sums must equal
/// applying the events one by one.
@Suite("Read-model movements")
struct ReadModelMovementsTests {
    static let lines = [
        CheckoutLine(sku: "SKU-1", quantity: 2, unitPriceCents: 500, lineTotalCents: 1_000),
        CheckoutLine(sku: "SKU-2", quantity: 1, unitPriceCents: 250, lineTotalCents: 250),
    ]
    static func facts(_ checkoutID: String, customer: String = "cus-1") -> CheckoutFacts {
        CheckoutFacts(checkoutID: checkoutID, customerID: customer, storeID: "store-01", lines: lines, totalCents: 1_250)
    }

    @Test("stock: receipts, reservations, releases and sales of one item add up to one row")
    func stockSums() {
        var stock = StockMovements()
        let events: [DomainEvent] = [
            .stockReceived(StockReceived(storeID: "store-01", sku: "SKU-1", quantity: 10)),
            .stockReserved(StockReserved(checkout: Self.facts("co-1"))),
            .stockReserved(StockReserved(checkout: Self.facts("co-2"))),
            .stockReleased(StockReleased(checkoutID: "co-2", storeID: "store-01", lines: Self.lines)),
            .orderCreated(OrderCreated(checkout: Self.facts("co-1"), orderID: "ord-1", paymentID: "pay-1")),
            .checkoutCompleted(CheckoutCompleted(checkoutID: "co-1", orderID: "ord-1")),
        ]
        let moved = events.map { stock.add($0) }
        #expect(moved == [true, true, true, true, true, false])
        #expect(stock.deltas.count == 2)
        #expect(stock.deltas[.init(storeID: "store-01", sku: "SKU-1")] == .init(onHand: 8, reserved: 0, sold: 2, received: 10))
        #expect(stock.deltas[.init(storeID: "store-01", sku: "SKU-2")] == .init(onHand: -1, reserved: 0, sold: 1, received: 0))
    }

    @Test("balances: credits, charges and refunds add up per customer; only the first registration counts")
    func balanceSums() {
        var balances = BalanceMovements()
        let events: [DomainEvent] = [
            .customerRegistered(CustomerRegistered(customerID: "cus-1", name: "Ada", email: "ada@example.com", openingBalanceCents: 5_000)),
            .accountCredited(AccountCredited(customerID: "cus-1", amountCents: 700)),
            .paymentAuthorized(PaymentAuthorized(checkout: Self.facts("co-1"), paymentID: "pay-1", amountCents: 1_250)),
            .paymentRefunded(PaymentRefunded(checkoutID: "co-1", customerID: "cus-1", paymentID: "pay-1", amountCents: 1_250)),
            .customerRegistered(CustomerRegistered(customerID: "cus-1", name: "Ada Again", email: "x@example.com", openingBalanceCents: 9_999)),
            .paymentAuthorized(PaymentAuthorized(checkout: Self.facts("co-2", customer: "cus-2"), paymentID: "pay-2", amountCents: 1_250)),
            .stockReserved(StockReserved(checkout: Self.facts("co-3"))),
        ]
        let moved = events.map { balances.add($0) }
        #expect(moved == [true, true, true, true, true, true, false])
        #expect(balances.deltas["cus-1"] == .init(credited: 700, charged: 1_250, refunded: 1_250))
        #expect(balances.deltas["cus-2"] == .init(credited: 0, charged: 1_250, refunded: 0))
        #expect(balances.registrations == ["cus-1": .init(name: "Ada", email: "ada@example.com", openingBalanceCents: 5_000)])
    }
}
