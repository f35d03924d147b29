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
