/// Why a checkout failed: the one vocabulary of the saga's failures.
///
/// The failure events (`StockReservationFailed`, `PaymentDeclined`, `OrderRejected`) carry one
/// of these, `CheckoutFailed` repeats it, and the read models, the `reason` label of
/// `chorus_checkouts_failed_total`, `chorus status` and `chorus bench` all say the same words.
/// Events keep the reason as a string, so that an event stored before a reason was renamed
/// still decodes.
public enum FailureReason: String, CaseIterable, Sendable {
    /// The store has fewer units available than the checkout asks for.
    case insufficientStock = "insufficient_stock"
    /// The product is in the catalogue, but this store does not stock it. (A SKU nobody sells
    /// never reaches the saga: `POST /checkouts` refuses it with 422 `unknown-product`.)
    case notStockedAtStore = "not_stocked_at_store"
    /// The customer's balance is below the checkout's total.
    case insufficientFunds = "insufficient_funds"
    /// Payment has never heard of the customer.
    case unknownCustomer = "unknown_customer"
    /// The store is paused: it takes no orders for now.
    case storePaused = "store_paused"
    /// Order creation has never heard of the store.
    case unknownStore = "unknown_store"

    /// The event that reports this failure.
    public var step: EventType {
        switch self {
        case .insufficientStock, .notStockedAtStore: .stockReservationFailed
        case .insufficientFunds, .unknownCustomer: .paymentDeclined
        case .storePaused, .unknownStore: .orderRejected
        }
    }
}
