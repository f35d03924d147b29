import ArgumentParser
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

            Run it on a quiet system for a clear answer. While traffic flows, the reservation, charge and read \
            model of a checkout in flight are listed as in flight, not as violations.

            Exits 0 when every invariant holds, 1 when any is violated, 69 when PostgreSQL cannot be reached.

            Example:
              chorus verify
              chorus verify --settle-seconds 10 --json | jq '.checks[] | select(.ok | not)'
            """
    )

    @OptionGroup var connection: OperatorOptions

    @Option(help: "How old an unfinished checkout may be and still count as in flight, in seconds.")
    var settleSeconds = 60

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard settleSeconds >= 0 else { throw ValidationError("--settle-seconds must be 0 or more") }
    }

    func run() async throws {
        let verifier = InvariantVerifier(target: try connection.target(), settleSeconds: settleSeconds)
        let report = try await OperatorCommand.run("verify") { () async throws(OperatorError) in try await verifier.verify() }
        if json { try OperatorCommand.printJSON(report) } else { print(report.text) }
        if !report.ok { throw ExitCode(1) }
    }
}
