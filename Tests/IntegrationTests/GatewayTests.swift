import CheckoutDomain
import Foundation
import LocalServers
import LocalStack
import ServiceSupport
import StreamRuntime
import TestSupport
import Testing

/// The nginx gateway of `deploy/nginx`, run for real in front of an in-process system: the
/// same chorus.conf and upstreams-local.conf that `chorus up` uses, with the test's ports.
@Suite("Gateway", .serialized)
struct GatewayTests {
    /// An in-process system with two extra checkout-api replicas behind a gateway.
    struct Deployment {
        let system: ChorusSystem
        let gateway: Gateway
        let replicas: [Int]

        static func start(adjustConfiguration: (String) -> String = { $0 }) async throws -> Deployment {
            let system = try await ChorusSystem.start()
            let peers = await Worker.allCases.asyncMap { worker in
                ChorusConfiguration.HealthPeer(name: worker.rawValue, baseURL: await system.url(worker, ""))
            }
            var replicas: [Int] = []
            for name in ["gateway-replica-1", "gateway-replica-2"] {
                replicas.append(try await system.start(.checkoutAPI, consumerName: name) { $0.healthPeers = peers })
            }
            let ports = await system.ports
            let gateway = try await Gateway.start(
                checkoutAPI: replicas, eventStore: try #require(ports[.eventStore]), cqrsProjection: try #require(ports[.cqrsProjection]),
                adjustConfiguration: adjustConfiguration)
            return Deployment(system: system, gateway: gateway, replicas: replicas)
        }

        func shutdown() async {
            gateway.stop()
            await system.shutdown()
        }

        func postCheckout(requestID: String? = nil, through gateway: Gateway? = nil) async throws -> HTTPAnswer {
            let body = try JSONSerialization.data(withJSONObject: [
                "customer_id": "cus-1", "store_id": "store-01", "items": [["sku": "SKU-1", "quantity": 1]],
            ])
            var headers = ["Content-Type": "application/json"].merging(try await system.authorization(.customer(id: "cus-1"))) { $1 }
            if let requestID { headers["X-Request-Id"] = requestID }
            return try await HTTPClient.send("POST", (gateway ?? self.gateway).url("/checkouts"), body: body, headers: headers)
        }

        /// Requests a replica answered with 202, from its own metrics.
        func acceptedBy(replicaPort port: Int) async throws -> Double {
            let scrape = try await Scrape.fetch("http://127.0.0.1:\(port)/metrics")
            return scrape.value("chorus_http_requests_total", ["route": "/checkouts", "status": "202"]) ?? 0
        }
    }

    @Test("checkouts are spread over both checkout-api replicas, and a replica that is gone is passed over")
    func replicas() async throws {
        let deployment = try await Deployment.start()
        defer { Task { await deployment.shutdown() } }
        try await deployment.system.seed(products: [("SKU-1", 100, 500)], customers: [("cus-1", 1_000_000)])

        for _ in 0..<12 {
            #expect(try await deployment.postCheckout().status == 202)
        }
        for port in deployment.replicas {
            #expect(try await deployment.acceptedBy(replicaPort: port) > 0, "replica on \(port) got no checkout")
        }

        // A replica that is gone (its port refuses connections, as after a crash) is passed
        // over: each request that cannot reach it goes to the other, and none is lost.
        let ports = await deployment.system.ports
        let degraded = try await Gateway.start(
            checkoutAPI: [deployment.replicas[0], try FreePort.next()], eventStore: try #require(ports[.eventStore]),
            cqrsProjection: try #require(ports[.cqrsProjection]), adjustConfiguration: { $0 })
        defer { degraded.stop() }
        let before = try await deployment.acceptedBy(replicaPort: deployment.replicas[0])
        for _ in 0..<8 {
            let answer = try await deployment.postCheckout(through: degraded)
            #expect(answer.status == 202, "answered \(answer.status) with a replica gone: \(String(decoding: answer.body, as: UTF8.self))")
        }
        #expect(try await deployment.acceptedBy(replicaPort: deployment.replicas[0]) == before + 8)
    }

    @Test("the gateway's request id goes back to the client and becomes the correlation id of every event of the saga")
    func requestID() async throws {
        let deployment = try await Deployment.start()
        defer { Task { await deployment.shutdown() } }
        try await deployment.system.seed(products: [("SKU-1", 100, 5)], customers: [("cus-1", 10_000)])

        let chosen = "req-\(UUID().uuidString.prefix(8).lowercased())"
        let answer = try await deployment.postCheckout(requestID: chosen)
        #expect(answer.status == 202)
        #expect(answer.header("X-Request-Id") == chosen)
        let checkoutID = try #require(answer.json?["checkout_id"]?.string)
        _ = try await deployment.system.terminalCheckout(checkoutID)
        try await deployment.system.waitUntilQuiet()
        let sagaEvents = try await deployment.system.allEntries().filter { entry in
            entry.fields[StreamField.payload]?.contains(checkoutID) == true
        }
        #expect(sagaEvents.count >= 4, "initiated, reserved, authorized, created, completed")
        for entry in sagaEvents {
            #expect(entry.fields[StreamField.correlationID] == chosen, "\(entry.fields[StreamField.type] ?? "?") lost the request id")
        }

        // Without one, or with one unfit to travel, the gateway makes its own.
        for sent in [nil, "has spaces in it", String(repeating: "x", count: 200)] {
            let answer = try await deployment.postCheckout(requestID: sent)
            let made = try #require(answer.header("X-Request-Id"))
            #expect(made != sent && made.count == 32 && made.allSatisfy(\.isHexDigit), "got \(made)")
        }
    }

    @Test("a client over the POST /checkouts rate gets 429 problem+json with Retry-After, and nothing is published for it")
    func rateLimit() async throws {
        // The shipped limit (100/s, bursts of 200) made small enough to reach in a test.
        let deployment = try await Deployment.start { configuration in
            configuration.replacingOccurrences(of: "rate=100r/s", with: "rate=1r/m")
                .replacingOccurrences(of: "burst=200", with: "burst=2")
        }
        defer { Task { await deployment.shutdown() } }
        try await deployment.system.seed(products: [("SKU-1", 100, 50)], customers: [("cus-1", 100_000)])

        var answers: [HTTPAnswer] = []
        for _ in 0..<6 { answers.append(try await deployment.postCheckout()) }
        let limited = answers.filter { $0.status == 429 }
        let accepted = answers.filter { $0.status == 202 }
        #expect(accepted.count == 3, "one at the rate plus a burst of two")
        #expect(limited.count == 3)
        for answer in limited {
            #expect(answer.header("Retry-After") == "1")
            #expect(answer.header("Content-Type")?.hasPrefix("application/problem+json") == true)
            #expect(answer.json?["status"]?.int == 429)
            #expect(answer.header("X-Request-Id") != nil)
        }
        // Other routes are not limited.
        #expect(try await HTTPClient.send("GET", deployment.gateway.url("/products")).status == 200)
        try await deployment.system.waitUntilQuiet()
        let initiated = try await deployment.system.allEntries().filter { $0.fields[StreamField.type] == EventType.checkoutInitiated.rawValue }
        #expect(initiated.count == accepted.count)
    }

    @Test("the gateway serves the HTTP contract at /openapi.json: api/openapi.json, byte for byte, to anyone")
    func servesTheContract() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let gateway = try await Gateway.start(checkoutAPI: [1, 1], eventStore: 1, cqrsProjection: 1, adjustConfiguration: { $0 })
        defer { gateway.stop() }
        let answer = try await HTTPClient.send("GET", gateway.url("/openapi.json"))
        #expect(answer.status == 200)
        #expect(answer.header("Content-Type")?.hasPrefix("application/json") == true)
        #expect(answer.body == (try Data(contentsOf: repository.appendingPathComponent("api/openapi.json"))))
        #expect(try await HTTPClient.send("POST", gateway.url("/openapi.json")).status == 405)
    }

    @Test("GET /health asks every service: 200 when all are ready, 503 naming the one that is not")
    func aggregatedHealth() async throws {
        let deployment = try await Deployment.start()
        defer { Task { await deployment.shutdown() } }

        let healthy = try await HTTPClient.send("GET", deployment.gateway.url("/health"))
        #expect(healthy.status == 200)
        #expect(healthy.json?["status"]?.string == "ok")
        for worker in Worker.allCases {
            #expect(healthy.json?["services"]?[worker.rawValue]?["status"]?.string == "ready", "\(worker.rawValue)")
        }

        await deployment.system.stop(.payment)
        let degraded = try await HTTPClient.send("GET", deployment.gateway.url("/health"))
        #expect(degraded.status == 503)
        #expect(degraded.json?["status"]?.string == "degraded")
        #expect(degraded.json?["services"]?["payment"]?["status"]?.string == "unreachable")
        #expect(degraded.json?["services"]?["event-store"]?["status"]?.string == "ready")

        // The gateway's own liveness does not depend on anyone.
        #expect(try await HTTPClient.send("GET", deployment.gateway.url("/health/gateway")).status == 200)
    }
}

/// nginx with the repository's gateway configuration, on free ports, for one test: plain HTTP
/// on 127.0.0.1 and 127.0.0.2 (the second one is "another machine" to the gateway), and TLS
/// with a certificate from a local authority made for the test.
final class Gateway: Sendable {
    let port: Int
    let tlsPort: Int
    /// The authority to trust for ``tlsURL(_:)``.
    let authority: URL
    private let server: WatchedServer

    /// The web-shop origin the test gateway allows.
    static let shopOrigin = "https://shop.example.com"

    private init(port: Int, tlsPort: Int, authority: URL, server: WatchedServer) {
        self.port = port
        self.tlsPort = tlsPort
        self.authority = authority
        self.server = server
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
    func tlsURL(_ path: String) -> String { "https://localhost:\(tlsPort)\(path)" }

    func stop() { server.stop() }

    /// Starts nginx in front of the given ports, through `deploy/nginx/chorus.conf` and
    /// `upstreams-local.conf` with their ports replaced; waits until it answers.
    static func start(
        checkoutAPI: [Int], eventStore: Int, cqrsProjection: Int, adjustConfiguration: (String) -> String
    ) async throws -> Gateway {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = repository.appendingPathComponent("deploy/nginx")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-gateway-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let port = try FreePort.next()
        let tlsPort = try FreePort.next()

        let configuration = try String(contentsOf: source.appendingPathComponent("chorus.conf"), encoding: .utf8)
        #expect(configuration.contains("listen 8080;") && configuration.contains("listen 8443 ssl;"))
        #expect(configuration.contains("https://$host:8443$request_uri"))
        try adjustConfiguration(
            configuration.replacingOccurrences(of: "listen 8080;", with: "listen 127.0.0.1:\(port); listen 127.0.0.2:\(port);")
                .replacingOccurrences(of: "listen 8443 ssl;", with: "listen 127.0.0.1:\(tlsPort) ssl;")
                .replacingOccurrences(of: "https://$host:8443$request_uri", with: "https://$host:\(tlsPort)$request_uri")
        ).write(to: directory.appendingPathComponent("chorus.conf"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            at: source.appendingPathComponent("response-headers.conf"), to: directory.appendingPathComponent("response-headers.conf"))
        try FileManager.default.copyItem(
            at: LocalStack.apiDocument(gatewayConfigDirectory: source), to: directory.appendingPathComponent("openapi.json"))
        try LocalCertificates.prepare(dataDirectory: directory)
        try LocalStack.tlsConfiguration(dataDirectory: directory)
            .write(to: directory.appendingPathComponent("tls.conf"), atomically: true, encoding: .utf8)
        try LocalStack.corsOrigins(shopOrigin).write(to: directory.appendingPathComponent("cors-origins.conf"), atomically: true, encoding: .utf8)
        var upstreams = try String(contentsOf: source.appendingPathComponent("upstreams-local.conf"), encoding: .utf8)
        for (shipped, actual) in [
            (8081, checkoutAPI[0]), (ChorusConfiguration.secondCheckoutAPIPort, checkoutAPI[1]), (8082, eventStore), (8083, cqrsProjection),
        ] {
            #expect(upstreams.contains("127.0.0.1:\(shipped) "))
            upstreams = upstreams.replacingOccurrences(of: "127.0.0.1:\(shipped) ", with: "127.0.0.1:\(actual) ")
        }
        try upstreams.write(to: directory.appendingPathComponent("upstreams.conf"), atomically: true, encoding: .utf8)

        let nginx = try Binaries.find("nginx", in: ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"])
        let server = try WatchedServer(
            name: "nginx", command: [nginx, "-p", directory.path + "/", "-c", directory.appendingPathComponent("chorus.conf").path, "-e", "stderr"],
            directory: directory, stopSignal: "QUIT")
        let gateway = Gateway(
            port: port, tlsPort: tlsPort, authority: LocalCertificates.authorityCertificate(dataDirectory: directory), server: server)
        do {
            _ = try await ChorusSystem.eventually("the gateway to answer", timeout: .seconds(30)) { () async throws -> Bool? in
                guard server.isRunning else { throw TestServerError("nginx exited: \(server.output)") }
                return (try? await HTTPClient.send("GET", gateway.url("/health/gateway")))?.status == 200 ? true : nil
            }
        } catch {
            server.stop()
            throw error
        }
        return gateway
    }
}

extension Sequence {
    /// `map` with an asynchronous transform, in order.
    func asyncMap<Result>(_ transform: (Element) async throws -> Result) async rethrows -> [Result] {
        var results: [Result] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
