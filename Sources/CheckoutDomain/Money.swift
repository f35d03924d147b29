/// Amounts of money are whole cents in an `Int64`, never floating point.
///
/// These helpers do the only arithmetic the domain needs, and report overflow instead of trapping.
public enum Money {
    /// The largest amount one event may carry (ten billion in the currency's units): far beyond
    /// any price, balance or credit of a retailer, and far enough below `Int64.max` that the sums
    /// the folds and the read models keep cannot overflow.
    public static let maximumCents: Int64 = 1_000_000_000_000

    /// `unitPriceCents × quantity`, or `nil` if it does not fit in 64 bits.
    public static func lineTotal(unitPriceCents: Int64, quantity: Int) -> Int64? {
        let (product, overflow) = unitPriceCents.multipliedReportingOverflow(by: Int64(quantity))
        return overflow ? nil : product
    }

    /// The sum of `amounts`, or `nil` if it does not fit in 64 bits.
    public static func sum(_ amounts: some Sequence<Int64>) -> Int64? {
        var total: Int64 = 0
        for amount in amounts {
            let (sum, overflow) = total.addingReportingOverflow(amount)
            if overflow { return nil }
            total = sum
        }
        return total
    }
}
