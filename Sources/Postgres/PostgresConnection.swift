import CLibPQ
import DedicatedThread
import Foundation

/// One connection to PostgreSQL through libpq, owned by an actor that runs on a thread of its own.
///
/// Every statement goes through `PQexecParams` with its data as parameters: SQL text never
/// holds data. libpq blocks, so the actor's executor is a ``DedicatedThreadExecutor``.
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

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Creates a connection; it opens lazily, on the first statement.
    /// - Parameter connectionString: a libpq connection string or URL. It is never logged.
    public init(connectionString: String) {
        self.connectionString = connectionString
        self.executor = DedicatedThreadExecutor(name: "postgres")
    }

    deinit {
        if let connection { PQfinish(connection) }
        executor.shutdown()
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
        let result = values.withUnsafeBufferPointer { buffer in
            PQexecParams(connection, sql, Int32(values.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        return try Self.rows(from: result, connection: connection, statement: sql)
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
            if PQstatus(connection) == CONNECTION_OK { return connection }
            if isInTransaction {
                throw PostgresError(code: .connectionLost, message: "the connection broke inside a transaction")
            }
            PQreset(connection)
            if PQstatus(connection) == CONNECTION_OK { return connection }
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
        connection = opened
        return opened
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
