import CheckoutDomain
import ExactlyOnce
import Postgres

/// Owns customer accounts: opens them, credits them, debits them for reserved checkouts and
/// refunds them on compensation. A balance can never go below zero.
public struct PaymentEffect: SingleEventEffect {
    public let worker = Worker.payment
    public let schema = "payment"

    public init() {}

    public var migrations: [String] {
        [
            """
            CREATE TABLE IF NOT EXISTS payment.accounts (
                customer_id   text PRIMARY KEY,
                balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
                registered    boolean NOT NULL DEFAULT false
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS payment.payments (
                payment_id   text PRIMARY KEY,
                checkout_id  text NOT NULL UNIQUE,
                customer_id  text NOT NULL,
                amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
                status       text NOT NULL CHECK (status IN ('authorized', 'refunded')),
                created_at   timestamptz NOT NULL DEFAULT now()
            )
            """,
        ]
    }

    public func apply(_ envelope: EventEnvelope, in database: isolated PostgresConnection) throws -> [DomainEvent] {
        switch envelope.event {
        case .customerRegistered(let event):
            // Registered once: a repeated registration adds no second opening balance.
            try database.query(
                """
                INSERT INTO payment.accounts (customer_id, balance_cents, registered) VALUES ($1, $2, true)
                ON CONFLICT (customer_id) DO UPDATE
                SET balance_cents = accounts.balance_cents + EXCLUDED.balance_cents, registered = true
                WHERE NOT accounts.registered
                """,
                [event.customerID, event.openingBalanceCents])
            return []
        case .accountCredited(let event):
            try database.query(
                """
                INSERT INTO payment.accounts (customer_id, balance_cents) VALUES ($1, $2)
                ON CONFLICT (customer_id) DO UPDATE SET balance_cents = accounts.balance_cents + EXCLUDED.balance_cents
                """,
                [event.customerID, event.amountCents])
            return []
        case .stockReserved(let event):
            let checkout = event.checkout
            let balance = try database.query(
                "SELECT balance_cents FROM payment.accounts WHERE customer_id = $1 FOR UPDATE", [checkout.customerID]
            ).first.map { try $0.decode("balance_cents", as: Int64.self) }
            let decision = PaymentRule.decide(checkout, balanceCents: balance)
            if case .paymentAuthorized(let payment) = decision {
                try database.query(
                    "UPDATE payment.accounts SET balance_cents = balance_cents - $2 WHERE customer_id = $1",
                    [checkout.customerID, payment.amountCents])
                try database.query(
                    """
                    INSERT INTO payment.payments (payment_id, checkout_id, customer_id, amount_cents, status)
                    VALUES ($1, $2, $3, $4, 'authorized')
                    """,
                    [payment.paymentID, checkout.checkoutID, checkout.customerID, payment.amountCents])
            }
            return [decision]
        case .paymentRefunded(let event):
            let refunded = try database.query(
                """
                UPDATE payment.payments SET status = 'refunded'
                WHERE payment_id = $1 AND status = 'authorized'
                RETURNING customer_id, amount_cents
                """,
                [event.paymentID])
            if let row = refunded.first {
                try database.query(
                    "UPDATE payment.accounts SET balance_cents = balance_cents + $2 WHERE customer_id = $1",
                    [try row.decode("customer_id", as: String.self), try row.decode("amount_cents", as: Int64.self)])
            }
            return []
        default:
            return []
        }
    }
}
