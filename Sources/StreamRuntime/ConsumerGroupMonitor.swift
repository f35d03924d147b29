import CoreMetrics
import Foundation
import Logging
import Observability
import Redis

/// Reads a consumer group's standing from Redis into gauges: lag and pending (`XINFO GROUPS`)
/// and the age of the oldest pending entry (`XPENDING`), per stream. A process runs it every few
/// seconds through ``PeriodicSampler``.
///
/// Lag that Redis reports as unknown (after deletions inside the unread part of a stream) is
/// exported as NaN, never as 0: a dashboard shows a gap instead of a reassuring flat line.
public struct ConsumerGroupMonitor: Sendable {
    let group: String
    let streams: [String]
    let redis: RedisConnectionPool
    let metrics: any MetricsFactory

    public init(group: String, streams: [String], redis: RedisConnectionPool, metrics: any MetricsFactory) {
        self.group = group
        self.streams = streams
        self.redis = redis
        self.metrics = metrics
    }

    /// Samples every `interval` until graceful shutdown; a scrape sees values at most this old.
    public func periodically(every interval: Duration, logger: Logger) -> PeriodicSampler {
        PeriodicSampler("the consumer group's standing", every: interval, logger: logger) { try await sample() }
    }

    /// Reads every stream once and updates the gauges.
    public func sample() async throws(RedisError) {
        let connection = redis.connection
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for stream in streams {
            guard let info = try await connection.groups(of: stream).first(where: { $0.name == group }) else { continue }
            let dimensions = [("stream", stream), ("group", group)]
            Gauge(label: ChorusMetric.consumerGroupLag.rawValue, dimensions: dimensions, factory: metrics)
                .record(info.lag.map(Double.init) ?? .nan)
            Gauge(label: ChorusMetric.consumerGroupPending.rawValue, dimensions: dimensions, factory: metrics)
                .record(info.pending)
            var age = 0.0
            if info.pending > 0, let oldest = try await connection.pendingSummary(stream: stream, group: group).smallestID,
               let milliseconds = RedisConnection.milliseconds(ofStreamID: oldest)
            {
                age = Double(max(0, now - milliseconds)) / 1000
            }
            Gauge(label: ChorusMetric.consumerOldestPendingAge.rawValue, dimensions: dimensions, factory: metrics).record(age)
        }
    }
}
