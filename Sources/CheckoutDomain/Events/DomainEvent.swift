import Foundation

/// The payload of one kind of event: its JSON shape is the contract in `streams/events.json`.
public protocol EventPayload: Codable, Sendable, Hashable {
    static var eventType: EventType { get }
    /// Checks what JSON decoding cannot: signs, totals, non-empty lists.
    func validate() throws(EventValidationError)
}

extension EventPayload {
    public func validate() throws(EventValidationError) {}
}

/// An event's payload broke a rule of the contract.
public struct EventValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// The payload member at fault, as the JSON names it, when one is.
    public var field: String?
    public init(_ message: String, field: String? = nil) {
        self.message = message
        self.field = field
    }
    public var description: String { message }

    /// Refuses text that holds a control character: PostgreSQL's `jsonb` cannot store U+0000 at
    /// all (the event store and the audit trail would dead-letter the event that others applied),
    /// and the others have no business in a name, an email or a reason either.
    public static func requirePlainText(_ value: String, field: String) throws(EventValidationError) {
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw EventValidationError("\(field) must not contain control characters", field: field)
        }
    }

    /// Refuses an amount outside 0 … ``Money/maximumCents`` (or 1 … when it must be positive).
    public static func requireAmount(_ cents: Int64, field: String, positive: Bool = false) throws(EventValidationError) {
        if positive {
            guard cents > 0 else { throw EventValidationError("\(field) must be positive", field: field) }
        } else {
            guard cents >= 0 else { throw EventValidationError("\(field) must not be negative", field: field) }
        }
        guard cents <= Money.maximumCents else {
            throw EventValidationError("\(field) must be at most \(Money.maximumCents)", field: field)
        }
    }
}

/// Any event Chorus knows, with its typed payload.
public enum DomainEvent: Sendable, Hashable {
    case storeOpened(StoreOpened)
    case storePaused(StorePaused)
    case storeResumed(StoreResumed)
    case productRegistered(ProductRegistered)
    case productRepriced(ProductRepriced)
    case stockReceived(StockReceived)
    case customerRegistered(CustomerRegistered)
    case accountCredited(AccountCredited)
    case checkoutInitiated(CheckoutInitiated)
    case stockReserved(StockReserved)
    case stockReservationFailed(StockReservationFailed)
    case paymentAuthorized(PaymentAuthorized)
    case paymentDeclined(PaymentDeclined)
    case orderCreated(OrderCreated)
    case orderRejected(OrderRejected)
    case checkoutCompleted(CheckoutCompleted)
    case paymentRefunded(PaymentRefunded)
    case stockReleased(StockReleased)
    case checkoutFailed(CheckoutFailed)

    /// The payload, for code that treats every kind alike.
    public var payload: any EventPayload {
        switch self {
        case .storeOpened(let payload): payload
        case .storePaused(let payload): payload
        case .storeResumed(let payload): payload
        case .productRegistered(let payload): payload
        case .productRepriced(let payload): payload
        case .stockReceived(let payload): payload
        case .customerRegistered(let payload): payload
        case .accountCredited(let payload): payload
        case .checkoutInitiated(let payload): payload
        case .stockReserved(let payload): payload
        case .stockReservationFailed(let payload): payload
        case .paymentAuthorized(let payload): payload
        case .paymentDeclined(let payload): payload
        case .orderCreated(let payload): payload
        case .orderRejected(let payload): payload
        case .checkoutCompleted(let payload): payload
        case .paymentRefunded(let payload): payload
        case .stockReleased(let payload): payload
        case .checkoutFailed(let payload): payload
        }
    }

    public var type: EventType { Swift.type(of: payload).eventType }

    /// The checkout this event belongs to, or `nil` for reference data.
    public var checkoutID: String? {
        switch self {
        case .checkoutInitiated(let event): event.checkout.checkoutID
        case .stockReserved(let event): event.checkout.checkoutID
        case .stockReservationFailed(let event): event.checkoutID
        case .paymentAuthorized(let event): event.checkout.checkoutID
        case .paymentDeclined(let event): event.checkout.checkoutID
        case .orderCreated(let event): event.checkout.checkoutID
        case .orderRejected(let event): event.checkout.checkoutID
        case .checkoutCompleted(let event): event.checkoutID
        case .paymentRefunded(let event): event.checkoutID
        case .stockReleased(let event): event.checkoutID
        case .checkoutFailed(let event): event.checkoutID
        default: nil
        }
    }

    /// The payload as compact JSON with sorted keys, so that equal events encode to equal text.
    public func encodedPayload() -> String {
        // Encoding plain structs of strings and integers cannot fail.
        let data = (try? Self.encoder.encode(payload)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a payload of the given type from JSON and checks it against the contract.
    public static func decode(type: String, payload: String) throws(EventDecodingError) -> DomainEvent {
        guard let eventType = EventType(rawValue: type) else { throw .unknownType(type) }
        let data = Data(payload.utf8)
        func read<Payload: EventPayload>(_: Payload.Type) throws(EventDecodingError) -> Payload {
            let decoded: Payload
            do {
                decoded = try decoder.decode(Payload.self, from: data)
            } catch {
                throw .malformedPayload(type: type, detail: Self.describe(error))
            }
            do {
                try decoded.validate()
            } catch {
                throw .invalidPayload(type: type, detail: error.message)
            }
            return decoded
        }
        switch eventType {
        case .storeOpened: return .storeOpened(try read(StoreOpened.self))
        case .storePaused: return .storePaused(try read(StorePaused.self))
        case .storeResumed: return .storeResumed(try read(StoreResumed.self))
        case .productRegistered: return .productRegistered(try read(ProductRegistered.self))
        case .productRepriced: return .productRepriced(try read(ProductRepriced.self))
        case .stockReceived: return .stockReceived(try read(StockReceived.self))
        case .customerRegistered: return .customerRegistered(try read(CustomerRegistered.self))
        case .accountCredited: return .accountCredited(try read(AccountCredited.self))
        case .checkoutInitiated: return .checkoutInitiated(try read(CheckoutInitiated.self))
        case .stockReserved: return .stockReserved(try read(StockReserved.self))
        case .stockReservationFailed: return .stockReservationFailed(try read(StockReservationFailed.self))
        case .paymentAuthorized: return .paymentAuthorized(try read(PaymentAuthorized.self))
        case .paymentDeclined: return .paymentDeclined(try read(PaymentDeclined.self))
        case .orderCreated: return .orderCreated(try read(OrderCreated.self))
        case .orderRejected: return .orderRejected(try read(OrderRejected.self))
        case .checkoutCompleted: return .checkoutCompleted(try read(CheckoutCompleted.self))
        case .paymentRefunded: return .paymentRefunded(try read(PaymentRefunded.self))
        case .stockReleased: return .stockReleased(try read(StockReleased.self))
        case .checkoutFailed: return .checkoutFailed(try read(CheckoutFailed.self))
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let decoder = JSONDecoder()

    private static func describe(_ error: any Error) -> String {
        guard let decodingError = error as? DecodingError else { return "not valid JSON" }
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? "the payload" : names.joined(separator: ".")
        }
        switch decodingError {
        case .keyNotFound(let key, let context): return "missing field \(key.stringValue) in \(path(context))"
        case .typeMismatch(_, let context): return "wrong type at \(path(context))"
        case .valueNotFound(_, let context): return "null at \(path(context))"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not valid JSON" : "invalid value at \(path(context))"
        @unknown default: return "not valid JSON"
        }
    }
}

/// Why a stream entry could not become a ``DomainEvent``.
public enum EventDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownType(String)
    case malformedPayload(type: String, detail: String)
    case invalidPayload(type: String, detail: String)
    case missingField(String)

    public var description: String {
        switch self {
        case .unknownType(let type): "unknown event type \(type)"
        case .malformedPayload(let type, let detail): "malformed \(type) payload: \(detail)"
        case .invalidPayload(let type, let detail): "invalid \(type) payload: \(detail)"
        case .missingField(let field): "stream entry has no \(field) field"
        }
    }
}
