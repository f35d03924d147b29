import CheckoutDomain
import ExactlyOnce
import Foundation
import HTTPSupport
import Hummingbird
import Identity
import Logging
import Observability
import Postgres
import Redis
import ServiceLifecycle
import StreamRuntime

/// The connections and settings a process's routes can use.
public struct ProcessResources: Sendable {
    public let configuration: ChorusConfiguration
    public let topology: StreamTopology
    /// Connections for HTTP handlers (the consumer has its own).
    public let database: PostgresConnectionPool
    public let redis: RedisConnectionPool
    public let logger: Logger
    /// The process's metrics registry, served at `GET /metrics`.
    public let metrics: ProcessMetrics
}

/// One Chorus process: a worker's stream consumer plus its HTTP server (health, readiness and
/// the service's own routes), as one `Service`.
///
/// On graceful shutdown the HTTP server stops first, then the consumer finishes its batch in
/// flight, publishes, acknowledges and returns.
public struct ChorusProcess<Effect: EventEffect>: Service {
    public let effect: Effect
    public let configuration: ChorusConfiguration
    let logger: Logger
    let routes: @Sendable (Router<ChorusRequestContext>, ProcessResources) -> Void
    /// Whether the routes need to know the caller: the process then refuses to start without
    /// a trusted key set.
    let routesNeedCallers: Bool
    let monitors: @Sendable (ProcessResources) -> [any Service]
    let onListening: @Sendable (Int) async -> Void
    /// Where this process's series live; `GET /metrics` serves them.
    public let metrics: ProcessMetrics
    /// Settings of the sessions the HTTP routes use (the consumer's are always ``PostgresSessionSettings/keyLookups``).
    let routeSessionSettings: PostgresSessionSettings

    /// - Parameters:
    ///   - routes: adds the service's own routes.
    ///   - monitors: the service's own background samplers (say, gauges read from storage).
    ///   - metrics: the registry to record into; each process has its own by default.
    ///   - routeSessionSettings: settings of the sessions the routes use.
    ///   - routesNeedCallers: whether the routes authorize callers, and so need tokens verified.
    ///   - onListening: called with the bound port once the HTTP server listens.
    public init(
        effect: Effect,
        configuration: ChorusConfiguration,
        logger: Logger,
        routes: @escaping @Sendable (Router<ChorusRequestContext>, ProcessResources) -> Void = { _, _ in },
        routesNeedCallers: Bool = false,
        monitors: @escaping @Sendable (ProcessResources) -> [any Service] = { _ in [] },
        metrics: ProcessMetrics = ProcessMetrics(),
        routeSessionSettings: PostgresSessionSettings = .keyLookups,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.routeSessionSettings = routeSessionSettings
        self.monitors = monitors
        self.metrics = metrics
        self.effect = effect
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "service"] = "\(effect.worker.rawValue)"
        // Which replica: two checkout-api processes share the service's name.
        logger[metadataKey: "instance"] = "\(configuration.consumerName ?? Self.defaultConsumerName(effect.worker))"
        self.logger = logger
        self.routes = routes
        self.routesNeedCallers = routesNeedCallers
        self.onListening = onListening
    }

    public func run() async throws {
        let worker = effect.worker
        var keyRefresher: [any Service] = []
        var verifier: TokenVerifier?
        if let tokens = configuration.tokens {
            let keys = TrustedKeys(settings: tokens)
            switch tokens.keys {
            case .file:
                verifier = try await keys.verifier()
            case .url:
                // An identity provider may come up after Chorus: wait for its keys rather than fail.
                try await Self.untilReachable(logger: logger, what: "the trusted token keys") { verifier = try await keys.verifier() }
            }
            if let verifier { keyRefresher = [keys.refresher(for: verifier, logger: logger)] }
        } else if routesNeedCallers {
            throw ConfigurationError(
                variable: "CHORUS_JWKS_FILE", message: "or CHORUS_JWKS_URL must be set: \(worker.rawValue) verifies callers' tokens")
        }
        let redisConfiguration = try RedisConfiguration(url: configuration.redisURL)
        let topology = configuration.topology
        let resources = ProcessResources(
            configuration: configuration,
            topology: topology,
            database: PostgresConnectionPool(
                connectionString: configuration.databaseURL, size: configuration.poolSize, sessionSettings: routeSessionSettings),
            redis: RedisConnectionPool(configuration: redisConfiguration, size: configuration.poolSize),
            logger: logger,
            metrics: metrics)
        let consumerDatabase = PostgresConnection(connectionString: configuration.databaseURL, sessionSettings: .keyLookups)
        let handler = ExactlyOnceHandler(
            effect: effect, database: consumerDatabase, topology: topology, logger: logger, metrics: metrics.factory)
        effect.prepareMetrics(metrics.factory)
        try await Self.untilReachable(logger: logger, what: "PostgreSQL") { try await handler.migrate() }

        let streams = topology.streams(readBy: worker)
        let consumer = StreamConsumer(
            configuration: StreamConsumerConfiguration(
                group: worker.groupName,
                consumer: configuration.consumerName ?? Self.defaultConsumerName(worker),
                streams: streams,
                deadLetterStream: topology.deadLetterStream,
                batchSize: configuration.batchSize,
                blockMilliseconds: configuration.blockMilliseconds,
                claimIdleMilliseconds: configuration.claimIdleMilliseconds,
                claimIntervalMilliseconds: configuration.claimIntervalMilliseconds,
                maxDeliveries: configuration.maxDeliveries,
                // Checkout events rely on reference data (stores, stock, customers): apply it first.
                drainFirst: streams.count > 1 && streams.contains(topology.referenceStream) ? [topology.referenceStream] : [],
                lingerMilliseconds: worker.isOnTheSagasPath ? 0 : configuration.observerLingerMilliseconds),
            redis: RedisConnection(configuration: redisConfiguration),
            handler: handler,
            logger: logger,
            metrics: metrics.factory)
        let groupMonitor = ConsumerGroupMonitor(group: worker.groupName, streams: streams, redis: resources.redis, metrics: metrics.factory)
            .periodically(every: .milliseconds(configuration.metricsIntervalMilliseconds), logger: logger)

        // HEAD is answered wherever GET is, as the gateway's 405 (Allow: GET, HEAD) promises.
        let router = Router(context: ChorusRequestContext.self, options: .autoGenerateHeadEndpoints)
        // First, so that every line a request logs carries its one id.
        router.add(middleware: RequestIDMiddleware())
        // Outermost but that, so that it also counts the problem responses the next middleware makes.
        router.add(middleware: HTTPMetricsMiddleware(metrics: metrics.factory))
        router.add(middleware: ProblemMiddleware())
        if let verifier { router.add(middleware: BearerTokenAuthenticator(verifier: verifier)) }
        HealthRoutes(resources: resources, group: worker.groupName, streams: streams).register(on: router)
        MetricsRoute(metrics: metrics).register(on: router)
        SystemHealthRoute(peers: configuration.healthPeers).register(on: router)
        routes(router, resources)
        let onListening = self.onListening
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort ?? ChorusConfiguration.defaultPort(of: worker))),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)

        var retention: [any Service] = []
        if effect.inbox == .table, configuration.inboxRetentionMinutes > 0 {
            // Its own connection: a long prune must not hold up the routes' pool.
            let pruner = InboxPruner(
                effect: effect, retention: .seconds(configuration.inboxRetentionMinutes * 60),
                database: PostgresConnection(connectionString: configuration.databaseURL), metrics: metrics.factory)
            retention.append(PeriodicSampler("the inbox records to prune", every: .seconds(60), logger: logger) { try await pruner.pruneOnce() })
        }
        let services: [any Service] = [consumer, groupMonitor] + retention + keyRefresher + monitors(resources) + [app]
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        do {
            try await group.run()
        } catch {
            await close(resources, consumerDatabase)
            throw error
        }
        await close(resources, consumerDatabase)
    }

    private func close(_ resources: ProcessResources, _ consumerDatabase: PostgresConnection) async {
        await resources.database.close()
        await resources.redis.close()
        await consumerDatabase.close()
    }

    /// Runs `body` until it succeeds, so that a process started before its database waits for it.
    static func untilReachable(logger: Logger, what: String, _ body: () async throws -> Void) async throws {
        var delay = 100
        while true {
            do {
                return try await body()
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { throw error }
                logger.warning("\(what) not ready; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(delay))
                delay = min(delay * 2, 5_000)
            }
        }
    }

    static func defaultConsumerName(_ worker: Worker) -> String {
        "\(worker.rawValue)@\(ProcessInfo.processInfo.hostName)"
    }
}
