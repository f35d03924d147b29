import ArgumentParser
import Foundation

/// `chorus status`: where a checkout stands.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print where a checkout stands, rebuilt from its events by the event store (read as support staff, or as CHORUS_TOKEN's caller).",
        discussion: """
            Prints one line (the status, the total, the order or the failure's reason); --json prints the whole \
            checkout as the event store rebuilt it. Only checkouts: another aggregate's id (a customer, a store) is \
            not one. Errors go to stderr.

            Exits 0 when the checkout completed, 1 when it failed, 2 while it is still in flight, 3 when there is \
            no checkout with this id, 69 when the gateway is unreachable, 77 when the token is refused.

            Example:
              chorus status 5f0c1d2e-…
              chorus status --wait --json 5f0c1d2e-… | jq .state.compensations
            """
    )

    @OptionGroup var gateway: GatewayOptions

    @Argument(help: "The checkout id that POST /checkouts answered.")
    var checkoutID: String

    @Flag(help: "Wait until the checkout completes or fails.")
    var wait = false

    @Flag(help: "Print the checkout as JSON instead of one line.")
    var json = false

    func run() async throws {
        try await Self.show(checkoutID, baseURL: gateway.baseURL, wait: wait, json: json)
    }

    /// Characters an id may keep in a URL path segment; everything else (`/`, `?`, `%`, `.`)
    /// is percent-encoded, so that an id can never name another route.
    private static let pathSegment = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~")

    static func show(_ id: String, baseURL: String, wait: Bool, json: Bool = false) async throws {
        guard !id.isEmpty, let encoded = id.addingPercentEncoding(withAllowedCharacters: pathSegment) else {
            throw ValidationError("the checkout id must not be empty")
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let answer = try await HTTP.send(
                "GET", "\(baseURL)/projections/\(encoded)?kind=checkout", headers: try await CallerTokens.header(as: CallerTokens.operatorReader))
            switch answer.status {
            case 200: break
            case 404: throw failure("no checkout \(id.debugDescription)", exit: 3)
            case 401, 403: throw failure("the event store refused the token (\(answer.status)): \(detail(of: answer))", exit: 77)
            default: throw failure("the event store answered \(answer.status): \(detail(of: answer))", exit: 1)
            }
            let state = answer.json?["state"] as? [String: Any]
            let status = state?["status"] as? String ?? "unknown"
            let terminal = status == "completed" || status == "failed"
            if terminal || !wait || ContinuousClock.now > deadline {
                print(json ? HTTP.pretty(answer.body) : summary(id: id, state: state ?? [:]))
                switch status {
                case "completed": return
                case "failed": throw ExitCode(1)
                default: throw ExitCode(2)
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// `checkout 5f0c…: completed, 6.98, order 9a1b…` or `…: failed (insufficient_funds), 95.44`.
    static func summary(id: String, state: [String: Any]) -> String {
        let status = state["status"] as? String ?? "unknown"
        let cents = (state["total_cents"] as? NSNumber)?.int64Value
        let total = cents.map { String(format: "%lld.%02lld", $0 / 100, $0 % 100) }
        var parts: [String] = []
        switch status {
        case "completed": parts.append("completed")
        case "failed": parts.append("failed (\(state["failure_reason"] as? String ?? "no reason given"))")
        default: parts.append("in flight (\(status))")
        }
        if let total { parts.append(total) }
        if let order = state["order_id"] as? String { parts.append("order \(order)") }
        return "checkout \(id): " + parts.joined(separator: ", ")
    }

    private static func detail(of answer: HTTP.Answer) -> String {
        (answer.json?["detail"] as? String) ?? String(decoding: answer.body.prefix(200), as: UTF8.self)
    }

    private static func failure(_ message: String, exit status: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("chorus status: \(message)\n".utf8))
        return ExitCode(status)
    }
}
