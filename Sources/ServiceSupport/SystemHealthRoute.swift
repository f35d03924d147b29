import Foundation
import HTTPSupport
import Hummingbird
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `GET /health/system`: asks every service's `/ready` at once and answers 200 when all are
/// ready, 503 otherwise, with each one's answer. The gateway serves it as `GET /health`.
///
/// Any process can answer it; the gateway asks the checkout-api replicas, which it already
/// balances, so one replica down does not hide the others.
struct SystemHealthRoute: Sendable {
    let peers: [ChorusConfiguration.HealthPeer]

    struct Report: Encodable {
        var status: String
        var services: [String: ServiceReport]
    }

    struct ServiceReport: Encodable {
        var status: String
        var checks: [String: String]?
    }

    private struct Readiness: Decodable {
        var status: String
        var checks: [String: String]?
    }

    func register(on router: Router<some RequestContext>) {
        router.get("/health/system") { _, _ -> Response in
            let report = await check()
            return try JSONBody.response(report, status: report.status == "ok" ? .ok : .serviceUnavailable)
        }
    }

    func check() async -> Report {
        let services = await withTaskGroup(of: (String, ServiceReport).self) { group in
            for peer in peers {
                group.addTask { (peer.name, await Self.readiness(of: peer)) }
            }
            var services: [String: ServiceReport] = [:]
            for await (name, report) in group { services[name] = report }
            return services
        }
        let healthy = services.values.allSatisfy { $0.status == "ready" }
        return Report(status: healthy ? "ok" : "degraded", services: services)
    }

    private static func readiness(of peer: ChorusConfiguration.HealthPeer) async -> ServiceReport {
        guard let url = URL(string: peer.baseURL + "/ready") else { return ServiceReport(status: "misconfigured") }
        var request = URLRequest(url: url)
        request.timeoutInterval = 2
        do {
            let (data, _) = try await URLSession.shared.data(for: request)
            let answer = try JSONDecoder().decode(Readiness.self, from: data)
            return ServiceReport(status: answer.status, checks: answer.checks)
        } catch {
            return ServiceReport(status: "unreachable")
        }
    }
}
