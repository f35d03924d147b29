import CoreMetrics

extension CoreMetrics.Timer {
    /// Records a `Duration`, to the nanosecond.
    public func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000)
    }

    /// Records the time elapsed since `start`.
    public func recordInterval(since start: ContinuousClock.Instant) {
        record(ContinuousClock.now - start)
    }
}
