import ArgumentParser
import EventStore
import Foundation
import LocalStack
import ServiceSupport
import UnixSignals

/// `chorus up`: the whole system on this machine.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start Redis, PostgreSQL, every Chorus process and the gateway; Ctrl-C stops them.",
        discussion: "Data persists in the data directory between runs. Crashed processes are restarted with a backoff. Logs go to <data-dir>/logs. The demo data is loaded into an empty system. Each process connects as its own PostgreSQL role and Redis user, with passwords made on the first start in <data-dir>/credentials (readable by you alone; the operator's URLs are operator.redis-url and operator.database-url). Redis's default user is off and PostgreSQL asks TCP clients for a password. Needs redis-server, PostgreSQL and nginx: ./scripts/up installs them and builds first."
    )

    @Option(help: "Where data, logs, credentials and runtime files go; CHORUS_DATA_DIR sets the default.")
    var dataDir = ProcessInfo.processInfo.environment["CHORUS_DATA_DIR"] ?? ".chorus"

    @Option(help: "The directory holding the Chorus executables (default: next to this one).")
    var binDir: String?

    @Option(help: "The directory holding the gateway's chorus.conf and upstreams-local.conf.")
    var gatewayConfig = "deploy/nginx"

    @Option(help: "The port of the local redis-server.")
    var redisPort = 6479

    @Option(help: "The port of the local PostgreSQL.")
    var postgresPort = 5479

    @Flag(help: "Do not load the demo data.")
    var noDemoData = false

    @Option(help: ArgumentHelp(
        "Multiply the demo data's plentiful stock and solvent balances, for load tests long enough to drain them; scarce products and poor customers stay so. Applies when the demo data is first loaded.",
        valueName: "factor"))
    var demoScale = 1

    func validate() throws {
        guard (1...1_000).contains(demoScale) else { throw ValidationError("--demo-scale must be from 1 to 1000") }
    }

    func run() async throws {
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        // The services are built next to this executable; /proc/self/exe finds it even when it
        // was started through PATH or a symlink.
        let executables = binDir.map { URL(fileURLWithPath: $0, relativeTo: here) }
            ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let gateway = URL(fileURLWithPath: gatewayConfig, relativeTo: here)
        guard FileManager.default.fileExists(atPath: gateway.appendingPathComponent("chorus.conf").path) else {
            throw CLIError("no chorus.conf in \(gateway.path); run from the repository or pass --gateway-config")
        }
        let stack = LocalStack(
            dataDirectory: URL(fileURLWithPath: dataDir, relativeTo: here).standardizedFileURL,
            binDirectory: executables.standardizedFileURL,
            gatewayConfigDirectory: gateway.standardizedFileURL,
            redisPort: redisPort, postgresPort: postgresPort, loadsDemoData: !noDemoData, demoScale: demoScale,
            // The event store's tables belong to a role nobody logs in as; its own role appends and reads.
            sealedSchemas: [LocalStack.sealed(EventStoreEffect())])
        // Trap the signals before anything starts, so that Ctrl-C always stops cleanly.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        try await stack.run(
            until: { for await _ in signals { return } },
            isReady: { await HTTP.isUp($0) },
            // Unbuffered, so that progress shows at once also when the output goes to a file.
            report: { line in FileHandle.standardOutput.write(Data("chorus: \(line)\n".utf8)) })
    }
}
