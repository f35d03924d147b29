/// Every kind of event Chorus publishes. The raw value is the `type` field on the stream.
public enum EventType: String, CaseIterable, Codable, Sendable {
    // Reference data: the admin endpoints publish these.
    case storeOpened = "StoreOpened"
    case storePaused = "StorePaused"
    case storeResumed = "StoreResumed"
    case productRegistered = "ProductRegistered"
    case productRepriced = "ProductRepriced"
    case stockReceived = "StockReceived"
    case customerRegistered = "CustomerRegistered"
    case accountCredited = "AccountCredited"

    // The checkout saga.
    case checkoutInitiated = "CheckoutInitiated"
    case stockReserved = "StockReserved"
    case stockReservationFailed = "StockReservationFailed"
    case paymentAuthorized = "PaymentAuthorized"
    case paymentDeclined = "PaymentDeclined"
    case orderCreated = "OrderCreated"
    case orderRejected = "OrderRejected"
    case checkoutCompleted = "CheckoutCompleted"
    case paymentRefunded = "PaymentRefunded"
    case stockReleased = "StockReleased"
    case checkoutFailed = "CheckoutFailed"

    /// Whether the event belongs to a checkout (and so to a checkout partition) or to reference data.
    public var isReferenceData: Bool {
        switch self {
        case .storeOpened, .storePaused, .storeResumed, .productRegistered, .productRepriced,
            .stockReceived, .customerRegistered, .accountCredited:
            true
        default:
            false
        }
    }
}
