import Foundation
import Histogram

/// POST-to-terminal latencies, in microseconds, read from the run's HdrHistogram
/// (three significant digits: a value is exact to within 0.1 %).
public struct LatencySummary: Codable, Sendable, Hashable {
    /// Always `microseconds`; written out so that the JSON explains itself.
    public var unit: String
    /// How many checkouts reached a terminal state and were measured.
    public var count: Int
    public var min: Int64
    public var p50: Int64
    public var p90: Int64
    public var p95: Int64
    public var p99: Int64
    public var p999: Int64
    /// The largest latency recorded, exactly.
    public var max: Int64

    /// A summary of figures already read, in microseconds.
    public init(count: Int, min: Int64, p50: Int64, p90: Int64, p95: Int64, p99: Int64, p999: Int64, max: Int64) {
        self.unit = "microseconds"
        self.count = count
        self.min = min
        self.p50 = p50
        self.p90 = p90
        self.p95 = p95
        self.p99 = p99
        self.p999 = p999
        self.max = max
    }

    /// The summary of `histogram`, whose values are microseconds; all zero when it is empty.
    public init(_ histogram: Histogram<UInt64>) {
        guard histogram.totalCount > 0 else {
            self.init(count: 0, min: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0)
            return
        }
        func at(_ percentile: Double) -> Int64 { Int64(clamping: histogram.valueAtPercentile(percentile)) }
        self.init(
            count: Int(clamping: histogram.totalCount), min: Int64(clamping: histogram.min),
            p50: at(50), p90: at(90), p95: at(95), p99: at(99), p999: at(99.9),
            max: Int64(clamping: histogram.maxRecorded))
    }

    enum CodingKeys: String, CodingKey { case unit, count, min, p50, p90, p95, p99, p999, max }
}

/// What a run did: the closing table, and the JSON that `--json` writes.
public struct BenchResults: Codable, Sendable, Hashable {
    /// `open-loop` or `closed-loop`.
    public var mode: String
    /// The intended arrival rate (open loop).
    public var ratePerSecond: Int?
    /// The number of workers (closed loop).
    public var concurrency: Int?
    public var seed: UInt64
    public var runID: String
    public var url: String
    /// When the first checkout was due, as RFC 3339.
    public var startedAt: String
    /// The time spent sending checkouts.
    public var sendingSeconds: Double
    /// From the first send to the last terminal state seen, or to the end of sending if that is later
    /// (or to the end of the run when no checkout ended).
    public var elapsedSeconds: Double
    /// POSTs sent.
    public var sent: Int
    /// POSTs answered 202.
    public var accepted: Int
    /// POSTs answered otherwise, by status code (`"429"`, `"503"` …).
    public var rejected: [String: Int]
    /// POSTs that got no HTTP answer at all (connection refused or reset, timeout).
    public var postErrors: Int
    public var completed: Int
    public var failed: Int
    /// Failed checkouts by the reason `CheckoutFailed` gives.
    public var failureReasons: [String: Int]
    /// Accepted checkouts with no terminal state within the timeout.
    public var timedOut: Int
    /// Checkouts that reached a terminal state, per second of ``elapsedSeconds``.
    public var throughputPerSecond: Double
    public var latency: LatencySummary
    /// From the POST (or the moment it was due, open loop) to its 202 answer.
    public var acceptanceLatency: LatencySummary?
    /// CPU time the bench itself used during the run, user and system, in seconds.
    public var benchCPUSeconds: Double?
    /// Why the run counts as failed (exit 1); empty when it succeeded, business failures or not.
    public var problems: [String]

    /// Results from figures already counted; ``BenchRunner`` fills them in from a run.
    public init(
        mode: String, ratePerSecond: Int?, concurrency: Int?, seed: UInt64, runID: String, url: String, startedAt: String,
        sendingSeconds: Double, elapsedSeconds: Double, sent: Int, accepted: Int, rejected: [String: Int], postErrors: Int,
        completed: Int, failed: Int, failureReasons: [String: Int], timedOut: Int, throughputPerSecond: Double,
        latency: LatencySummary, acceptanceLatency: LatencySummary? = nil, benchCPUSeconds: Double? = nil, problems: [String]
    ) {
        self.mode = mode
        self.ratePerSecond = ratePerSecond
        self.concurrency = concurrency
        self.seed = seed
        self.runID = runID
        self.url = url
        self.startedAt = startedAt
        self.sendingSeconds = sendingSeconds
        self.elapsedSeconds = elapsedSeconds
        self.sent = sent
        self.accepted = accepted
        self.rejected = rejected
        self.postErrors = postErrors
        self.completed = completed
        self.failed = failed
        self.failureReasons = failureReasons
        self.timedOut = timedOut
        self.throughputPerSecond = throughputPerSecond
        self.latency = latency
        self.acceptanceLatency = acceptanceLatency
        self.benchCPUSeconds = benchCPUSeconds
        self.problems = problems
    }

    /// The bench's own CPU time as a share of one core over the run, in percent.
    public var benchCPUPercentOfOneCore: Double? {
        guard let benchCPUSeconds, elapsedSeconds > 0 else { return nil }
        return benchCPUSeconds / elapsedSeconds * 100
    }

    /// POSTs rejected with a 5xx status: the system failed, unlike a 4xx, which refuses the request.
    public var serverErrors: Int {
        rejected.reduce(0) { total, entry in (500...599).contains(Int(entry.key) ?? 0) ? total + entry.value : total }
    }

    /// Every POST rejected, whatever the status.
    public var rejectedTotal: Int { rejected.values.reduce(0, +) }

    /// What makes a run fail: checkouts that never ended, nothing accepted at all, or more POST
    /// errors (no answer or 5xx) than `maxErrorPercent` of the POSTs sent. Business failures
    /// (out of stock, declined payment) are results, not problems.
    public static func problems(
        sent: Int, accepted: Int, postErrors: Int, serverErrors: Int, timedOut: Int, maxErrorPercent: Double,
        errorExamples: [String] = []
    ) -> [String] {
        var problems: [String] = []
        if timedOut > 0 { problems.append("\(timedOut) accepted checkout(s) reached no terminal state within the timeout") }
        if sent > 0 && accepted == 0 { problems.append("no checkout was accepted") }
        let errors = postErrors + serverErrors
        if sent > 0 && Double(errors) * 100 > maxErrorPercent * Double(sent) {
            let examples = errorExamples.isEmpty ? "" : " (e.g. \(errorExamples.joined(separator: "; ")))"
            problems.append(
                "\(errors) of \(sent) POSTs failed (no answer or 5xx), more than the \(BenchReport.percent(maxErrorPercent)) allowed\(examples)")
        }
        return problems
    }

    enum CodingKeys: String, CodingKey {
        case mode, seed, url, sent, accepted, rejected, completed, failed, latency, problems
        case ratePerSecond = "rate_per_second", concurrency, runID = "run_id", startedAt = "started_at"
        case sendingSeconds = "sending_seconds", elapsedSeconds = "elapsed_seconds", postErrors = "post_errors"
        case failureReasons = "failure_reasons", timedOut = "timed_out", throughputPerSecond = "throughput_per_second"
        case acceptanceLatency = "acceptance_latency", benchCPUSeconds = "bench_cpu_seconds"
    }

    /// The JSON `--json` writes: snake_case keys, sorted, pretty-printed.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads what ``jsonData()`` wrote.
    public init(jsonData data: Data) throws {
        self = try JSONDecoder().decode(BenchResults.self, from: data)
    }
}
