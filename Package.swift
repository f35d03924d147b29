// swift-tools-version:6.2
import PackageDescription

/// Test targets import what they use without naming every module a member comes from.
let testSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// Every executable allocates through jemalloc rather than glibc's malloc: a worker's hot path is
/// mostly short-lived allocations (stream entries, strings, arrays), and jemalloc made the whole
/// saga about 8 % cheaper in CPU (docs/benchmarks.md). Debian's `libjemalloc-dev`; Redis uses
/// the same library.
let executableLinking: [LinkerSetting] = [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]

/// One thin executable per process: it only wires configuration to a library.
func service(_ name: String, _ library: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [.target(name: library), "ServiceSupport"],
        path: "Sources/Executables/\(name)",
        swiftSettings: strict,
        linkerSettings: executableLinking
    )
}

let serviceNames: [(String, String)] = [
    ("checkout-api", "CheckoutAPI"),
    ("event-store", "EventStore"),
    ("stock-reservation", "StockReservation"),
    ("payment", "Payment"),
    ("order-creation", "OrderCreation"),
    ("compensation", "Compensation"),
    ("audit", "Audit"),
    ("cqrs-projection", "CQRSProjection"),
]

let package = Package(
    name: "chorus",
    platforms: [.macOS(.v15)],
    products: serviceNames.map { .executable(name: $0.0, targets: [$0.0]) } + [
        .executable(name: "chorus", targets: ["chorus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // 4.x for jwt-kit; our own use (SHA-256, random keys) is the same in 3.x and 4.x.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // C bindings: a module map and a shim header, nothing else.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),

        // Thin, safe wrappers over the C clients.
        .target(name: "DedicatedThread", swiftSettings: strict),
        .target(
            name: "Redis",
            dependencies: ["CHiredis", "DedicatedThread"],
            swiftSettings: strict
        ),
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ", "DedicatedThread"],
            swiftSettings: strict
        ),

        // The pure domain: events, folds, rules. No I/O.
        .target(
            name: "CheckoutDomain",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),

        // Who is calling: bearer tokens verified against a JWKS, the callers and their roles, and
        // what each may do. Pure rules plus the verifier; no HTTP.
        .target(
            name: "Identity",
            dependencies: [.product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),

        // Metrics in Prometheus format and JSON logs, for every process.
        .target(
            name: "Observability",
            dependencies: [
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        // The Redis Streams runtime: consumer groups, claiming, dead letters, publishing.
        .target(
            name: "StreamRuntime",
            dependencies: [
                "Redis", "Observability",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // Effects once: inbox, effect and outgoing events in one transaction per batch.
        .target(
            name: "ExactlyOnce",
            dependencies: ["StreamRuntime", "Postgres", "CheckoutDomain", "Observability", .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: strict
        ),

        // HTTP conventions shared by every service that serves HTTP.
        .target(
            name: "HTTPSupport",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"), "Postgres", "CheckoutDomain", "Observability",
                .product(name: "Metrics", package: "swift-metrics"), "Identity",
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
            ],
            swiftSettings: strict
        ),

        // Configuration and process wiring shared by the executables.
        .target(
            name: "ServiceSupport",
            dependencies: [
                "ExactlyOnce", "HTTPSupport", "Observability", "Identity",
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // One library per service.
        .target(
            name: "CheckoutAPI",
            dependencies: ["ServiceSupport", "HTTPSupport", "Identity", .product(name: "HummingbirdAuth", package: "hummingbird-auth")],
            swiftSettings: strict),
        .target(
            name: "EventStore",
            dependencies: ["ServiceSupport", "HTTPSupport", "Identity", .product(name: "HummingbirdAuth", package: "hummingbird-auth")],
            swiftSettings: strict),
        .target(name: "StockReservation", dependencies: ["ServiceSupport"], swiftSettings: strict),
        .target(name: "Payment", dependencies: ["ServiceSupport"], swiftSettings: strict),
        .target(name: "OrderCreation", dependencies: ["ServiceSupport"], swiftSettings: strict),
        .target(name: "Compensation", dependencies: ["ServiceSupport"], swiftSettings: strict),
        .target(name: "Audit", dependencies: ["ServiceSupport"], swiftSettings: strict),
        .target(
            name: "CQRSProjection",
            dependencies: ["ServiceSupport", "EventStore", "HTTPSupport", "Identity", .product(name: "HummingbirdAuth", package: "hummingbird-auth")],
            swiftSettings: strict),
    ]
    + serviceNames.map { service($0.0, $0.1) }
    + [
        .executableTarget(
            name: "chorus",
            dependencies: [
                "ServiceSupport", "CheckoutDomain", "LocalStack", "Redis", "Operations", "Provisioning", "EventStore", "CQRSProjection", "Identity",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Executables/chorus",
            swiftSettings: strict,
            linkerSettings: executableLinking
        ),

        // What operators run: lag, dead letters, histories, invariants, load.
        .target(
            name: "Operations",
            dependencies: [
                "Redis", "Postgres", "StreamRuntime", "CheckoutDomain", "EventStore", "CQRSProjection",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),

        // Least privilege: one PostgreSQL role and schema, one Redis ACL user per service.
        .target(
            name: "Provisioning",
            dependencies: ["Redis", "Postgres", "CheckoutDomain", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),

        // Local redis-server and PostgreSQL processes, for `chorus up` and the tests.
        .target(name: "LocalServers", swiftSettings: strict),

        // The whole system on one machine, supervised: what `chorus up` runs.
        .target(
            name: "LocalStack",
            dependencies: [
                "ServiceSupport", "LocalServers", "Provisioning", "ExactlyOnce", "Identity",
                .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict),

        // Starts real redis-server and PostgreSQL processes for the tests.
        .target(name: "TestSupport", dependencies: ["Redis", "Postgres", "LocalServers", "Provisioning"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "CheckoutDomainTests", dependencies: ["CheckoutDomain"], swiftSettings: testSettings),
        .testTarget(
            name: "IdentityTests",
            dependencies: ["Identity", .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: testSettings),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "TestSupport", "LocalServers", "CheckoutAPI", "EventStore", "StockReservation", "Payment",
                "OrderCreation", "Compensation", "Audit", "CQRSProjection", "Operations", "Provisioning", "Observability", "Identity",
                "LocalStack",
            ],
            swiftSettings: testSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
