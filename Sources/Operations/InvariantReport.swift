/// The invariants `chorus verify` checks.
public enum Invariant: String, CaseIterable, Sendable, Hashable, Encodable {
    /// Stock received equals available + reserved + sold for every store and SKU, and nothing
    /// stays reserved once its checkout is over.
    case stock
    /// Every net charge matches one order of the same amount; failed checkouts are charged nothing.
    case money
    /// Every accepted checkout is terminal, or still young enough to be in flight.
    case checkouts
    /// The event store holds each event id once, and every stored event decodes.
    case eventStore = "event_store"
    /// Read models and the owning services' tables equal a rebuild from the event store.
    case readModels = "read_models"

    /// What the invariant says, for the report.
    public var title: String {
        switch self {
        case .stock: "stock: received = available + reserved + sold per store and SKU; nothing reserved at rest"
        case .money: "money: every net charge matches one order of that amount; failed checkouts are charged 0"
        case .checkouts: "checkouts: every accepted checkout completed, failed, or is in flight"
        case .eventStore: "event store: each event id stored once, every event readable"
        case .readModels: "read models and service tables equal a rebuild from the event store"
        }
    }
}

/// The outcome of `chorus verify`: every violation of every invariant, by name.
public struct InvariantReport: Sendable, Hashable, Encodable {
    /// One broken invariant, about one thing.
    public struct Violation: Sendable, Hashable, Encodable {
        /// What it is about: `store-01 SKU-0001`, `checkout <id>`, `event <id>` …
        public var subject: String
        public var message: String
    }

    /// The outcome of one invariant.
    public struct Result: Sendable, Hashable, Encodable {
        public var invariant: Invariant
        public var title: String
        /// How many things were looked at (stock items, checkouts, events …).
        public var checked: Int
        public var violations: [Violation]
        /// Things not settled yet but young enough to be in flight: not violations.
        public var inFlight: [Violation]
        public var ok: Bool { violations.isEmpty }

        enum CodingKeys: String, CodingKey { case invariant, title, checked, ok, violations, inFlight = "in_flight" }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(invariant, forKey: .invariant)
            try container.encode(title, forKey: .title)
            try container.encode(checked, forKey: .checked)
            try container.encode(ok, forKey: .ok)
            try container.encode(violations, forKey: .violations)
            try container.encode(inFlight, forKey: .inFlight)
        }
    }

    public var results: [Result]
    /// How old an unfinished checkout may be and still count as in flight.
    public var settleSeconds: Int

    /// Whether every invariant holds.
    public var ok: Bool { results.allSatisfy(\.ok) }

    /// Every violation, with its invariant.
    public var violations: [(invariant: Invariant, violation: Violation)] {
        results.flatMap { result in result.violations.map { (result.invariant, $0) } }
    }

    /// The result for one invariant.
    public func result(_ invariant: Invariant) -> Result? { results.first { $0.invariant == invariant } }

    enum CodingKeys: String, CodingKey { case ok, settleSeconds = "settle_seconds", results = "checks" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ok, forKey: .ok)
        try container.encode(settleSeconds, forKey: .settleSeconds)
        try container.encode(results, forKey: .results)
    }

    /// A line per invariant (ok, or how many violations), then each violation under it.
    public var text: String {
        var lines: [String] = []
        for result in results {
            let verdict = result.ok ? "ok  " : "FAIL"
            let count = result.ok ? "" : " — \(result.violations.count) violation\(result.violations.count == 1 ? "" : "s")"
            let flight = result.inFlight.isEmpty ? "" : ", \(result.inFlight.count) in flight"
            lines.append("\(verdict)  \(result.title) (\(result.checked) checked\(flight))\(count)")
            for violation in result.violations { lines.append("      ✘ \(violation.subject): \(violation.message)") }
            for note in result.inFlight { lines.append("      … \(note.subject): \(note.message)") }
        }
        let total = violations.count
        lines.append(total == 0 ? "every invariant holds" : "\(total) violation\(total == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }
}
