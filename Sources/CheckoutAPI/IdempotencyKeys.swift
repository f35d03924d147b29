import CheckoutDomain
import Foundation
import HTTPSupport
import Postgres
import StreamRuntime

/// Requests sent with an `Idempotency-Key`: the first one publishes its event, a repeat with
/// the same body answers the same resource (publishing the stored event again if the first
/// attempt could not), and a repeat with another body is refused with 422.
///
/// The event is stored with its key before it is published, so a request answered 503 can be
/// retried with the same key and starts exactly one saga.
struct IdempotencyKeys: Sendable {
    let database: PostgresConnectionPool
    let publish: @Sendable (OutgoingEntry) async throws -> Void

    /// The key of a request, checked; `nil` when the request has none.
    static func key(of request: String?) throws -> String? {
        guard let key = request else { return nil }
        guard (1...255).contains(key.utf8.count) else {
            throw Problem.badRequest("Idempotency-Key must be 1 to 255 characters", slug: "invalid-idempotency-key")
        }
        return key
    }

    /// Publishes what `make` builds, once per key.
    /// - Parameters:
    ///   - fingerprint: identifies the request's body; the same key with another fingerprint is refused.
    ///   - make: validates the request and builds the resource's id and its event; not called for a repeat.
    /// - Returns: the resource's id (the first request's, for a repeat).
    func once(
        key: String,
        fingerprint: String,
        make: () async throws -> (resourceID: String, entry: OutgoingEntry)
    ) async throws -> String {
        if let resourceID = try await replay(key: key, fingerprint: fingerprint) { return resourceID }
        let (resourceID, entry) = try await make()
        let stored = try await database.connection.query(
            """
            INSERT INTO checkout_api.idempotency_keys (idempotency_key, fingerprint, resource_id, stream, event_fields)
            VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (idempotency_key) DO NOTHING
            """,
            [key, fingerprint, resourceID, entry.stream, try Self.encode(entry.fields)])
        // A concurrent request with the same key stored first: answer as a repeat.
        if stored.affectedRows == 0, let first = try await replay(key: key, fingerprint: fingerprint) { return first }
        try await publish(entry)
        try await markPublished(key)
        return resourceID
    }

    private func replay(key: String, fingerprint: String) async throws -> String? {
        guard let row = try await database.connection.query(
            """
            SELECT fingerprint, resource_id, stream, event_fields::text AS event_fields, published
            FROM checkout_api.idempotency_keys WHERE idempotency_key = $1
            """,
            [key]).first
        else { return nil }
        guard try row.decode("fingerprint", as: String.self) == fingerprint else {
            throw Problem.unprocessable("this Idempotency-Key was used with another request body", slug: "idempotency-key-reused")
        }
        if try !row.decode("published", as: Bool.self) {
            try await publish(OutgoingEntry(stream: try row.decode("stream"), fields: try Self.decode(try row.decode("event_fields"))))
            try await markPublished(key)
        }
        return try row.decode("resource_id", as: String.self)
    }

    private func markPublished(_ key: String) async throws {
        try await database.connection.query("UPDATE checkout_api.idempotency_keys SET published = true WHERE idempotency_key = $1", [key])
    }

    static func encode(_ fields: [(name: String, value: String)]) throws -> String {
        String(decoding: try JSONEncoder().encode(fields.map { [$0.name, $0.value] }), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> [(name: String, value: String)] {
        try JSONDecoder().decode([[String]].self, from: Data(text.utf8)).compactMap { pair in
            pair.count == 2 ? (name: pair[0], value: pair[1]) : nil
        }
    }
}
