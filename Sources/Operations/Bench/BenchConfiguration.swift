import CheckoutDomain
import Foundation
import Redis

/// How the load generator decides when to send the next checkout.
public enum BenchMode: Sendable, Hashable {
    /// A fixed arrival rate, whatever the system does: checkout `i` is due at `start + i / rate`,
    /// and its latency counts from that intended time, so a stalled system cannot hide its stall
    /// by slowing the generator down (coordinated omission).
    case openLoop(ratePerSecond: Int)
    /// A fixed number of workers, each sending its next checkout once the previous one reached
    /// a terminal state (or was refused, or timed out).
    case closedLoop(concurrency: Int)

    /// `open-loop` or `closed-loop`, as the results name the mode.
    public var name: String {
        switch self {
        case .openLoop: "open-loop"
        case .closedLoop: "closed-loop"
        }
    }
}

/// The customers, stores and products the generated checkouts draw from.
public struct BenchCatalogue: Sendable, Hashable {
    public var customers: [String]
    public var stores: [String]
    public var skus: [String]

    /// - Precondition: none of the lists is empty (``BenchConfiguration/validate()`` checks it).
    public init(customers: [String], stores: [String], skus: [String]) {
        self.customers = customers
        self.stores = stores
        self.skus = skus
    }

    /// The demo retailer `chorus up` loads: 1,000 customers (one in eight nearly broke), 5 stores,
    /// 200 products (one in ten scarce), so that some checkouts fail as they would in real life.
    public static var demo: BenchCatalogue {
        BenchCatalogue(
            customers: (1...DemoData.customerCount).map(DemoData.customerID),
            stores: DemoData.stores.map(\.storeID),
            skus: (1...DemoData.productCount).map(DemoData.sku))
    }
}

/// The bearer tokens the bench signs its checkouts with.
public enum BenchTokens: Sendable, Hashable {
    /// No `Authorization` header: for a system that does not verify callers.
    case none
    /// One token for every checkout: a staff token whose role may place checkouts for any
    /// customer (`admin`), say one from a real identity provider.
    case one(String)
    /// Each customer's own token, as each customer of a real shop would sign their checkouts.
    case perCustomer([String: String])

    /// The token a checkout for `customer` is sent with.
    public func token(for customer: String) -> String? {
        switch self {
        case .none: nil
        case .one(let token): token
        case .perCustomer(let tokens): tokens[customer]
        }
    }
}

/// Everything one bench run needs to know.
public struct BenchConfiguration: Sendable, Hashable {
    /// Where `POST /checkouts` goes: the gateway, or one checkout-api directly.
    public var baseURL: String
    /// The Redis the system publishes to; the bench reads its checkout streams (never through a
    /// consumer group, so it takes nothing from the services).
    public var redis: RedisConfiguration
    /// The system's stream names.
    public var topology: StreamTopology
    public var mode: BenchMode
    /// How long checkouts are sent for; `nil` when only ``count`` bounds the run.
    public var duration: Duration?
    /// How many checkouts are sent at most; `nil` when only ``duration`` bounds the run.
    public var count: Int?
    /// How long an accepted checkout may take to reach a terminal state before it counts as timed out.
    public var timeout: Duration
    /// How long one `POST /checkouts` may take before it counts as an error.
    public var requestTimeout: Duration
    /// Seeds the mix of checkouts: the same seed sends the same sequence of bodies.
    public var seed: UInt64
    /// Part of every `Idempotency-Key`, so that a run with the same seed still starts new checkouts.
    public var runID: String
    public var catalogue: BenchCatalogue
    /// The share of POSTs, in percent, that may fail (no answer, or a 5xx) before the run fails.
    public var maxErrorPercent: Double
    /// What each checkout is signed with.
    public var tokens: BenchTokens
    /// A PEM file of the certificate authority to trust for an `https://` target.
    public var trustedAuthority: String?

    /// A run against `baseURL`; the defaults are those of `chorus bench`.
    public init(
        baseURL: String,
        redis: RedisConfiguration,
        topology: StreamTopology,
        mode: BenchMode,
        duration: Duration? = nil,
        count: Int? = nil,
        timeout: Duration = .seconds(30),
        requestTimeout: Duration = .seconds(10),
        seed: UInt64 = 1,
        runID: String = BenchConfiguration.randomRunID(),
        catalogue: BenchCatalogue = .demo,
        maxErrorPercent: Double = 1,
        tokens: BenchTokens = .none,
        trustedAuthority: String? = nil
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.redis = redis
        self.topology = topology
        self.mode = mode
        self.duration = duration
        self.count = count
        self.timeout = timeout
        self.requestTimeout = requestTimeout
        self.seed = seed
        self.runID = runID
        self.catalogue = catalogue
        self.maxErrorPercent = maxErrorPercent
        self.tokens = tokens
        self.trustedAuthority = trustedAuthority
    }

    /// Eight hex digits: enough to keep the keys of runs apart, short enough to read.
    public static func randomRunID() -> String {
        let value = UInt32.random(in: 0...UInt32.max)
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// How many checkouts an open-loop run sends: the rate times the duration, capped by the count.
    public var plannedOpenLoopCount: Int? {
        guard case .openLoop(let rate) = mode else { return nil }
        let byDuration = duration.map { Int($0.benchMicroseconds * Int64(rate) / 1_000_000) }
        switch (byDuration, count) {
        case (let planned?, let count?): return min(planned, count)
        case (let planned?, nil): return planned
        case (nil, let count?): return count
        case (nil, nil): return nil
        }
    }

    /// Checks what would make the run meaningless, before anything is sent.
    public func validate() throws(BenchError) {
        switch mode {
        case .openLoop(let rate) where rate < 1: throw .invalidConfiguration("the rate must be at least 1 checkout per second")
        case .closedLoop(let concurrency) where concurrency < 1: throw .invalidConfiguration("the concurrency must be at least 1")
        default: break
        }
        if duration == nil && count == nil { throw .invalidConfiguration("give a duration, a count, or both") }
        if let duration, duration <= .zero { throw .invalidConfiguration("the duration must be positive") }
        if let count, count < 1 { throw .invalidConfiguration("the count must be at least 1") }
        if plannedOpenLoopCount == 0 { throw .invalidConfiguration("the rate times the duration sends no checkout") }
        if timeout <= .zero || requestTimeout <= .zero { throw .invalidConfiguration("timeouts must be positive") }
        if catalogue.customers.isEmpty || catalogue.stores.isEmpty || catalogue.skus.isEmpty {
            throw .invalidConfiguration("the catalogue needs at least one customer, one store and one product")
        }
        if !(0...100).contains(maxErrorPercent) { throw .invalidConfiguration("the error threshold is a percentage from 0 to 100") }
        guard let url = URL(string: baseURL), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw .invalidConfiguration("not an http(s) URL: \(baseURL)")
        }
    }
}

/// Why a bench run could not start or finish.
public enum BenchError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The options contradict each other or are out of range (exit 64, `EX_USAGE`).
    case invalidConfiguration(String)
    /// The gateway or Redis does not answer at the start (exit 69, `EX_UNAVAILABLE`).
    case unavailable(server: String, detail: String)
    /// Redis refuses the credentials, or gives none where it needs some (exit 77, `EX_NOPERM`).
    case denied(server: String, detail: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): message
        case .unavailable(let server, let detail): "\(server) is unreachable: \(detail)"
        case .denied(let server, let detail): "\(server) refused the credentials: \(detail)"
        }
    }

    /// The conventional exit status for this failure.
    public var exitStatus: Int32 {
        switch self {
        case .invalidConfiguration: 64
        case .unavailable: 69
        case .denied: 77
        }
    }
}
