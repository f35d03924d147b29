import Foundation
import Identity
import LocalServers
import Testing

@testable import ServiceSupport

/// The key set of a real identity provider, fetched from its URL: served here by a plain HTTP
/// server on a free port, whose file the test changes as a provider would.
@Suite("Trusted keys from an issuer's URL", .serialized)
struct TrustedKeysTests {
    /// `python3 -m http.server` over a directory of its own.
    final class KeyServer: Sendable {
        let directory: URL
        let port: Int
        private let process: ChildProcess

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-jwks-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            port = try FreePort.next()
            process = try ChildProcess(
                command: ["/usr/bin/env", "python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory.path],
                output: directory.appendingPathComponent("server.log"))
        }

        var url: String { "http://127.0.0.1:\(port)/certs" }

        func publish(_ text: String) throws {
            try Data(text.utf8).write(to: directory.appendingPathComponent("certs"), options: .atomic)
        }

        func waitUntilServing() async throws {
            _ = try await ChorusSystem.eventually("the key server to answer") {
                (try? await HTTPClient.send("GET", self.url))?.status == 200 ? true : nil
            }
        }

        func stop() {
            process.send(SIGTERM)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test("keys fetched from the URL verify tokens; a rotation is picked up on the next reload; a broken answer keeps the keys trusted")
    func rotationAndBadAnswers() async throws {
        let server = try KeyServer()
        defer { server.stop() }
        let first = TokenIssuer(key: .generate(), issuer: "https://id.example", audience: "chorus")
        try server.publish(first.key.publicKeySet)
        try await server.waitUntilServing()

        let keys = TrustedKeys(settings: .init(keys: .url(server.url), issuer: "https://id.example"))
        let verifier = try await keys.verifier()
        let early = try await first.token(for: .customer(id: "cus-1"))
        #expect(try await verifier.caller(bearerToken: early) == .customer(id: "cus-1"))

        // What a provider must never make its relying parties accept: garbage, an empty set,
        // a symmetric key, a huge answer. Each reload fails, and the keys already trusted stay.
        let hmac = #"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"}]}"#
        for answer in ["<html>not a key set</html>", #"{"keys":[]}"#, hmac, String(repeating: " ", count: (1 << 20) + 1)] {
            try server.publish(answer)
            await #expect(throws: (any Error).self) { try await verifier.replaceKeys(jwks: try await keys.keySet()) }
            #expect(try await verifier.caller(bearerToken: early) == .customer(id: "cus-1"), "still trusted after \(answer.prefix(20))")
        }

        // Rotation: the provider publishes its new key; after the reload, tokens from the old
        // one no longer verify.
        let second = TokenIssuer(key: .generate(), issuer: "https://id.example", audience: "chorus")
        try server.publish(second.key.publicKeySet)
        let sampler = keys.refresher(for: verifier, logger: ChorusSystem.logger)
        let reload = Task { try await sampler.run() }
        let late = try await second.token(for: .customer(id: "cus-2"))
        _ = try await ChorusSystem.eventually("the new key to be trusted") { try? await verifier.caller(bearerToken: late) }
        reload.cancel()
        await #expect(throws: TokenRejection.badSignature) { try await verifier.caller(bearerToken: early) }
    }

    @Test("a key set file that cannot be read stops the service at start with a configuration error")
    func unreadableFile() async throws {
        let keys = TrustedKeys(settings: .init(keys: .file("/nonexistent/jwks.json"), issuer: "x"))
        await #expect(throws: ConfigurationError.self) { _ = try await keys.verifier() }
    }
}
