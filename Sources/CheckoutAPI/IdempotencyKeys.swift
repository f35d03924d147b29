import CheckoutDomain
import Foundation
import HTTPSupport
import Identity
import Postgres
import StreamRuntime
import Synchronization

/// Requests sent with an `Idempotency-Key`: the first one publishes its event, a repeat with
/// the same body answers the same resource (publishing the stored event again if the first
/// attempt could not), and a repeat with another body is refused with 422.
///
/// The event is stored with its key before it is published, so a request answered 503 can be
/// retried with the same key and starts exactly one saga. That it was published is recorded
/// afterwards, off the request's path, by ``PublishedMarks``: until then a repeat publishes the
/// stored event again, which every consumer recognises by its event id.
struct IdempotencyKeys: Sendable {
    let database: PostgresConnectionPool
    let publishedMarks: PublishedMarks
    let publish: @Sendable (OutgoingEntry) async throws -> Void

    /// The key of a request, checked, in the caller's own space: two callers who happen to
    /// choose the same key never meet (one would otherwise be refused, or answered with the
    /// other's resource). `nil` when the request has none.
    static func key(of request: String?, caller: Caller) throws -> String? {
        guard let key = request else { return nil }
        guard (1...255).contains(key.utf8.count) else {
            throw Problem.badRequest("Idempotency-Key must be 1 to 255 characters", slug: "invalid-idempotency-key")
        }
        // A key is echoed in logs and stored; control characters (a newline, an escape) have no
        // business in it.
        guard !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Problem.badRequest("Idempotency-Key must not contain control characters", slug: "invalid-idempotency-key")
        }
        return caller.actor + " " + key
    }

    /// Publishes what `make` builds, once per key.
    /// - Parameters:
    ///   - fingerprint: identifies the request's body; the same key with another fingerprint is refused.
    ///   - make: validates the request and builds the resource's id and its event; not called for a
    ///     repeat. It runs on the database connection's thread, so that looking the key up, building
    ///     the event and storing it cost one hop there.
    /// - Returns: the resource's id (the first request's, for a repeat) and, for a repeat, the
    ///   outcome its terminal event recorded, if it has arrived.
    func once(
        key: String,
        fingerprint: String,
        make: @escaping @Sendable (isolated PostgresConnection) throws -> (resourceID: String, entry: OutgoingEntry)
    ) async throws -> (resourceID: String, outcome: Outcome?) {
        // Safe to run twice: a second run finds what the first one stored.
        let stored = try await database.withConnection(retryingOnceIfLost: { connection in try await connection.run { database in
            if let first = try Self.stored(key: key, in: database) { return first }
            let (resourceID, entry) = try make(database)
            let inserted = try database.query(
                """
                INSERT INTO checkout_api.idempotency_keys (idempotency_key, fingerprint, resource_id, stream, event_fields)
                VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (idempotency_key) DO NOTHING
                """,
                [key, fingerprint, resourceID, entry.stream, try Self.encode(entry.fields)])
            // A concurrent request with the same key stored first: answer as a repeat.
            if inserted.affectedRows == 0, let first = try Self.stored(key: key, in: database) { return first }
            return StoredRequest(fingerprint: fingerprint, resourceID: resourceID, entry: entry, published: false, outcome: nil)
        } })
        guard stored.fingerprint == fingerprint else {
            throw Problem.unprocessable("this Idempotency-Key was used with another request body", slug: "idempotency-key-reused")
        }
        if !stored.published && !publishedMarks.contains(key) {
            try await publish(stored.entry)
            publishedMarks.add(key)
        }
        return (stored.resourceID, stored.outcome)
    }

    /// How the resource's saga ended: `completed` or `failed`, with the failure's reason.
    struct Outcome: Sendable, Hashable {
        var status: String
        var failureReason: String?
    }

    /// A request stored under its key, with the event it publishes.
    private struct StoredRequest: Sendable {
        var fingerprint: String
        var resourceID: String
        var entry: OutgoingEntry
        var published: Bool
        var outcome: Outcome?
    }

    private static func stored(key: String, in database: isolated PostgresConnection) throws -> StoredRequest? {
        guard let row = try database.query(
            """
            SELECT fingerprint, resource_id, stream, event_fields::text AS event_fields, published, outcome, failure_reason
            FROM checkout_api.idempotency_keys WHERE idempotency_key = $1
            """,
            [key]).first
        else { return nil }
        return StoredRequest(
            fingerprint: try row.decode("fingerprint"), resourceID: try row.decode("resource_id"),
            entry: OutgoingEntry(stream: try row.decode("stream"), fields: try decode(try row.decode("event_fields"))),
            published: try row.decode("published"),
            outcome: try row.decodeIfPresent("outcome", as: String.self).map { status in
                Outcome(status: status, failureReason: try row.decodeIfPresent("failure_reason", as: String.self))
            })
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

/// Keys whose event is on its stream, waiting to be marked as published in one statement.
///
/// Marking each key as its request ends would cost every checkout a second commit. A mark that
/// is lost (the process stops first) only means that a repeat of that request publishes the
/// stored event once more, with the same event id, which every consumer skips.
///
/// Until its mark is written, a key is also remembered here, so that a repeat of the request
/// that reaches this process in between is not published again.
final class PublishedMarks: Sendable {
    private let pending = Mutex<Set<String>>([])

    init() {}

    func add(_ key: String) {
        _ = pending.withLock { $0.insert(key) }
    }

    /// Whether `key` was published by this process and is waiting for its mark.
    func contains(_ key: String) -> Bool {
        pending.withLock { $0.contains(key) }
    }

    /// Marks every key added so far; returns how many.
    @discardableResult
    func flush(database: PostgresConnectionPool) async throws -> Int {
        let keys = pending.withLock { Array($0) }
        guard !keys.isEmpty else { return 0 }
        try await database.connection.query(
            "UPDATE checkout_api.idempotency_keys SET published = true WHERE idempotency_key = ANY($1::text[])",
            [PostgresTextArray(keys)])
        // Forgotten only once marked: a repeat in between still finds them here.
        pending.withLock { $0.subtract(keys) }
        return keys.count
    }
}
