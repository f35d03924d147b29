/// Something a caller asks to do, with the object it concerns where ownership matters.
public enum Operation: Sendable, Hashable {
    /// `POST /checkouts` spending `customer`'s balance.
    case placeCheckout(customer: String)
    /// Reading a checkout (its read model, its rebuilt projection or its history) that belongs
    /// to `customer`.
    case readCheckout(customer: String)
    /// Reading `customer`'s profile, balance or orders.
    case readCustomer(String)
    /// Reading any aggregate rebuilt from the event store, or its history, other than a
    /// customer's own checkout.
    case readAnyAggregate
    /// Opening, pausing or resuming a store.
    case manageStores
    /// Registering products and setting their prices.
    case manageCatalogue
    /// Receiving stock at a store.
    case manageStock
    /// Registering customers and crediting their accounts.
    case manageCustomers
    /// Reading a store's stock levels.
    case readStock
    /// Reading a store's sales.
    case readSales
}

/// The answer of ``AccessPolicy``.
public enum AccessDecision: Sendable, Hashable {
    case allowed
    /// Authenticated, but not allowed: 403.
    case forbidden
    /// Another customer's object: answered as if it did not exist (404), so that a customer
    /// cannot learn which ids exist by probing.
    case hidden
    /// No caller: 401.
    case unauthenticated
}

/// Who may do what. The service that owns the data asks it before it answers; the gateway's
/// own checks are only a first line.
public enum AccessPolicy {
    public static func decide(_ operation: Operation, for caller: Caller?) -> AccessDecision {
        guard let caller else { return .unauthenticated }
        switch caller {
        case .customer(let id):
            switch operation {
            case .placeCheckout(let customer): return customer == id ? .allowed : .forbidden
            case .readCheckout(let customer), .readCustomer(let customer): return customer == id ? .allowed : .hidden
            case .readAnyAggregate: return .hidden
            case .manageStores, .manageCatalogue, .manageStock, .manageCustomers, .readStock, .readSales: return .forbidden
            }
        case .staff(_, let roles):
            return roles.contains(where: { allows($0, operation) }) ? .allowed : .forbidden
        }
    }

    private static func allows(_ role: StaffRole, _ operation: Operation) -> Bool {
        switch role {
        case .admin:
            return true
        case .inventory:
            switch operation {
            case .manageStock, .readStock: return true
            default: return false
            }
        case .support:
            switch operation {
            case .readCheckout, .readCustomer, .readAnyAggregate, .readStock, .readSales: return true
            default: return false
            }
        }
    }
}
