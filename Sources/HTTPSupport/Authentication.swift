import Hummingbird
import HummingbirdAuth
import Identity
import Logging

/// The request context of every Chorus service: Hummingbird's, plus the caller a verified
/// bearer token names (`nil` for an anonymous request).
public typealias ChorusRequestContext = BasicAuthRequestContext<Caller>

/// Reads `Authorization: Bearer <token>` and verifies the token. A request without the header
/// goes on anonymously (the route decides whether that is enough); a request with a header that
/// does not verify is answered 401 at once, whatever route it asked for.
public struct BearerTokenAuthenticator: AuthenticatorMiddleware {
    public typealias Context = ChorusRequestContext
    let verifier: TokenVerifier

    public init(verifier: TokenVerifier) {
        self.verifier = verifier
    }

    public func authenticate(request: Request, context: Context) async throws -> Caller? {
        guard let header = request.headers[.authorization] else { return nil }
        guard let bearer = request.headers.bearer, !bearer.token.isEmpty else {
            throw Problem.unauthenticated(header.hasPrefix("Bearer") ? "the bearer token is empty" : "only Bearer tokens are accepted",
                                          error: "invalid_request")
        }
        do {
            return try await verifier.caller(bearerToken: bearer.token)
        } catch {
            context.logger.info("token refused", metadata: ["reason": "\(error)"])
            throw Problem.unauthenticated(error.description, error: "invalid_token")
        }
    }
}

extension AuthRequestContext where Identity == Caller {
    /// Lets the request go on if the caller may do `operation`; otherwise throws the answer:
    /// 401 without a caller, 403 for a caller who may not, and 404 (with `notFound` as its
    /// detail, the same as for an id that does not exist) for another customer's object.
    public func authorize(_ operation: Operation, notFound: @autoclosure () -> String = "no such resource") throws(Problem) {
        switch AccessPolicy.decide(operation, for: identity) {
        case .allowed: return
        case .unauthenticated: throw Problem.unauthenticated("this request needs a bearer token", error: nil)
        case .forbidden: throw Problem.forbidden(operation)
        case .hidden: throw Problem.notFound(notFound())
        }
    }
}

extension Problem {
    /// 401, with the `WWW-Authenticate` challenge of RFC 6750.
    /// - Parameter error: the RFC 6750 error code, when a token was sent and refused.
    public static func unauthenticated(_ detail: String, error: String?) -> Problem {
        var challenge = #"Bearer realm="chorus""#
        if let error { challenge += #", error="\#(error)""# }
        return Problem(.unauthorized, slug: "unauthenticated", title: "Authentication required", detail: detail,
                       headers: [.wwwAuthenticate: challenge])
    }

    /// 403: the caller is known, and may not do this.
    public static func forbidden(_ operation: Operation) -> Problem {
        let detail: String =
            switch operation {
            case .placeCheckout: "a customer may place checkouts only for themselves"
            case .manageStores, .manageCatalogue, .manageCustomers: "this needs the admin role"
            case .manageStock: "this needs the admin or inventory role"
            case .readStock: "this needs a staff role (admin, inventory or support)"
            case .readSales, .readCheckout, .readCustomer, .readAnyAggregate: "this needs the admin or support role"
            }
        return Problem(.forbidden, slug: "forbidden", title: "Forbidden", detail: detail,
                       headers: [.wwwAuthenticate: #"Bearer realm="chorus", error="insufficient_scope""#])
    }
}
