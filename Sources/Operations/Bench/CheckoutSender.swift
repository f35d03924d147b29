import CheckoutDomain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Sends `POST /checkouts` as a client would, over one URLSession with keep-alive connections.
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

    private let session: URLSession
    private let baseURL: String
    private let requestTimeout: TimeInterval

    /// - Parameter connections: how many connections to keep open to the target; requests beyond
    ///   that wait in the session's queue, and the wait counts in their latency.
    init(baseURL: String, requestTimeout: Duration, connections: Int) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = max(1, connections)
        configuration.timeoutIntervalForRequest = Double(requestTimeout.benchMicroseconds) / 1_000_000
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        self.session = URLSession(configuration: configuration)
        self.baseURL = baseURL
        self.requestTimeout = configuration.timeoutIntervalForRequest
    }

    /// Sends one checkout with its `Idempotency-Key`.
    func post(_ checkout: CheckoutRequest, idempotencyKey: String) async -> Answer {
        guard let url = URL(string: baseURL + "/checkouts") else { return .error("not a URL: \(baseURL)/checkouts") }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.timeoutInterval = requestTimeout
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(idempotencyKey, forHTTPHeaderField: "Idempotency-Key")
        do {
            request.httpBody = try JSONEncoder().encode(checkout)
            let (data, response) = try await session.data(for: request)
            guard let status = (response as? HTTPURLResponse)?.statusCode else { return .error("not an HTTP answer") }
            guard status == 202 else { return .rejected(status: status) }
            guard let accepted = try? JSONDecoder().decode(AcceptedCheckout.self, from: data) else {
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
        guard let url = URL(string: baseURL + "/health") else { return HealthProblem(answered: false, description: "not a URL: \(baseURL)/health") }
        var request = URLRequest(url: url)
        request.timeoutInterval = min(requestTimeout, 5)
        do {
            let (_, response) = try await session.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return status == 200 ? nil : HealthProblem(answered: true, description: "GET /health answered \(status)")
        } catch {
            return HealthProblem(answered: false, description: Self.describe(error))
        }
    }

    /// Lets the session's connections go once the requests in flight are done.
    func close() {
        session.finishTasksAndInvalidate()
    }

    private struct AcceptedCheckout: Decodable {
        var checkoutID: String
        enum CodingKeys: String, CodingKey { case checkoutID = "checkout_id" }
    }

    /// A short text for a transport error: the URL error's code reads better than its full description.
    private static func describe(_ error: any Error) -> String {
        if let urlError = error as? URLError {
            return switch urlError.code {
            case .timedOut: "timed out"
            case .cannotConnectToHost: "connection refused"
            case .networkConnectionLost: "connection lost"
            case .cannotFindHost: "unknown host"
            default: "URL error \(urlError.code.rawValue)"
            }
        }
        return String(describing: error)
    }
}
