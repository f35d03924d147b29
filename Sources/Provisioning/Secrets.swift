/// Passwords Chorus generates for its roles and users.
public enum Secrets {
    /// 32 random bytes from the system's generator, base64url without padding (43 characters).
    /// URL-safe, so it goes into `redis://` and `postgresql://` URLs unescaped.
    public static func generatePassword() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return base64URL(bytes)
    }

    /// Whether `password` looks like one Chorus generates: 16 to 128 characters of the base64url
    /// alphabet. Passwords are checked before they reach a statement that cannot take parameters.
    public static func isWellFormed(_ password: String) -> Bool {
        (16...128).contains(password.count) && password.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", "-", "_": true
            default: false
            }
        }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var text = ""
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = 0
            for (offset, byte) in chunk.enumerated() { value |= Int(byte) << (16 - 8 * offset) }
            for position in 0...chunk.count { text.append(alphabet[(value >> (18 - 6 * position)) & 0x3F]) }
            index += 3
        }
        return text
    }
}

/// The passwords of every principal, for Redis and for PostgreSQL.
public struct Credentials: Sendable, Hashable, Codable {
    /// By principal name (``Principal/name``).
    public var redis: [String: String]
    /// By principal name (``Principal/name``).
    public var postgres: [String: String]

    /// Credentials from passwords kept elsewhere (a file, Compose secrets).
    public init(redis: [String: String], postgres: [String: String]) {
        self.redis = redis
        self.postgres = postgres
    }

    /// Fresh random passwords for every principal.
    public static func generate() -> Credentials {
        Credentials(
            redis: Dictionary(uniqueKeysWithValues: Principal.all.map { ($0.name, Secrets.generatePassword()) }),
            postgres: Dictionary(uniqueKeysWithValues: Principal.all.map { ($0.name, Secrets.generatePassword()) }))
    }

    /// Whether every principal has both passwords, each well formed.
    public var isComplete: Bool {
        Principal.all.allSatisfy { principal in
            [redis[principal.name], postgres[principal.name]].allSatisfy { $0.map(Secrets.isWellFormed) ?? false }
        }
    }
}
