import CheckoutDomain
import CoreMetrics
import Foundation
import Observability
import Postgres
import StreamRuntime

/// The record of every event a worker has processed, with the events it emitted for it.
enum Inbox {
    static func migrations(schema: String) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS \(schema).inbox (
                event_id     text PRIMARY KEY,
                event_type   text NOT NULL,
                outputs      jsonb NOT NULL,
                processed_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            // For the pruner, which deletes the oldest records first.
            "CREATE INDEX IF NOT EXISTS inbox_processed_at ON \(schema).inbox (processed_at)",
        ]
    }

    /// The stored outputs of those of `eventIDs` already processed.
    static func storedOutputs(of eventIDs: [String], schema: String, in database: isolated PostgresConnection) throws -> [String: [OutgoingEntry]] {
        let rows = try database.query(
            "SELECT event_id, outputs::text AS outputs FROM \(schema).inbox WHERE event_id = ANY($1::text[])",
            [PostgresTextArray(eventIDs)])
        var stored: [String: [OutgoingEntry]] = [:]
        for row in rows {
            stored[try row.decode("event_id")] = try decode(try row.decode("outputs"))
        }
        return stored
    }

    /// Records new events with the events each one emitted, in one statement.
    static func record(
        _ envelopes: [EventEnvelope], outputs: [[OutgoingEntry]], schema: String, in database: isolated PostgresConnection
    ) throws {
        guard !envelopes.isEmpty else { return }
        try database.query(
            """
            INSERT INTO \(schema).inbox (event_id, event_type, outputs)
            SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
            """,
            [PostgresTextArray(envelopes.map(\.eventID)), PostgresTextArray(envelopes.map(\.event.type.rawValue)),
             PostgresTextArray(outputs.map(encode))])
    }

    private struct StoredEntry: Codable {
        var stream: String
        var fields: [[String]]
    }

    /// `[{"stream":…,"fields":[[name,value],…]},…]`, written directly: it runs for every event a
    /// worker applies, and a general-purpose encoder costs more than the rest of the record.
    static func encode(_ outputs: [OutgoingEntry]) -> String {
        var json: [UInt8] = [UInt8(ascii: "[")]
        for (index, output) in outputs.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            json.append(contentsOf: #"{"stream":"#.utf8)
            appendString(output.stream, to: &json)
            json.append(contentsOf: #","fields":["#.utf8)
            for (fieldIndex, field) in output.fields.enumerated() {
                if fieldIndex > 0 { json.append(UInt8(ascii: ",")) }
                json.append(UInt8(ascii: "["))
                appendString(field.name, to: &json)
                json.append(UInt8(ascii: ","))
                appendString(field.value, to: &json)
                json.append(UInt8(ascii: "]"))
            }
            json.append(contentsOf: "]}".utf8)
        }
        json.append(UInt8(ascii: "]"))
        return String(decoding: json, as: UTF8.self)
    }

    /// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
    static func appendString(_ text: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): json.append(contentsOf: #"\\"#.utf8)
            case 0x0A: json.append(contentsOf: #"\n"#.utf8)
            case 0x0D: json.append(contentsOf: #"\r"#.utf8)
            case 0x09: json.append(contentsOf: #"\t"#.utf8)
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                json.append(contentsOf: #"\u00"#.utf8)
                json.append(hex[Int(byte >> 4)])
                json.append(hex[Int(byte & 0x0F)])
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }

    static func decode(_ text: String) throws -> [OutgoingEntry] {
        try JSONDecoder().decode([StoredEntry].self, from: Data(text.utf8)).map { stored in
            OutgoingEntry(stream: stored.stream, fields: stored.fields.compactMap { pair in
                pair.count == 2 ? (name: pair[0], value: pair[1]) : nil
            })
        }
    }
}

/// Creates a service's schema and tables, once even when replicas start together.
///
/// A set of statements that ran to the end is recorded (by its digest) in the schema's
/// `schema_migrations` table, and is not run again. So a service whose role may not change its
/// schema (the event store's, which provisioning migrates as the schema's owner) starts with
/// nothing to do, and a role without `CREATE` on the database finds its schema made for it.
public enum Migrations {
    /// Runs `statements` in `schema` unless they ran before.
    public static func run(schema: String, statements: [String], on database: PostgresConnection) async throws {
        // A digest only tells versions of the statements apart; md5 is enough for that.
        let digestSource = ([schema] + statements).joined(separator: "\n;\n")
        try await database.withRetryingTransaction { database in
            // Concurrent CREATE … IF NOT EXISTS can still collide; one lock serialises them.
            try database.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["chorus-migrations"])
            let recorded = try database.query(
                "SELECT to_regclass($1) IS NOT NULL AS present", ["\(schema).schema_migrations"]
            ).first?.decode("present", as: Bool.self) ?? false
            if recorded {
                let applied = try database.query(
                    "SELECT 1 FROM \(schema).schema_migrations WHERE digest = md5($1)", [digestSource])
                if !applied.isEmpty { return }
            }
            let schemaExists = try !database.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]).isEmpty
            if !schemaExists { try database.query("CREATE SCHEMA \(schema)") }
            for statement in statements + recordTable(schema: schema) { try database.query(statement) }
            try database.query(
                "INSERT INTO \(schema).schema_migrations (digest) VALUES (md5($1)) ON CONFLICT (digest) DO NOTHING", [digestSource])
        }
    }

    /// Every statement a worker's schema needs: the inbox (unless its own table is the inbox),
    /// then the effect's own tables.
    public static func statements(for effect: some EventEffect) -> [String] {
        (effect.inbox == .table ? Inbox.migrations(schema: effect.schema) : []) + effect.migrations
    }

    static func recordTable(schema: String) -> [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS \(schema).schema_migrations (
                digest     text PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        ]
    }
}

/// Deletes inbox records once they are older than the retention, so that inbox tables stay
/// flat under constant load.
///
/// A record is needed while its event can still be delivered again: while the entry is pending
/// (a crash between commit and acknowledgement leaves it so until it is claimed, within
/// minutes), and when an operator republishes a dead letter. Entries are never trimmed from a
/// stream while pending, and `chorus dlq retry` refuses a letter older than the retention, so a
/// retention of days is far longer than any redelivery window.
public struct InboxPruner: Sendable {
    let schema: String
    let group: String
    /// Records older than this go.
    public let retention: Duration
    let database: PostgresConnection
    let metrics: any MetricsFactory
    /// Rows deleted per statement, so that one prune never holds locks for long.
    static let chunk = 5_000

    public init(effect: some EventEffect, retention: Duration, database: PostgresConnection, metrics: any MetricsFactory) {
        self.schema = effect.schema
        self.group = effect.worker.groupName
        self.retention = retention
        self.database = database
        self.metrics = metrics
        // The series exists from the start, at 0, so that dashboards show 0 rather than no data.
        Counter(label: ChorusMetric.inboxPrunedRecords.rawValue, dimensions: [("group", group)], factory: metrics).increment(by: 0)
    }

    /// Deletes every expired record; returns how many went.
    @discardableResult
    public func pruneOnce() async throws -> Int {
        var total = 0
        while true {
            let deleted = try await database.query(
                """
                DELETE FROM \(schema).inbox WHERE event_id IN (
                    SELECT event_id FROM \(schema).inbox WHERE processed_at < now() - make_interval(secs => $1::bigint)
                    ORDER BY processed_at LIMIT \(Self.chunk)
                )
                """,
                [retention.components.seconds]).affectedRows
            total += deleted
            if deleted < Self.chunk { break }
        }
        if total > 0 {
            Counter(label: ChorusMetric.inboxPrunedRecords.rawValue, dimensions: [("group", group)], factory: metrics).increment(by: total)
        }
        return total
    }
}
