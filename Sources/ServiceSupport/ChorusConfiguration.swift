import CheckoutDomain
import Foundation
import Logging

/// Everything a Chorus process reads from its environment, with defaults for a local run
/// (the ones `chorus up` uses).
public struct ChorusConfiguration: Sendable, Hashable {
    /// `CHORUS_REDIS_URL`: `redis://[user:password@]host:port[/db]`. Never logged with its password.
    /// `CHORUS_REDIS_URL_FILE` names a file holding it instead (a Compose secret).
    public var redisURL: String
    /// `CHORUS_DATABASE_URL`: a libpq URL or connection string. Never logged.
    /// `CHORUS_DATABASE_URL_FILE` names a file holding it instead (a Compose secret).
    public var databaseURL: String
    /// `CHORUS_STREAM_PREFIX`: the first part of every stream key.
    public var streamPrefix: String
    /// `CHORUS_PARTITIONS`: how many streams checkout events are spread over.
    public var partitions: Int
    /// `CHORUS_BATCH_SIZE`: entries read per stream in one `XREADGROUP`.
    public var batchSize: Int
    /// `CHORUS_BLOCK_MS`: how long one read waits for new entries.
    public var blockMilliseconds: Int
    /// `CHORUS_CLAIM_IDLE_MS`: how long an entry sits pending at a consumer before others claim it.
    public var claimIdleMilliseconds: Int
    /// `CHORUS_CLAIM_INTERVAL_MS`: how often a consumer looks for entries to claim.
    public var claimIntervalMilliseconds: Int
    /// `CHORUS_MAX_DELIVERIES`: deliveries after which a failing entry is dead-lettered.
    public var maxDeliveries: Int
    /// `CHORUS_CONSUMER_NAME`: this process's name in its consumer group; stable across restarts.
    public var consumerName: String?
    /// `CHORUS_HTTP_HOST`: the address the HTTP server binds.
    public var httpHost: String
    /// `CHORUS_HTTP_PORT`: the HTTP port; each service has its own default.
    public var httpPort: Int?
    /// `CHORUS_MAX_BODY_BYTES`: the largest request body accepted.
    public var maxBodyBytes: Int
    /// `CHORUS_DB_POOL_SIZE`: connections an HTTP service keeps to PostgreSQL (and to Redis).
    public var poolSize: Int
    /// `CHORUS_LOG_LEVEL`: trace, debug, info, notice, warning, error or critical.
    public var logLevel: Logger.Level
    /// `CHORUS_LOG_FORMAT`: `json` (one object per line, the default) or `text`.
    public var logFormat: LogFormat
    /// `CHORUS_METRICS_INTERVAL_MS`: how often consumer-group gauges (lag, pending) are read.
    public var metricsIntervalMilliseconds: Int
    /// `CHORUS_INBOX_RETENTION_MINUTES`: how long a worker remembers an event it applied, so
    /// that a redelivery is recognised; 0 remembers forever. `chorus dlq retry` refuses a dead
    /// letter older than this.
    public var inboxRetentionMinutes: Int
    /// `CHORUS_TRIM_INTERVAL_MS`: how often the event store trims the streams below what every
    /// group has delivered and acknowledged; 0 never trims.
    public var trimIntervalMilliseconds: Int
    /// `CHORUS_ABANDONED_GROUP_MS`: a consumer group whose consumers have all been idle this
    /// long no longer holds stream entries back; 0 waits for every group forever.
    public var abandonedGroupMilliseconds: Int
    /// `CHORUS_DEAD_LETTER_RETENTION_HOURS`: dead letters older than this are trimmed; 0 keeps them.
    public var deadLetterRetentionHours: Int
    /// `CHORUS_OBSERVER_LINGER_MS`: after a small batch, how long the consumers no step of a
    /// checkout waits on (the event store, the audit trail, the projection, checkout-api's; see
    /// `Worker.isOnTheSagasPath`) wait before reading again, so that they handle larger batches;
    /// 0 reads again at once.
    public var observerLingerMilliseconds: Int

    /// `CHORUS_CUSTOMER_CHECKOUT_RATE`: checkouts one customer may place per second at one
    /// checkout-api replica (bursts of twice that), counted by their verified token; 0 does not
    /// limit. Staff are not limited.
    public var customerCheckoutRate: Int

    /// How bearer tokens are verified; `nil` when no key set is configured. The services with
    /// routes that need a caller (checkout-api, event-store, cqrs-projection) refuse to start
    /// without it.
    public var tokens: TokenSettings?

    /// `CHORUS_HEALTH_PEERS`: the services `GET /health/system` asks, as
    /// `name=http://host:port,…`. By default, every process of a local run (`chorus up`).
    public var healthPeers: [HealthPeer]

    /// A process whose `/ready` the system health asks.
    public struct HealthPeer: Sendable, Hashable {
        public var name: String
        /// Scheme, host and port, without a path: `http://127.0.0.1:8082`.
        public var baseURL: String
        public init(name: String, baseURL: String) {
            self.name = name
            self.baseURL = baseURL
        }
    }

    /// Where the trusted keys come from and what tokens must say.
    public struct TokenSettings: Sendable, Hashable {
        /// Where the JSON Web Key Set is read.
        public enum KeySource: Sendable, Hashable {
            /// `CHORUS_JWKS_FILE`: a file holding the key set (what `chorus up` writes).
            case file(String)
            /// `CHORUS_JWKS_URL`: an issuer's `jwks_uri` (its OIDC discovery document names it).
            case url(String)
        }

        public var keys: KeySource
        /// `CHORUS_TOKEN_ISSUER`: the `iss` every token must carry. Required with a key set.
        public var issuer: String
        /// `CHORUS_TOKEN_AUDIENCE`: a value every token's `aud` must contain; `chorus` by default.
        public var audience: String
        /// `CHORUS_TOKEN_LEEWAY_SECONDS`: clock skew allowed on `exp` and `nbf`; 30 by default.
        public var leewaySeconds: Int
        /// `CHORUS_JWKS_REFRESH_SECONDS`: how often the key set is read again, so that rotated
        /// keys are picked up; 300 by default.
        public var refreshSeconds: Int

        public init(keys: KeySource, issuer: String, audience: String = "chorus", leewaySeconds: Int = 30, refreshSeconds: Int = 300) {
            self.keys = keys
            self.issuer = issuer
            self.audience = audience
            self.leewaySeconds = leewaySeconds
            self.refreshSeconds = refreshSeconds
        }
    }

    /// The processes `chorus up` runs, where it runs them: every worker at its default port,
    /// and the second checkout-api replica at 8091.
    public static let localHealthPeers: [HealthPeer] =
        Worker.allCases.map { HealthPeer(name: $0.rawValue, baseURL: "http://127.0.0.1:\(defaultPort(of: $0))") }
        + [HealthPeer(name: "checkout-api-2", baseURL: "http://127.0.0.1:\(secondCheckoutAPIPort)")]

    /// The local port of the second checkout-api replica behind the gateway.
    public static let secondCheckoutAPIPort = 8091

    /// How log lines look.
    public enum LogFormat: String, Sendable, Hashable {
        case json, text
    }

    public init(
        redisURL: String = "redis://127.0.0.1:6479",
        databaseURL: String = "postgresql://chorus@127.0.0.1:5479/chorus",
        streamPrefix: String = "chorus",
        partitions: Int = 4,
        batchSize: Int = 100,
        blockMilliseconds: Int = 1_000,
        claimIdleMilliseconds: Int = 30_000,
        claimIntervalMilliseconds: Int = 5_000,
        maxDeliveries: Int = 5,
        consumerName: String? = nil,
        httpHost: String = "127.0.0.1",
        httpPort: Int? = nil,
        maxBodyBytes: Int = 64 * 1024,
        poolSize: Int = 4,
        logLevel: Logger.Level = .info,
        logFormat: LogFormat = .json,
        metricsIntervalMilliseconds: Int = 5_000,
        inboxRetentionMinutes: Int = ChorusConfiguration.defaultInboxRetentionMinutes,
        trimIntervalMilliseconds: Int = 5_000,
        abandonedGroupMilliseconds: Int = 86_400_000,
        deadLetterRetentionHours: Int = 720,
        observerLingerMilliseconds: Int = 20,
        customerCheckoutRate: Int = 10,
        tokens: TokenSettings? = nil,
        healthPeers: [HealthPeer] = ChorusConfiguration.localHealthPeers
    ) {
        self.redisURL = redisURL
        self.databaseURL = databaseURL
        self.streamPrefix = streamPrefix
        self.partitions = partitions
        self.batchSize = batchSize
        self.blockMilliseconds = blockMilliseconds
        self.claimIdleMilliseconds = claimIdleMilliseconds
        self.claimIntervalMilliseconds = claimIntervalMilliseconds
        self.maxDeliveries = maxDeliveries
        self.consumerName = consumerName
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.maxBodyBytes = maxBodyBytes
        self.poolSize = poolSize
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.metricsIntervalMilliseconds = metricsIntervalMilliseconds
        self.inboxRetentionMinutes = inboxRetentionMinutes
        self.trimIntervalMilliseconds = trimIntervalMilliseconds
        self.abandonedGroupMilliseconds = abandonedGroupMilliseconds
        self.deadLetterRetentionHours = deadLetterRetentionHours
        self.observerLingerMilliseconds = observerLingerMilliseconds
        self.customerCheckoutRate = customerCheckoutRate
        self.tokens = tokens
        self.healthPeers = healthPeers
    }

    /// A week: far longer than any redelivery window (a pending entry is claimed within
    /// `CHORUS_CLAIM_IDLE_MS` and dead-lettered after `CHORUS_MAX_DELIVERIES`).
    public static let defaultInboxRetentionMinutes = 10_080

    /// The streams this configuration names.
    public var topology: StreamTopology { StreamTopology(prefix: streamPrefix, checkoutPartitions: partitions) }

    /// The default HTTP port of each process.
    public static func defaultPort(of worker: Worker) -> Int {
        switch worker {
        case .checkoutAPI: 8081
        case .eventStore: 8082
        case .cqrsProjection: 8083
        case .stockReservation: 8084
        case .payment: 8085
        case .orderCreation: 8086
        case .compensation: 8087
        case .audit: 8088
        }
    }

    /// Reads the configuration from environment variables; unset ones keep their defaults.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> ChorusConfiguration {
        var configuration = ChorusConfiguration()
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw ConfigurationError(variable: name, message: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        if let value = try secret("CHORUS_REDIS_URL", in: environment) { configuration.redisURL = value }
        if let value = try secret("CHORUS_DATABASE_URL", in: environment) { configuration.databaseURL = value }
        if let value = environment["CHORUS_STREAM_PREFIX"] {
            guard !value.isEmpty, !value.contains(" ") else { throw ConfigurationError(variable: "CHORUS_STREAM_PREFIX", message: "must be a non-empty word") }
            configuration.streamPrefix = value
        }
        if let value = try integer("CHORUS_PARTITIONS", 1...1024) { configuration.partitions = value }
        if let value = try integer("CHORUS_BATCH_SIZE", 1...10_000) { configuration.batchSize = value }
        if let value = try integer("CHORUS_BLOCK_MS", 1...60_000) { configuration.blockMilliseconds = value }
        if let value = try integer("CHORUS_CLAIM_IDLE_MS", 1...86_400_000) { configuration.claimIdleMilliseconds = value }
        if let value = try integer("CHORUS_CLAIM_INTERVAL_MS", 1...3_600_000) { configuration.claimIntervalMilliseconds = value }
        if let value = try integer("CHORUS_MAX_DELIVERIES", 1...1_000) { configuration.maxDeliveries = value }
        if let value = environment["CHORUS_CONSUMER_NAME"], !value.isEmpty { configuration.consumerName = value }
        if let value = environment["CHORUS_HTTP_HOST"] { configuration.httpHost = value }
        if let value = try integer("CHORUS_HTTP_PORT", 0...65_535) { configuration.httpPort = value }
        if let value = try integer("CHORUS_MAX_BODY_BYTES", 1_024...16_777_216) { configuration.maxBodyBytes = value }
        if let value = try integer("CHORUS_DB_POOL_SIZE", 1...64) { configuration.poolSize = value }
        if let value = environment["CHORUS_LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw ConfigurationError(variable: "CHORUS_LOG_LEVEL", message: "must be trace, debug, info, notice, warning, error or critical")
            }
            configuration.logLevel = level
        }
        if let value = environment["CHORUS_LOG_FORMAT"] {
            guard let format = LogFormat(rawValue: value.lowercased()) else {
                throw ConfigurationError(variable: "CHORUS_LOG_FORMAT", message: "must be json or text")
            }
            configuration.logFormat = format
        }
        if let value = try integer("CHORUS_METRICS_INTERVAL_MS", 100...3_600_000) { configuration.metricsIntervalMilliseconds = value }
        if let value = try integer("CHORUS_INBOX_RETENTION_MINUTES", 0...5_256_000) { configuration.inboxRetentionMinutes = value }
        if let value = try integer("CHORUS_TRIM_INTERVAL_MS", 0...3_600_000) { configuration.trimIntervalMilliseconds = value }
        if let value = try integer("CHORUS_ABANDONED_GROUP_MS", 0...31_536_000_000) { configuration.abandonedGroupMilliseconds = value }
        if let value = try integer("CHORUS_DEAD_LETTER_RETENTION_HOURS", 0...87_600) { configuration.deadLetterRetentionHours = value }
        if let value = try integer("CHORUS_OBSERVER_LINGER_MS", 0...10_000) { configuration.observerLingerMilliseconds = value }
        if let value = try integer("CHORUS_CUSTOMER_CHECKOUT_RATE", 0...100_000) { configuration.customerCheckoutRate = value }
        configuration.tokens = try tokenSettings(from: environment)
        if let value = environment["CHORUS_HEALTH_PEERS"] {
            configuration.healthPeers = try value.split(separator: ",").map { item throws(ConfigurationError) in
                let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("http://") || parts[1].hasPrefix("https://") else {
                    throw ConfigurationError(variable: "CHORUS_HEALTH_PEERS", message: "must be name=http://host:port pairs separated by commas")
                }
                return HealthPeer(name: parts[0], baseURL: parts[1].hasSuffix("/") ? String(parts[1].dropLast()) : parts[1])
            }
        }
        return configuration
    }
}

extension ChorusConfiguration {
    static func tokenSettings(from environment: [String: String]) throws(ConfigurationError) -> TokenSettings? {
        let source: TokenSettings.KeySource
        switch (environment["CHORUS_JWKS_FILE"], environment["CHORUS_JWKS_URL"]) {
        case (nil, nil):
            for name in ["CHORUS_TOKEN_ISSUER", "CHORUS_TOKEN_AUDIENCE"] where environment[name] != nil {
                throw ConfigurationError(variable: name, message: "is set, but neither CHORUS_JWKS_FILE nor CHORUS_JWKS_URL is")
            }
            return nil
        case (.some, .some):
            throw ConfigurationError(variable: "CHORUS_JWKS_FILE", message: "and CHORUS_JWKS_URL are both set; set one")
        case (let path?, nil):
            guard !path.isEmpty else { throw ConfigurationError(variable: "CHORUS_JWKS_FILE", message: "is empty") }
            source = .file(path)
        case (nil, let url?):
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw ConfigurationError(variable: "CHORUS_JWKS_URL", message: "must be an http:// or https:// URL")
            }
            source = .url(url)
        }
        guard let issuer = environment["CHORUS_TOKEN_ISSUER"], !issuer.isEmpty else {
            throw ConfigurationError(variable: "CHORUS_TOKEN_ISSUER", message: "must be set with a key set: the iss every token carries")
        }
        var settings = TokenSettings(keys: source, issuer: issuer)
        if let audience = environment["CHORUS_TOKEN_AUDIENCE"] {
            guard !audience.isEmpty else { throw ConfigurationError(variable: "CHORUS_TOKEN_AUDIENCE", message: "is empty") }
            settings.audience = audience
        }
        for (name, range, keyPath) in [
            ("CHORUS_TOKEN_LEEWAY_SECONDS", 0...600, \TokenSettings.leewaySeconds),
            ("CHORUS_JWKS_REFRESH_SECONDS", 10...86_400, \TokenSettings.refreshSeconds),
        ] {
            guard let text = environment[name] else { continue }
            guard let value = Int(text), range.contains(value) else {
                throw ConfigurationError(variable: name, message: "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            settings[keyPath: keyPath] = value
        }
        return settings
    }

    /// The value of `name`, or the content of the file `name_FILE` names, trimmed of the final
    /// newline. Secrets come as files (Compose `secrets:`), so that no password sits in the
    /// environment or in `compose.yaml`.
    static func secret(_ name: String, in environment: [String: String]) throws(ConfigurationError) -> String? {
        if let path = environment[name + "_FILE"] {
            if environment[name] != nil {
                throw ConfigurationError(variable: name, message: "and \(name)_FILE are both set; set one")
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(variable: name + "_FILE", message: "names \(path), which cannot be read")
            }
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw ConfigurationError(variable: name + "_FILE", message: "names an empty file, \(path)") }
            return value
        }
        return environment[name]
    }
}

/// An environment variable holds a value Chorus cannot use.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var variable: String
    public var message: String
    public var description: String { "\(variable) \(message)" }
}
