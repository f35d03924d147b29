import CheckoutDomain
import CoreMetrics
import Foundation
import Observability
import Synchronization

/// Saga outcomes, counted where every checkout event arrives once: the projection.
///
/// Started, completed and failed counts come from the events the projection applied for the
/// first time. The POST-to-terminal latency comes from the events' own timestamps (request to
/// terminal event), which the fold knows when it reaches a terminal state; the fold runs inside
/// a transaction that may roll back, so its measurements wait here until the commit.
final class SagaMetrics: Sendable {
    private let durations = Mutex<[String: Duration]>([:])

    /// Called inside the transaction: the terminal event `eventID` ended a saga after `duration`.
    func observeTerminal(eventID: String, duration: Duration) {
        durations.withLock { $0[eventID] = duration }
    }

    /// Called after the commit, with the events applied for the first time.
    func committed(_ applied: [EventEnvelope], metrics: any MetricsFactory) {
        let measured = durations.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        for envelope in applied {
            switch envelope.event {
            case .checkoutInitiated:
                Counter(label: ChorusMetric.checkoutsStarted.rawValue, factory: metrics).increment()
            case .checkoutCompleted:
                Counter(label: ChorusMetric.checkoutsCompleted.rawValue, factory: metrics).increment()
                record(measured[envelope.eventID], outcome: "completed", metrics: metrics)
            case .checkoutFailed(let failure):
                Counter(label: ChorusMetric.checkoutsFailed.rawValue, dimensions: [("reason", Self.reason(failure))], factory: metrics)
                    .increment()
                record(measured[envelope.eventID], outcome: "failed", metrics: metrics)
            default:
                break
            }
        }
    }

    /// Creates the series that would otherwise appear only with the first checkout, so that
    /// dashboards and alerts see 0 rather than no data.
    func prepare(metrics: any MetricsFactory) {
        Counter(label: ChorusMetric.checkoutsStarted.rawValue, factory: metrics).increment(by: 0)
        Counter(label: ChorusMetric.checkoutsCompleted.rawValue, factory: metrics).increment(by: 0)
        for reason in FailureReason.allCases {
            Counter(label: ChorusMetric.checkoutsFailed.rawValue, dimensions: [("reason", reason.rawValue)], factory: metrics).increment(by: 0)
        }
    }

    private func record(_ duration: Duration?, outcome: String, metrics: any MetricsFactory) {
        guard let duration else { return }
        CoreMetrics.Timer(label: ChorusMetric.checkoutDuration.rawValue, dimensions: [("outcome", outcome)], factory: metrics)
            .record(duration)
    }

    /// A bounded label: the failure's reason in the one vocabulary (``FailureReason``), the
    /// same word the read models and the bench show; `other` for anything else (an event from
    /// before a reason was renamed), so that a stray string cannot grow the series.
    static func reason(_ failure: CheckoutFailed) -> String {
        FailureReason(rawValue: failure.reason)?.rawValue ?? "other"
    }
}
