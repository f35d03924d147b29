/// The names of the read models' tables, all in the `cqrs_projection` schema: the live ones,
/// which the service serves, or a rebuild's fresh copies beside them (``ReadModelRebuild``).
public struct ReadModelTables: Sendable, Hashable {
    /// Put before every table's name.
    public let prefix: String

    /// The tables the service writes and serves.
    public static let live = ReadModelTables(prefix: "")
    /// A rebuild's tables, which replace the live ones when it is done.
    public static let rebuild = ReadModelTables(prefix: "rebuild_")

    /// Every table's name without schema or prefix; each has a primary key named
    /// `<prefix><name>_pkey` and no other index.
    public static let names = ["checkouts", "orders_by_customer", "sales_by_store_day", "stock_levels", "customer_balances", "checkpoints"]

    /// The schema the read models live in.
    public static let schema = "cqrs_projection"

    var checkouts: String { qualified("checkouts") }
    var ordersByCustomer: String { qualified("orders_by_customer") }
    var salesByStoreDay: String { qualified("sales_by_store_day") }
    var stockLevels: String { qualified("stock_levels") }
    var customerBalances: String { qualified("customer_balances") }
    var checkpoints: String { qualified("checkpoints") }

    /// `cqrs_projection.<prefix><name>`.
    public func qualified(_ name: String) -> String { "\(Self.schema).\(prefix)\(name)" }

    /// Whether several consumers write these tables at once, so that folding a checkout must
    /// lock it first. A rebuild writes its tables alone.
    var haveConcurrentWriters: Bool { self == .live }
}
