import CheckoutDomain
import Redis
import StreamRuntime

/// How a checkout ended.
public enum TerminalOutcome: Sendable, Hashable {
    case completed
    /// With the reason `CheckoutFailed` gives, e.g. `insufficient_stock`.
    case failed(reason: String)
}

/// A terminal event seen on a checkout stream.
public struct TerminalEvent: Sendable, Hashable {
    public var checkoutID: String
    public var outcome: TerminalOutcome

    /// The end of `checkoutID`, as a terminal event reports it.
    public init(checkoutID: String, outcome: TerminalOutcome) {
        self.checkoutID = checkoutID
        self.outcome = outcome
    }

    /// The terminal event an entry carries, or `nil` for any other entry.
    ///
    /// Only `CheckoutCompleted` and `CheckoutFailed` are decoded: the other saga steps are most
    /// of the traffic, and the bench has no use for them.
    init?(streamFields fields: [String: String]) {
        guard let type = fields[StreamField.type],
            type == EventType.checkoutCompleted.rawValue || type == EventType.checkoutFailed.rawValue,
            let envelope = try? EventEnvelope(streamFields: fields)
        else { return nil }
        switch envelope.event {
        case .checkoutCompleted(let completed): self.init(checkoutID: completed.checkoutID, outcome: .completed)
        case .checkoutFailed(let failed): self.init(checkoutID: failed.checkoutID, outcome: .failed(reason: failed.reason))
        default: return nil
        }
    }
}

/// Follows the checkout streams with plain `XREAD BLOCK`, from where they ended before the run.
///
/// No consumer group: the bench takes nothing from the services' groups, leaves nothing pending,
/// and one blocking read watches every partition, however many checkouts are in flight.
struct CheckoutStreamTail {
    let redis: RedisConnection
    private let streams: [String]
    /// The last id read on each stream, in the order of ``streams``.
    private var positions: [String]

    /// Takes every stream's current end: the id of its newest entry (`0-0` for an empty or missing
    /// stream). A fixed id rather than `$`, so that nothing published between two reads is missed.
    static func startingAtEnd(of streams: [String], redis: RedisConnection) async throws(RedisError) -> CheckoutStreamTail {
        var positions: [String] = []
        for stream in streams {
            let newest = try await redis.execute(["XREVRANGE", stream, "+", "-", "COUNT", "1"])
            positions.append(newest.array?.first?.array?.first?.string ?? "0-0")
        }
        return CheckoutStreamTail(redis: redis, streams: streams, positions: positions)
    }

    private init(redis: RedisConnection, streams: [String], positions: [String]) {
        self.redis = redis
        self.streams = streams
        self.positions = positions
    }

    /// Waits up to `blockMilliseconds` for new entries and returns the terminal events among them.
    mutating func next(blockMilliseconds: Int, count: Int) async throws(RedisError) -> [TerminalEvent] {
        let command = ["XREAD", "COUNT", String(count), "BLOCK", String(blockMilliseconds), "STREAMS"] + streams + positions
        let reply = try await redis.execute(command, blockingMilliseconds: blockMilliseconds)
        guard let perStream = reply.array else { return [] }  // a null reply: nothing new within the block
        var events: [TerminalEvent] = []
        for streamReply in perStream {
            guard let pair = streamReply.array, pair.count == 2, let name = pair[0].string,
                let position = streams.firstIndex(of: name), let entries = pair[1].array
            else { continue }
            for entry in entries {
                guard let idAndFields = entry.array, idAndFields.count == 2, let id = idAndFields[0].string else { continue }
                positions[position] = id
                let flat = idAndFields[1].array ?? []
                var fields: [String: String] = [:]
                var index = 0
                while index + 1 < flat.count {
                    if let field = flat[index].string { fields[field] = flat[index + 1].string ?? "" }
                    index += 2
                }
                if let event = TerminalEvent(streamFields: fields) { events.append(event) }
            }
        }
        return events
    }
}

/// Matches terminal events to the checkouts waiting for them.
///
/// A terminal event may be read before the POST that started the checkout has its answer (the
/// saga takes milliseconds); such events are kept, with the moment they were seen, until the
/// checkout's sender asks for them or they are older than the run's timeout.
actor TerminalWatcher {
    /// A terminal state and when the bench saw it.
    struct Observation: Sendable {
        var outcome: TerminalOutcome
        var at: ContinuousClock.Instant
    }

    private struct Waiter {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Observation?, Never>
    }

    private var waiters: [String: [Waiter]] = [:]
    private var unclaimed: [String: Observation] = [:]
    private var isFinished = false

    /// The checkouts someone is waiting for.
    var waitingCount: Int { waiters.values.reduce(0) { $0 + $1.count } }

    /// Waits until `checkoutID` reaches a terminal state; `nil` if it has not by `deadline`.
    func waitForTerminal(_ checkoutID: String, until deadline: ContinuousClock.Instant) async -> Observation? {
        if let seen = unclaimed.removeValue(forKey: checkoutID) { return seen }
        if isFinished { return nil }
        return await withCheckedContinuation { continuation in
            waiters[checkoutID, default: []].append(Waiter(deadline: deadline, continuation: continuation))
        }
    }

    /// Hands each event to whoever waits for its checkout, or keeps it for a sender still waiting
    /// for its POST's answer. A repeated event (republished after a crash) finds no one and is kept
    /// until it expires.
    func observe(_ events: [TerminalEvent], at instant: ContinuousClock.Instant) {
        for event in events {
            let observation = Observation(outcome: event.outcome, at: instant)
            if let waiting = waiters.removeValue(forKey: event.checkoutID) {
                for waiter in waiting { waiter.continuation.resume(returning: observation) }
            } else if unclaimed[event.checkoutID] == nil {
                unclaimed[event.checkoutID] = observation
            }
        }
    }

    /// Gives up on checkouts past their deadline, and forgets events no sender claimed within `horizon`.
    func expire(now: ContinuousClock.Instant, unclaimedHorizon horizon: Duration) {
        for (checkoutID, waiting) in waiters {
            let (late, onTime) = (waiting.filter { $0.deadline <= now }, waiting.filter { $0.deadline > now })
            guard !late.isEmpty else { continue }
            for waiter in late { waiter.continuation.resume(returning: nil) }
            waiters[checkoutID] = onTime.isEmpty ? nil : onTime
        }
        unclaimed = unclaimed.filter { now - $0.value.at < horizon }
    }

    /// Ends every wait: nothing more will be observed.
    func finish() {
        isFinished = true
        for waiting in waiters.values {
            for waiter in waiting { waiter.continuation.resume(returning: nil) }
        }
        waiters = [:]
        unclaimed = [:]
    }
}
