/// A value that can be bound to a statement parameter. Values travel in libpq's text format.
public protocol PostgresBindable: Sendable {
    /// The parameter's text, or `nil` for SQL `NULL`.
    var postgresText: String? { get }
}

extension String: PostgresBindable { public var postgresText: String? { self } }
extension Substring: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int32: PostgresBindable { public var postgresText: String? { String(self) } }
extension Int64: PostgresBindable { public var postgresText: String? { String(self) } }
extension Bool: PostgresBindable { public var postgresText: String? { self ? "t" : "f" } }
extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresText: String? { self?.postgresText }
}

/// A type that can be read from a column's text.
public protocol PostgresDecodable {
    /// Reads the value from PostgreSQL's text output; `nil` when the text is not of this type.
    init?(postgresText: String)
}

extension String: PostgresDecodable { public init?(postgresText: String) { self = postgresText } }
extension Int: PostgresDecodable { public init?(postgresText: String) { self.init(postgresText) } }
extension Int64: PostgresDecodable { public init?(postgresText: String) { self.init(postgresText) } }
extension Bool: PostgresDecodable {
    public init?(postgresText: String) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: return nil
        }
    }
}

/// The rows a statement returned, in PostgreSQL's text format.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// Column names, in order.
    public let columns: [String]
    let cells: [[String?]]
    /// How many rows the statement touched (`INSERT`, `UPDATE`, `DELETE`), or returned.
    public let affectedRows: Int
    let statement: String

    public var startIndex: Int { 0 }
    public var endIndex: Int { cells.count }
    public subscript(position: Int) -> PostgresRow {
        PostgresRow(columns: columns, cells: cells[position], statement: statement)
    }
}

/// One row, read by column name.
public struct PostgresRow: Sendable {
    let columns: [String]
    let cells: [String?]
    let statement: String

    /// The column's text, or `nil` when it is SQL `NULL`.
    public func text(_ column: String) throws(PostgresError) -> String? {
        guard let index = columns.firstIndex(of: column) else {
            throw PostgresError(code: .decodingFailed, message: "no column \(column)", statement: statement)
        }
        return cells[index]
    }

    /// The column decoded as `type`; throws when it is `NULL` or of another type.
    public func decode<Value: PostgresDecodable>(_ column: String, as type: Value.Type = Value.self) throws(PostgresError) -> Value {
        guard let text = try self.text(column) else {
            throw PostgresError(code: .decodingFailed, message: "column \(column) is NULL", statement: statement)
        }
        guard let value = Value(postgresText: text) else {
            throw PostgresError(code: .decodingFailed, message: "column \(column) is not \(Value.self): \(text.prefix(40))", statement: statement)
        }
        return value
    }

    /// The column decoded as a raw-value type (say, an enum of the statuses a table holds);
    /// throws when it is `NULL` or holds no such value.
    public func decode<Value: RawRepresentable>(_ column: String, as type: Value.Type) throws(PostgresError) -> Value
    where Value.RawValue: PostgresDecodable {
        let raw = try decode(column, as: Value.RawValue.self)
        guard let value = Value(rawValue: raw) else {
            throw PostgresError(code: .decodingFailed, message: "column \(column) is not \(Value.self): \(String(describing: raw).prefix(40))", statement: statement)
        }
        return value
    }

    /// The column decoded as `type`, or `nil` when it is `NULL`.
    public func decodeIfPresent<Value: PostgresDecodable>(_ column: String, as type: Value.Type = Value.self) throws(PostgresError) -> Value? {
        guard try self.text(column) != nil else { return nil }
        return try decode(column, as: type)
    }
}
