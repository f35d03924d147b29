/// A local server could not be found, set up or started.
public struct LocalServerError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
