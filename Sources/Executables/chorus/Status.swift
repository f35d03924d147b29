import ArgumentParser
import Foundation

/// `chorus status`: where a checkout stands.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a checkout's state, rebuilt from its events by the event store (read as support staff, or as CHORUS_TOKEN's caller).",
        discussion: "Exits 0 when the checkout completed, 1 when it failed, 2 while it is still in flight, 3 when the event store does not know it, 69 when the gateway is unreachable."
    )

    @OptionGroup var gateway: GatewayOptions

    @Argument(help: "The checkout id that POST /checkouts answered.")
    var checkoutID: String

    @Flag(help: "Wait until the checkout completes or fails.")
    var wait = false

    func run() async throws {
        try await Self.show(checkoutID, baseURL: gateway.baseURL, wait: wait)
    }

    static func show(_ id: String, baseURL: String, wait: Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let answer = try await HTTP.send("GET", "\(baseURL)/projections/\(id)", headers: try await CallerTokens.header(as: CallerTokens.operatorReader))
            let state = answer.json?["state"] as? [String: Any]
            let status = state?["status"] as? String
            let terminal = status == "completed" || status == "failed"
            if terminal || !wait || ContinuousClock.now > deadline || (answer.status != 200 && answer.status != 404) {
                print(HTTP.pretty(answer.body))
                switch status {
                case "completed": return
                case .some where !terminal: throw ExitCode(2)
                case .some: throw ExitCode(1)
                case nil: throw ExitCode(answer.status == 404 ? 3 : 1)
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
