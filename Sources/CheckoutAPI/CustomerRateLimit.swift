import Foundation
import HTTPSupport
import Hummingbird
import Synchronization

/// How many checkouts one customer may place per second through this replica, counted by the
/// verified subject of their token: the gateway can only count by address, which a customer
/// with many addresses escapes and many customers behind one address share.
///
/// A token bucket per customer: `rate` tokens a second, up to `burst` at once. Staff are not
/// limited here (they are few, known, and act for others).
final class CustomerRateLimit: Sendable {
    let rate: Double
    let burst: Double
    /// Beyond this many customers tracked at once, buckets that are full again are forgotten.
    static let trackedCustomers = 100_000
    private let buckets = Mutex<[String: Bucket]>([:])
    private let now: @Sendable () -> ContinuousClock.Instant

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    init(perSecond rate: Int, burst: Int, now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.rate = Double(rate)
        self.burst = Double(max(burst, 1))
        self.now = now
    }

    /// Takes one checkout from `customer`'s bucket; throws 429 with `Retry-After` when it is empty.
    func admit(_ customer: String) throws(Problem) {
        let now = self.now()
        let wait: Double? = buckets.withLock { buckets in
            if buckets.count >= Self.trackedCustomers { Self.forgetFull(&buckets, now: now, rate: rate, burst: burst) }
            var bucket = buckets[customer] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated).seconds * rate)
            bucket.updated = now
            defer { buckets[customer] = bucket }
            guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / rate }
            bucket.tokens -= 1
            return nil
        }
        if let wait {
            let seconds = max(1, Int(wait.rounded(.up)))
            throw Problem(
                .tooManyRequests, slug: "rate-limited", title: "Too many requests",
                detail: "this customer placed more than \(Int(rate)) checkouts per second; retry after \(seconds) second\(seconds == 1 ? "" : "s")",
                headers: [.retryAfter: String(seconds)])
        }
    }

    private static func forgetFull(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant, rate: Double, burst: Double) {
        buckets = buckets.filter { _, bucket in bucket.tokens + (now - bucket.updated).seconds * rate < burst }
        if buckets.count >= trackedCustomers { buckets.removeAll(keepingCapacity: true) }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
