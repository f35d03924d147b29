import Logging
import ServiceLifecycle

/// Runs a sampler (one that reads some state into gauges) every `interval` until graceful
/// shutdown, as a `Service`. A failed sample is logged at debug level and tried again next time:
/// a gauge that is a few seconds stale is better than a process that stops over it.
public struct PeriodicSampler: Service {
    /// What the samples read, for the log line of a failed one.
    let what: String
    let interval: Duration
    let logger: Logger
    let sample: @Sendable () async throws -> Void

    public init(_ what: String, every interval: Duration, logger: Logger, sample: @escaping @Sendable () async throws -> Void) {
        self.what = what
        self.interval = interval
        self.logger = logger
        self.sample = sample
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await sample()
            } catch {
                logger.debug("cannot read \(what)", metadata: ["error": "\(error)"])
            }
            // Woken by graceful shutdown too: a sampler with a long interval must not hold it up.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
