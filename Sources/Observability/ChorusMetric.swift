/// Every metric a Chorus process exports, by its Prometheus name.
///
/// This catalogue is the contract the Grafana dashboards are checked against: a dashboard may
/// name only series listed here, and a test scrapes a running system to prove each one exists.
/// Names follow Prometheus conventions: base units (`_seconds`), `_total` on counters, and no
/// label whose values grow with traffic (no checkout or event ids).
public enum ChorusMetric: String, CaseIterable, Sendable {
    // Per consumer group.
    /// Entries a consumer group handled, by `group`, event `type` and `outcome`
    /// (`applied`, `duplicate`, `ignored`, `dead_lettered`, `failed`).
    case consumerEvents = "chorus_consumer_events_total"
    /// Time to handle one batch (effects, inbox and outputs in one transaction), by `group`.
    case consumerHandlerDuration = "chorus_consumer_handler_duration_seconds"
    /// Now minus the event's `occurred_at` when the group handles it, by `group`.
    case consumerEventAge = "chorus_consumer_event_age_seconds"
    /// Entries delivered again (own pending entries after a restart or a failed batch), by `group`.
    case consumerRedeliveries = "chorus_consumer_redeliveries_total"
    /// Entries claimed from another, idle consumer with `XAUTOCLAIM`, by `group`.
    case consumerClaims = "chorus_consumer_claims_total"
    /// Entries the group sent to the dead-letter stream, by `group`.
    case consumerDeadLetters = "chorus_consumer_dead_letters_total"
    /// Entries not yet delivered to the group, from `XINFO GROUPS`, by `stream` and `group`.
    /// Counted when Redis cannot tell it (see `RedisConnection.groups(of:)`); NaN only when that fails too.
    case consumerGroupLag = "chorus_consumer_group_lag"
    /// Entries delivered but not acknowledged, from `XINFO GROUPS`, by `stream` and `group`.
    case consumerGroupPending = "chorus_consumer_group_pending"
    /// Age of the oldest pending entry, 0 when none is pending, by `stream` and `group`.
    case consumerOldestPendingAge = "chorus_consumer_oldest_pending_age_seconds"

    // Publishers.
    /// Events appended to a stream, by `producer` and event `type`.
    case eventsPublished = "chorus_events_published_total"

    // Saga outcomes, counted by the projection as it first applies each event.
    /// Checkouts accepted (`CheckoutRequested`).
    case checkoutsStarted = "chorus_checkouts_started_total"
    /// Checkouts that completed.
    case checkoutsCompleted = "chorus_checkouts_completed_total"
    /// Checkouts that failed, by `reason`.
    case checkoutsFailed = "chorus_checkouts_failed_total"
    /// From the request's `occurred_at` to the terminal event's, by `outcome` (`completed`, `failed`).
    case checkoutDuration = "chorus_checkout_duration_seconds"

    // Event store.
    /// Events appended to the event store (first time only).
    case eventStoreAppends = "chorus_event_store_appends_total"
    /// Events appended per batch transaction.
    case eventStoreAppendBatchSize = "chorus_event_store_append_batch_size"
    /// Time of one append transaction.
    case eventStoreAppendDuration = "chorus_event_store_append_duration_seconds"
    /// Newest stream entry's time minus the newest stored event's, over all streams.
    case eventStoreBehind = "chorus_event_store_behind_seconds"

    // Retention.
    /// Entries trimmed from a stream once every group was done with them (or, for the
    /// dead-letter stream, once they were older than its retention), by `stream`.
    case streamTrimmedEntries = "chorus_stream_trimmed_entries_total"
    /// Consumer groups of a stream that no longer hold its entries back, because all their
    /// consumers have been idle for longer than `CHORUS_ABANDONED_GROUP_MS`, by `stream`.
    case streamAbandonedGroups = "chorus_stream_abandoned_groups"
    /// Inbox records deleted once older than `CHORUS_INBOX_RETENTION_MINUTES`, by `group`.
    case inboxPrunedRecords = "chorus_inbox_pruned_records_total"

    // HTTP.
    /// Requests a route matched, by `route` (the pattern, not the path), `method` and `status`.
    case httpRequests = "chorus_http_requests_total"
    /// Request duration, by `route` and `method`.
    case httpRequestDuration = "chorus_http_request_duration_seconds"

    /// What kind of Prometheus metric this is.
    public var kind: Kind {
        switch self {
        case .consumerEvents, .consumerRedeliveries, .consumerClaims, .consumerDeadLetters, .eventsPublished,
             .checkoutsStarted, .checkoutsCompleted, .checkoutsFailed, .eventStoreAppends, .httpRequests,
             .streamTrimmedEntries, .inboxPrunedRecords:
            .counter
        case .consumerGroupLag, .consumerGroupPending, .consumerOldestPendingAge, .eventStoreBehind, .streamAbandonedGroups:
            .gauge
        case .consumerHandlerDuration, .consumerEventAge, .checkoutDuration, .eventStoreAppendBatchSize,
             .eventStoreAppendDuration, .httpRequestDuration:
            .histogram
        }
    }

    /// Prometheus metric types.
    public enum Kind: String, Sendable {
        case counter, gauge, histogram
    }

    /// The series names a scrape shows for this metric: a histogram has `_bucket`, `_sum` and `_count`.
    public var seriesNames: [String] {
        switch kind {
        case .counter, .gauge: [rawValue]
        case .histogram: [rawValue + "_bucket", rawValue + "_sum", rawValue + "_count"]
        }
    }

    /// Every series name any Chorus process can export.
    public static var allSeriesNames: Set<String> { Set(allCases.flatMap(\.seriesNames)) }
}
