import ArgumentParser
import Operations

/// `chorus history`: one checkout's events, in order, with their timing.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a checkout's events from the event store, in order, with their timing.",
        discussion: """
            Reads PostgreSQL's event store: the events of the checkout aggregate and every event whose \
            correlation id is the checkout id, ordered by when they happened. Each row gives the time, the \
            offset from the first event, the time since the previous one, the type, the service that \
            produced it and the event id. The first line gives the checkout's status, folded from these events.

            Exits 0; 1 when the event store holds no event of this checkout; 69 when PostgreSQL cannot be reached; 77 when it refuses the credentials.

            Example:
              chorus history 5f0c2a9e-0d7b-4c1e-9a51-3c1f8f0b2d44
              chorus history "$(chorus checkout --id-only)" --json
            """
    )

    @OptionGroup var connection: OperatorOptions

    @Argument(help: "The checkout id that POST /checkouts answered.")
    var checkoutID: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        let target = try connection.target()
        let id = checkoutID
        let history = try await OperatorCommand.run("history") { () async throws(OperatorError) in
            try await CheckoutHistory.read(id, from: target)
        }
        if json { try OperatorCommand.printJSON(history) } else { print(history.table) }
    }
}
