import ArgumentParser

/// The `chorus` command: run the system locally and talk to it.
@main
struct Chorus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run and use Chorus, the choreographed checkout saga, on this machine.",
        discussion: "`chorus up` starts Redis, PostgreSQL, every Chorus process and the gateway, with data in a local directory. The other commands talk to a running system: checkout and status through the gateway, with a token (CHORUS_TOKEN, else one `chorus token` would mint); lag, dlq, history and verify straight to its Redis and PostgreSQL; bench loads it. Exit codes: 0 success, 1 a failure or a violation, 64 a usage error, 69 a server unreachable, 77 credentials refused or missing, 78 a bad CHORUS_* variable. Configuration comes from CHORUS_* environment variables (see the README).",
        subcommands: [
            Up.self, Seed.self, Token.self, CheckoutCommand.self, Status.self, Lag.self, DeadLetters.self, History.self, Verify.self, Rebuild.self, Bench.self,
            Provision.self,
        ]
    )
}

/// Where a running Chorus answers.
struct GatewayOptions: ParsableArguments {
    @Option(name: .customLong("url"), help: "The gateway's base URL.")
    var baseURL = "http://127.0.0.1:8080"
}
