/// A failure talking to PostgreSQL, with the SQLSTATE and the statement involved.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; open-ended so that codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The connection could not be opened.
        public static let connectionFailed = Code("connectionFailed")
        /// The connection broke during a statement (or inside a transaction): what was not
        /// committed is lost, and the work must be done again.
        public static let connectionLost = Code("connectionLost")
        /// The server rejected the statement (see ``PostgresError/sqlState``).
        public static let queryFailed = Code("queryFailed")
        /// A column's text could not be read as the type asked for.
        public static let decodingFailed = Code("decodingFailed")
    }

    public var code: Code
    /// The five-character SQLSTATE, such as `23505` for a unique violation.
    public var sqlState: String?
    /// The server's or libpq's message.
    public var message: String
    /// The statement's SQL text. Parameters are never included: they may hold personal data.
    public var statement: String?

    public init(code: Code, sqlState: String? = nil, message: String, statement: String? = nil) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.statement = statement
    }

    /// A unique or primary-key constraint was violated.
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// A serialization failure or deadlock: running the whole transaction again may succeed.
    public var isTransient: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// The database could not be reached or the connection broke: no single statement is at fault.
    public var isConnectionProblem: Bool { code == .connectionFailed || code == .connectionLost }

    /// The server refused for lack of privilege (SQLSTATE 42501).
    public var isPermissionDenied: Bool { sqlState == "42501" }

    public var description: String {
        var text = "PostgreSQL \(code)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let statement { text += " (in: \(statement.prefix(200)))" }
        return text
    }
}
