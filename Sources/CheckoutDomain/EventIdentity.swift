import Crypto
import Foundation

/// Makes the ids of events and of the things they create.
///
/// Ids of events emitted in reaction to another event are name-based UUIDs (RFC 9562, version 5)
/// of the input's id: processing the same input twice yields the same ids, which is what lets
/// every consumer recognise a duplicate.
public enum EventIdentity {
    /// The namespace of every name-based id Chorus makes.
    static let namespace: [UInt8] = [
        0x6b, 0x1f, 0x3c, 0x52, 0x9a, 0x0e, 0x4d, 0x21, 0x8f, 0x47, 0x1c, 0x63, 0xd2, 0x85, 0x90, 0x0b,
    ]

    /// A fresh random id, for events that start something (a checkout, an admin change).
    public static func random() -> String {
        UUID().uuidString.lowercased()
    }

    /// The id of the `index`-th event emitted while handling the event `inputEventID`.
    public static func derived(from inputEventID: String, index: Int) -> String {
        nameBased("event/\(inputEventID)/\(index)")
    }

    /// The checkout id for a request sent with an `Idempotency-Key`: the same key always names
    /// the same checkout, even if the first answer was lost.
    public static func checkoutID(idempotencyKey: String) -> String {
        nameBased("checkout/\(idempotencyKey)")
    }

    /// The id of the event a request sent with an `Idempotency-Key` publishes.
    public static func requestEventID(idempotencyKey: String, purpose: String) -> String {
        nameBased("request/\(purpose)/\(idempotencyKey)")
    }

    /// The order that a checkout creates.
    public static func orderID(checkoutID: String) -> String {
        nameBased("order/\(checkoutID)")
    }

    /// The payment that a checkout makes.
    public static func paymentID(checkoutID: String) -> String {
        nameBased("payment/\(checkoutID)")
    }

    /// A version-5 UUID of `name` in the Chorus namespace, in lower case.
    public static func nameBased(_ name: String) -> String {
        var hasher = Insecure.SHA1()
        hasher.update(data: namespace)
        hasher.update(data: Array(name.utf8))
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return format(bytes)
    }

    /// A hex digest of `text`, for fingerprints of request bodies.
    public static func fingerprint(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { hex($0) }.joined()
    }

    private static func format(_ bytes: [UInt8]) -> String {
        let digits = bytes.map(hex)
        return [digits[0..<4], digits[4..<6], digits[6..<8], digits[8..<10], digits[10..<16]]
            .map { $0.joined() }
            .joined(separator: "-")
    }

    private static func hex(_ byte: UInt8) -> String {
        let text = String(byte, radix: 16)
        return byte < 16 ? "0" + text : text
    }
}
