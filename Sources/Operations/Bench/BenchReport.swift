/// The bench's text output: the closing table and the progress display.
///
/// Numbers are formatted with integer arithmetic and no locale, so the output is the same on
/// every machine and easy to parse.
public enum BenchReport {
    /// The closing table: one row per figure, then the problems that fail the run, if any.
    public static func table(_ results: BenchResults) -> String {
        let modeDetail: String =
            if let rate = results.ratePerSecond { "\(results.mode) (\(rate) checkouts/s intended)" }
            else if let concurrency = results.concurrency { "\(results.mode) (\(concurrency) workers)" }
            else { results.mode }
        let origin = results.ratePerSecond != nil ? "from the intended send time" : "from the send time"
        var rows: [[String]] = [
            ["metric", "value"],
            ["mode", modeDetail],
            ["target", results.url],
            ["seed / run", "\(results.seed) / \(results.runID)"],
            ["duration", "\(seconds(results.sendingSeconds)) s sending, \(seconds(results.elapsedSeconds)) s to the last terminal state"],
            ["sent", "\(results.sent)"],
            ["accepted (202)", "\(results.accepted)"],
            ["rejected", breakdown(total: results.rejectedTotal, results.rejected)],
            ["POST errors", "\(results.postErrors)"],
            ["completed", "\(results.completed)"],
            ["failed", breakdown(total: results.failed, results.failureReasons)],
            ["timed out", "\(results.timedOut)"],
            ["throughput", "\(tenths(results.throughputPerSecond)) terminal checkouts/s"],
        ]
        let latency = results.latency
        for (name, value) in [("p50", latency.p50), ("p95", latency.p95), ("p99", latency.p99), ("max", latency.max)] {
            rows.append(["latency \(name)", latency.count == 0 ? "-" : "\(milliseconds(value)) ms"])
        }
        if let acceptance = results.acceptanceLatency, acceptance.count > 0 {
            rows.append(["202 p50 / p99", "\(milliseconds(acceptance.p50)) ms / \(milliseconds(acceptance.p99)) ms"])
        }
        if let cpu = results.benchCPUSeconds, let share = results.benchCPUPercentOfOneCore {
            rows.append(["bench CPU", "\(tenths(cpu)) s (\(tenths(share)) % of one core)"])
        }
        var lines = [
            TextTable.render(rows),
            "latency: POST to terminal state (CheckoutCompleted or CheckoutFailed), \(origin), \(latency.count) samples, HdrHistogram in microseconds",
        ]
        lines += results.problems.map { "problem: \($0)" }
        return lines.joined(separator: "\n")
    }

    /// A one-line progress bar, redrawn in place on a terminal.
    public static func progressBar(_ progress: BenchProgress, width: Int = 24) -> String {
        let filled = max(0, min(width, Int(progress.fraction * Double(width))))
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
        return "\(bar) \(progressFigures(progress))"
    }

    /// A progress line for logs, when the output is not a terminal.
    public static func progressLine(_ progress: BenchProgress) -> String {
        "bench: \(progressFigures(progress))"
    }

    private static func progressFigures(_ progress: BenchProgress) -> String {
        var time = seconds(Double(progress.elapsed.benchMicroseconds) / 1_000_000)
        if progress.phase == .sending, let planned = progress.plannedDuration {
            time += "/" + seconds(Double(planned.benchMicroseconds) / 1_000_000)
        }
        var figures = "\(time) s  sent \(progress.sent)  completed \(progress.completed)  failed \(progress.failed)  in flight \(progress.inFlight)"
        if progress.rejected > 0 { figures += "  rejected \(progress.rejected)" }
        if progress.postErrors > 0 { figures += "  errors \(progress.postErrors)" }
        if progress.timedOut > 0 { figures += "  timed out \(progress.timedOut)" }
        if progress.phase == .draining { figures += "  (waiting for the last checkouts)" }
        return figures
    }

    /// `1.234` ms from microseconds, to the microsecond.
    public static func milliseconds(_ microseconds: Int64) -> String {
        let whole = microseconds / 1_000
        let fraction = String(microseconds % 1_000)
        return "\(whole)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// A duration in seconds to one decimal: `30.0`.
    static func seconds(_ value: Double) -> String { tenths(value) }

    /// A percentage without needless decimals: `1%`, `0.5%`.
    static func percent(_ value: Double) -> String {
        let text = tenths(value)
        return (text.hasSuffix(".0") ? String(text.dropLast(2)) : text) + "%"
    }

    /// A non-negative number rounded to one decimal.
    static func tenths(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let scaled = Int64((max(0, value) * 10).rounded())
        return "\(scaled / 10).\(scaled % 10)"
    }

    /// `12 (429: 10, 422: 2)`, largest first; just `0` when there is nothing.
    private static func breakdown(total: Int, _ counts: [String: Int]) -> String {
        guard total > 0 else { return "0" }
        let parts = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        return "\(total) (\(parts.joined(separator: ", ")))"
    }
}
