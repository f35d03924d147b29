import Foundation
import Identity
import LocalServers
import Testing

/// The gateway's part of the API's security, against real nginx with the shipped
/// configuration: TLS, plain HTTP for this machine only, HSTS, strict CORS, no route beyond the
/// documented ones, and the services' own authorization answers passed through unchanged.
@Suite("Gateway security", .serialized)
struct GatewaySecurityTests {
    /// One curl run: what it printed and how it exited. curl, unlike URLSession, lets a test
    /// choose the source address, the CA to trust and the TLS versions.
    struct CurlResult {
        var exitCode: Int32
        var output: String
        /// The status line's code of the last answer, from `-w`.
        var status: Int? {
            output.split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        }
        func header(_ name: String) -> String? {
            for line in output.split(separator: "\r\n", omittingEmptySubsequences: false).flatMap({ $0.split(separator: "\n") }) {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
            }
            return nil
        }
    }

    static func curl(_ arguments: [String]) async throws -> CurlResult {
        try await offThePool { try runCurl(arguments) }
    }

    private static func runCurl(_ arguments: [String]) throws -> CurlResult {
        // Headers and the final status code, nothing else.
        let run = try runToEnd(
            ["/usr/bin/curl", "-s", "-D", "-", "-o", "/dev/null", "-w", "\n%{http_code}\n", "--max-time", "10"] + arguments,
            separatingErrors: true)
        return CurlResult(exitCode: run.status, output: run.output)
    }

    @Test("HTTPS answers with the local authority's certificate for localhost and 127.0.0.1, sends HSTS, and refuses TLS 1.1")
    func tls() async throws {
        let deployment = try await GatewayTests.Deployment.start()
        defer { Task { await deployment.shutdown() } }
        let gateway = deployment.gateway
        let secure = try await Self.curl(["--cacert", gateway.authority.path, gateway.tlsURL("/products")])
        #expect(secure.exitCode == 0 && secure.status == 200, "\(secure.output)")
        #expect(secure.header("Strict-Transport-Security") == "max-age=31536000")
        let byAddress = try await Self.curl(["--cacert", gateway.authority.path, "https://127.0.0.1:\(gateway.tlsPort)/products"])
        #expect(byAddress.status == 200, "the certificate names 127.0.0.1 too")
        let untrusted = try await Self.curl([gateway.tlsURL("/products")])
        #expect(untrusted.exitCode == 60, "without the authority, curl does not trust the certificate")
        let old = try await Self.curl(["--cacert", gateway.authority.path, "--tlsv1.1", "--tls-max", "1.1", gateway.tlsURL("/products")])
        #expect(old.exitCode != 0, "TLS 1.1 is refused")
        let plain = try await Self.curl([gateway.url("/products")])
        #expect(plain.status == 200, "plain HTTP stays open to this machine")
        #expect(plain.header("Strict-Transport-Security") == nil, "HSTS is sent over HTTPS only")
    }

    @Test("plain HTTP from another address is redirected to HTTPS, with nothing sent to the services")
    func plainHTTPFromElsewhere() async throws {
        let deployment = try await GatewayTests.Deployment.start()
        defer { Task { await deployment.shutdown() } }
        let gateway = deployment.gateway
        let token = try await deployment.system.token(for: .customer(id: "cus-1"))
        let answer = try await Self.curl([
            "--interface", "127.0.0.2", "-X", "POST", "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json",
            "-d", #"{"store_id":"store-01","items":[{"sku":"SKU-1","quantity":1}]}"#, "http://127.0.0.2:\(gateway.port)/checkouts",
        ])
        #expect(answer.status == 308, "\(answer.output)")
        #expect(answer.header("Location") == "https://127.0.0.2:\(gateway.tlsPort)/checkouts")
        try await deployment.system.waitUntilQuiet()
        #expect(try await deployment.system.allEntries().isEmpty, "the redirected POST reached no service")
    }

    @Test("CORS: the web-shop origin may call the API from a browser; any other origin gets no CORS header")
    func cors() async throws {
        let deployment = try await GatewayTests.Deployment.start()
        defer { Task { await deployment.shutdown() } }
        let gateway = deployment.gateway
        let preflight = try await Self.curl([
            "-X", "OPTIONS", "-H", "Origin: \(Gateway.shopOrigin)", "-H", "Access-Control-Request-Method: POST",
            "-H", "Access-Control-Request-Headers: authorization, content-type, idempotency-key", gateway.url("/checkouts"),
        ])
        #expect(preflight.status == 204)
        #expect(preflight.header("Access-Control-Allow-Origin") == Gateway.shopOrigin)
        #expect(preflight.header("Access-Control-Allow-Methods") == "GET, POST")
        #expect(preflight.header("Access-Control-Allow-Headers")?.contains("Authorization") == true)
        #expect(preflight.header("Access-Control-Allow-Credentials") == nil, "bearer tokens, not cookies")

        let stranger = try await Self.curl([
            "-X", "OPTIONS", "-H", "Origin: https://evil.example", "-H", "Access-Control-Request-Method: POST", gateway.url("/checkouts"),
        ])
        #expect(stranger.status == 405)
        #expect(stranger.header("Access-Control-Allow-Origin") == nil)

        let fromShop = try await Self.curl(["-H", "Origin: \(Gateway.shopOrigin)", gateway.url("/products")])
        #expect(fromShop.header("Access-Control-Allow-Origin") == Gateway.shopOrigin)
        #expect(fromShop.header("Access-Control-Expose-Headers")?.contains("Location") == true)
        #expect(fromShop.header("Vary") == "Origin")
        let fromElsewhere = try await Self.curl(["-H", "Origin: https://evil.example", gateway.url("/products")])
        #expect(fromElsewhere.status == 200)
        #expect(fromElsewhere.header("Access-Control-Allow-Origin") == nil)
        #expect(fromElsewhere.header("Access-Control-Expose-Headers") == nil)
    }

    @Test("through the gateway, the services' 401, 403 and 404 come back as they made them")
    func authorizationPassesThrough() async throws {
        let deployment = try await GatewayTests.Deployment.start()
        defer { Task { await deployment.shutdown() } }
        let system = deployment.system
        try await system.seed(products: [("SKU-1", 100, 50)], customers: [("cus-1", 100_000), ("cus-2", 100_000)])
        let gateway = deployment.gateway
        let body = Data(#"{"store_id":"store-01","items":[{"sku":"SKU-1","quantity":1}]}"#.utf8)
        let json = ["Content-Type": "application/json"]

        let anonymous = try await HTTPClient.send("POST", gateway.url("/checkouts"), body: body, headers: json)
        #expect(anonymous.status == 401)
        #expect(anonymous.header("WWW-Authenticate") == #"Bearer realm="chorus""#)
        #expect(anonymous.header("Content-Type") == "application/problem+json")

        let alice = try await system.authorization(.customer(id: "cus-1"))
        #expect(try await HTTPClient.send("POST", gateway.url("/checkouts"), body: body, headers: json.merging(alice) { $1 }).status == 202)
        let credit = try await HTTPClient.send(
            "POST", gateway.url("/admin/customers/cus-1/credit"), body: Data(#"{"amount_cents":100000000}"#.utf8), headers: json.merging(alice) { $1 })
        #expect(credit.status == 403)
        let others = try await HTTPClient.send("GET", gateway.url("/customers/cus-2/orders"), headers: alice)
        #expect(others.status == 404)
        let expired = try await system.issuer.token(subject: "cus-1", roles: ["customer"], lifetime: .seconds(1), now: Date().addingTimeInterval(-600))
        let late = try await HTTPClient.send("GET", gateway.url("/customers/cus-1"), headers: ["Authorization": "Bearer \(expired)"])
        #expect(late.status == 401)
        #expect(late.header("WWW-Authenticate") == #"Bearer realm="chorus", error="invalid_token""#)
    }

    @Test("no route beyond the documented ones: metrics, readiness, the services' internals and odd methods are not reachable")
    func inventory() async throws {
        let deployment = try await GatewayTests.Deployment.start()
        defer { Task { await deployment.shutdown() } }
        let gateway = deployment.gateway
        let admin = try await deployment.system.authorization(ChorusSystem.admin)
        for path in [
            "/metrics", "/ready", "/health/system", "/admin", "/projections", "/customers", "/stores", "/checkouts/",
            "/.well-known/openid-configuration", "/products/../metrics", "/%2e%2e/metrics", "/debug", "/jwks.json", "/tls.conf",
        ] {
            let answer = try await HTTPClient.send("GET", gateway.url(path), headers: admin)
            #expect(answer.status == 404 || answer.status == 400, "\(path) answered \(answer.status)")
            #expect(answer.header("Content-Type") == "application/problem+json", "\(path)")
        }
        // Under /admin/ only POST passes, and only to the admin routes.
        let adminMetrics = try await HTTPClient.send("POST", gateway.url("/admin/metrics"), headers: admin)
        #expect(adminMetrics.status == 404)
        for (method, path) in [("GET", "/admin/metrics"), ("DELETE", "/checkouts"), ("PUT", "/admin/stock"), ("POST", "/products"), ("PATCH", "/customers/cus-1")] {
            let answer = try await HTTPClient.send(method, gateway.url(path), headers: admin)
            #expect(answer.status == 405, "\(method) \(path) answered \(answer.status)")
        }
    }

    @Test("compose's secrets: a token key set that matches its signing key, and a gateway certificate for localhost from its own authority")
    func composeSecrets() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let secrets = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-secrets-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: secrets) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-make-secrets-\(UUID().uuidString.prefix(8)).log")
        try await Shell.run(["/bin/sh", repository.appendingPathComponent("deploy/compose/make-secrets").path, "--out", secrets.path], logTo: log)

        func read(_ name: String) throws -> String {
            String(decoding: try Data(contentsOf: secrets.appendingPathComponent(name)), as: UTF8.self)
        }
        let key = try TokenSigningKey(pem: try read("token-signing-key.pem"))
        #expect(try read("token-keys").trimmingCharacters(in: .whitespacesAndNewlines) == key.publicKeySet,
                "the shell-made key set is the one Chorus derives from the key, key id included")
        let verifier = try await TokenVerifier(jwks: try read("token-keys"), requirements: TokenRequirements(issuer: "chorus-compose", audience: "chorus"))
        let token = try await TokenIssuer(key: key, issuer: "chorus-compose", audience: "chorus").token(for: .customer(id: "cus-0001"))
        #expect(try await verifier.caller(bearerToken: token) == .customer(id: "cus-0001"))

        let checked = try await Self.run(["/usr/bin/openssl", "verify", "-CAfile", secrets.appendingPathComponent("gateway-ca.pem").path,
                                    secrets.appendingPathComponent("gateway-certificate").path])
        #expect(checked.exitCode == 0, "\(checked.output)")
        let names = try await Self.run(["/usr/bin/openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", secrets.appendingPathComponent("gateway-certificate").path])
        #expect(names.output.contains("DNS:localhost") && names.output.contains("IP Address:127.0.0.1"), "\(names.output)")
        let keyMode = try FileManager.default.attributesOfItem(atPath: secrets.appendingPathComponent("gateway-key").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
    }

    static func run(_ command: [String]) async throws -> CurlResult {
        try await offThePool { try runCommand(command) }
    }

    private static func runCommand(_ command: [String]) throws -> CurlResult {
        let run = try runToEnd(command)
        return CurlResult(exitCode: run.status, output: run.output)
    }
}
