/// A decoded RESP2 reply.
public enum RedisValue: Sendable, Hashable {
    /// A status reply such as `OK`.
    case status(String)
    /// An error reply, kept as a value so that pipelines can report one failure among many.
    case error(String)
    case integer(Int64)
    /// A bulk string. Chorus stores UTF-8 text only, so bulk strings decode to `String`.
    case bulk(String)
    case null
    case array([RedisValue])
}

extension RedisValue {
    /// The text of a bulk or status reply.
    public var string: String? {
        switch self {
        case .bulk(let text), .status(let text): text
        default: nil
        }
    }

    /// The elements of an array reply; `nil` for a null array.
    public var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// The value of an integer reply, or of a bulk string holding an integer.
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .bulk(let text): Int64(text)
        default: nil
        }
    }

    /// Pairs up a flat `[key, value, key, value]` array, as Redis returns hashes and XINFO rows.
    public var keyedPairs: [String: RedisValue] {
        guard let values = array else { return [:] }
        var result: [String: RedisValue] = [:]
        var index = 0
        while index + 1 < values.count {
            if let key = values[index].string { result[key] = values[index + 1] }
            index += 2
        }
        return result
    }
}
