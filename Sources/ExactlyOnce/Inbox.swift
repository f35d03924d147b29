import CheckoutDomain
import Foundation
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
            """
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

    static func record(_ envelope: EventEnvelope, outputs: [OutgoingEntry], schema: String, in database: isolated PostgresConnection) throws {
        try database.query(
            "INSERT INTO \(schema).inbox (event_id, event_type, outputs) VALUES ($1, $2, $3::jsonb)",
            [envelope.eventID, envelope.event.type.rawValue, try encode(outputs)])
    }

    private struct StoredEntry: Codable {
        var stream: String
        var fields: [[String]]
    }

    static func encode(_ outputs: [OutgoingEntry]) throws -> String {
        let stored = outputs.map { StoredEntry(stream: $0.stream, fields: $0.fields.map { [$0.name, $0.value] }) }
        return String(decoding: try JSONEncoder().encode(stored), as: UTF8.self)
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

    /// Every statement a worker's schema needs: the inbox, then the effect's own tables.
    public static func statements(for effect: some EventEffect) -> [String] {
        Inbox.migrations(schema: effect.schema) + effect.migrations
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
