import CheckoutDomain
import Foundation

/// Who connects to Redis and PostgreSQL: one of the services, or the operator's tools.
public enum Principal: Hashable, Sendable, CustomStringConvertible {
    case service(Worker)
    /// `chorus lag`, `dlq`, `history`, `verify`, `seed`: reads everything, writes only what
    /// re-publishing and seeding need.
    case `operator`

    /// Every service, then the operator.
    public static var all: [Principal] { Worker.allCases.map(Principal.service) + [.operator] }

    /// `payment`, `event-store`, `operator`: names credential files, ACL users and roles.
    public var name: String {
        switch self {
        case .service(let worker): worker.rawValue
        case .operator: "operator"
        }
    }

    public var description: String { name }
}

/// The names of one deployment's PostgreSQL roles and schemas and its Redis ACL users.
///
/// PostgreSQL roles and Redis users are server-wide, while a deployment is a database and a
/// stream prefix; so every name derives from the stream prefix, and several deployments (or
/// concurrent tests) can share one server without sharing a role.
public struct AccessNames: Sendable, Hashable {
    /// The stream prefix, e.g. `chorus`.
    public let prefix: String
    /// The prefix of role names: the stream prefix in lower case, with `_` for anything but a
    /// letter or digit, so that roles need no quoting.
    public let rolePrefix: String

    /// - Throws: when the prefix would not make safe role names and key patterns: it must be 1 to
    ///   32 characters of letters, digits, `-`, `_`, `.` and `:` (no Redis glob characters).
    public init(prefix: String) throws(ProvisioningError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
        guard (1...32).contains(prefix.count), prefix.allSatisfy(allowed.contains), prefix.first?.isLetter == true else {
            throw ProvisioningError("stream prefix \"\(prefix)\" cannot name roles: use 1 to 32 letters, digits, '-', '_', '.' or ':', starting with a letter")
        }
        self.prefix = prefix
        rolePrefix = String(prefix.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    /// The schema a worker's tables live in: its name with `_` for `-` (`stock_reservation`).
    public static func schema(of worker: Worker) -> String {
        worker.rawValue.replacingOccurrences(of: "-", with: "_")
    }

    /// The PostgreSQL role `principal` logs in as: `chorus_payment`, `chorus_operator`.
    public func role(for principal: Principal) -> String {
        "\(rolePrefix)_\(principal.name.replacingOccurrences(of: "-", with: "_"))"
    }

    /// The role that owns a sealed schema; nobody logs in as it (`chorus_event_store_owner`).
    public func ownerRole(of worker: Worker) -> String {
        role(for: .service(worker)) + "_owner"
    }

    /// The Redis ACL user of `principal`: `chorus-payment`, `chorus-operator`.
    public func redisUser(for principal: Principal) -> String {
        "\(prefix)-\(principal.name)"
    }
}

/// Provisioning could not be done as asked.
public struct ProvisioningError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
