import Foundation
import Testing

@testable import CheckoutDomain

/// The checkout's state machine as `docs/diagrams/checkout-states.mmd` draws it, derived from
/// the code: every path the saga's rules can take is played through the fold, and each status
/// change (or compensation step) becomes an edge.
@Suite("Checkout state diagram")
struct CheckoutStateDiagramTests {
    /// What each service's rule can meet: enough, too little, or nothing known.
    static let stockSituations: [[String: Int]] = [
        [Fixture.skuA: 100, Fixture.skuB: 100], [Fixture.skuA: 0, Fixture.skuB: 0], [:],
    ]
    static let balances: [Int64?] = [1_000_000, 0, nil]
    static let storePauses: [Bool?] = [false, true, nil]

    /// Every sequence of events the choreography can produce for one checkout, as the services'
    /// rules decide them, with compensation's plan after each failure.
    static func sagaPaths() -> [[DomainEvent]] {
        let facts = Fixture.facts()
        var paths: [[DomainEvent]] = []
        for available in stockSituations {
            let reservation = StockReservationRule.decide(facts, available: available)
            let reserved = [DomainEvent.checkoutInitiated(CheckoutInitiated(checkout: facts)), reservation]
            guard case .stockReserved = reservation else {
                paths.append(reserved + CompensationRule.plan(for: reservation))
                continue
            }
            for balance in balances {
                let payment = PaymentRule.decide(facts, balanceCents: balance)
                let paid = reserved + [payment]
                guard case .paymentAuthorized(let authorized) = payment else {
                    paths.append(paid + CompensationRule.plan(for: payment))
                    continue
                }
                for paused in storePauses {
                    let outcome = OrderCreationRule.decide(authorized, storeIsPaused: paused)
                    paths.append(paid + outcome + outcome.flatMap(CompensationRule.plan(for:)))
                }
            }
        }
        return paths
    }

    struct Edge: Hashable, Comparable {
        var from: String
        var to: String
        static func < (lhs: Edge, rhs: Edge) -> Bool { (lhs.from, lhs.to) < (rhs.from, rhs.to) }
    }

    /// The mermaid text: one edge per pair of statuses, labelled with the events (and their
    /// reasons) that move a checkout along it.
    static func mermaid() -> String {
        var labels: [Edge: Set<String>] = [:]
        var order: [String] = []
        for path in sagaPaths() {
            var state: CheckoutState?
            for envelope in Fixture.history(path) {
                let before = state?.status.rawValue ?? "[*]"
                state = CheckoutState.fold(state, envelope)
                let after = state?.status.rawValue ?? "[*]"
                let reason = envelope.event.failureReason.map { " (\($0))" } ?? ""
                labels[Edge(from: before, to: after), default: []].insert(envelope.event.type.rawValue + reason)
                for status in [before, after] where status != "[*]" && !order.contains(status) { order.append(status) }
            }
            if let final = state?.status.rawValue { labels[Edge(from: final, to: "[*]"), default: []].insert("") }
        }
        var lines = [
            "%% Generated from the saga's rules and CheckoutState.fold by",
            "%% Tests/CheckoutDomainTests/CheckoutStateDiagramTests.swift; do not edit by hand.",
            "stateDiagram-v2",
        ]
        let rank = { (status: String) in status == "[*]" ? -1 : order.firstIndex(of: status) ?? order.count }
        let edges = labels.keys.sorted { (rank($0.from), rank($0.to), $0.to) < (rank($1.from), rank($1.to), $1.to) }
        for edge in edges {
            let text = labels[edge, default: []].filter { !$0.isEmpty }.sorted().joined(separator: "<br/>")
            lines.append("    \(edge.from) --> \(edge.to)" + (text.isEmpty ? "" : ": \(text)"))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let file = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/diagrams/checkout-states.mmd")

    @Test("the saga's rules produce seven paths: one completed, six failed, each undoing exactly what was done")
    func pathsEndAsTheRulesSay() throws {
        let paths = Self.sagaPaths()
        let ends = try paths.map { path in try #require(CheckoutStateTests.states(path).last ?? nil) }
        #expect(ends.count == 7)
        #expect(ends.filter { $0.status == .completed }.count == 1)
        #expect(ends.filter { $0.status == .failed }.count == 6)
        for (path, end) in zip(paths, ends) where end.status == .failed {
            let types = path.map(\.type)
            #expect(types.contains(.stockReleased) == types.contains(.stockReserved), "\(types)")
            #expect(types.contains(.paymentRefunded) == types.contains(.paymentAuthorized), "\(types)")
        }
    }

    @Test("every reason the rules give is in the one vocabulary, on the step it names, and every reason occurs")
    func reasonsAreTheVocabulary() throws {
        var seen: Set<FailureReason> = []
        for event in Self.sagaPaths().joined() {
            guard let text = event.failureReason else { continue }
            let reason = try #require(FailureReason(rawValue: text), "\(text) is not a FailureReason")
            #expect(reason.step == event.type)
            seen.insert(reason)
        }
        #expect(seen == Set(FailureReason.allCases))
    }

    @Test("docs/diagrams/checkout-states.mmd is the diagram the code draws (CHORUS_UPDATE_DIAGRAMS=1 rewrites it)")
    func committedDiagramMatchesTheCode() throws {
        let expected = Self.mermaid()
        if ProcessInfo.processInfo.environment["CHORUS_UPDATE_DIAGRAMS"] == "1" {
            try Data(expected.utf8).write(to: Self.file)
        }
        let committed = try String(contentsOf: Self.file, encoding: .utf8)
        #expect(committed == expected, "stale: run CHORUS_UPDATE_DIAGRAMS=1 swift test --filter CheckoutStateDiagramTests, then scripts/generate-diagrams")
    }
}

extension DomainEvent {
    /// The reason a failure event gives, for the diagram's labels.
    fileprivate var failureReason: String? {
        switch self {
        case .stockReservationFailed(let event): event.reason
        case .paymentDeclined(let event): event.reason
        case .orderRejected(let event): event.reason
        default: nil
        }
    }
}
