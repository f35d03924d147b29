import Foundation
import Testing

@testable import CheckoutDomain

/// Small, fixed values shared by the domain tests. Nothing here is random or depends on the clock.
enum Fixture {
    /// 2026-11-22T09:15:02.000Z: whole seconds, so that it survives every round trip exactly.
    static let time = Date(timeIntervalSince1970: 1_795_338_902)
    static let timeText = "2026-11-22T09:15:02.000Z"

    /// `seconds` after ``time``; whole seconds keep the arithmetic exact.
    static func time(plus seconds: Int) -> Date { time.addingTimeInterval(TimeInterval(seconds)) }

    static let checkoutID = "co-1"
    static let customerID = "cust-1"
    static let storeID = "store-1"
    static let skuA = "sku-a"
    static let skuB = "sku-b"

    /// A line whose total is its price times its quantity.
    static func line(_ sku: String, quantity: Int, unitPriceCents: Int64) -> CheckoutLine {
        CheckoutLine(sku: sku, quantity: quantity, unitPriceCents: unitPriceCents, lineTotalCents: unitPriceCents * Int64(quantity))
    }

    /// Two lines: 2 × sku-a at 2.50 and 1 × sku-b at 19.99, 24.99 in all.
    static let lines = [
        line(skuA, quantity: 2, unitPriceCents: 250),
        line(skuB, quantity: 1, unitPriceCents: 1_999),
    ]

    static let totalCents: Int64 = 2_499

    /// The facts of a valid checkout `co-1` of `cust-1` at `store-1`.
    static func facts(
        checkoutID: String = checkoutID,
        customerID: String = customerID,
        storeID: String = storeID,
        lines: [CheckoutLine] = lines
    ) -> CheckoutFacts {
        CheckoutFacts(
            checkoutID: checkoutID,
            customerID: customerID,
            storeID: storeID,
            lines: lines,
            totalCents: lines.reduce(0) { $0 + $1.lineTotalCents }
        )
    }

    static let paymentID = "pay-1"
    static let orderID = "ord-1"

    /// One sample event of every type, all of checkout `checkoutID` where they belong to a checkout.
    static func sample(_ type: EventType, checkoutID: String = checkoutID) -> DomainEvent {
        let facts = facts(checkoutID: checkoutID)
        switch type {
        case .storeOpened: return .storeOpened(StoreOpened(storeID: storeID, name: "High Street", channel: .physical))
        case .storePaused: return .storePaused(StorePaused(storeID: storeID, reason: "stocktake"))
        case .storeResumed: return .storeResumed(StoreResumed(storeID: storeID))
        case .productRegistered: return .productRegistered(ProductRegistered(sku: skuA, name: "Apple", priceCents: 250))
        case .productRepriced: return .productRepriced(ProductRepriced(sku: skuA, priceCents: 275))
        case .stockReceived: return .stockReceived(StockReceived(storeID: storeID, sku: skuA, quantity: 10))
        case .customerRegistered:
            return .customerRegistered(CustomerRegistered(
                customerID: customerID, name: "Ada", email: "ada@example.com", openingBalanceCents: 10_000))
        case .accountCredited: return .accountCredited(AccountCredited(customerID: customerID, amountCents: 500))
        case .checkoutInitiated: return .checkoutInitiated(CheckoutInitiated(checkout: facts))
        case .stockReserved: return .stockReserved(StockReserved(checkout: facts))
        case .stockReservationFailed:
            return .stockReservationFailed(StockReservationFailed(
                checkoutID: checkoutID, reason: "insufficient_stock", sku: skuA, requested: 2, available: 1))
        case .paymentAuthorized:
            return .paymentAuthorized(PaymentAuthorized(checkout: facts, paymentID: paymentID, amountCents: facts.totalCents))
        case .paymentDeclined:
            return .paymentDeclined(PaymentDeclined(checkout: facts, reason: "insufficient_funds", balanceCents: 1_000))
        case .orderCreated: return .orderCreated(OrderCreated(checkout: facts, orderID: orderID, paymentID: paymentID))
        case .orderRejected:
            return .orderRejected(OrderRejected(
                checkout: facts, reason: "store_paused", paymentID: paymentID, amountCents: facts.totalCents))
        case .checkoutCompleted: return .checkoutCompleted(CheckoutCompleted(checkoutID: checkoutID, orderID: orderID))
        case .paymentRefunded:
            return .paymentRefunded(PaymentRefunded(
                checkoutID: checkoutID, customerID: customerID, paymentID: paymentID, amountCents: facts.totalCents))
        case .stockReleased: return .stockReleased(StockReleased(checkoutID: checkoutID, storeID: storeID, lines: facts.lines))
        case .checkoutFailed:
            return .checkoutFailed(CheckoutFailed(checkoutID: checkoutID, reason: "store_paused", failedStep: .orderRejected))
        }
    }

    static let referenceTypes = EventType.allCases.filter(\.isReferenceData)
    static let sagaTypes = EventType.allCases.filter { !$0.isReferenceData }

    /// An envelope at a fixed time.
    static func envelope(
        _ event: DomainEvent,
        id: String = "evt-1",
        correlationID: String = "corr-1",
        causationID: String? = nil,
        producer: String = "test",
        at time: Date = time
    ) -> EventEnvelope {
        EventEnvelope(
            eventID: id,
            event: event,
            metadata: EventMetadata(correlationID: correlationID, causationID: causationID, producer: producer, occurredAt: time)
        )
    }

    /// Envelopes for `events`, one second apart starting at ``time``, with ids `evt-0`, `evt-1`, …
    static func history(_ events: [DomainEvent]) -> [EventEnvelope] {
        events.enumerated().map { index, event in envelope(event, id: "evt-\(index)", at: time(plus: index)) }
    }
}

/// Captures the error of a decode, or `nil` when it succeeds.
func decodingError(type: String, payload: String) -> EventDecodingError? {
    do {
        _ = try DomainEvent.decode(type: type, payload: payload)
        return nil
    } catch {
        return error
    }
}

/// Captures the error of reading a stream entry, or `nil` when it succeeds.
func envelopeError(_ fields: [String: String]) -> EventDecodingError? {
    do {
        _ = try EventEnvelope(streamFields: fields)
        return nil
    } catch {
        return error
    }
}

/// Captures the rejection of a validation, or `nil` when the request is valid.
func rejection(of request: CheckoutRequest, limits: CheckoutLimits = .init()) -> CheckoutRejection? {
    do {
        try CheckoutPricing.validate(request, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// Captures the rejection of pricing, or `nil` when the request is priced.
func pricingRejection(
    of request: CheckoutRequest,
    catalogue: CatalogueView,
    limits: CheckoutLimits = .init()
) -> CheckoutRejection? {
    do {
        _ = try CheckoutPricing.price(request, checkoutID: Fixture.checkoutID, catalogue: catalogue, limits: limits)
        return nil
    } catch {
        return error
    }
}

extension EventDecodingError {
    /// The detail of a `malformedPayload` error of type `type`, or `nil` for any other error.
    func malformedDetail(of type: EventType) -> String? {
        guard case .malformedPayload(type.rawValue, let detail) = self else { return nil }
        return detail
    }

    /// The detail of an `invalidPayload` error of type `type`, or `nil` for any other error.
    func invalidDetail(of type: EventType) -> String? {
        guard case .invalidPayload(type.rawValue, let detail) = self else { return nil }
        return detail
    }
}

extension CheckoutRejection {
    /// The field of an `invalidField` rejection, or `nil` for any other rejection.
    var invalidField: String? {
        guard case .invalidField(let field, _) = self else { return nil }
        return field
    }
}

/// A JSON text as a dictionary, for checking the names of its keys.
func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// A JSON dictionary as text.
func jsonText(_ object: [String: Any]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}
