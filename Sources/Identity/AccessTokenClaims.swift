import Foundation
import JWTKit

/// The claims Chorus reads from a bearer token. Any OIDC issuer can produce them: the
/// standard registered claims, plus `roles`, a list of strings (a Keycloak "User Realm Role"
/// mapper, for one, writes realm roles there).
struct AccessTokenClaims: JWTPayload {
    var subject: SubjectClaim
    var issuer: IssuerClaim?
    var audience: AudienceClaim?
    var expiration: ExpirationClaim?
    var notBefore: NotBeforeClaim?
    var issuedAt: IssuedAtClaim?
    var roles: [String]?

    enum CodingKeys: String, CodingKey {
        case subject = "sub", issuer = "iss", audience = "aud", expiration = "exp", notBefore = "nbf", issuedAt = "iat", roles
    }

    /// Called by jwt-kit once the signature holds. The time, issuer and audience checks need
    /// the verifier's settings (and a leeway), so ``TokenVerifier`` makes them itself, every time.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
