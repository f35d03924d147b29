/// Writes a PostgreSQL array literal, to bind a list as one parameter (`= ANY($1::text[])`).
///
/// The literal is a parameter's value, never part of the SQL text; every element is quoted and
/// escaped, so any text round-trips.
public struct PostgresTextArray: PostgresBindable, Sendable {
    public var elements: [String]
    public init(_ elements: [String]) { self.elements = elements }

    public var postgresText: String? {
        let quoted = elements.map { element -> String in
            var escaped = ""
            for character in element {
                if character == "\\" || character == "\"" { escaped.append("\\") }
                escaped.append(character)
            }
            return "\"" + escaped + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }
}
