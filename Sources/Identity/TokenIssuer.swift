import Crypto
import Foundation
import JWTKit

/// A P-256 key that signs tokens (ES256), for local runs, the operator's CLI and the tests.
/// A deployment with an identity provider has no such key: only the provider signs.
public struct TokenSigningKey: Sendable {
    let privateKey: ES256PrivateKey
    /// The key's id in the key set: a digest of its public key, so that the same key always
    /// has the same id.
    public let keyID: String

    /// A new random key.
    public static func generate() -> TokenSigningKey {
        // jwt-kit's own initialiser draws from the system's secure random source.
        TokenSigningKey(privateKey: ES256PrivateKey())
    }

    /// A key stored as PEM (what ``pem`` writes).
    public init(pem: String) throws(KeySetError) {
        do {
            self.init(privateKey: try ES256PrivateKey(pem: pem))
        } catch {
            throw KeySetError("signing key is not a P-256 private key in PEM")
        }
    }

    private init(privateKey: ES256PrivateKey) {
        self.privateKey = privateKey
        let parameters = privateKey.parameters
        let digest = SHA256.hash(data: Data(((parameters?.x ?? "") + "." + (parameters?.y ?? "")).utf8))
        self.keyID = digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// The private key in PEM, to keep in a file only its owner can read.
    public var pem: String { privateKey.pemRepresentation }

    /// The public half as a JSON Web Key Set, for verifiers.
    public var publicKeySet: String {
        let parameters = privateKey.parameters
        let key = JWK.ecdsa(.es256, identifier: JWKIdentifier(string: keyID), x: parameters?.x, y: parameters?.y, curve: .p256)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(JWKS(keys: [key])), as: UTF8.self)) ?? #"{"keys":[]}"#
    }
}

/// Mints tokens the way an identity provider would: subject, roles, issuer, audience and a
/// short lifetime.
public struct TokenIssuer: Sendable {
    public let key: TokenSigningKey
    public let issuer: String
    public let audience: String

    public init(key: TokenSigningKey, issuer: String, audience: String) {
        self.key = key
        self.issuer = issuer
        self.audience = audience
    }

    /// A token for `caller`, valid from `now` for `lifetime`.
    public func token(for caller: Caller, lifetime: Duration = .seconds(3_600), now: Date = Date()) async throws -> String {
        switch caller {
        case .customer(let id):
            return try await token(subject: id, roles: [Caller.customerRole], lifetime: lifetime, now: now)
        case .staff(let name, let roles):
            return try await token(subject: name, roles: roles.sorted().map(\.rawValue), lifetime: lifetime, now: now)
        }
    }

    /// A token with any subject and roles, and optionally another issuer or audience: what the
    /// tests need to prove that wrong ones are refused.
    public func token(
        subject: String, roles: [String], lifetime: Duration = .seconds(3_600), now: Date = Date(),
        issuer: String? = nil, audience: String? = nil
    ) async throws -> String {
        let claims = AccessTokenClaims(
            subject: SubjectClaim(value: subject),
            issuer: IssuerClaim(value: issuer ?? self.issuer),
            audience: AudienceClaim(value: [audience ?? self.audience]),
            expiration: ExpirationClaim(value: now.addingTimeInterval(TimeInterval(lifetime.components.seconds))),
            notBefore: NotBeforeClaim(value: now),
            issuedAt: IssuedAtClaim(value: now),
            roles: roles)
        let keys = await JWTKeyCollection().add(ecdsa: key.privateKey, kid: JWKIdentifier(string: key.keyID))
        return try await keys.sign(claims, kid: JWKIdentifier(string: key.keyID))
    }
}
