import Foundation
import Identity
import LocalServers

/// The identity provider of a local run: a signing key made on the first start, whose public
/// half the services trust and the gateway publishes at `/.well-known/jwks.json`.
///
/// `chorus token`, `chorus checkout`, `chorus bench` and the tests mint tokens with it, exactly
/// as an issuer would. A deployment points the services at a real issuer instead
/// (`CHORUS_JWKS_URL`, `CHORUS_TOKEN_ISSUER`), and then has no such key at all.
public enum LocalIdentity {
    /// The `iss` of local tokens.
    public static let issuer = "chorus-local"
    /// The `aud` of local tokens, the services' default audience.
    public static let audience = "chorus"

    /// `<data>/credentials/token-signing-key.pem`, readable by its owner alone.
    public static func keyFile(dataDirectory: URL) -> URL {
        LocalStackCredentials.directory(dataDirectory: dataDirectory).appendingPathComponent("token-signing-key.pem")
    }

    /// `<data>/identity/jwks.json`: the public key set, for the services and the gateway.
    public static func keySetFile(dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("identity").appendingPathComponent("jwks.json")
    }

    /// The stored key, or a new one, stored now; its key set is written beside it every time.
    static func loadOrCreate(dataDirectory: URL) throws -> TokenSigningKey {
        let file = keyFile(dataDirectory: dataDirectory)
        let key: TokenSigningKey
        if let data = FileManager.default.contents(atPath: file.path) {
            do {
                key = try TokenSigningKey(pem: String(decoding: data, as: UTF8.self))
            } catch {
                throw LocalServerError("\(file.path): \(error); move it away to make a new key")
            }
        } else {
            key = .generate()
            try LocalStackCredentials.createPrivateDirectory(LocalStackCredentials.directory(dataDirectory: dataDirectory))
            try LocalStackCredentials.writePrivate(key.pem, to: file)
        }
        let keySet = keySetFile(dataDirectory: dataDirectory)
        try FileManager.default.createDirectory(at: keySet.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data((key.publicKeySet + "\n").utf8).write(to: keySet, options: .atomic)
        return key
    }

    /// The issuer of the local run in `dataDirectory`, or `nil` if `chorus up` never ran there.
    public static func issuer(dataDirectory: URL) throws -> TokenIssuer? {
        guard let data = FileManager.default.contents(atPath: keyFile(dataDirectory: dataDirectory).path) else { return nil }
        return TokenIssuer(key: try TokenSigningKey(pem: String(decoding: data, as: UTF8.self)), issuer: issuer, audience: audience)
    }
}
