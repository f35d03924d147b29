/// The payment service's state for one batch of events, and what the batch does to it, decided
/// in memory.
///
/// The service loads the accounts and payments a batch touches (``AccountLedger/needs(_:)``
/// says which), applies the batch's events here in order with the same rules as one at a time,
/// and writes what changed with one statement per table (``accountChanges``, ``newPayments``,
/// ``refundedPayments``). Applying a batch here equals applying its events one by one against
/// the tables.
public struct AccountLedger: Sendable, Hashable {
    /// One customer's account. A balance never goes below zero.
    public struct Account: Hashable, Sendable {
        public var balanceCents: Int64
        /// Whether the customer's registration (and with it the opening balance) was applied; an
        /// account that only a credit opened is not registered yet.
        public var registered: Bool
        public init(balanceCents: Int64, registered: Bool) {
            self.balanceCents = balanceCents
            self.registered = registered
        }
    }

    /// Where a payment stands: it is refunded at most once.
    public enum PaymentStatus: String, Sendable, Hashable, CaseIterable {
        case authorized, refunded
    }

    /// One debit of a customer's account for a checkout.
    public struct Payment: Hashable, Sendable {
        public var checkoutID: String
        public var customerID: String
        public var amountCents: Int64
        public var status: PaymentStatus
        public init(checkoutID: String, customerID: String, amountCents: Int64, status: PaymentStatus) {
            self.checkoutID = checkoutID
            self.customerID = customerID
            self.amountCents = amountCents
            self.status = status
        }
    }

    /// What a batch needs loaded before it can be applied.
    public struct Needs: Hashable, Sendable {
        /// Accounts the events name (not yet those of the payments they refund).
        public var accounts: Set<String> = []
        /// Of those, the accounts an event may open (a registration or a credit).
        public var opened: Set<String> = []
        /// Payments the events refund.
        public var payments: Set<String> = []
    }

    private let loadedAccounts: [String: Account]
    private let loadedPayments: [String: Payment]
    /// The accounts as the events applied so far left them; a customer missing has no account.
    public private(set) var accounts: [String: Account]
    /// The payments as the events applied so far left them, by payment id.
    public private(set) var payments: [String: Payment]
    /// Payments the batch made, in the order it made them.
    private var madePayments: [String] = []

    /// - Parameters:
    ///   - accounts: the accounts loaded (locked) for the batch, by customer id.
    ///   - payments: the payments loaded (locked) for the batch, by payment id.
    public init(accounts: [String: Account], payments: [String: Payment]) {
        self.loadedAccounts = accounts
        self.loadedPayments = payments
        self.accounts = accounts
        self.payments = payments
    }

    /// The accounts and payments that `events` touch directly.
    public static func needs(_ events: [DomainEvent]) -> Needs {
        var needs = Needs()
        for event in events {
            switch event {
            case .customerRegistered(let event):
                needs.accounts.insert(event.customerID)
                needs.opened.insert(event.customerID)
            case .accountCredited(let event):
                needs.accounts.insert(event.customerID)
                needs.opened.insert(event.customerID)
            case .stockReserved(let event): needs.accounts.insert(event.checkout.customerID)
            case .paymentRefunded(let event): needs.payments.insert(event.paymentID)
            default: break
            }
        }
        return needs
    }

    /// The accounts that refunding `payments` credits, which must be loaded too.
    public static func customers(of payments: [String: Payment]) -> Set<String> {
        Set(payments.values.map(\.customerID))
    }

    /// Applies one event and returns the events to emit.
    public mutating func apply(_ event: DomainEvent) -> [DomainEvent] {
        switch event {
        case .customerRegistered(let event):
            // Registered once: a repeated registration adds no second opening balance.
            if var account = accounts[event.customerID] {
                guard !account.registered else { return [] }
                account.balanceCents += event.openingBalanceCents
                account.registered = true
                accounts[event.customerID] = account
            } else {
                accounts[event.customerID] = Account(balanceCents: event.openingBalanceCents, registered: true)
            }
            return []
        case .accountCredited(let event):
            accounts[event.customerID, default: Account(balanceCents: 0, registered: false)].balanceCents += event.amountCents
            return []
        case .stockReserved(let event):
            let checkout = event.checkout
            let decision = PaymentRule.decide(checkout, balanceCents: accounts[checkout.customerID]?.balanceCents)
            if case .paymentAuthorized(let payment) = decision {
                accounts[checkout.customerID]?.balanceCents -= payment.amountCents
                payments[payment.paymentID] = Payment(
                    checkoutID: checkout.checkoutID, customerID: checkout.customerID, amountCents: payment.amountCents, status: .authorized)
                madePayments.append(payment.paymentID)
            }
            return [decision]
        case .paymentRefunded(let event):
            guard var payment = payments[event.paymentID], payment.status == .authorized else { return [] }
            payment.status = .refunded
            payments[event.paymentID] = payment
            // An account that does not exist has nothing to credit, as an UPDATE of no row.
            accounts[payment.customerID]?.balanceCents += payment.amountCents
            return []
        default:
            return []
        }
    }

    /// Accounts the batch opened or changed, in customer-id order, as the batch left them.
    public var accountChanges: [(customerID: String, account: Account)] {
        accounts.keys.sorted().compactMap { id in
            guard let account = accounts[id], account != loadedAccounts[id] else { return nil }
            return (id, account)
        }
    }

    /// Payments the batch made, in the order it made them, with the status the batch left them in.
    /// A checkout paid twice in one batch is listed twice, and the payments table refuses it.
    public var newPayments: [(paymentID: String, payment: Payment)] {
        madePayments.compactMap { id in payments[id].map { (id, $0) } }
    }

    /// Loaded payments the batch refunded, in payment-id order.
    public var refundedPayments: [String] {
        loadedPayments.keys.sorted().filter { id in
            payments[id]?.status == .refunded && loadedPayments[id]?.status != .refunded
        }
    }
}
