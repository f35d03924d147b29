import CheckoutDomain

/// The checkouts a run sends: a deterministic function of the seed and the checkout's index.
///
/// Each index has a generator of its own, so checkout `i` has the same body whatever the mode,
/// the concurrency or the order in which workers pick indexes: two runs with one seed send the
/// same bodies. With the demo catalogue some fail on purpose: scarce products run out and some
/// customers cannot pay.
public struct CheckoutMix: Sendable, Hashable {
    public let seed: UInt64
    public let catalogue: BenchCatalogue

    public init(seed: UInt64, catalogue: BenchCatalogue) {
        self.seed = seed
        self.catalogue = catalogue
    }

    /// The body of checkout number `index`: one to three distinct products, mostly one of each.
    public func checkout(_ index: Int) -> CheckoutRequest {
        var random = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03))
        let customer = catalogue.customers[random.next(below: catalogue.customers.count)]
        let store = catalogue.stores[random.next(below: catalogue.stores.count)]
        // Half the baskets hold one line, a third two, the rest three (never more lines than products).
        let roll = random.next(below: 100)
        let lineCount = min(roll < 50 ? 1 : roll < 85 ? 2 : 3, catalogue.skus.count)
        var chosen: [Int] = []
        while chosen.count < lineCount {
            let candidate = random.next(below: catalogue.skus.count)
            if !chosen.contains(candidate) { chosen.append(candidate) }
        }
        let items = chosen.map { skuIndex in
            let quantityRoll = random.next(below: 10)
            return CheckoutRequest.Item(sku: catalogue.skus[skuIndex], quantity: quantityRoll < 7 ? 1 : quantityRoll < 9 ? 2 : 3)
        }
        return CheckoutRequest(customerID: customer, storeID: store, items: items)
    }

    /// The `Idempotency-Key` of checkout number `index` in run `runID`: a retried POST can never
    /// start a second saga, and another run never collides with this one.
    public static func idempotencyKey(runID: String, index: Int) -> String {
        "bench-\(runID)-\(index)"
    }
}

extension Duration {
    /// The duration in whole microseconds, the unit the bench records latencies in.
    var benchMicroseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }
}
