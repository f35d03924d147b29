import ArgumentParser
import Foundation
import Identity
import Operations
import Redis
import ServiceSupport
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `chorus bench`: the load generator.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a running Chorus: send checkouts, measure POST-to-terminal latency.",
        discussion: """
            Every checkout is a real POST /checkouts with an Idempotency-Key, drawn from the demo data \
            (some fail on purpose: scarce stock, customers who cannot pay). Its latency runs to the moment \
            its CheckoutCompleted or CheckoutFailed appears on a checkout stream, which the bench reads \
            from Redis with plain XREAD (no consumer group). Latencies go into an HdrHistogram, in \
            microseconds.

            Open loop (--rate): checkouts are due at a fixed rate whatever the system does, and latency \
            counts from the moment each was due, so a stall is not hidden by a generator that waits for \
            it (no coordinated omission). Closed loop (--concurrency): each worker sends its next \
            checkout when the previous one has ended; this measures what a fixed number of clients get.

            Progress goes to stderr (a bar on a terminal, a line every 5 seconds otherwise); the closing \
            table goes to stdout. Redis and the stream names come from CHORUS_REDIS_URL, \
            CHORUS_STREAM_PREFIX and CHORUS_PARTITIONS, as for the services. Ctrl-C stops sending and \
            waits for the checkouts in flight; a second Ctrl-C quits at once.

            Examples:
              # Open loop: 50 checkouts a second for a minute (3,000 in all).
              chorus bench --rate 50 --duration 60
              # Closed loop: 8 workers for 30 seconds, the results also as JSON.
              chorus bench --concurrency 8 --duration 30 --json bench.json
              # 200 checkouts, 4 at a time, straight to one checkout-api.
              chorus bench --concurrency 4 --count 200 --url http://127.0.0.1:8081

            Exit status: 0 when the run finished (business failures included); 1 when an accepted \
            checkout reached no terminal state within --timeout, no checkout was accepted, or more \
            POSTs than --max-error-percent got no answer or a 5xx; 69 when the target or Redis is \
            unreachable at the start; 64 for usage errors.
            """
    )

    @OptionGroup var gateway: GatewayOptions

    @Option(help: ArgumentHelp("Open loop: checkouts per second, sent on schedule whatever the system does.", valueName: "per-second"))
    var rate: Int?

    @Option(help: ArgumentHelp("Closed loop: workers, each sending its next checkout once the last one ended.", valueName: "workers"))
    var concurrency: Int?

    @Option(help: ArgumentHelp("Seconds to send for (default: 30, unless --count is given).", valueName: "seconds"))
    var duration: Double?

    @Option(help: "At most this many checkouts; with --duration, whichever comes first ends the run.")
    var count: Int?

    @Option(help: ArgumentHelp("Seconds an accepted checkout may take to complete or fail before it counts as timed out.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(help: "Seeds the mix of checkouts: the same seed sends the same bodies in the same order.")
    var seed: UInt64 = 1

    @Option(name: .customLong("json"), help: ArgumentHelp("Also write the results as JSON to this file.", valueName: "file"))
    var jsonPath: String?

    @Option(help: "The Redis whose checkout streams are watched (default: CHORUS_REDIS_URL, else the operator user of the local `chorus up`).")
    var redisURL: String?

    @Option(help: ArgumentHelp("POSTs with no answer or a 5xx tolerated, in percent of those sent, before the run fails.", valueName: "percent"))
    var maxErrorPercent: Double = 1

    @Option(name: .customLong("cacert"), help: ArgumentHelp(
        "Trust this certificate authority (PEM) for an https:// --url, as curl's --cacert: .chorus/tls/ca.pem for chorus up's gateway.",
        valueName: "file"))
    var trustedAuthority: String?

    @Flag(help: "Show no progress on stderr.")
    var quiet = false

    func validate() throws {
        switch (rate, concurrency) {
        case (nil, nil), (.some, .some): throw ValidationError("give either --rate (open loop) or --concurrency (closed loop)")
        case (let rate?, _) where rate < 1: throw ValidationError("--rate must be at least 1")
        case (_, let concurrency?) where concurrency < 1: throw ValidationError("--concurrency must be at least 1")
        default: break
        }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive") }
        if !(0...100).contains(maxErrorPercent) { throw ValidationError("--max-error-percent is from 0 to 100") }
    }

    func run() async throws {
        let runner: BenchRunner
        do {
            runner = try BenchRunner(configuration: try await benchConfiguration())
        } catch let error as BenchError {
            throw ValidationError(error.description)
        }
        // Trapped before the run starts, so that Ctrl-C always ends with the table.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let stopping = Task {
            var interrupted = false
            for await _ in signals {
                if interrupted { Foundation.exit(130) }
                interrupted = true
                Self.writeError("\nchorus bench: stopping; waiting for the checkouts in flight (Ctrl-C again quits)\n")
                await runner.stop()
            }
        }
        defer { stopping.cancel() }

        let display = ProgressDisplay(isTerminal: isatty(STDERR_FILENO) == 1, isQuiet: quiet)
        let results: BenchResults
        do {
            results = try await runner.run(progressInterval: display.interval) { display.show($0) }
        } catch {
            Self.writeError("chorus bench: \(error.description)\n")
            throw ExitCode(error.exitStatus)
        }
        print(BenchReport.table(results))
        if let jsonPath {
            do {
                try results.jsonData().write(to: URL(fileURLWithPath: jsonPath))
            } catch {
                Self.writeError("chorus bench: cannot write \(jsonPath): \(error)\n")
                throw ExitCode(1)
            }
        }
        if !results.problems.isEmpty { throw ExitCode(1) }
    }

    /// The options and the environment as one configuration.
    private func benchConfiguration() async throws -> BenchConfiguration {
        let environment: ChorusConfiguration
        do {
            environment = try LocalDefaults.configuration()
        } catch {
            throw ValidationError(error.description)
        }
        let redis: RedisConfiguration
        do {
            redis = try RedisConfiguration(url: redisURL ?? environment.redisURL)
        } catch {
            throw ValidationError(error.message)
        }
        let mode: BenchMode = if let rate { .openLoop(ratePerSecond: rate) } else { .closedLoop(concurrency: concurrency ?? 1) }
        let catalogue = BenchCatalogue.demo
        let tokens: BenchTokens
        if let token = ProcessInfo.processInfo.environment["CHORUS_TOKEN"], !token.isEmpty {
            tokens = .one(token)
        } else {
            // Each demo customer signs their own checkouts, valid for the whole run and its drain.
            let issuer = try CallerTokens.localIssuer()
            let lifetime = Duration.seconds(Int64((duration ?? 30) + timeout) + 3_600)
            var minted: [String: String] = [:]
            for customer in catalogue.customers {
                minted[customer] = try await issuer.token(for: .customer(id: customer), lifetime: lifetime)
            }
            tokens = .perCustomer(minted)
        }
        return BenchConfiguration(
            baseURL: gateway.baseURL,
            redis: redis,
            topology: environment.topology,
            mode: mode,
            duration: duration.map { .milliseconds(Int64(($0 * 1_000).rounded())) } ?? (count == nil ? .seconds(30) : nil),
            count: count,
            timeout: .milliseconds(Int64((timeout * 1_000).rounded())),
            seed: seed,
            catalogue: catalogue,
            maxErrorPercent: maxErrorPercent,
            tokens: tokens,
            trustedAuthority: trustedAuthority)
    }

    static func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds in a log.
private struct ProgressDisplay: Sendable {
    let isTerminal: Bool
    let isQuiet: Bool

    var interval: Duration { isTerminal ? .milliseconds(250) : .seconds(5) }

    func show(_ progress: BenchProgress) {
        guard !isQuiet else { return }
        if isTerminal {
            // \r and "erase to end of line" redraw the bar; the final one ends the line.
            let end = progress.phase == .done ? "\n" : ""
            Bench.writeError("\r" + BenchReport.progressBar(progress) + "\u{1B}[K" + end)
        } else {
            Bench.writeError(BenchReport.progressLine(progress) + "\n")
        }
    }
}
