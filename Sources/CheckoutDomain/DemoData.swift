/// The demo retailer: 5 stores (4 shops and the web shop), 200 products and 1,000 customers.
///
/// Generated from a fixed seed, so every run loads the same data, and every event has an id
/// derived from its position: loading it twice is recognised as a duplicate everywhere.
/// Some stock is scarce and some balances are low, so that checkouts fail naturally.
public enum DemoData {
    public static let storeCount = 5
    public static let productCount = 200
    public static let customerCount = 1_000

    /// The stores: `store-01` … `store-04` and `web`.
    public static let stores: [StoreOpened] = [
        StoreOpened(storeID: "store-01", name: "Montréal Centre", channel: .physical),
        StoreOpened(storeID: "store-02", name: "Québec Vieux-Port", channel: .physical),
        StoreOpened(storeID: "store-03", name: "Laval Carrefour", channel: .physical),
        StoreOpened(storeID: "store-04", name: "Sherbrooke Nord", channel: .physical),
        StoreOpened(storeID: "web", name: "Web shop", channel: .web),
    ]

    /// `SKU-0001` … `SKU-0200`.
    public static func sku(_ number: Int) -> String { "SKU-" + padded(number, to: 4) }

    /// `cus-0001` … `cus-1000`.
    public static func customerID(_ number: Int) -> String { "cus-" + padded(number, to: 4) }

    /// Every product of the catalogue, priced from 1.99 to 199.99.
    public static var products: [ProductRegistered] {
        var random = SplitMix64(seed: 0xC0FFEE)
        let kinds = ["Mug", "Notebook", "Lamp", "Backpack", "Scarf", "Kettle", "Puzzle", "Candle", "Bottle", "Headphones"]
        let qualities = ["Classic", "Eco", "Deluxe", "Mini", "Pro", "Vintage", "Nordic", "Urban", "Studio", "Travel"]
        return (1...productCount).map { number in
            let name = "\(qualities[(number / kinds.count) % qualities.count]) \(kinds[number % kinds.count]) \(number)"
            return ProductRegistered(sku: sku(number), name: name, priceCents: Int64(199 + random.next(below: 19_801)))
        }
    }

    /// Stock at every store: most products plentiful, one in ten scarce (0 to 3 units).
    public static var stock: [StockReceived] { stock(scale: 1) }

    /// The stock with the plentiful products' quantities multiplied by `scale`; scarce products
    /// stay scarce, so that a long load test keeps its mix of failures.
    public static func stock(scale: Int) -> [StockReceived] {
        var random = SplitMix64(seed: 0x5EED)
        var receipts: [StockReceived] = []
        for store in stores {
            for number in 1...productCount {
                let quantity = number % 10 == 0 ? random.next(below: 4) : (20 + random.next(below: 181)) * max(1, scale)
                if quantity > 0 { receipts.append(StockReceived(storeID: store.storeID, sku: sku(number), quantity: quantity)) }
            }
        }
        return receipts
    }

    /// Customers: most with 500 to 5,000 of balance, one in eight with at most 20.
    public static var customers: [CustomerRegistered] { customers(scale: 1) }

    /// The customers with the solvent ones' balances multiplied by `scale`; the poor stay poor.
    public static func customers(scale: Int) -> [CustomerRegistered] {
        var random = SplitMix64(seed: 0xBA1A)
        let first = ["Camille", "Léa", "Noah", "Jade", "Louis", "Emma", "Gabriel", "Alice", "Raphaël", "Chloé"]
        let last = ["Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Ouellet"]
        return (1...customerCount).map { number in
            let balance = number % 8 == 0 ? random.next(below: 2_001) : (50_000 + random.next(below: 450_001)) * max(1, scale)
            return CustomerRegistered(
                customerID: customerID(number),
                name: "\(first[number % first.count]) \(last[(number / first.count) % last.count])",
                email: "\(customerID(number))@example.com",
                openingBalanceCents: Int64(balance))
        }
    }

    /// Every demo event, in the order they must be applied, with its derived id.
    public static var events: [(eventID: String, event: DomainEvent)] { events(scale: 1) }

    /// The demo events with plentiful stock and solvent balances multiplied by `scale`. The ids
    /// are those of scale 1: a data set is loaded once, whatever the scale asked later.
    public static func events(scale: Int) -> [(eventID: String, event: DomainEvent)] {
        let all: [DomainEvent] = stores.map(DomainEvent.storeOpened) + products.map(DomainEvent.productRegistered)
            + stock(scale: scale).map(DomainEvent.stockReceived) + customers(scale: scale).map(DomainEvent.customerRegistered)
        return all.enumerated().map { index, event in (EventIdentity.nameBased("demo-data/v1/\(index)"), event) }
    }

    private static func padded(_ number: Int, to width: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// A small, fast, deterministic random number generator (SplitMix64): the same sequence on every
/// platform for a seed, unlike the standard library's, which is seeded at random. For demo data
/// and repeatable load, never for anything secret.
public struct SplitMix64: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func nextValue() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    /// A number in `0..<bound`; a `bound` below 1 counts as 1.
    public mutating func next(below bound: Int) -> Int {
        Int(nextValue() % UInt64(max(1, bound)))
    }
}
