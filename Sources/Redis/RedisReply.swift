import CHiredis
import Foundation

/// A reply as hiredis parsed it, read in place: for replies too large or too frequent to copy
/// into a ``RedisValue`` tree first (a batch of stream entries, read by every consumer group).
///
/// - Important: a reply is valid only inside the closure it is handed to
///   (``RedisConnection/send(_:blockingMilliseconds:reading:)``); hiredis frees it afterwards.
///   Copy out what you need; never keep the reply itself.
public struct RedisReply {
    let pointer: UnsafePointer<redisReply>

    /// Whether the reply is a null (a nil bulk string or a null array).
    public var isNull: Bool { pointer.pointee.type == REDIS_REPLY_NIL }

    /// The message of an error reply; `nil` for any other reply.
    public var errorMessage: String? {
        pointer.pointee.type == REDIS_REPLY_ERROR ? text : nil
    }

    /// Throws an error reply as a ``RedisError`` naming the command (its name and first key only).
    public func throwIfError(command: [String]) throws(RedisError) {
        if let message = errorMessage {
            throw RedisError(code: .commandFailed, message: message, command: RedisCommandSummary(command).text)
        }
    }

    /// The text of a bulk or status reply.
    public var string: String? {
        let type = pointer.pointee.type
        return type == REDIS_REPLY_STRING || type == REDIS_REPLY_STATUS ? text : nil
    }

    /// Whether this is a bulk or status reply whose bytes are exactly `expected`'s, without making
    /// a `String` of them.
    public func equals(_ expected: StaticString) -> Bool {
        let value = pointer.pointee
        guard value.type == REDIS_REPLY_STRING || value.type == REDIS_REPLY_STATUS, let characters = value.str,
              value.len == expected.utf8CodeUnitCount
        else { return false }
        return memcmp(characters, expected.utf8Start, value.len) == 0
    }

    /// The number of elements of an array reply; `nil` for any other reply.
    public var count: Int? {
        pointer.pointee.type == REDIS_REPLY_ARRAY ? pointer.pointee.elements : nil
    }

    /// Element `index` of an array reply; `nil` when there is none.
    public subscript(index: Int) -> RedisReply? {
        let value = pointer.pointee
        guard value.type == REDIS_REPLY_ARRAY, index >= 0, index < value.elements, let element = value.element?[index] else {
            return nil
        }
        return RedisReply(pointer: UnsafePointer(element))
    }

    /// The whole reply as a value, for the parts a caller does not read in place.
    public var value: RedisValue { RedisConnection.decode(pointer) }

    private var text: String {
        let value = pointer.pointee
        guard let characters = value.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: characters, count: value.len), as: UTF8.self)
    }
}
