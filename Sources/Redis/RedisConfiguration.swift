import Foundation

/// Where and how to reach Redis.
public struct RedisConfiguration: Sendable, Hashable {
    /// Host name or IP address.
    public var host: String
    public var port: Int
    /// The ACL user; `nil` uses the default user.
    public var username: String?
    /// The password for `AUTH`; `nil` skips authentication.
    public var password: String?
    /// The logical database.
    public var database: Int
    /// How long to wait for a connection, in milliseconds.
    public var connectTimeoutMilliseconds: Int
    /// How long a command may take before the connection is considered broken, in milliseconds.
    /// Blocking reads add their own block time to this.
    public var commandTimeoutMilliseconds: Int
    /// Backoff between reconnection attempts, in milliseconds: the first wait, doubled up to the maximum.
    public var reconnectBackoffMilliseconds: ClosedRange<Int>

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeoutMilliseconds: Int = 2_000,
        commandTimeoutMilliseconds: Int = 5_000,
        reconnectBackoffMilliseconds: ClosedRange<Int> = 50...2_000
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.commandTimeoutMilliseconds = commandTimeoutMilliseconds
        self.reconnectBackoffMilliseconds = reconnectBackoffMilliseconds
    }

    /// Reads `redis://[user[:password]@]host[:port][/database]`.
    public init(url: String) throws(RedisError) {
        self.init()
        let invalid = RedisError(code: .invalidConfiguration, message: "not a redis:// URL: \(Self.redacted(url))")
        guard url.hasPrefix("redis://") else { throw invalid }
        var rest = Substring(url.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user).removingPercentEncodingIfPossible
                password = String(credentials[credentials.index(after: colon)...]).removingPercentEncodingIfPossible
            } else if !credentials.isEmpty {
                username = String(credentials).removingPercentEncodingIfPossible
            }
        }
        if let slash = rest.firstIndex(of: "/") {
            let databaseText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !databaseText.isEmpty {
                guard let number = Int(databaseText), number >= 0 else { throw invalid }
                database = number
            }
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(number) else { throw invalid }
            port = number
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw invalid }
        host = String(rest)
    }

    /// The URL with any password replaced, safe for logs.
    public static func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@"), let schemeEnd = url.range(of: "://")?.upperBound else { return url }
        let credentials = url[schemeEnd..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}

extension String {
    fileprivate var removingPercentEncodingIfPossible: String {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
