import Crypto
import Foundation
import JWTKit
import Testing

@testable import Identity

@Suite("Bearer tokens: what is accepted and what is refused")
struct TokenVerifierTests {
    static let key = TokenSigningKey.generate()
    static let issuer = TokenIssuer(key: key, issuer: "https://id.example", audience: "chorus")
    static let requirements = TokenRequirements(issuer: "https://id.example", audience: "chorus", leeway: .seconds(30))
    static let noon = Date(timeIntervalSince1970: 1_800_000_000)

    func verifier(now: Date = TokenVerifierTests.noon, keys: String = TokenVerifierTests.key.publicKeySet) async throws -> TokenVerifier {
        try await TokenVerifier(jwks: keys, requirements: Self.requirements, now: { now })
    }

    func rejection(of token: String, now: Date = TokenVerifierTests.noon) async throws -> TokenRejection? {
        let verifier = try await verifier(now: now)
        do {
            _ = try await verifier.caller(bearerToken: token)
            return nil
        } catch {
            return error
        }
    }

    @Test("a customer token names the customer")
    func customer() async throws {
        let token = try await Self.issuer.token(for: .customer(id: "cus-0001"), now: Self.noon)
        #expect(try await verifier().caller(bearerToken: token) == .customer(id: "cus-0001"))
    }

    @Test("a staff token names the member of staff with their roles")
    func staff() async throws {
        let token = try await Self.issuer.token(for: .staff(name: "alice", roles: [.inventory, .support]), now: Self.noon)
        #expect(try await verifier().caller(bearerToken: token) == .staff(name: "alice", roles: [.inventory, .support]))
    }

    @Test("staff roles win over the customer role, and unknown roles are ignored")
    func mixedRoles() async throws {
        let token = try await Self.issuer.token(subject: "bob", roles: ["customer", "support", "offline_access"], now: Self.noon)
        #expect(try await verifier().caller(bearerToken: token) == .staff(name: "bob", roles: [.support]))
    }

    @Test("a token with no Chorus role is refused")
    func noRole() async throws {
        let token = try await Self.issuer.token(subject: "bob", roles: ["offline_access"], now: Self.noon)
        #expect(try await rejection(of: token) == .noRole)
    }

    @Test("an expired token is refused once the leeway has passed, not before")
    func expired() async throws {
        let token = try await Self.issuer.token(for: .customer(id: "cus-0001"), lifetime: .seconds(60), now: Self.noon)
        #expect(try await rejection(of: token, now: Self.noon.addingTimeInterval(60 + 29)) == nil)
        #expect(try await rejection(of: token, now: Self.noon.addingTimeInterval(60 + 31)) == .expired)
    }

    @Test("a token not valid yet is refused beyond the leeway, accepted within it")
    func notYetValid() async throws {
        let token = try await Self.issuer.token(for: .customer(id: "cus-0001"), now: Self.noon.addingTimeInterval(120))
        #expect(try await rejection(of: token) == .notYetValid)
        let soon = try await Self.issuer.token(for: .customer(id: "cus-0001"), now: Self.noon.addingTimeInterval(20))
        #expect(try await rejection(of: soon) == nil)
    }

    @Test("an issuer that signs with EdDSA (Ed25519) is trusted the same way")
    func edDSA() async throws {
        let secret = Curve25519.Signing.PrivateKey()
        let jwk = JWK.octetKeyPair(
            .eddsa, identifier: "ed", x: secret.publicKey.rawRepresentation.base64URL, y: nil, curve: .ed25519)
        let keySet = String(decoding: try JSONEncoder().encode(JWKS(keys: [jwk])), as: UTF8.self)
        let signer = await JWTKeyCollection().add(eddsa: EdDSA.PrivateKey(backing: secret), kid: "ed")
        let claims = AccessTokenClaims(
            subject: "cus-0009", issuer: "https://id.example", audience: "chorus",
            expiration: .init(value: Self.noon.addingTimeInterval(300)), roles: ["customer"])
        let token = try await signer.sign(claims, kid: "ed")
        #expect(try await verifier(keys: keySet).caller(bearerToken: token) == .customer(id: "cus-0009"))
        #expect(try await rejection(of: token) == .badSignature)
    }

    @Test("a token without an expiry is refused")
    func noExpiry() async throws {
        let signer = await JWTKeyCollection().add(ecdsa: try ES256PrivateKey(pem: Self.key.pem), kid: JWKIdentifier(string: Self.key.keyID))
        let claims = AccessTokenClaims(subject: "cus-0001", issuer: "https://id.example", audience: "chorus", roles: ["customer"])
        #expect(try await rejection(of: try await signer.sign(claims, kid: JWKIdentifier(string: Self.key.keyID))) == .missingExpiry)
    }

    @Test("a token signed by another key is refused")
    func wronglySigned() async throws {
        let stranger = TokenIssuer(key: .generate(), issuer: "https://id.example", audience: "chorus")
        let token = try await stranger.token(for: .staff(name: "mallory", roles: [.admin]), now: Self.noon)
        #expect(try await rejection(of: token) == .badSignature)
    }

    @Test("a token whose payload was changed after signing is refused")
    func tampered() async throws {
        let token = try await Self.issuer.token(for: .customer(id: "cus-0001"), now: Self.noon)
        let parts = token.split(separator: ".").map(String.init)
        let forged = try await Self.issuer.token(for: .staff(name: "cus-0001", roles: [.admin]), now: Self.noon)
        let forgedPayload = forged.split(separator: ".").map(String.init)[1]
        #expect(try await rejection(of: [parts[0], forgedPayload, parts[2]].joined(separator: ".")) == .badSignature)
    }

    @Test("an unsigned token (alg none) is refused, whatever it claims")
    func unsigned() async throws {
        let token = try await Self.issuer.token(for: .staff(name: "mallory", roles: [.admin]), now: Self.noon)
        let payload = token.split(separator: ".").map(String.init)[1]
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URL
        #expect(try await rejection(of: "\(header).\(payload).") == .badSignature)
        #expect(try await rejection(of: "\(header).\(payload)") != nil)
    }

    @Test("a token for another audience, or from another issuer, is refused")
    func wrongAudienceOrIssuer() async throws {
        let otherAudience = try await Self.issuer.token(subject: "cus-0001", roles: ["customer"], now: Self.noon, audience: "billing")
        #expect(try await rejection(of: otherAudience) == .wrongAudience)
        let otherIssuer = try await Self.issuer.token(subject: "cus-0001", roles: ["customer"], now: Self.noon, issuer: "https://evil.example")
        #expect(try await rejection(of: otherIssuer) == .wrongIssuer)
    }

    @Test("garbage is malformed, not a crash")
    func garbage() async throws {
        for text in ["", "abc", "a.b.c", "....", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"] {
            #expect(try await rejection(of: text) != nil, "\(text)")
        }
    }

    @Test("replacing the key set takes effect at once: rotated-out keys no longer verify")
    func rotation() async throws {
        let verifier = try await verifier()
        let token = try await Self.issuer.token(for: .customer(id: "cus-0001"), now: Self.noon)
        let next = TokenSigningKey.generate()
        try await verifier.replaceKeys(jwks: next.publicKeySet)
        await #expect(throws: TokenRejection.badSignature) { try await verifier.caller(bearerToken: token) }
    }

    @Test("a token verified once is still refused once it expires, and after its key is rotated out")
    func rememberedTokensStillChecked() async throws {
        let clock = Clock(Self.noon)
        let verifier = try await TokenVerifier(jwks: Self.key.publicKeySet, requirements: Self.requirements, now: { clock.now })
        let token = try await Self.issuer.token(for: .customer(id: "cus-0001"), lifetime: .seconds(60), now: Self.noon)
        #expect(try await verifier.caller(bearerToken: token) == .customer(id: "cus-0001"))
        #expect(try await verifier.caller(bearerToken: token) == .customer(id: "cus-0001"))
        clock.now = Self.noon.addingTimeInterval(120)
        await #expect(throws: TokenRejection.expired) { try await verifier.caller(bearerToken: token) }
        clock.now = Self.noon
        try await verifier.replaceKeys(jwks: TokenSigningKey.generate().publicKeySet)
        await #expect(throws: TokenRejection.badSignature) { try await verifier.caller(bearerToken: token) }
    }

    @Test("a key set without an ES256 or EdDSA key is refused at start")
    func unusableKeySet() async throws {
        await #expect(throws: KeySetError.self) { try await verifier(keys: #"{"keys":[]}"#) }
        await #expect(throws: KeySetError.self) {
            try await verifier(keys: #"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256","kid":"h"}]}"#)
        }
        await #expect(throws: KeySetError.self) { try await verifier(keys: "not json") }
    }

    @Test("a signing key survives a round trip through PEM, with the same key id")
    func pemRoundTrip() throws {
        let copy = try TokenSigningKey(pem: Self.key.pem)
        #expect(copy.keyID == Self.key.keyID)
        #expect(copy.publicKeySet == Self.key.publicKeySet)
    }
}

/// A clock the test moves.
final class Clock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    init(_ start: Date) { current = start }
    var now: Date {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
