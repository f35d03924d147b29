import CheckoutDomain
import CoreMetrics
import Foundation
import Logging
import Observability
import Postgres
import Redis
import StreamRuntime

/// How far the event store is behind the streams, in time: the newest entry's `occurred_at`
/// over every stream the store still has work on, minus the newest stored event's. Sampled every
/// few seconds (through ``PeriodicSampler``) into `chorus_event_store_behind_seconds`.
///
/// A stream whose every entry the event store's group has been delivered and acknowledged counts
/// as caught up, whether each entry was stored or rightly skipped as a duplicate (demo data
/// published again, say, carries a fresh time and is skipped: comparing against it would show
/// the store seconds behind forever).
///
/// Counting entries is the consumer group's lag; this is the same gap in seconds, which is what
/// an operator compares with an SLO ("history is at most 5 s stale").
public struct EventStoreLagMonitor: Sendable {
    let streams: [String]
    let redis: RedisConnectionPool
    let database: PostgresConnectionPool
    let metrics: any MetricsFactory

    let group: String

    /// - Parameter group: the event store's consumer group, whose progress tells a stream caught up.
    public init(
        streams: [String], group: String = Worker.eventStore.groupName, redis: RedisConnectionPool, database: PostgresConnectionPool,
        metrics: any MetricsFactory
    ) {
        self.streams = streams
        self.group = group
        self.redis = redis
        self.database = database
        self.metrics = metrics
    }

    /// Samples every `interval` until graceful shutdown.
    public func periodically(every interval: Duration, logger: Logger) -> PeriodicSampler {
        PeriodicSampler("how far the event store is behind", every: interval, logger: logger) { try await sample() }
    }

    /// Measures once and updates the gauge; returns the gap in milliseconds.
    @discardableResult
    public func sample() async throws -> Int64 {
        var newestEntry: Int64?
        for stream in streams {
            let connection = redis.connection
            if let progress = try await connection.groups(of: stream).first(where: { $0.name == group }),
               progress.lag == 0, progress.pending == 0
            {
                continue
            }
            let reply = try await connection.execute(["XREVRANGE", stream, "+", "-", "COUNT", "1"])
            guard let entry = reply.array?.first?.array, entry.count == 2, let fields = entry[1].array else { continue }
            var occurredAt: Int64?
            var index = 0
            while index + 1 < fields.count {
                if fields[index].string == StreamField.occurredAt, let text = fields[index + 1].string, let date = Timestamp.parse(text) {
                    occurredAt = Timestamp.milliseconds(date)
                }
                index += 2
            }
            if let occurredAt { newestEntry = max(newestEntry ?? occurredAt, occurredAt) }
        }
        let newestStored = try await database.connection.query(
            // The newest by position, through the primary key: max(occurred_at) would read every row.
            "SELECT (extract(epoch FROM occurred_at) * 1000)::bigint AS value FROM event_store.events ORDER BY position DESC LIMIT 1"
        ).first?.decodeIfPresent("value", as: Int64.self)
        let gap: Int64 =
            switch (newestEntry, newestStored) {
            case (nil, _): 0
            // Nothing stored yet: at least as far behind as the newest entry is old.
            case (let entry?, nil): max(0, Timestamp.milliseconds(Date()) - entry)
            case (let entry?, let stored?): max(0, entry - stored)
            }
        Gauge(label: ChorusMetric.eventStoreBehind.rawValue, factory: metrics).record(Double(gap) / 1000)
        return gap
    }
}
