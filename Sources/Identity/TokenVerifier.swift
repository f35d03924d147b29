import Foundation
import JWTKit

/// What a verified token must say besides carrying a good signature.
public struct TokenRequirements: Sendable, Hashable {
    /// The `iss` every token must carry.
    public var issuer: String
    /// A value the token's `aud` must contain.
    public var audience: String
    /// How far the clocks of the issuer and of this process may disagree, applied to `exp`
    /// and `nbf`.
    public var leeway: Duration

    public init(issuer: String, audience: String, leeway: Duration = .seconds(30)) {
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
    }
}

/// Why a token was refused. Each answers 401; the detail is safe to show the client.
public enum TokenRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not three base64url parts with a JSON header and payload.
    case malformed
    /// No key of the key set verifies it: a wrong or forged signature, an unknown `kid`, an
    /// algorithm Chorus does not accept (`none` among them).
    case badSignature
    case expired
    case notYetValid
    case missingExpiry
    case wrongIssuer
    case wrongAudience
    /// Signed and current, but with no role Chorus knows.
    case noRole

    public var description: String {
        switch self {
        case .malformed: "the token is not a well-formed JWT"
        case .badSignature: "the token's signature does not verify with any key this service trusts"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet"
        case .missingExpiry: "the token has no expiry (exp)"
        case .wrongIssuer: "the token was issued by an issuer this service does not trust"
        case .wrongAudience: "the token is meant for another audience"
        case .noRole: "the token carries no Chorus role (customer, admin, inventory or support)"
        }
    }
}

/// Verifies bearer tokens against a JSON Web Key Set and says who sent them.
///
/// Only ES256 (P-256) and EdDSA (Ed25519) keys are taken from the set; a token signed any
/// other way, or not signed (`alg: none`), finds no key and is refused. The key set can be
/// replaced while requests are verified, when an issuer rotates its keys.
public actor TokenVerifier {
    private var keys: JWTKeyCollection
    public let requirements: TokenRequirements
    private let now: @Sendable () -> Date
    /// Tokens whose signature held, with what they said: a client sends the same token with
    /// every request until it expires, and checking an ES256 signature costs far more than the
    /// request's own work. The time window is still checked on every request.
    private var verified: [String: AccessTokenClaims] = [:]
    /// Beyond this many remembered tokens the memory starts again from empty.
    static let rememberedTokens = 10_000

    /// - Parameters:
    ///   - jwks: the key set, as JSON (`{"keys": [...]}`).
    ///   - now: the clock; tests move it.
    public init(jwks: String, requirements: TokenRequirements, now: @escaping @Sendable () -> Date = Date.init) async throws(KeySetError) {
        self.keys = try await Self.collection(from: jwks)
        self.requirements = requirements
        self.now = now
    }

    /// Replaces the trusted keys, say after the issuer published new ones.
    public func replaceKeys(jwks: String) async throws(KeySetError) {
        keys = try await Self.collection(from: jwks)
        // A key taken out of the set must stop vouching for the tokens it signed.
        verified.removeAll()
    }

    /// The caller a bearer token names, once its signature, time window, issuer, audience and
    /// roles hold.
    public func caller(bearerToken token: String) async throws(TokenRejection) -> Caller {
        let claims: AccessTokenClaims
        if let known = verified[token] {
            claims = known
        } else {
            do {
                claims = try await keys.verify(token, as: AccessTokenClaims.self)
            } catch let error as JWTError where error.errorType == .malformedToken {
                throw .malformed
            } catch {
                throw .badSignature
            }
            if verified.count >= Self.rememberedTokens { verified.removeAll(keepingCapacity: true) }
            verified[token] = claims
        }
        let now = self.now()
        let leeway = TimeInterval(requirements.leeway.components.seconds)
        guard let expiry = claims.expiration?.value else { throw .missingExpiry }
        guard expiry.addingTimeInterval(leeway) > now else { throw .expired }
        if let notBefore = claims.notBefore?.value, notBefore.addingTimeInterval(-leeway) > now { throw .notYetValid }
        guard claims.issuer?.value == requirements.issuer else { throw .wrongIssuer }
        guard claims.audience?.value.contains(requirements.audience) == true else { throw .wrongAudience }
        return try Self.caller(subject: claims.subject.value, roles: claims.roles ?? [])
    }

    static func caller(subject: String, roles: [String]) throws(TokenRejection) -> Caller {
        let staffRoles = Set(roles.compactMap(StaffRole.init(rawValue:)))
        if !staffRoles.isEmpty { return .staff(name: subject, roles: staffRoles) }
        if roles.contains(Caller.customerRole) { return .customer(id: subject) }
        throw .noRole
    }

    private static func collection(from jwks: String) async throws(KeySetError) -> JWTKeyCollection {
        let set: JWKS
        do {
            set = try JSONDecoder().decode(JWKS.self, from: Data(jwks.utf8))
        } catch {
            throw KeySetError("is not a JSON Web Key Set: \(error)")
        }
        let accepted = set.keys.filter { key in
            switch (key.keyType, key.curve?.rawValue) {
            case (.ecdsa, "P-256"), (.octetKeyPair, "Ed25519"): true
            default: false
            }
        }
        guard !accepted.isEmpty else { throw KeySetError("holds no ES256 (P-256) or EdDSA (Ed25519) key") }
        do {
            return try await JWTKeyCollection().add(jwks: JWKS(keys: accepted))
        } catch {
            throw KeySetError("holds a key that cannot be used: \(error)")
        }
    }
}

/// A key set that cannot be used.
public struct KeySetError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ problem: String) { description = "the key set " + problem }
}
