import CheckoutDomain
import ExactlyOnce
import Postgres

/// Owns customer accounts: opens them, credits them, debits them for reserved checkouts and
/// refunds them on compensation. A balance can never go below zero. The decisions are made in
/// memory for a whole batch by ``AccountLedger``, with the rules of one event at a time.
public struct PaymentEffect: EventEffect {
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

    /// Applies a batch in a handful of statements, whatever its size: the payments it refunds
    /// and the accounts it touches are loaded and locked (payments first, then accounts, each
    /// in key order, so that two consumers cannot deadlock), the events are applied in memory by
    /// ``AccountLedger``, and what changed is written back with one statement per change.
    public func apply(batch: [EventEnvelope], in database: isolated PostgresConnection) throws -> [[DomainEvent]] {
        let events = batch.map(\.event)
        let needs = AccountLedger.needs(events)
        let payments = needs.payments.isEmpty ? [:] : try loadPayments(needs.payments.sorted(), in: database)
        // An account that an event of the batch opens may not exist yet, and a missing row cannot
        // be locked: it is made first (empty, and still absent for the ledger), so that every row
        // the batch writes is locked by this transaction, including against another consumer
        // opening the same account.
        let placeholders = needs.opened.isEmpty ? [] : try insertMissingAccounts(needs.opened.sorted(), in: database)
        let customers = needs.accounts.union(AccountLedger.customers(of: payments)).sorted()
        var accounts = customers.isEmpty ? [:] : try loadAccounts(customers, in: database)
        for customer in placeholders { accounts[customer] = nil }
        var ledger = AccountLedger(accounts: accounts, payments: payments)
        let emitted = events.map { ledger.apply($0) }
        try write(ledger, in: database)
        return emitted
    }

    private func loadPayments(_ paymentIDs: [String], in database: isolated PostgresConnection) throws -> [String: AccountLedger.Payment] {
        let rows = try database.query(
            """
            SELECT payment_id, checkout_id, customer_id, amount_cents, status FROM payment.payments
            WHERE payment_id = ANY($1::text[])
            ORDER BY payment_id
            FOR UPDATE
            """,
            [PostgresTextArray(paymentIDs)])
        var payments: [String: AccountLedger.Payment] = [:]
        for row in rows {
            payments[try row.decode("payment_id")] = AccountLedger.Payment(
                checkoutID: try row.decode("checkout_id"), customerID: try row.decode("customer_id"),
                amountCents: try row.decode("amount_cents"), status: try row.decode("status", as: AccountLedger.PaymentStatus.self))
        }
        return payments
    }

    /// Makes an empty, unregistered account for each of `customerIDs` that has none; returns those it made.
    private func insertMissingAccounts(_ customerIDs: [String], in database: isolated PostgresConnection) throws -> Set<String> {
        let rows = try database.query(
            """
            INSERT INTO payment.accounts (customer_id, balance_cents) SELECT customer_id, 0 FROM unnest($1::text[]) AS customer_id
            ON CONFLICT (customer_id) DO NOTHING
            RETURNING customer_id
            """,
            [PostgresTextArray(customerIDs)])
        return Set(try rows.map { try $0.decode("customer_id", as: String.self) })
    }

    private func loadAccounts(_ customerIDs: [String], in database: isolated PostgresConnection) throws -> [String: AccountLedger.Account] {
        let rows = try database.query(
            """
            SELECT customer_id, balance_cents, registered FROM payment.accounts
            WHERE customer_id = ANY($1::text[])
            ORDER BY customer_id
            FOR UPDATE
            """,
            [PostgresTextArray(customerIDs)])
        var accounts: [String: AccountLedger.Account] = [:]
        for row in rows {
            accounts[try row.decode("customer_id")] = AccountLedger.Account(
                balanceCents: try row.decode("balance_cents"), registered: try row.decode("registered"))
        }
        return accounts
    }

    private func write(_ ledger: AccountLedger, in database: isolated PostgresConnection) throws {
        // Every account the batch changed exists and is locked (see apply), so new values are
        // written, not additions.
        let changed = ledger.accountChanges
        if !changed.isEmpty {
            try database.query(
                """
                UPDATE payment.accounts AS account SET balance_cents = changed.balance_cents, registered = changed.registered
                FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS changed(customer_id, balance_cents, registered)
                WHERE account.customer_id = changed.customer_id
                """,
                [PostgresTextArray(changed.map(\.customerID)), PostgresTextArray(changed.map(\.account.balanceCents)),
                 PostgresTextArray(changed.map { $0.account.registered ? "true" : "false" })])
        }
        let made = ledger.newPayments
        if !made.isEmpty {
            try database.query(
                """
                INSERT INTO payment.payments (payment_id, checkout_id, customer_id, amount_cents, status)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
                """,
                [PostgresTextArray(made.map(\.paymentID)), PostgresTextArray(made.map(\.payment.checkoutID)),
                 PostgresTextArray(made.map(\.payment.customerID)), PostgresTextArray(made.map(\.payment.amountCents)),
                 PostgresTextArray(made.map(\.payment.status.rawValue))])
        }
        let refunded = ledger.refundedPayments
        if !refunded.isEmpty {
            try database.query(
                "UPDATE payment.payments SET status = 'refunded' WHERE payment_id = ANY($1::text[])", [PostgresTextArray(refunded)])
        }
    }
}
