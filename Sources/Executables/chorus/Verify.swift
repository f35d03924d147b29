import ArgumentParser
import Foundation
import Operations

/// `chorus verify`: do the books balance?
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check Chorus's invariants and name every violation.",
        discussion: """
            Rebuilds every aggregate from the event store with the domain's own folds and compares, in one \
            consistent snapshot of PostgreSQL:
              stock       for every store and SKU, stock received = available + reserved + sold (stock-reservation's \
            table), and nothing is reserved once its checkout has ended;
              money       every net charge (debit minus refund) matches exactly one order of the same amount, a \
            completed checkout has its order, and a failed checkout is charged nothing;
              checkouts   every accepted checkout completed or failed, unless it is younger than --settle-seconds \
            (then it is "in flight");
              event store each event id is stored once, and every stored event decodes;
              read models the CQRS read models and the services' own stock, account and order tables equal the rebuild.

            Run it on a quiet system for a clear answer. It first waits up to --wait-for-rest seconds for every \
            consumer group to have nothing left to read or acknowledge (the event store, for one, may trail a \
            burst by seconds); if the system is still busy it says which groups are, on stderr, and checks \
            anyway. While traffic flows, the reservation, charge and read model of a checkout in flight are \
            listed as in flight, not as violations.

            Exits 0 when every invariant holds, 1 when any is violated, 69 when PostgreSQL cannot be reached; 77 when it refuses the credentials.

            Example:
              chorus verify
              chorus verify --settle-seconds 10 --json | jq '.checks[] | select(.ok | not)'
            """
    )

    @OptionGroup var connection: OperatorOptions

    @Option(help: "How old an unfinished checkout may be and still count as in flight, in seconds.")
    var settleSeconds = 60

    @Option(help: "How long to wait for every consumer group to catch up before checking, in seconds (0: do not wait).")
    var waitForRest = 30

    @Flag(help: "Print JSON instead of text.")
    var json = false

    /// Waits until no consumer group has work left, or the time is up; says on stderr which are
    /// still busy. Only advice: without Redis (say, PostgreSQL alone is reachable) the books are
    /// checked all the same.
    private func waitForRest(_ target: OperatorTarget) async {
        let deadline = ContinuousClock.now + .seconds(waitForRest)
        var unsettled: [String]
        while true {
            do {
                unsettled = try await LagReport.take(from: target).unsettled
            } catch {
                FileHandle.standardError.write(Data("chorus verify: cannot tell whether the system is at rest (\(error)); checking anyway\n".utf8))
                return
            }
            guard !unsettled.isEmpty, ContinuousClock.now < deadline else { break }
            try? await Task.sleep(for: .milliseconds(500))
        }
        if !unsettled.isEmpty {
            FileHandle.standardError.write(Data((
                "chorus verify: the system is not at rest; what these groups have not handled yet may show below as violations:\n"
                + unsettled.map { "  \($0)\n" }.joined()).utf8))
        }
    }

    func validate() throws {
        guard settleSeconds >= 0 else { throw ValidationError("--settle-seconds must be 0 or more") }
        guard waitForRest >= 0 else { throw ValidationError("--wait-for-rest must be 0 or more") }
    }

    func run() async throws {
        let target = try connection.target()
        if waitForRest > 0 { await waitForRest(target) }
        let verifier = InvariantVerifier(target: target, settleSeconds: settleSeconds)
        let report = try await OperatorCommand.run("verify") { () async throws(OperatorError) in try await verifier.verify() }
        if json { try OperatorCommand.printJSON(report) } else { print(report.text) }
        if !report.ok { throw ExitCode(1) }
    }
}
