import CheckoutDomain
import EventStore
import Foundation
import HTTPSupport
import Hummingbird
import Postgres
import Redis
import Testing

@testable import CheckoutAPI
@testable import CQRSProjection
@testable import ServiceSupport

/// The routes are written by hand (see api/README.md for why), so this keeps them and the
/// document in step: every route a service registers behind the gateway is documented, and
/// every documented operation is registered, or served by the gateway itself.
@Suite("OpenAPI document and routes")
struct OpenAPIRoutesTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// What the gateway answers itself (deploy/nginx/chorus.conf), with no service behind it.
    static let servedByTheGateway: Set<String> = ["GET /health/gateway", "GET /.well-known/jwks.json", "GET /openapi.json"]
    /// Service routes the gateway publishes under another path.
    static let renamedByTheGateway = ["GET /health/system": "GET /health"]
    /// Routes on the services' own ports only, never behind the gateway (README, "Endpoints").
    static let servicePortsOnly: Set<String> = ["GET /health", "GET /ready", "GET /metrics"]

    /// `METHOD /path/{name}` for every route the three HTTP services register.
    static func registeredOperations() -> Set<String> {
        // Nothing connects until a request is handled: these are never used.
        let database = PostgresConnectionPool(connectionString: "postgresql://nobody@127.0.0.1:1/none", size: 1)
        let redis = RedisConnectionPool(configuration: RedisConfiguration(), size: 1)
        let router = Router(context: ChorusRequestContext.self)
        CheckoutRoutes(
            database: database, publisher: EventPublisher(redis: redis, topology: StreamTopology(prefix: "none", checkoutPartitions: 1)),
            publishedMarks: PublishedMarks()
        ).register(on: router)
        ReadModelRoutes(database: database).register(on: router)
        EventStoreRoutes(reader: EventStoreReader(database: database)).register(on: router)
        SystemHealthRoute(peers: []).register(on: router)
        return Set(router.routes.map { route in
            let path = route.path.description.split(separator: "/").map { segment in
                segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
            }
            let operation = "\(route.method) /" + path.joined(separator: "/")
            return renamedByTheGateway[operation] ?? operation
        })
    }

    static func documentedOperations() throws -> Set<String> {
        let data = try Data(contentsOf: repository.appendingPathComponent("api/openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in item.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    @Test("every route a service registers behind the gateway is in api/openapi.json")
    func registeredRoutesAreDocumented() throws {
        let registered = Self.registeredOperations()
        #expect(registered.isSuperset(of: ["POST /checkouts", "GET /customers/{id}/orders", "GET /projections/{id}/events", "GET /health"]))
        let undocumented = registered.subtracting(try Self.documentedOperations()).subtracting(Self.servicePortsOnly)
        #expect(undocumented.isEmpty, "registered but not documented: \(undocumented.sorted())")
    }

    @Test("every operation api/openapi.json documents is registered by a service, or served by the gateway itself")
    func documentedOperationsExist() throws {
        let missing = try Self.documentedOperations().subtracting(Self.registeredOperations()).subtracting(Self.servedByTheGateway)
        #expect(missing.isEmpty, "documented but served by nobody: \(missing.sorted())")
    }

    @Test("the gateway has a location for every documented path")
    func gatewayRoutesEveryDocumentedPath() throws {
        let configuration = try String(contentsOf: Self.repository.appendingPathComponent("deploy/nginx/chorus.conf"), encoding: .utf8)
        let locations = configuration.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard words.first == "location" else { return nil }
            return words.count >= 3 && words[1] == "=" ? "=" + words[2] : String(words[1])
        }
        for operation in try Self.documentedOperations() {
            let path = String(operation.split(separator: " ")[1])
            let routed = locations.contains { location in
                location.hasPrefix("=") ? location.dropFirst() == path : location != "/" && path.hasPrefix(location)
            }
            #expect(routed, "\(operation) has no location of its own in chorus.conf")
        }
    }
}
