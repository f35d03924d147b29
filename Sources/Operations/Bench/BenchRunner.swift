import CheckoutDomain
import Foundation
import Redis

/// Runs a load test: sends checkouts, watches them end on the streams, and sums up.
///
/// Every checkout is a real `POST /checkouts` with an `Idempotency-Key`. Its latency runs from
/// the POST (closed loop) or from the moment it was due (open loop) to the moment the bench sees
/// its `CheckoutCompleted` or `CheckoutFailed` on a checkout stream, read with plain `XREAD`.
public struct BenchRunner: Sendable {
    public let configuration: BenchConfiguration
    private let mix: CheckoutMix
    private let tally = BenchTally()
    private let clock = ContinuousClock()

    /// - Throws: ``BenchError/invalidConfiguration(_:)`` when the configuration makes no sense.
    public init(configuration: BenchConfiguration) throws(BenchError) {
        try configuration.validate()
        self.configuration = configuration
        self.mix = CheckoutMix(seed: configuration.seed, catalogue: configuration.catalogue)
    }

    /// Sends no further checkout; the run still waits for those in flight, then returns its results.
    public func stop() async {
        await tally.stop()
    }

    /// Runs the load test to its end.
    /// - Parameters:
    ///   - progressInterval: how often `onProgress` is called.
    ///   - onProgress: receives where the run stands, while it runs and once at the end.
    /// - Throws: ``BenchError/unavailable(server:detail:)`` when the target or Redis does not
    ///   answer at the start. Failures during the run are counted in the results instead.
    public func run(
        progressInterval: Duration = .seconds(1),
        onProgress: @escaping @Sendable (BenchProgress) -> Void = { _ in }
    ) async throws(BenchError) -> BenchResults {
        let connections: Int =
            switch configuration.mode {
            case .openLoop: 256
            case .closedLoop(let concurrency): concurrency
            }
        let sender = CheckoutSender(
            baseURL: configuration.baseURL, requestTimeout: configuration.requestTimeout, connections: connections,
            trustedAuthority: configuration.trustedAuthority)
        // Through the gateway, /health asks every service; a system that has just started may
        // still be busy with its demo data, so give it a few seconds before giving up.
        var problem = await sender.health()
        for _ in 0..<10 where problem?.answered == true {
            try? await Task.sleep(for: .seconds(1))
            problem = await sender.health()
        }
        if let problem {
            await sender.close()
            throw .unavailable(server: "the gateway at \(configuration.baseURL)", detail: problem.description)
        }
        let redis = RedisConnection(configuration: configuration.redis, connectAttempts: 2)
        let tail: CheckoutStreamTail
        do {
            tail = try await CheckoutStreamTail.startingAtEnd(of: configuration.topology.checkoutStreams, redis: redis)
        } catch {
            await redis.close()
            await sender.close()
            let server = "Redis at \(configuration.redis.host):\(configuration.redis.port)"
            if error.code == .authenticationFailed || ["NOAUTH", "WRONGPASS", "NOPERM"].contains(error.serverErrorPrefix ?? "") {
                throw .denied(server: server, detail: error.message)
            }
            throw .unavailable(server: server, detail: error.message)
        }

        let watcher = TerminalWatcher()
        let cpuAtStart = ProcessCPU.seconds()
        let start = clock.now
        let startedAt = Date()
        let following = follow(tail, into: watcher)
        let expiring = expire(watcher)
        let reporting = report(every: progressInterval, since: start, to: onProgress)

        switch configuration.mode {
        case .openLoop(let rate): await sendOpenLoop(rate: rate, from: start, sender: sender, watcher: watcher)
        case .closedLoop(let concurrency): await sendClosedLoop(concurrency: concurrency, from: start, sender: sender, watcher: watcher)
        }

        let end = clock.now
        reporting.cancel()
        expiring.cancel()
        following.cancel()
        _ = await following.value
        await redis.close()
        await sender.close()
        await watcher.finish()
        await tally.finish()
        onProgress(await progress(since: start, now: end))
        var results = await results(start: start, end: end, startedAt: startedAt)
        results.benchCPUSeconds = ProcessCPU.seconds() - cpuAtStart
        return results
    }

    // MARK: - Sending

    /// Sends checkout `i` at `start + i / rate`, however long the earlier ones take.
    private func sendOpenLoop(rate: Int, from start: ContinuousClock.Instant, sender: CheckoutSender, watcher: TerminalWatcher) async {
        let planned = configuration.plannedOpenLoopCount ?? 0
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<planned {
                guard await !tally.stopping else { break }
                let due = start + .nanoseconds(Int64(index) * 1_000_000_000 / Int64(rate))
                if due > clock.now {
                    try? await Task.sleep(until: due, clock: clock)
                }
                group.addTask { await attempt(index, measuredFrom: due, sender: sender, watcher: watcher) }
            }
            await tally.endSending(at: clock.now)
        }
    }

    /// Keeps `concurrency` checkouts going, each worker sending its next one when the last has ended.
    private func sendClosedLoop(concurrency: Int, from start: ContinuousClock.Instant, sender: CheckoutSender, watcher: TerminalWatcher) async {
        let deadline = configuration.duration.map { start + $0 }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while let index = await tally.claimIndex(limit: configuration.count, deadline: deadline, now: clock.now) {
                        // A client told to slow down (429, 503) waits as a real one would,
                        // rather than hammering the gateway with requests it will refuse.
                        if await attempt(index, measuredFrom: clock.now, sender: sender, watcher: watcher) {
                            try? await Task.sleep(for: .seconds(1))
                        }
                    }
                }
            }
        }
    }

    /// Sends checkout `index` and waits for its end; the latency runs from `origin`.
    /// - Returns: whether the answer asks the client to back off (429 or 503).
    @discardableResult
    private func attempt(
        _ index: Int, measuredFrom origin: ContinuousClock.Instant, sender: CheckoutSender, watcher: TerminalWatcher
    ) async -> Bool {
        await tally.recordSent()
        let sentAt = clock.now
        let key = CheckoutMix.idempotencyKey(runID: configuration.runID, index: index)
        let checkout = mix.checkout(index)
        switch await sender.post(checkout, idempotencyKey: key, token: configuration.tokens.token(for: checkout.customerID)) {
        case .accepted(let checkoutID):
            await tally.recordAccepted(latency: clock.now - origin)
            if let observation = await watcher.waitForTerminal(checkoutID, until: sentAt + configuration.timeout) {
                await tally.recordTerminal(observation.outcome, latency: observation.at - origin, at: observation.at)
            } else {
                await tally.recordTimedOut()
            }
        case .rejected(let status):
            await tally.recordRejected(status: status)
            return status == 429 || status == 503
        case .error(let description):
            await tally.recordPostError(description)
        }
        return false
    }

    // MARK: - Background work during a run

    /// Reads the checkout streams until cancelled. A failed read is retried: the checkouts it
    /// would have ended time out if Redis stays away, and the results say so.
    private func follow(_ tail: CheckoutStreamTail, into watcher: TerminalWatcher) -> Task<Void, Never> {
        Task {
            var tail = tail
            while !Task.isCancelled {
                do {
                    let events = try await tail.next(blockMilliseconds: 100, count: 1_000)
                    if !events.isEmpty { await watcher.observe(events, at: clock.now) }
                } catch {
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// Times out checkouts past their deadline, ten times a second.
    private func expire(_ watcher: TerminalWatcher) -> Task<Void, Never> {
        let horizon = configuration.timeout + configuration.requestTimeout
        return Task {
            while !Task.isCancelled {
                await watcher.expire(now: clock.now, unclaimedHorizon: horizon)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    private func report(
        every interval: Duration, since start: ContinuousClock.Instant, to onProgress: @escaping @Sendable (BenchProgress) -> Void
    ) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { return }
                onProgress(await progress(since: start, now: clock.now))
            }
        }
    }

    private func progress(since start: ContinuousClock.Instant, now: ContinuousClock.Instant) async -> BenchProgress {
        let plannedCount: Int? =
            switch configuration.mode {
            case .openLoop: configuration.plannedOpenLoopCount
            case .closedLoop: configuration.count
            }
        return await tally.progress(elapsed: now - start, plannedDuration: configuration.duration, plannedCount: plannedCount)
    }

    // MARK: - Results

    private func results(start: ContinuousClock.Instant, end: ContinuousClock.Instant, startedAt: Date) async -> BenchResults {
        let sendingEnded = await tally.sendingEndedAt ?? end
        let lastTerminal = await tally.lastTerminalAt
        // At least the sending time: checkouts that timed out leave the last terminal state early.
        let elapsed = max(sendingEnded, lastTerminal ?? end) - start
        let elapsedSeconds = Double(elapsed.benchMicroseconds) / 1_000_000
        let completed = await tally.completed
        let failed = await tally.failed
        let (rate, concurrency): (Int?, Int?) =
            switch configuration.mode {
            case .openLoop(let rate): (rate, nil)
            case .closedLoop(let concurrency): (nil, concurrency)
            }
        var results = BenchResults(
            mode: configuration.mode.name, ratePerSecond: rate, concurrency: concurrency, seed: configuration.seed,
            runID: configuration.runID, url: configuration.baseURL, startedAt: Timestamp.format(startedAt),
            sendingSeconds: Double((sendingEnded - start).benchMicroseconds) / 1_000_000, elapsedSeconds: elapsedSeconds,
            sent: await tally.sent, accepted: await tally.accepted,
            rejected: Dictionary(uniqueKeysWithValues: await tally.rejected.map { (String($0.key), $0.value) }),
            postErrors: await tally.postErrors, completed: completed, failed: failed, failureReasons: await tally.failureReasons,
            timedOut: await tally.timedOut, throughputPerSecond: elapsedSeconds > 0 ? Double(completed + failed) / elapsedSeconds : 0,
            latency: LatencySummary(await tally.latencies), acceptanceLatency: LatencySummary(await tally.acceptanceLatencies),
            problems: [])
        results.problems = BenchResults.problems(
            sent: results.sent, accepted: results.accepted, postErrors: results.postErrors, serverErrors: results.serverErrors,
            timedOut: results.timedOut, maxErrorPercent: configuration.maxErrorPercent, errorExamples: await tally.postErrorSamples)
        return results
    }
}

/// The CPU time this process has used, user and system, in seconds: the bench's own cost, which
/// it reports so that a run on a shared machine says how much it took from the system it measured.
enum ProcessCPU {
    static func seconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
