import CheckoutDomain
import EventStore
import Foundation
import Postgres

/// Rebuilds every read model from the event store into fresh tables, then puts them in place of
/// the live ones, while the system keeps running.
///
/// 1. **Fill.** The store is read in position order, a page at a time, and each page is applied
///    to `cqrs_projection.rebuild_*` by the projection's own effect (``ProjectionEffect``), in a
///    fixed number of statements per page. The next page is read and decoded on the store's
///    connection while the current one is written on the other.
/// 2. **Switch**, in one transaction that blocks the projection's consumers (not its readers):
///    - the store's recent positions are read again, and any event a transaction committed
///      below a position already read is applied;
///    - every event the projection has recorded in its inbox lately must be in the rebuilt
///      tables: the switch waits for the event store to have stored it;
///    - every event the rebuilt tables hold that the inbox lacks is recorded there, so that the
///      projection skips it when it arrives;
///    - the live tables are dropped and the rebuilt ones renamed in their place.
///
/// The projection's consumers wait for the switch, then go on from the rebuilt tables; events
/// the store has not stored yet reach them as usual. Nothing is applied twice, and nothing the
/// projection applied is lost.
///
/// Two connections, two roles: the store is read as a role that may read it (the operator's),
/// the read models are written as their owner (the projection's role), which may not read the
/// store.
public struct ReadModelRebuild: Sendable {
    let store: EventStoreScan
    let storeConnection: PostgresConnection
    let readModels: PostgresConnection
    /// Events per page of the fill.
    public var pageSize: Int
    /// How many positions below the end of the fill the switch reads again: enough for any
    /// append that was still in flight when the fill read past it, and for a projection running
    /// behind the store.
    public var recheckedPositions: Int64 = 50_000
    /// How far back the switch checks that the event store has stored what the projection
    /// applied. The event store is assumed to be less far behind the projection than this.
    public var projectionWindow: Duration = .seconds(60)
    /// How long the switch waits for the event store to store what the projection has applied.
    public var switchTimeout: Duration = .seconds(60)
    /// How long the switch waits for the projection's current batches to end.
    public var lockTimeout: Duration = .seconds(30)

    /// - Parameters:
    ///   - store: a connection whose role may read `event_store` (the operator's).
    ///   - readModels: a connection as the role that owns `cqrs_projection` (the projection's).
    ///   - pageSize: events per page of the fill.
    public init(store: PostgresConnection, readModels: PostgresConnection, pageSize: Int = 20_000) {
        self.store = EventStoreScan(database: store)
        self.storeConnection = store
        self.readModels = readModels
        self.pageSize = pageSize
    }

    /// How far the rebuild is.
    public struct Progress: Sendable {
        /// Events applied to the rebuilt tables so far.
        public var applied: Int
        /// The store's last position when the rebuild started.
        public var head: Int64
        /// The position the fill has reached.
        public var position: Int64
        /// Time since the start.
        public var elapsed: Duration
    }

    /// What a finished rebuild did.
    public struct Report: Sendable, Encodable {
        /// Events applied to the rebuilt tables.
        public var events: Int
        /// Events the fill applied per second.
        public var eventsPerSecond: Int
        /// The whole rebuild, switch included.
        public var seconds: Double
        /// How long the projection's consumers were held for the switch.
        public var switchMilliseconds: Int
        /// Events applied during the switch: committed below a position already read, or
        /// stored since the fill ended.
        public var appliedAtSwitch: Int
        /// Events recorded in the projection's inbox at the switch: stored, and rebuilt, before
        /// the projection had applied them.
        public var recordedInInbox: Int
        /// Rows of each rebuilt table, by name.
        public var rows: [String: Int64]

        enum CodingKeys: String, CodingKey {
            case events, seconds, rows
            case eventsPerSecond = "events_per_second"
            case switchMilliseconds = "switch_ms"
            case appliedAtSwitch = "applied_at_switch"
            case recordedInInbox = "recorded_in_inbox"
        }
    }

    /// Rebuilds the read models and switches to them.
    /// - Parameter progress: called after each page of the fill.
    public func run(progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Report {
        let started = ContinuousClock.now
        let effect = ProjectionEffect(tables: .rebuild)
        try await prepareTables(effect)
        let head = try await store.head()

        // The fill: pages in position order, the next one read while the current one is written.
        var applied = 0
        var position: Int64 = 0
        // The positions applied lately, which the switch checks again.
        var recent = RecentPositions(span: recheckedPositions)
        let pageSize = self.pageSize
        var page = try await store.events(after: 0, limit: pageSize)
        while !page.isEmpty {
            let reachedEnd = page.count < pageSize
            let after = page.last?.position ?? position
            async let nextPage = reachedEnd ? [] : store.events(after: after, limit: pageSize)
            let envelopes = page.map(\.envelope)
            try await readModels.withTransaction { database in
                _ = try effect.apply(batch: envelopes, in: database)
            }
            recent.add(page.map(\.position))
            applied += page.count
            position = after
            progress(Progress(applied: applied, head: head, position: position, elapsed: ContinuousClock.now - started))
            page = try await nextPage
        }
        let filled = ContinuousClock.now

        let switchStarted = ContinuousClock.now
        let outcome = try await switchTables(effect, recent: recent)
        let finished = ContinuousClock.now
        let fillSeconds = Self.seconds(filled - started)
        return Report(
            events: applied + outcome.appliedAtSwitch,
            eventsPerSecond: fillSeconds > 0 ? Int(Double(applied) / fillSeconds) : applied,
            seconds: Self.seconds(finished - started),
            switchMilliseconds: Int(Self.seconds(finished - switchStarted) * 1000),
            appliedAtSwitch: outcome.appliedAtSwitch,
            recordedInInbox: outcome.recordedInInbox,
            rows: outcome.rows)
    }

    /// Drops what an interrupted rebuild left, and creates empty rebuild tables.
    private func prepareTables(_ effect: ProjectionEffect) async throws {
        let tables = ReadModelTables.names.map { ReadModelTables.rebuild.qualified($0) }
        try await readModels.withTransaction { database in
            // Identifiers from ReadModelTables, a fixed list: DDL takes no parameters.
            try database.query("DROP TABLE IF EXISTS \(tables.joined(separator: ", "))")
            for statement in ProjectionEffect.migrations(of: .rebuild) { try database.query(statement) }
        }
    }

    private struct SwitchOutcome {
        var appliedAtSwitch: Int
        var recordedInInbox: Int
        var rows: [String: Int64]
    }

    /// The switch, in one transaction on the read models' connection, which waits on the store's
    /// connection between statements.
    private func switchTables(_ effect: ProjectionEffect, recent: RecentPositions) async throws -> SwitchOutcome {
        let live = ReadModelTables.names.map { ReadModelTables.live.qualified($0) }
        let inbox = "\(ReadModelTables.schema).inbox"
        let recheckFrom = recent.from
        // Every event the projection applied lately must be stored (and so rebuilt, below)
        // before the switch. Checked first without holding anything, as the operator, who reads
        // both schemas; then, under the lock, only for what the projection applied since.
        let deadline = ContinuousClock.now + switchTimeout
        var checkedSince: String
        while true {
            let check = try await storeConnection.query(
                """
                SELECT now()::text AS checked_at, array_remove(array_agg(i.event_id), NULL)::text AS unstored,
                       count(i.event_id) AS total
                FROM (SELECT 1) AS one LEFT JOIN \(inbox) i
                  ON i.processed_at > now() - make_interval(secs => $1::bigint)
                 AND NOT EXISTS (SELECT 1 FROM event_store.events e WHERE e.event_id = i.event_id)
                """,
                [projectionWindow.components.seconds])
            let total: Int = try check.first?.decode("total") ?? 0
            checkedSince = try check.first?.decode("checked_at") ?? ""
            if total == 0 { break }
            guard ContinuousClock.now < deadline else {
                let sample = try check.first?.decode("unstored", as: String.self) ?? ""
                throw ReadModelRebuildError.storeBehindProjection(
                    eventIDs: sample.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").prefix(5).map(String.init),
                    total: total)
            }
            try await Task.sleep(for: .milliseconds(100))
        }

        try await readModels.beginTransaction()
        do {
            try await readModels.run { database in
                try database.query("SET LOCAL synchronous_commit = on")
                try database.query("SELECT set_config('lock_timeout', $1, true)", ["\(lockTimeout.components.seconds)s"])
                // A projection batch reads the inbox first: locking it out waits for the batches
                // under way and holds the next ones before they touch a read model. Readers of
                // the read models never read the inbox, and go on until the tables are swapped.
                try database.query("LOCK TABLE \(inbox) IN ACCESS EXCLUSIVE MODE")
            }
            while true {
                let appliedSince: [String] = try await readModels.query(
                    "SELECT event_id FROM \(inbox) WHERE processed_at >= $1::timestamptz - interval '10 seconds'", [checkedSince]
                ).map { try $0.decode("event_id") }
                let stored = try await store.positions(of: appliedSince)
                let unstored = appliedSince.filter { stored[$0] == nil }
                if unstored.isEmpty { break }
                guard ContinuousClock.now < deadline else {
                    throw ReadModelRebuildError.storeBehindProjection(eventIDs: Array(unstored.prefix(5)), total: unstored.count)
                }
                try await Task.sleep(for: .milliseconds(100))
            }

            // Catch up: what was stored since the fill ended, and what committed below a
            // position the fill had read past.
            var rebuilt = recent.positions
            let keys = try await store.keys(after: recheckFrom)
            let missing = keys.map(\.position).filter { !rebuilt.contains($0) }
            var appliedAtSwitch = 0
            for start in stride(from: 0, to: missing.count, by: pageSize) {
                let events = try await store.events(at: Array(missing[start..<min(start + pageSize, missing.count)]))
                let envelopes = events.map(\.envelope)
                try await readModels.run { database in _ = try effect.apply(batch: envelopes, in: database) }
                for event in events { rebuilt.insert(event.position) }
                appliedAtSwitch += events.count
            }

            // What the rebuilt tables hold and the inbox lacks: the projection must skip it when
            // it arrives.
            let handled = Set(Worker.cqrsProjection.handles.map(\.rawValue))
            let rebuiltKeys = keys.filter { rebuilt.contains($0.position) && handled.contains($0.type) }
            let recorded = try await readModels.run { database in
                try database.query(
                    """
                    INSERT INTO \(inbox) (event_id, event_type, outputs)
                    SELECT id, type, '[]' FROM unnest($1::text[], $2::text[]) AS k(id, type)
                    ON CONFLICT (event_id) DO NOTHING
                    """,
                    [PostgresTextArray(rebuiltKeys.map(\.eventID)), PostgresTextArray(rebuiltKeys.map(\.type))]
                ).affectedRows
            }

            let rows = try await readModels.run { database in
                var rows: [String: Int64] = [:]
                for name in ReadModelTables.names {
                    rows[name] = try database.query("SELECT count(*) AS rows FROM \(ReadModelTables.rebuild.qualified(name))")
                        .first?.decode("rows") ?? 0
                }
                // Identifiers from ReadModelTables, a fixed list: DDL takes no parameters.
                try database.query("DROP TABLE \(live.joined(separator: ", "))")
                for name in ReadModelTables.names {
                    try database.query("ALTER TABLE \(ReadModelTables.rebuild.qualified(name)) RENAME TO \(name)")
                    try database.query(
                        "ALTER INDEX \(ReadModelTables.schema).\(ReadModelTables.rebuild.prefix)\(name)_pkey RENAME TO \(name)_pkey")
                }
                return rows
            }
            try await readModels.commitTransaction()
            return SwitchOutcome(appliedAtSwitch: appliedAtSwitch, recordedInInbox: recorded, rows: rows)
        } catch {
            await readModels.rollbackTransaction()
            throw error
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// The positions the fill applied last, down to `span` below the last one.
struct RecentPositions {
    let span: Int64
    private(set) var positions = Set<Int64>()
    private var pages: [[Int64]] = []

    init(span: Int64) {
        self.span = span
    }

    /// Where the positions kept start: everything at or below was read long after it committed.
    var from: Int64 { max(0, (pages.last?.last ?? 0) - span) }

    /// Adds a page, in position order, and forgets the pages wholly below the span.
    mutating func add(_ page: [Int64]) {
        guard !page.isEmpty else { return }
        pages.append(page)
        positions.formUnion(page)
        while let oldest = pages.first, let top = oldest.last, top <= from {
            positions.subtract(oldest)
            pages.removeFirst()
        }
    }
}

/// Why a rebuild could not switch to its tables. The live tables are left as they were.
public enum ReadModelRebuildError: Error, CustomStringConvertible, Sendable {
    /// The projection has applied events the event store has still not stored.
    case storeBehindProjection(eventIDs: [String], total: Int)

    public var description: String {
        switch self {
        case .storeBehindProjection(let eventIDs, let total):
            "the projection has applied \(total) event(s) the event store has not stored (such as \(eventIDs.joined(separator: ", "))); is the event store running? The live read models are unchanged."
        }
    }
}
