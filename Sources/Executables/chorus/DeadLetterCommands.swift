import ArgumentParser
import Foundation
import Operations
import ServiceSupport

/// `chorus dlq`: the dead-letter stream.
struct DeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, show, retry and discard the entries consumer groups gave up on.",
        discussion: """
            An entry goes to the dead-letter stream (<prefix>:dead-letter) when it cannot be decoded, or fails \
            CHORUS_MAX_DELIVERIES times, with the reason, the group, the stream it came from and its fields.

            Example:
              chorus dlq list
              chorus dlq show 1732262102123-0
              chorus dlq retry 1732262102123-0
            """,
        subcommands: [List.self, Show.self, Retry.self, Discard.self]
    )

    /// `chorus dlq list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead letters, newest first.",
            discussion: """
                One row each: id, when it was dead-lettered, source stream, group, deliveries, event type, whether it \
                was retried, and the reason. Exits 0, or 69 when Redis cannot be reached; 77 when it refuses the credentials.

                Example:
                  chorus dlq list --limit 5
                """
        )

        @OptionGroup var connection: OperatorOptions

        @Option(help: "How many entries to show at most.")
        var limit = 20

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let queue = DeadLetterQueue(target: try connection.target())
            let count = limit
            let listing = try await OperatorCommand.run("dlq list") { () async throws(OperatorError) in try await queue.list(limit: count) }
            if json {
                try OperatorCommand.printJSON(DeadLetterListing(total: listing.total, entries: listing.entries))
                return
            }
            var rows = [["ID", "DEAD-LETTERED AT", "SOURCE", "GROUP", "DELIVERIES", "TYPE", "RETRIED", "REASON"]]
            for entry in listing.entries {
                rows.append([
                    entry.id, entry.deadLetteredAt ?? "-", entry.sourceStream, entry.group, entry.deliveries.map(String.init) ?? "-",
                    entry.eventType ?? "-", entry.retriedAs == nil ? "no" : "yes", entry.reason,
                ])
            }
            print("\(listing.total) dead letter\(listing.total == 1 ? "" : "s")\(listing.total > listing.entries.count ? ", newest \(listing.entries.count) shown" : "")")
            if !listing.entries.isEmpty { print(TextTable.render(rows)) }
        }
    }

    /// `chorus dlq show`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show everything about one dead letter, with its original entry laid out.",
            discussion: """
                Exits 0; 1 when there is no such dead letter; 69 when Redis cannot be reached; 77 when it refuses the credentials.

                Example:
                  chorus dlq show 1732262102123-0
                """
        )

        @OptionGroup var connection: OperatorOptions

        @Argument(help: "The dead letter's id in the dead-letter stream (from `chorus dlq list`).")
        var id: String

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            let queue = DeadLetterQueue(target: try connection.target())
            let id = id
            let entry = try await OperatorCommand.run("dlq show") { () async throws(OperatorError) in try await queue.show(id) }
            if json { try OperatorCommand.printJSON(entry) } else { print(entry.detailedDescription) }
        }
    }

    /// `chorus dlq retry`.
    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish dead letters again to the stream they came from, once.",
            discussion: """
                The original entry's fields are appended, unchanged, to its source stream. Every consumer group \
                reading that stream receives it again: groups that had already applied the event skip it through \
                their inbox (it has the same event_id), so only the group that gave up on it does the work. Fix \
                the cause first, or the entry will be dead-lettered again.

                Each source entry is republished at most once, even when two operators retry at the same moment \
                or several groups dead-lettered the same entry: the check and the publish are one Lua script, \
                which records the new id in <prefix>:dead-letter:retried. A second retry prints "skipped … \
                already retried" and publishes nothing.

                A letter whose original entry is older than the workers' inbox retention \
                (CHORUS_INBOX_RETENTION_MINUTES, 10080, a week, by default; set it as the workers have it) is not republished: \
                the workers that applied it have forgotten it by then and would apply it a second time.

                Exits 0; 1 when the id is unknown or the entry cannot be republished; 69 when Redis cannot be reached; 77 when it refuses the credentials.

                Example:
                  chorus dlq retry 1732262102123-0
                  chorus dlq retry --all
                """
        )

        @OptionGroup var connection: OperatorOptions

        @Argument(help: "The dead letter's id (from `chorus dlq list`).")
        var id: String?

        @Flag(help: "Retry every dead letter that was not retried before.")
        var all = false

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            guard (id == nil) != (!all) else { throw ValidationError("give either a dead letter id or --all") }
        }

        func run() async throws {
            // The workers' own setting: a letter older than their inbox retention is not republished.
            let retention = try connection.configuration().inboxRetentionMinutes
            let queue = DeadLetterQueue(target: try connection.target(), inboxRetentionMinutes: retention)
            let id = id
            let outcomes = try await OperatorCommand.run("dlq retry") { () async throws(OperatorError) in
                if let id { return [try await queue.retry(id)] }
                return try await queue.retryAll()
            }
            if json {
                try OperatorCommand.printJSON(outcomes)
            } else {
                if outcomes.isEmpty { print("the dead-letter stream is empty") }
                for outcome in outcomes { print(outcome.summary) }
                let republished = outcomes.filter { $0.outcome == .republished }.count
                if outcomes.count > 1 { print("\(republished) republished, \(outcomes.count - republished) skipped") }
            }
            if id != nil, outcomes.contains(where: { $0.outcome == .notRetriable }) { throw ExitCode(1) }
        }
    }
}

extension DeadLetters {
    /// `chorus dlq discard`.
    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove dead letters that will never be applied, keeping a record of each.",
            discussion: """
                For letters a retry cannot help, such as an entry of an unknown event type or with a payload no \
                version of Chorus reads (`chorus dlq retry` says "it would fail again" for those). Each letter is \
                copied, with who discarded it and the note, to <prefix>:dead-letter:discarded, then deleted from \
                the dead-letter stream, in one Lua script: a letter is never deleted without its record. Nothing \
                trims the record; read it with `redis-cli XRANGE <prefix>:dead-letter:discarded - +`.

                Exits 0; 1 when an id is unknown; 69 when Redis cannot be reached; 77 when it refuses the credentials.

                Example:
                  chorus dlq discard 1732262102123-0 --note "garbage from a test client"
                  chorus dlq discard --all --note "unknown event types after the v2 rollback"
                """
        )

        @OptionGroup var connection: OperatorOptions

        @Argument(help: "The dead letters' ids (from `chorus dlq list`).")
        var ids: [String] = []

        @Flag(help: "Discard every dead letter there now.")
        var all = false

        @Option(help: "Why they are discarded; kept in the record.")
        var note: String

        @Option(help: "Who discards them, for the record (default: this machine's user).")
        var by: String = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            guard ids.isEmpty != !all else { throw ValidationError("give either dead letter ids or --all") }
            guard !note.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--note must say why") }
        }

        func run() async throws {
            let queue = DeadLetterQueue(target: try connection.target())
            let (ids, all, note, by) = (ids, all, note, by)
            let outcomes = try await OperatorCommand.run("dlq discard") { () async throws(OperatorError) in
                if all { return try await queue.discardAll(by: by, note: note) }
                var outcomes: [DeadLetterDiscard] = []
                for id in ids { outcomes.append(try await queue.discard(id, by: by, note: note)) }
                return outcomes
            }
            if json {
                try OperatorCommand.printJSON(outcomes)
            } else {
                if outcomes.isEmpty { print("the dead-letter stream is empty") }
                for outcome in outcomes { print(outcome.summary) }
            }
        }
    }
}

/// The JSON of `chorus dlq list`.
struct DeadLetterListing: Encodable {
    var total: Int
    var entries: [DeadLetterEntry]
}
