import Histogram

/// Where a run stands, for the progress display.
public struct BenchProgress: Sendable, Hashable {
    /// `sending` while checkouts are sent, `draining` while the last ones are awaited.
    public enum Phase: String, Sendable, Hashable {
        case sending, draining, done
    }

    public var phase: Phase
    public var elapsed: Duration
    /// How long the run sends for, if a duration bounds it.
    public var plannedDuration: Duration?
    /// How many checkouts the run sends at most, if known in advance.
    public var plannedCount: Int?
    public var sent: Int
    public var completed: Int
    public var failed: Int
    public var rejected: Int
    public var postErrors: Int
    public var timedOut: Int

    /// Progress from counts already taken.
    public init(
        phase: Phase, elapsed: Duration, plannedDuration: Duration?, plannedCount: Int?,
        sent: Int, completed: Int, failed: Int, rejected: Int, postErrors: Int, timedOut: Int
    ) {
        self.phase = phase
        self.elapsed = elapsed
        self.plannedDuration = plannedDuration
        self.plannedCount = plannedCount
        self.sent = sent
        self.completed = completed
        self.failed = failed
        self.rejected = rejected
        self.postErrors = postErrors
        self.timedOut = timedOut
    }

    /// POSTs sent that have not yet ended one way or another.
    public var inFlight: Int { max(0, sent - completed - failed - rejected - postErrors - timedOut) }

    /// How far the sending has got, from 0 to 1: by count when one is planned, else by time.
    public var fraction: Double {
        if phase != .sending { return 1 }
        if let plannedCount, plannedCount > 0 { return min(1, Double(sent) / Double(plannedCount)) }
        if let plannedDuration, plannedDuration > .zero {
            return min(1, Double(elapsed.benchMicroseconds) / Double(plannedDuration.benchMicroseconds))
        }
        return 0
    }
}

/// Counts a run's outcomes and records its latencies, for the progress display and the results.
actor BenchTally {
    private(set) var sent = 0
    private(set) var accepted = 0
    private(set) var rejected: [Int: Int] = [:]
    private(set) var postErrors = 0
    /// A few of the transport errors' texts, for the operator to see what went wrong.
    private(set) var postErrorSamples: [String] = []
    private(set) var completed = 0
    private(set) var failed = 0
    private(set) var failureReasons: [String: Int] = [:]
    private(set) var timedOut = 0
    /// POST-to-terminal latencies in microseconds. It grows as needed, so no latency is clipped.
    private(set) var latencies = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
    /// Latencies of the 202 itself, from the same origin to the answer, in microseconds.
    private(set) var acceptanceLatencies = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
    private(set) var lastTerminalAt: ContinuousClock.Instant?
    private(set) var phase = BenchProgress.Phase.sending
    /// When the run stopped sending.
    private(set) var sendingEndedAt: ContinuousClock.Instant?
    private var nextIndex = 0
    private var isStopping = false

    /// The index of the next checkout to send, or `nil` once `limit` are taken, `deadline` has
    /// passed or the run was stopped; then the run drains.
    func claimIndex(limit: Int?, deadline: ContinuousClock.Instant?, now: ContinuousClock.Instant) -> Int? {
        let exhausted = limit.map { nextIndex >= $0 } ?? false
        let late = deadline.map { now >= $0 } ?? false
        guard !isStopping, !exhausted, !late else {
            endSending(at: now)
            return nil
        }
        defer { nextIndex += 1 }
        return nextIndex
    }

    /// Sends no further checkout; those in flight are still awaited.
    func stop() { isStopping = true }

    /// Whether ``stop()`` was called.
    var stopping: Bool { isStopping }

    /// Marks the end of sending; the first call counts.
    func endSending(at instant: ContinuousClock.Instant) {
        guard phase == .sending else { return }
        phase = .draining
        sendingEndedAt = instant
    }

    /// Marks the run as over.
    func finish() { phase = .done }

    func recordSent() { sent += 1 }

    func recordAccepted(latency: Duration) {
        accepted += 1
        acceptanceLatencies.record(UInt64(max(1, latency.benchMicroseconds)))
    }

    func recordRejected(status: Int) { rejected[status, default: 0] += 1 }

    func recordPostError(_ description: String) {
        postErrors += 1
        if postErrorSamples.count < 5, !postErrorSamples.contains(description) { postErrorSamples.append(description) }
    }

    func recordTerminal(_ outcome: TerminalOutcome, latency: Duration, at instant: ContinuousClock.Instant) {
        switch outcome {
        case .completed: completed += 1
        case .failed(let reason):
            failed += 1
            failureReasons[reason, default: 0] += 1
        }
        latencies.record(UInt64(max(1, latency.benchMicroseconds)))
        lastTerminalAt = max(lastTerminalAt ?? instant, instant)
    }

    func recordTimedOut() { timedOut += 1 }

    /// Where the run stands now.
    func progress(elapsed: Duration, plannedDuration: Duration?, plannedCount: Int?) -> BenchProgress {
        BenchProgress(
            phase: phase, elapsed: elapsed, plannedDuration: plannedDuration, plannedCount: plannedCount,
            sent: sent, completed: completed, failed: failed, rejected: rejected.values.reduce(0, +),
            postErrors: postErrors, timedOut: timedOut)
    }
}
