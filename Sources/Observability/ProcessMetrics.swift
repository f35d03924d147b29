import CoreMetrics
import Prometheus

/// The metrics of one Chorus process: a Prometheus registry, and the swift-metrics factory that
/// records into it.
///
/// Each process has its own registry rather than the global `MetricsSystem`, so that several
/// processes run in one test process each export only their own series.
public struct ProcessMetrics: Sendable {
    /// Where every series of this process lives.
    public let registry: PrometheusCollectorRegistry
    /// Hand this to the components that record metrics (`Counter(label:dimensions:factory:)`…).
    public let factory: any MetricsFactory

    /// The content type of ``exposition()``: the Prometheus text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = Self.durationBuckets
        factory.valueHistogramBuckets = Self.valueBuckets
        self.registry = registry
        self.factory = factory
    }

    /// Every series, in the Prometheus text format.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }

    /// Buckets chosen per metric, from the fastest useful resolution to the slowest value still
    /// worth telling apart.
    static let durationBuckets: [String: [Duration]] = [
        ChorusMetric.consumerHandlerDuration.rawValue: seconds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ChorusMetric.consumerEventAge.rawValue: seconds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        ChorusMetric.checkoutDuration.rawValue: seconds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        ChorusMetric.eventStoreAppendDuration.rawValue: seconds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        ChorusMetric.httpRequestDuration.rawValue: seconds(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    ]

    static let valueBuckets: [String: [Double]] = [
        ChorusMetric.eventStoreAppendBatchSize.rawValue: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000],
    ]

    private static func seconds(_ values: Double...) -> [Duration] {
        values.map { Duration.nanoseconds(Int64(($0 * 1_000_000_000).rounded())) }
    }
}
