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
public enum Migrations {
    public static func run(schema: String, statements: [String], on database: PostgresConnection) async throws {
        let all = ["CREATE SCHEMA IF NOT EXISTS \(schema)"] + statements
        try await database.withRetryingTransaction { database in
            // Concurrent CREATE … IF NOT EXISTS can still collide; one lock serialises them.
            try database.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["chorus-migrations"])
            for statement in all { try database.query(statement) }
        }
    }
}
