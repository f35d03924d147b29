import ArgumentParser
import Foundation
import Operations

/// `chorus lag`: how far behind each consumer group is.
struct Lag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each consumer group's lag, pending entries, oldest pending age and consumers.",
        discussion: """
            One row per stream and consumer group, over every checkout partition, the reference stream and \
            the dead-letter stream, with the stream's LENGTH and MEMORY (what it takes in Redis): LAG is how \
            many entries the group has not been delivered yet; PENDING how \
            many it was delivered and has not acknowledged; OLDEST PENDING how long ago the oldest of those was \
            added to the stream; then each consumer with the time since it last read or acknowledged.

            When the partition streams that exist are not as many as CHORUS_PARTITIONS (or --partitions) says, \
            a warning on stderr says how many there are.

            Redis cannot always count the lag (after entries were deleted from the part of a stream a group has \
            not read yet), nor always count it right (after a restart from its append-only file). LAG is 0 when \
            the group was delivered the stream's last entry; else Redis's figure when it is plausible; else the \
            entries after the last one delivered, counted up to 100,000; past that "unknown" (null in JSON), never 0.

            Exits 0, or 69 when Redis cannot be reached; 77 when it refuses the credentials.

            Example:
              chorus lag
              chorus lag --json | jq '.streams[].groups[] | select(.pending > 0)'
            """
    )

    @OptionGroup var connection: OperatorOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        let target = try connection.target()
        let report = try await OperatorCommand.run("lag") { () async throws(OperatorError) in try await LagReport.take(from: target) }
        if json { try OperatorCommand.printJSON(report) } else { print(report.table) }
        for warning in report.warnings { FileHandle.standardError.write(Data("chorus lag: \(warning)\n".utf8)) }
    }
}
