import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    /// `Idempotency-Key`, as the IETF draft and most payment APIs name it.
    public static var idempotencyKey: HTTPField.Name? { HTTPField.Name("Idempotency-Key") }
}

extension Request {
    /// The request's `Idempotency-Key` header, if it has one.
    public var idempotencyKey: String? {
        HTTPField.Name.idempotencyKey.flatMap { headers[$0] }
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`: the gateway sets it on every request it forwards.
    public static var requestID: HTTPField.Name? { HTTPField.Name("X-Request-Id") }
}

extension Request {
    /// The request's `X-Request-Id`, when it is one that can travel as a correlation id: 1 to 128
    /// letters, digits, `-`, `_`, `.` or `:`. Anything else is ignored rather than copied into
    /// events and logs.
    public var requestID: String? {
        guard let value = HTTPField.Name.requestID.flatMap({ headers[$0] }),
              (1...128).contains(value.utf8.count),
              value.utf8.allSatisfy({ byte in
                  (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                      || byte == 0x2D || byte == 0x5F || byte == 0x2E || byte == 0x3A
              })
        else { return nil }
        return value
    }
}
