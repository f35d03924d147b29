/// A failure talking to Redis, with the command that failed.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; open-ended so that codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The connection could not be opened.
        public static let connectionFailed = Code("connectionFailed")
        /// Redis refused the credentials (`AUTH` answered `WRONGPASS` or another error).
        public static let authenticationFailed = Code("authenticationFailed")
        /// The connection broke during a command; the command may or may not have run.
        public static let connectionLost = Code("connectionLost")
        /// Redis answered with an error reply.
        public static let commandFailed = Code("commandFailed")
        /// Redis answered with a reply of a shape the caller did not expect.
        public static let unexpectedReply = Code("unexpectedReply")
        /// The configuration (for example the URL) is not valid.
        public static let invalidConfiguration = Code("invalidConfiguration")
    }

    public var code: Code
    /// The server's or the C client's message.
    public var message: String
    /// The command's name and key, never its values (they may hold personal data).
    public var command: String?

    public init(code: Code, message: String, command: String? = nil) {
        self.code = code
        self.message = message
        self.command = command
    }

    /// The first word of an error reply, such as `BUSYGROUP`, `NOGROUP` or `NOPERM`.
    public var serverErrorPrefix: String? {
        guard code == .commandFailed else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var description: String {
        if let command { return "Redis \(code) in \(command): \(message)" }
        return "Redis \(code): \(message)"
    }
}

extension RedisValue {
    /// Turns an error reply into a thrown ``RedisError``; any other reply is returned unchanged.
    public func throwingError(command: [String]) throws(RedisError) -> RedisValue {
        if case .error(let message) = self {
            throw RedisError(code: .commandFailed, message: message, command: RedisCommandSummary(command).text)
        }
        return self
    }
}

/// The part of a command that is safe to log: its name and first key.
struct RedisCommandSummary {
    let text: String
    init(_ arguments: [String]) {
        text = arguments.prefix(2).joined(separator: " ")
    }
}
