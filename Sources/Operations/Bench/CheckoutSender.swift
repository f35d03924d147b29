import AsyncHTTPClient
import CheckoutDomain
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Sends `POST /checkouts` as a client would, over keep-alive HTTP/1.1 connections.
///
/// It uses AsyncHTTPClient on SwiftNIO's event loops: a request costs a few microseconds of CPU
/// there, where Foundation's URLSession on Linux cost the bench a quarter of a core at 100
/// checkouts per second, so that the bench itself would have become the bottleneck.
struct CheckoutSender: Sendable {
    /// What became of one POST.
    enum Answer: Sendable, Hashable {
        /// 202, with the checkout's id.
        case accepted(checkoutID: String)
        /// Any other status.
        case rejected(status: Int)
        /// No HTTP answer (refused, reset, timed out), or a 202 without a checkout id.
        case error(String)
    }

    private let client: HTTPClient
    private let baseURL: String
    private let requestTimeout: TimeAmount
    private let encoder = JSONEncoder()

    /// - Parameters:
    ///   - connections: how many connections to keep open to the target; requests beyond that
    ///     wait for a free one, and the wait counts in their latency.
    ///   - trustedAuthority: a PEM file of the authority to trust for `https://` targets (the
    ///     local one of `chorus up`, say), besides the system's.
    init(baseURL: String, requestTimeout: Duration, connections: Int, trustedAuthority: String? = nil) {
        var configuration = HTTPClient.Configuration()
        if let trustedAuthority {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(trustedAuthority)
            configuration.tlsConfiguration = tls
        }
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, connections))
        configuration.timeout = .init(connect: .seconds(5))
        configuration.decompression = .disabled
        configuration.redirectConfiguration = .disallow
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.baseURL = baseURL
        self.requestTimeout = .microseconds(requestTimeout.benchMicroseconds)
    }

    /// Sends one checkout with its `Idempotency-Key`, signed with `token` when there is one.
    func post(_ checkout: CheckoutRequest, idempotencyKey: String, token: String?) async -> Answer {
        var request = HTTPClientRequest(url: baseURL + "/checkouts")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        if let token { request.headers.add(name: "Authorization", value: "Bearer " + token) }
        do {
            request.body = .bytes(ByteBuffer(bytes: try encoder.encode(checkout)))
            let response = try await client.execute(request, timeout: requestTimeout)
            let body = try await response.body.collect(upTo: 1 << 20)
            let status = Int(response.status.code)
            guard status == 202 else { return .rejected(status: status) }
            guard let accepted = try? JSONDecoder().decode(AcceptedCheckout.self, from: Data(body.readableBytesView)) else {
                return .error("a 202 answer without a checkout_id")
            }
            return .accepted(checkoutID: accepted.checkoutID)
        } catch {
            return .error(Self.describe(error))
        }
    }

    /// What `GET <base>/health` said, when it was not 200.
    struct HealthProblem: Error {
        /// Whether the target answered at all (with another status); if so it may yet recover.
        var answered: Bool
        var description: String
    }

    /// Whether `GET <base>/health` answers 200; the problem when it does not.
    func health() async -> HealthProblem? {
        do {
            let response = try await client.execute(HTTPClientRequest(url: baseURL + "/health"), timeout: min(requestTimeout, .seconds(5)))
            _ = try await response.body.collect(upTo: 1 << 20)
            let status = Int(response.status.code)
            return status == 200 ? nil : HealthProblem(answered: true, description: "GET /health answered \(status)")
        } catch {
            return HealthProblem(answered: false, description: Self.describe(error))
        }
    }

    /// Closes the connections once the requests in flight are done.
    func close() async {
        try? await client.shutdown()
    }

    private struct AcceptedCheckout: Decodable {
        var checkoutID: String
        enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id" }
    }

    /// A short text for a transport error.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            return switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: "timed out"
            case .remoteConnectionClosed: "connection lost"
            case .invalidURL, .emptyHost: "not a URL"
            default: "HTTP client error: \(error)"
            }
        }
        let text = String(describing: error)
        // NIO reports a refused connection as a connection error wrapping ECONNREFUSED.
        if text.contains("refused") || text.contains("ECONNREFUSED") { return "connection refused" }
        return text
    }
}
