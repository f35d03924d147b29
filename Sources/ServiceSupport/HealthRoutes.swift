import HTTPSupport
import Postgres
import Hummingbird
import Redis
import StreamRuntime

/// `GET /health` answers while the process runs; `GET /ready` checks Redis, PostgreSQL and the
/// process's consumer group.
struct HealthRoutes: Sendable {
    let resources: ProcessResources
    let group: String
    let streams: [String]

    struct Status: Encodable {
        var status: String
        var checks: [String: String]
    }

    func register(on router: Router<some RequestContext>) {
        router.get("/health") { _, _ -> Response in
            try JSONBody.response(Status(status: "ok", checks: [:]))
        }
        router.get("/ready") { _, _ -> Response in
            var checks: [String: String] = [:]
            do {
                _ = try await resources.redis.connection.execute(["PING"])
                checks["redis"] = "ok"
            } catch {
                checks["redis"] = "unreachable"
            }
            do {
                try await resources.database.connection.query("SELECT 1")
                checks["postgres"] = "ok"
            } catch {
                checks["postgres"] = "unreachable"
            }
            if checks["redis"] == "ok" {
                var present = true
                for stream in streams {
                    let groups = (try? await resources.redis.connection.groups(of: stream)) ?? []
                    present = present && groups.contains { $0.name == group }
                }
                checks["consumer_group"] = present ? "ok" : "missing"
            }
            let ready = checks.values.allSatisfy { $0 == "ok" }
            return try JSONBody.response(Status(status: ready ? "ready" : "not ready", checks: checks),
                                         status: ready ? .ok : .serviceUnavailable)
        }
    }
}
