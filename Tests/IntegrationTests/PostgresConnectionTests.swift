import Foundation
import Postgres
import Testing
import TestSupport

/// The libpq wrapper against a real PostgreSQL.
@Suite("PostgreSQL connection")
struct PostgresConnectionTests {
    static func connection() async throws -> PostgresConnection {
        let servers = try await TestServers.shared()
        let database = PostgresConnection(connectionString: try await servers.makeDatabase())
        try await database.query("CREATE TABLE things (id text PRIMARY KEY, amount bigint NOT NULL, note text)")
        return database
    }

    @Test("data is bound as parameters: text that looks like SQL stays text")
    func parametersAreData() async throws {
        let database = try await Self.connection()
        defer { Task { await database.close() } }
        let hostile = "x'); DROP TABLE things; --"
        try await database.query("INSERT INTO things (id, amount, note) VALUES ($1, $2, $3)", [hostile, Int64(5), Optional<String>.none])
        let row = try #require(try await database.query("SELECT id, amount, note FROM things").first)
        #expect(try row.decode("id", as: String.self) == hostile)
        #expect(try row.decode("amount", as: Int64.self) == 5)
        #expect(try row.decodeIfPresent("note", as: String.self) == nil)
    }

    @Test("text arrays bind as one parameter, whatever their elements hold")
    func textArrays() async throws {
        let database = try await Self.connection()
        defer { Task { await database.close() } }
        let elements = ["plain", "with \"quotes\"", "back\\slash", "comma,brace}", ""]
        let rows = try await database.query("SELECT unnest($1::text[]) AS element", [PostgresTextArray(elements)])
        #expect(try rows.map { try $0.decode("element", as: String.self) } == elements)
    }

    @Test("a failed statement is a typed error with its SQLSTATE and statement, and no data")
    func typedErrors() async throws {
        let database = try await Self.connection()
        defer { Task { await database.close() } }
        try await database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["a", 1])
        let error = try await #require(throws: PostgresError.self) {
            try await database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["a", 2])
        }
        #expect(error.isUniqueViolation)
        #expect(error.statement?.hasPrefix("INSERT INTO things") == true)
        let decoding = try await #require(throws: PostgresError.self) {
            try await database.query("SELECT 'x' AS amount").first?.decode("amount", as: Int64.self)
        }
        #expect(decoding.code == .decodingFailed)
        #expect(decoding.message.contains("amount"))
    }

    /// A status column, as the services' tables hold them.
    enum Status: String { case open, closed }

    @Test("a column decodes as a raw-value type; a value outside it is a decoding error naming the column")
    func rawValueColumns() async throws {
        let database = try await Self.connection()
        defer { Task { await database.close() } }
        #expect(try await database.query("SELECT 'closed' AS status").first?.decode("status", as: Status.self) == .closed)
        let error = try await #require(throws: PostgresError.self) {
            try await database.query("SELECT 'ajar' AS status").first?.decode("status", as: Status.self)
        }
        #expect(error.code == .decodingFailed)
        #expect(error.message.contains("status") && error.message.contains("ajar"))
    }

    @Test("a transaction commits all or nothing; a savepoint undoes only its own part")
    func transactionsAndSavepoints() async throws {
        let database = try await Self.connection()
        defer { Task { await database.close() } }
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await database.withTransaction { database in
                try database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["rolled-back", 1])
                throw Abort()
            }
        }
        try await database.withTransaction { database in
            try database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["kept", 1])
            _ = try? database.withSavepoint {
                try database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["undone", 1])
                try database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["kept", 2])
            }
            try database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["after", 3])
        }
        let ids = try await database.query("SELECT id FROM things ORDER BY id").map { try $0.decode("id", as: String.self) }
        #expect(ids == ["after", "kept"])
    }

    @Test("a connection the server terminated is reset before the next statement")
    func reconnects() async throws {
        let database = try await Self.connection()
        defer { Task { await database.close() } }
        let pid = try #require(try await database.query("SELECT pg_backend_pid() AS pid").first?.decode("pid", as: Int64.self))
        let other = PostgresConnection(connectionString: database.connectionString)
        defer { Task { await other.close() } }
        try await other.query("SELECT pg_terminate_backend($1::integer)", [pid])
        _ = try? await database.query("SELECT 1")
        #expect(try await database.query("SELECT 1 AS one").first?.decode("one", as: Int64.self) == 1)
    }

    @Test("a connection lost inside a transaction fails the transaction; it never commits on a fresh session")
    func connectionLostInsideATransaction() async throws {
        let database = try await Self.connection()
        defer { Task { await database.close() } }
        let error = try await #require(throws: PostgresError.self) {
            try await database.withTransaction { database in
                try database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["before", 1])
                _ = try? database.query("SELECT pg_terminate_backend(pg_backend_pid())")
                // Swallowed, as a savepoint swallows an event's failure.
                _ = try? database.query("SELECT 1")
                try database.query("INSERT INTO things (id, amount) VALUES ($1, $2)", ["after", 2])
            }
        }
        #expect(error.isConnectionProblem)
        #expect(try await database.integerCount() == 0, "nothing was committed")
    }
}

extension PostgresConnection {
    func integerCount() throws -> Int64 {
        try query("SELECT count(*) AS n FROM things").first?.decode("n", as: Int64.self) ?? -1
    }
}

