import Foundation
import Redis

/// Credentials kept as one file per URL, as Compose secrets are: `<name>-database-url` and
/// `<name>-redis-url` for every principal (`deploy/compose/make-secrets` writes them).
public enum SecretFiles {
    /// Every principal's passwords, read from its URL files; each URL must name the user or role
    /// that ``AccessNames`` gives the principal, so that a file cannot be swapped for another's.
    public static func credentials(in directory: URL, names: AccessNames) throws(ProvisioningError) -> Credentials {
        var redis: [String: String] = [:]
        var postgres: [String: String] = [:]
        for principal in Principal.all {
            let redisFile = directory.appendingPathComponent("\(principal.name)-redis-url")
            let redisUser = names.redisUser(for: principal)
            guard let redisConfiguration = try? RedisConfiguration(url: try read(redisFile)),
                redisConfiguration.username == redisUser, let password = redisConfiguration.password
            else {
                throw ProvisioningError("\(redisFile.path) must be a redis:// URL naming the user \(redisUser) with a password")
            }
            redis[principal.name] = password

            let databaseFile = directory.appendingPathComponent("\(principal.name)-database-url")
            let role = names.role(for: principal)
            guard let components = URLComponents(string: try read(databaseFile)), components.user == role,
                let password = components.password
            else {
                throw ProvisioningError("\(databaseFile.path) must be a postgresql:// URL naming the role \(role) with a password")
            }
            postgres[principal.name] = password
        }
        let credentials = Credentials(redis: redis, postgres: postgres)
        guard credentials.isComplete else {
            throw ProvisioningError("a password in \(directory.path) is not 16 to 128 characters of A-Z a-z 0-9 - _")
        }
        return credentials
    }

    /// A file's text without its final newline.
    public static func read(_ file: URL) throws(ProvisioningError) -> String {
        guard let data = FileManager.default.contents(atPath: file.path) else { throw ProvisioningError("cannot read \(file.path)") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
