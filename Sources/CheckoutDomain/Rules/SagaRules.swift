/// What the stock-reservation service decides for a checkout: all lines, or none.
public enum StockReservationRule {
    /// - Parameter available: units that can be reserved (on hand minus reserved) per SKU at the
    ///   checkout's store; a SKU missing from it is not stocked there.
    ///
    /// Lines of the same SKU count together: two lines of one unit need two units.
    public static func decide(_ checkout: CheckoutFacts, available: [String: Int]) -> DomainEvent {
        let requested = unitsPerSKU(checkout.lines)
        for sku in requested.order {
            let quantity = requested.units[sku] ?? 0
            guard let units = available[sku] else {
                return .stockReservationFailed(StockReservationFailed(
                    checkoutID: checkout.checkoutID, reason: FailureReason.notStockedAtStore.rawValue, sku: sku, requested: quantity, available: 0))
            }
            if units < quantity {
                return .stockReservationFailed(StockReservationFailed(
                    checkoutID: checkout.checkoutID, reason: FailureReason.insufficientStock.rawValue, sku: sku,
                    requested: quantity, available: max(0, units)))
            }
        }
        return .stockReserved(StockReserved(checkout: checkout))
    }

    /// The units the lines ask for, per SKU, with the SKUs in the order they first appear.
    public static func unitsPerSKU(_ lines: [CheckoutLine]) -> (order: [String], units: [String: Int]) {
        var order: [String] = []
        var units: [String: Int] = [:]
        for line in lines {
            if units[line.sku] == nil { order.append(line.sku) }
            units[line.sku, default: 0] += line.quantity
        }
        return (order, units)
    }
}

/// What the payment service decides for reserved stock: debit the account, or decline.
public enum PaymentRule {
    /// - Parameter balanceCents: the customer's balance, or `nil` when the account is unknown.
    public static func decide(_ checkout: CheckoutFacts, balanceCents: Int64?) -> DomainEvent {
        guard let balance = balanceCents else {
            return .paymentDeclined(PaymentDeclined(checkout: checkout, reason: FailureReason.unknownCustomer.rawValue, balanceCents: 0))
        }
        guard balance >= checkout.totalCents else {
            return .paymentDeclined(PaymentDeclined(checkout: checkout, reason: FailureReason.insufficientFunds.rawValue, balanceCents: balance))
        }
        return .paymentAuthorized(PaymentAuthorized(
            checkout: checkout,
            paymentID: EventIdentity.paymentID(checkoutID: checkout.checkoutID),
            amountCents: checkout.totalCents))
    }
}

/// What the order-creation service decides for an authorized payment.
public enum OrderCreationRule {
    /// - Parameter storeIsPaused: whether the store is paused now, or `nil` when it is unknown.
    /// - Returns: `OrderCreated` then `CheckoutCompleted`, or `OrderRejected`.
    public static func decide(_ payment: PaymentAuthorized, storeIsPaused: Bool?) -> [DomainEvent] {
        let checkout = payment.checkout
        let refusal: String? =
            switch storeIsPaused {
            case .none: FailureReason.unknownStore.rawValue
            case .some(true): FailureReason.storePaused.rawValue
            case .some(false): nil
            }
        if let refusal {
            return [.orderRejected(OrderRejected(
                checkout: checkout, reason: refusal, paymentID: payment.paymentID, amountCents: payment.amountCents))]
        }
        let orderID = EventIdentity.orderID(checkoutID: checkout.checkoutID)
        return [
            .orderCreated(OrderCreated(checkout: checkout, orderID: orderID, paymentID: payment.paymentID)),
            .checkoutCompleted(CheckoutCompleted(checkoutID: checkout.checkoutID, orderID: orderID)),
        ]
    }
}

/// What the compensation service emits for each failure: undo what was done, newest first, then
/// end the saga.
public enum CompensationRule {
    public static func plan(for event: DomainEvent) -> [DomainEvent] {
        switch event {
        case .stockReservationFailed(let failure):
            return [.checkoutFailed(CheckoutFailed(
                checkoutID: failure.checkoutID, reason: failure.reason, failedStep: .stockReservationFailed))]
        case .paymentDeclined(let decline):
            let checkout = decline.checkout
            return [
                .stockReleased(StockReleased(checkoutID: checkout.checkoutID, storeID: checkout.storeID, lines: checkout.lines)),
                .checkoutFailed(CheckoutFailed(checkoutID: checkout.checkoutID, reason: decline.reason, failedStep: .paymentDeclined)),
            ]
        case .orderRejected(let rejection):
            let checkout = rejection.checkout
            return [
                .paymentRefunded(PaymentRefunded(
                    checkoutID: checkout.checkoutID, customerID: checkout.customerID,
                    paymentID: rejection.paymentID, amountCents: rejection.amountCents)),
                .stockReleased(StockReleased(checkoutID: checkout.checkoutID, storeID: checkout.storeID, lines: checkout.lines)),
                .checkoutFailed(CheckoutFailed(checkoutID: checkout.checkoutID, reason: rejection.reason, failedStep: .orderRejected)),
            ]
        default:
            return []
        }
    }
}
