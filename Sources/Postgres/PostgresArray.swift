/// Writes a PostgreSQL array literal, to bind a list as one parameter (`= ANY($1::text[])`,
/// `unnest($1::text[], $2::bigint[])`).
///
/// The literal is a parameter's value, never part of the SQL text; every element is quoted and
/// escaped, so any text round-trips. A `nil` element is SQL `NULL`. Cast the parameter to the
/// column's array type (`$1::bigint[]`, `$2::jsonb[]`): PostgreSQL reads each element as that type.
public struct PostgresTextArray: PostgresBindable, Sendable {
    public var elements: [String?]
    public init(_ elements: [String]) { self.elements = elements }
    /// Elements that may be missing: a `nil` element is SQL `NULL`.
    public init(nullable elements: [String?]) { self.elements = elements }
    /// Numbers, written in decimal.
    public init<Number: BinaryInteger>(_ numbers: [Number]) { self.elements = numbers.map { String($0) } }

    public var postgresText: String? {
        // Built as bytes: this runs for every row of every batch, and appending to a String one
        // scalar at a time costs more than the statement it feeds.
        var literal: [UInt8] = [UInt8(ascii: "{")]
        literal.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { literal.append(UInt8(ascii: ",")) }
            guard let element else {
                literal.append(contentsOf: "NULL".utf8)
                continue
            }
            literal.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { literal.append(UInt8(ascii: "\\")) }
                literal.append(byte)
            }
            literal.append(UInt8(ascii: "\""))
        }
        literal.append(UInt8(ascii: "}"))
        return String(decoding: literal, as: UTF8.self)
    }
}
