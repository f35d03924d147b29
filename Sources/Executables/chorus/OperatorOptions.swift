import ArgumentParser
import CheckoutDomain
import Foundation
import Operations
import ServiceSupport

/// Where the operator commands (`lag`, `dlq`, `history`, `verify`) find the running system.
///
/// Each option falls back to the configuration ``OperatorOptions/defaults()`` resolves, so that a
/// command run next to `chorus up` needs none of them.
struct OperatorOptions: ParsableArguments {
    @Option(name: .customLong("redis-url"), help: ArgumentHelp(
        "Redis, as redis://[user:password@]host:port[/db] (visible in `ps`; prefer CHORUS_REDIS_URL_FILE).",
        discussion: "Default: CHORUS_REDIS_URL (or the file CHORUS_REDIS_URL_FILE names), else the operator user of the local `chorus up` in CHORUS_DATA_DIR (default .chorus)."))
    var redisURL: String?

    @Option(name: .customLong("database-url"), help: ArgumentHelp(
        "PostgreSQL, as a libpq URL or connection string (visible in `ps`; prefer CHORUS_DATABASE_URL_FILE).",
        discussion: "Default: CHORUS_DATABASE_URL (or the file CHORUS_DATABASE_URL_FILE names), else the operator role of the local `chorus up` in CHORUS_DATA_DIR (default .chorus)."))
    var databaseURL: String?

    @Option(help: "The stream prefix (default: CHORUS_STREAM_PREFIX, else chorus).")
    var prefix: String?

    @Option(help: "How many checkout partitions there are (default: CHORUS_PARTITIONS, else 4).")
    var partitions: Int?

    func validate() throws {
        if let partitions, !(1...1_024).contains(partitions) { throw ValidationError("--partitions must be from 1 to 1024") }
        if let prefix, prefix.isEmpty || prefix.contains(" ") { throw ValidationError("--prefix must be a non-empty word") }
    }

    /// The single place operator defaults come from: the CHORUS_* environment, then the
    /// operator credentials of a local `chorus up` (see ``LocalDefaults``).
    static func defaults() throws -> ChorusConfiguration {
        try LocalDefaults.configuration()
    }

    /// The operator defaults; a `CHORUS_*` variable Chorus cannot use exits 78.
    func configuration() throws -> ChorusConfiguration {
        try Self.configurationOrExit()
    }

    /// The operator defaults, for a command without these options; a `CHORUS_*` variable
    /// Chorus cannot use exits 78.
    static func configurationOrExit() throws -> ChorusConfiguration {
        do {
            return try Self.defaults()
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("chorus: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
    }

    /// The system these options name.
    func target() throws -> OperatorTarget {
        let defaults = try configuration()
        return OperatorTarget(
            redisURL: redisURL ?? defaults.redisURL,
            databaseURL: databaseURL ?? defaults.databaseURL,
            topology: StreamTopology(prefix: prefix ?? defaults.streamPrefix, checkoutPartitions: partitions ?? defaults.partitions))
    }
}

/// Runs an operator command's work and turns its failure into one line on stderr and the
/// conventional exit status: 69 when a server is unreachable, 77 when it refuses the credentials,
/// 1 otherwise.
enum OperatorCommand {
    static func run<Value>(_ name: String, _ body: () async throws(OperatorError) -> Value) async throws -> Value {
        do {
            return try await body()
        } catch {
            var message = "chorus \(name): \(error)\n"
            if [69, 77].contains(error.exitStatus), let source = LocalDefaults.credentialsSource() {
                message += "chorus \(name): used \(source)\n"
            }
            FileHandle.standardError.write(Data(message.utf8))
            throw ExitCode(error.exitStatus)
        }
    }

    /// Prints a value as indented JSON with sorted keys.
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
