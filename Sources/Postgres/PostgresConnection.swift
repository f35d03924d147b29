import CLibPQ
import DedicatedThread
import Foundation

/// One connection to PostgreSQL through libpq, owned by an actor that runs on a thread of its own.
///
/// Every statement travels with its data as parameters: SQL text never holds data. A statement
/// with parameters is prepared once per session (`PQprepare`) and then only executed
/// (`PQexecPrepared`), so the server parses and plans the hot path's statements once, not on
/// every call. libpq blocks, so the actor's executor is a ``DedicatedThreadExecutor``.
/// A connection found broken is reset before the next statement.
public actor PostgresConnection {
    /// The libpq connection string or `postgresql://` URL.
    public nonisolated let connectionString: String

    private let executor: DedicatedThreadExecutor
    /// Touched only on the actor's executor, and by `deinit`, which runs when no one else can
    /// reach the connection. (An `isolated deinit` would say so to the compiler, but it sends
    /// Swift 6.3's optimiser into a cycle.)
    nonisolated(unsafe) private var connection: OpaquePointer?
    private var isClosed = false
    /// Whether a transaction is open: a connection lost inside one must not be silently
    /// reset, or its `COMMIT` would run on a fresh session and report success for nothing.
    private var isInTransaction = false
    /// Statements prepared on the current session, by SQL text, with their server-side names.
    /// A new session (reset or reconnect) starts with none.
    private var prepared: [String: String] = [:]
    /// When the last statement ended; an idle connection is checked before it is used again.
    private var lastUsed = ContinuousClock.now
    /// How long a connection may sit idle before it is checked for a server that went away.
    static let idleCheckAfter: Duration = .seconds(1)
    /// Names prepared statements; never reused within a session.
    private var preparedSerial = 0
    /// Statements are prepared only while fewer than this many are: SQL texts come from the code,
    /// so the set is small, and the bound keeps a caller that builds many texts from leaking.
    private static let preparedLimit = 512

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Settings applied to every session this connection opens (`set_config`), such as
    /// ``PostgresSessionSettings/keyLookups``.
    public nonisolated let sessionSettings: PostgresSessionSettings

    /// Creates a connection; it opens lazily, on the first statement.
    /// - Parameters:
    ///   - connectionString: a libpq connection string or URL. It is never logged.
    ///   - sessionSettings: settings for every session, applied again after a reconnect.
    public init(connectionString: String, sessionSettings: PostgresSessionSettings = .serverDefaults) {
        self.connectionString = connectionString
        self.sessionSettings = sessionSettings
        self.executor = DedicatedThreadExecutor(name: "postgres")
    }

    deinit {
        if let connection { PQfinish(connection) }
        executor.shutdown()
    }

    /// What libpq finds wrong with a connection string or URL, without connecting; `nil` when it
    /// parses. The message names the problem, never the string (it may hold a password).
    public static func problem(with connectionString: String) -> String? {
        var message: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &message) else {
            defer { if let message { PQfreemem(message) } }
            guard let message else { return "not a connection string" }
            // libpq quotes the piece it could not read, which may be part of a password.
            let parts = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\"", omittingEmptySubsequences: false)
            return parts.enumerated().map { $0.offset % 2 == 1 ? "\"…\"" : String($0.element) }.joined()
        }
        PQconninfoFree(options)
        return nil
    }

    /// Opens a connection now, so that a bad configuration shows at start-up.
    public static func connect(_ connectionString: String) async throws(PostgresError) -> PostgresConnection {
        let connection = PostgresConnection(connectionString: connectionString)
        try await connection.open()
        return connection
    }

    /// Opens the connection if it is not open yet.
    public func open() throws(PostgresError) {
        _ = try connected()
    }

    /// Closes the connection. Later statements throw; the thread ends when the connection is released.
    public func close() {
        if let connection { PQfinish(connection) }
        connection = nil
        prepared = [:]
        isClosed = true
    }

    /// Runs one statement with its parameters and returns its rows.
    /// - Parameters:
    ///   - sql: the statement, with `$1`, `$2` … where data goes.
    ///   - parameters: the data, bound in order; `nil` binds SQL `NULL`.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresBindable] = []) throws(PostgresError) -> PostgresRows {
        let connection = try connected()
        let texts = parameters.map(\.postgresText)
        let cStrings = texts.map { $0.flatMap { strdup($0) } }
        defer { cStrings.forEach { free($0) } }
        let values: [UnsafePointer<CChar>?] = cStrings.map { $0.map { UnsafePointer($0) } }
        let name = parameters.isEmpty ? nil : try preparedName(of: sql, on: connection)
        let result = values.withUnsafeBufferPointer { buffer in
            if let name {
                PQexecPrepared(connection, name, Int32(values.count), buffer.baseAddress, nil, nil, 0)
            } else {
                PQexecParams(connection, sql, Int32(values.count), nil, buffer.baseAddress, nil, nil, 0)
            }
        }
        lastUsed = ContinuousClock.now
        do {
            return try Self.rows(from: result, connection: connection, statement: sql)
        } catch {
            // A table changed under a prepared statement: prepare it afresh next time.
            if error.sqlState == "0A000" { prepared[sql] = nil }
            throw error
        }
    }

    /// The name `sql` is prepared under on this session, preparing it first if needed; `nil`
    /// when too many statements are prepared already.
    private func preparedName(of sql: String, on connection: OpaquePointer) throws(PostgresError) -> String? {
        if let name = prepared[sql] { return name }
        guard prepared.count < Self.preparedLimit else { return nil }
        preparedSerial += 1
        let name = "chorus_\(preparedSerial)"
        _ = try Self.rows(from: PQprepare(connection, name, sql, 0, nil), connection: connection, statement: sql)
        prepared[sql] = name
        return name
    }

    /// Runs `body` on the connection's thread: several statements, and the work between them,
    /// for the price of one hop to that thread. Each statement commits on its own.
    public func run<Result: Sendable>(_ body: @Sendable (isolated PostgresConnection) throws -> Result) throws -> Result {
        try body(self)
    }

    /// Runs `body` inside `BEGIN` … `COMMIT`, rolling back if it throws.
    ///
    /// - Important: a transient failure (deadlock, serialization failure) rolls back and throws;
    ///   use ``withRetryingTransaction(attempts:_:)`` when the body is safe to run again.
    public func withTransaction<Result: Sendable>(
        _ body: @Sendable (isolated PostgresConnection) throws -> Result
    ) throws -> Result {
        try query("BEGIN")
        isInTransaction = true
        defer { isInTransaction = false }
        do {
            let result = try body(self)
            try query("COMMIT")
            return result
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }

    /// Opens a transaction that stays open across suspension points, for work that awaits
    /// something else (another connection, a timer) between its statements. End it with
    /// ``commitTransaction()`` or ``rollbackTransaction()``; until then a broken connection is
    /// not silently reopened, since the transaction's work would be lost with it.
    public func beginTransaction() throws(PostgresError) {
        try query("BEGIN")
        isInTransaction = true
    }

    /// Commits the transaction ``beginTransaction()`` opened.
    public func commitTransaction() throws(PostgresError) {
        defer { isInTransaction = false }
        try query("COMMIT")
    }

    /// Rolls back the transaction ``beginTransaction()`` opened; a connection already broken has
    /// lost it anyway.
    public func rollbackTransaction() {
        _ = try? query("ROLLBACK")
        isInTransaction = false
    }

    /// Runs the transaction again when PostgreSQL reports a deadlock or serialization failure.
    public func withRetryingTransaction<Result: Sendable>(
        attempts: Int = 5,
        _ body: @Sendable (isolated PostgresConnection) throws -> Result
    ) throws -> Result {
        var attempt = 1
        while true {
            do {
                return try withTransaction(body)
            } catch let error as PostgresError where error.isTransient && attempt < attempts {
                attempt += 1
            }
        }
    }

    /// Runs `body` inside a savepoint, so that its failure undoes only its own work.
    public func withSavepoint<Result>(_ body: () throws -> Result) throws -> Result {
        try query("SAVEPOINT chorus_step")
        do {
            let result = try body()
            try query("RELEASE SAVEPOINT chorus_step")
            return result
        } catch {
            _ = try? query("ROLLBACK TO SAVEPOINT chorus_step")
            throw error
        }
    }

    // MARK: - libpq helpers

    private func connected() throws(PostgresError) -> OpaquePointer {
        guard !isClosed else { throw PostgresError(code: .connectionFailed, message: "the connection was closed") }
        if let connection {
            if PQstatus(connection) == CONNECTION_OK, !(isIdleTooLong() && serverSpokeUnasked(connection)) { return connection }
            if isInTransaction {
                throw PostgresError(code: .connectionLost, message: "the connection broke inside a transaction")
            }
            PQreset(connection)
            prepared = [:]
            if PQstatus(connection) == CONNECTION_OK {
                try Self.apply(sessionSettings, to: connection)
                return connection
            }
            let message = Self.errorMessage(connection)
            throw PostgresError(code: .connectionFailed, message: message)
        }
        guard let opened = PQconnectdb(connectionString) else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(opened) == CONNECTION_OK else {
            let message = Self.errorMessage(opened)
            PQfinish(opened)
            throw PostgresError(code: .connectionFailed, message: message)
        }
        // Notices such as "relation already exists, skipping" are expected; keep stderr clean.
        PQsetNoticeProcessor(opened, { _, _ in }, nil)
        do {
            try Self.apply(sessionSettings, to: opened)
        } catch {
            PQfinish(opened)
            throw error
        }
        connection = opened
        prepared = [:]
        return opened
    }

    private func isIdleTooLong() -> Bool {
        !isInTransaction && ContinuousClock.now - lastUsed > Self.idleCheckAfter
    }

    /// Whether an idle session has input waiting. libpq learns that the server went away (a
    /// restart, an administrator's `pg_terminate_backend`) only when it next reads, so a
    /// statement sent down such a session fails instead of running. An idle session is sent
    /// nothing unasked but the server's goodbye (or, rarely, a notice), so one with input
    /// waiting is reset: a check without a round trip, made only after a second of idleness.
    private func serverSpokeUnasked(_ connection: OpaquePointer) -> Bool {
        var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    private static func apply(_ settings: PostgresSessionSettings, to connection: OpaquePointer) throws(PostgresError) {
        for (name, value) in settings.values {
            let statement = "SELECT set_config($1, $2, false)"
            let result = name.withCString { name in
                value.withCString { value in
                    let parameters: [UnsafePointer<CChar>?] = [name, value]
                    return parameters.withUnsafeBufferPointer { PQexecParams(connection, statement, 2, nil, $0.baseAddress, nil, nil, 0) }
                }
            }
            _ = try rows(from: result, connection: connection, statement: statement)
        }
    }

    private static func errorMessage(_ connection: OpaquePointer) -> String {
        guard let message = PQerrorMessage(connection) else { return "unknown libpq error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func rows(from result: OpaquePointer?, connection: OpaquePointer, statement: String) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw PostgresError(code: .connectionLost, message: errorMessage(connection), statement: statement)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            break
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let lost = PQstatus(connection) != CONNECTION_OK || sqlState?.hasPrefix("08") == true
                || ["57P01", "57P02", "57P03"].contains(sqlState ?? "")
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            throw PostgresError(
                code: lost ? .connectionLost : .queryFailed,
                sqlState: sqlState,
                message: message.trimmingCharacters(in: .whitespacesAndNewlines),
                statement: statement
            )
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { column in
            PQfname(result, Int32(column)).map { String(cString: $0) } ?? ""
        }
        var cells: [[String?]] = []
        cells.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            cells.append((0..<columnCount).map { column -> String? in
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 { return nil }
                guard let value = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
                return String(cString: value)
            })
        }
        let affected = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? rowCount
        return PostgresRows(columns: columns, cells: cells, affectedRows: affected, statement: statement)
    }
}

/// Settings a connection applies to each of its sessions.
public struct PostgresSessionSettings: Sendable {
    /// Setting names and values, applied in this order.
    public var values: [(name: String, value: String)]

    public init(_ values: [(name: String, value: String)]) {
        self.values = values
    }

    /// The server's own settings, unchanged.
    public static let serverDefaults = PostgresSessionSettings([])

    /// For sessions whose statements all find their rows by key (a worker's batches, the
    /// checkout API's request path).
    ///
    /// Prepared statements then run one generic plan, planned once per session, and the planner
    /// prefers an index to a sequential scan even while a table is still small. Left to its
    /// defaults, the server plans each execution anew whenever it guesses the values might
    /// matter (planning then costs more than running), or it settles on the plan it made when a
    /// table was nearly empty, a sequential scan, and keeps it as the table grows.
    public static let keyLookups = PostgresSessionSettings([
        (name: "plan_cache_mode", value: "force_generic_plan"),
        (name: "enable_seqscan", value: "off"),
    ])

    /// These settings, then `name = value`.
    public func adding(_ name: String, _ value: String) -> PostgresSessionSettings {
        var settings = self
        settings.values.append((name: name, value: value))
        return settings
    }
}
