import Foundation
import Postgres
import Redis

/// Why an operator command could not answer. Each case maps to a conventional exit status.
public enum OperatorError: Error, CustomStringConvertible, Sendable {
    /// Redis or PostgreSQL cannot be reached (exit 69, `EX_UNAVAILABLE`).
    case unavailable(server: String, detail: String)
    /// Redis or PostgreSQL refused the credentials (exit 77, `EX_NOPERM`).
    case denied(server: String, detail: String)
    /// Redis took the credentials but refused this user the keys asked for (exit 77): the
    /// user may use only its own deployment's stream prefix.
    case keysRefused(server: String, detail: String)
    /// A URL or setting Chorus cannot use (exit 78, `EX_CONFIG`).
    case misconfigured(String)
    /// The thing asked about does not exist (exit 1).
    case notFound(String)
    /// The request cannot be carried out as asked (exit 1).
    case refused(String)
    /// Redis or PostgreSQL answered, but not as expected (exit 1).
    case failed(String)

    public var description: String {
        switch self {
        case .unavailable(let server, let detail): "\(server) is unreachable: \(detail)"
        case .denied(let server, let detail): "\(server) refused the credentials: \(detail)"
        case .keysRefused(let server, let detail):
            "\(server) refused this user those keys: \(detail) (a user may use only its own stream prefix: is CHORUS_STREAM_PREFIX, or --prefix, the one it was made for?)"
        case .misconfigured(let message): message
        case .notFound(let message), .refused(let message), .failed(let message): message
        }
    }

    /// The process exit status the command should end with.
    public var exitStatus: Int32 {
        switch self {
        case .unavailable: 69
        case .denied, .keysRefused: 77
        case .misconfigured: 78
        case .notFound, .refused, .failed: 1
        }
    }

    /// Classifies a Redis failure: a connection problem is an outage, anything else a failure.
    /// - Parameter endpoint: where Redis was expected, without credentials.
    static func from(_ error: RedisError, endpoint: String) -> OperatorError {
        // Refused credentials, or none given where Redis wants some (the default user is off).
        if error.serverErrorPrefix == "NOPERM" {
            return .keysRefused(server: "Redis at \(endpoint)", detail: oneLine(error.message))
        }
        if error.code == .authenticationFailed || ["NOAUTH", "WRONGPASS"].contains(error.serverErrorPrefix ?? "") {
            return .denied(server: "Redis at \(endpoint)", detail: oneLine(error.message))
        }
        if error.code == .connectionFailed || error.code == .connectionLost {
            return .unavailable(server: "Redis at \(endpoint)", detail: error.message)
        }
        return .failed(error.description)
    }

    /// Classifies a PostgreSQL failure: a connection problem is an outage, anything else a failure.
    static func from(_ error: PostgresError, endpoint: String) -> OperatorError {
        // libpq gives no SQLSTATE when the connection is refused for its credentials: its message says so.
        if error.isPermissionDenied || Self.credentialMessages.contains(where: error.message.contains) {
            return .denied(server: "PostgreSQL at \(endpoint)", detail: oneLine(error.message))
        }
        if error.isConnectionProblem {
            return .unavailable(server: "PostgreSQL at \(endpoint)", detail: oneLine(error.message))
        }
        return .failed("PostgreSQL: \(oneLine(error.message))")
    }

    static let credentialMessages = ["password authentication failed", "no password supplied", "permission denied for database"]

    /// libpq's messages span lines; an operator's error is one.
    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}
