/// Who sent a request, as a verified token says.
///
/// A token names its subject (`sub`) and carries its roles in a `roles` claim, a list of
/// strings. A token with any staff role is staff; a token with the `customer` role is the
/// customer whose id is its subject; a token with neither has no business with Chorus.
public enum Caller: Sendable, Hashable {
    /// A customer, acting for themselves: `sub` is their customer id.
    case customer(id: String)
    /// A member of staff, with at least one staff role.
    case staff(name: String, roles: Set<StaffRole>)

    /// How events and the audit trail name the caller: `customer:<id>` or `staff:<name>`.
    public var actor: String {
        switch self {
        case .customer(let id): "customer:\(id)"
        case .staff(let name, _): "staff:\(name)"
        }
    }

    /// The role a token carries to say that its subject is a customer.
    public static let customerRole = "customer"
}

/// What a member of staff may do. `admin` may do everything; the others open one area each.
public enum StaffRole: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Everything: stores, catalogue, prices, stock, customers and their accounts, every read.
    case admin
    /// Stock: receiving it, and reading store stock.
    case inventory
    /// Reading, to help customers: checkouts, customers, orders, histories, stock and sales.
    case support

    public static func < (lhs: StaffRole, rhs: StaffRole) -> Bool { lhs.rawValue < rhs.rawValue }
}
