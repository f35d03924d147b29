import ArgumentParser
import CQRSProjection
import CheckoutDomain
import Foundation
import LocalStack
import Operations
import Provisioning
import ServiceSupport
import Synchronization

/// `chorus rebuild`: the read models again, from the event store, while the system runs.
struct Rebuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the CQRS read models from the event store, then switch to them, while the system runs.",
        discussion: """
            Reads every event from the event store in order and applies it, with the projection's own code, \
            to fresh tables beside the live ones (cqrs_projection.rebuild_*). The system keeps serving \
            meanwhile, from the live tables. Then, in one transaction, it holds the projection's consumers \
            (readers go on), applies what was stored since, records in the projection's inbox the events the \
            rebuilt tables hold so that none is applied twice, and puts the rebuilt tables in place of the live \
            ones. The consumers then go on from there. Stopped halfway, it leaves the live tables as they were; \
            run it again.

            It reads the store as the operator and writes the read models as their owner, the projection's \
            PostgreSQL role: --read-models-database-url, else CHORUS_READ_MODELS_DATABASE_URL (or the file \
            CHORUS_READ_MODELS_DATABASE_URL_FILE names), else the cqrs-projection credentials of the local \
            `chorus up` in CHORUS_DATA_DIR (default .chorus).

            Progress goes to stderr; the summary to stdout. Exits 0, 1 when the switch could not be made (the \
            event store is too far behind the projection), 69 when PostgreSQL cannot be reached, 77 when it \
            refuses the credentials.

            Example:
              chorus rebuild
              chorus rebuild --json | jq .events_per_second
            """
    )

    @OptionGroup var connection: OperatorOptions

    @Option(name: .customLong("read-models-database-url"), help: ArgumentHelp(
        "PostgreSQL as the read models' owner (visible in `ps`; prefer CHORUS_READ_MODELS_DATABASE_URL_FILE)."))
    var readModelsURL: String?

    @Option(help: "Events applied per transaction.")
    var pageSize = 20_000

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard (1...1_000_000).contains(pageSize) else { throw ValidationError("--page-size must be from 1 to 1000000") }
    }

    func run() async throws {
        let target = try connection.target()
        let readModelsURL = try self.readModelsURL ?? Self.defaultReadModelsURL()
        let progress = ProgressLine()
        let report = try await OperatorCommand.run("rebuild") { () async throws(OperatorError) in
            try await target.rebuildReadModels(readModelsURL: readModelsURL, pageSize: pageSize) { progress.show($0) }
        }
        if json {
            try OperatorCommand.printJSON(report)
        } else {
            print("""
                rebuilt the read models from \(report.events) events in \(String(format: "%.1f", report.seconds)) s \
                (\(report.eventsPerSecond) events/s); the projection was held \(report.switchMilliseconds) ms for the switch, \
                which applied \(report.appliedAtSwitch) more events and recorded \(report.recordedInInbox) in the projection's inbox
                """)
            print(TextTable.render([["TABLE", "ROWS"]] + report.rows.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] }))
        }
    }

    /// The environment's URL for the read models' owner, else the local stack's.
    private static func defaultReadModelsURL() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["CHORUS_READ_MODELS_DATABASE_URL"] { return url }
        if let file = environment["CHORUS_READ_MODELS_DATABASE_URL_FILE"] {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("chorus rebuild: CHORUS_READ_MODELS_DATABASE_URL_FILE: cannot read \(file)\n".utf8))
                throw ExitCode(78)
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let dataDirectory = URL(fileURLWithPath: environment["CHORUS_DATA_DIR"] ?? ".chorus")
        let file = LocalStackCredentials.urlFile(.service(.cqrsProjection), .database, dataDirectory: dataDirectory)
        guard let data = FileManager.default.contents(atPath: file.path) else {
            FileHandle.standardError.write(Data("""
                chorus rebuild: no credentials for the read models' owner: set CHORUS_READ_MODELS_DATABASE_URL (or _FILE), \
                or run where `chorus up` runs (looked for \(file.standardizedFileURL.path))

                """.utf8))
            throw ExitCode(77)
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// One progress line on stderr, at most every two seconds.
private final class ProgressLine: Sendable {
    private let lastShown = Mutex<ContinuousClock.Instant?>(nil)

    func show(_ progress: ReadModelRebuild.Progress) {
        let now = ContinuousClock.now
        let due = lastShown.withLock { last in
            guard last.map({ now - $0 >= .seconds(2) }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        let seconds = Double(progress.elapsed.components.seconds) + Double(progress.elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Int(Double(progress.applied) / seconds) : 0
        FileHandle.standardError.write(Data(
            "chorus rebuild: \(progress.applied) events applied, position \(progress.position) of \(progress.head) at the start (\(rate) events/s)\n".utf8))
    }
}
