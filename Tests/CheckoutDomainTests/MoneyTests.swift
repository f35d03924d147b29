import Testing

@testable import CheckoutDomain

@Suite("Money")
struct MoneyTests {
    @Test(
        "a line's total is its unit price times its quantity",
        arguments: [
            (Int64(250), 2, Int64(500)),
            (1_999, 1, 1_999),
            (0, 7, 0),
            (1, 1_000, 1_000),
            (123_456_789, 1_000, 123_456_789_000),
            (Int64.max, 1, Int64.max),
            (Int64.max / 2, 2, Int64.max - 1),
        ]
    )
    func lineTotal(unitPriceCents: Int64, quantity: Int, expected: Int64) {
        #expect(Money.lineTotal(unitPriceCents: unitPriceCents, quantity: quantity) == expected)
    }

    @Test("a line of no units costs nothing")
    func zeroQuantity() {
        #expect(Money.lineTotal(unitPriceCents: 9_999, quantity: 0) == 0)
    }

    @Test(
        "a line total that does not fit in 64 bits is reported as nil instead of trapping",
        arguments: [
            (Int64.max, 2),
            (Int64.max / 2 + 1, 2),
            (4_611_686_018_427_387_904, 2),
            (1_000_000_000_000, 10_000_000),
            (Int64.max, Int.max),
        ]
    )
    func lineTotalOverflow(unitPriceCents: Int64, quantity: Int) {
        #expect(Money.lineTotal(unitPriceCents: unitPriceCents, quantity: quantity) == nil)
    }

    @Test("the sum of nothing is zero")
    func emptySum() {
        #expect(Money.sum([]) == 0)
    }

    @Test(
        "the sum adds every amount",
        arguments: [
            ([500], 500),
            ([500, 1_999], 2_499),
            ([1, 2, 3, 4], 10),
            ([500, -200], 300),
            ([Int64.max], Int64.max),
            ([Int64.max - 1, 1], Int64.max),
        ] as [([Int64], Int64)]
    )
    func sum(amounts: [Int64], expected: Int64) {
        #expect(Money.sum(amounts) == expected)
    }

    @Test("the sum takes any sequence, not only arrays")
    func sumOfSequence() {
        #expect(Money.sum((1...100).lazy.map { Int64($0) }) == 5_050)
    }

    @Test(
        "a sum that does not fit in 64 bits is reported as nil instead of trapping",
        arguments: [
            [Int64.max, 1],
            [Int64.max / 2 + 1, Int64.max / 2 + 1],
            [Int64.min, -1],
            [Int64](repeating: Int64.max / 4, count: 5),
        ]
    )
    func sumOverflow(amounts: [Int64]) {
        #expect(Money.sum(amounts) == nil)
    }
}
