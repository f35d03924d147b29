import CheckoutDomain
import Foundation
import LocalServers
import Provisioning

/// The passwords of a local stack, kept in its data directory, readable by its user alone.
///
/// `<data>/credentials/` (mode 0700) holds `credentials.json` (every role's and user's
/// password, made once, on the first start) and, for each principal, `<name>.redis-url` and
/// `<name>.database-url` (mode 0600), rewritten at every start with the stack's ports. Nothing
/// here is ever printed or logged.
public enum LocalStackCredentials {
    /// `<data>/credentials`.
    public static func directory(dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("credentials")
    }

    static func passwordsFile(dataDirectory: URL) -> URL {
        directory(dataDirectory: dataDirectory).appendingPathComponent("credentials.json")
    }

    /// The file holding `principal`'s Redis URL (`redis`) or PostgreSQL URL (`database`).
    public static func urlFile(_ principal: Principal, _ kind: URLKind, dataDirectory: URL) -> URL {
        directory(dataDirectory: dataDirectory).appendingPathComponent("\(principal.name).\(kind.rawValue)")
    }

    /// Which server a URL file is for.
    public enum URLKind: String, Sendable {
        case redis = "redis-url"
        case database = "database-url"
    }

    /// The operator's URLs, as the last `chorus up` with this data directory wrote them; `nil`
    /// if it never ran there. For the CLI's defaults (`lag`, `dlq`, `history`, `verify`, `seed`).
    public static func `operator`(dataDirectory: URL) -> (redisURL: String, databaseURL: String)? {
        func read(_ kind: URLKind) -> String? {
            guard let data = FileManager.default.contents(atPath: urlFile(.operator, kind, dataDirectory: dataDirectory).path) else {
                return nil
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? nil : text
        }
        guard let redis = read(.redis), let database = read(.database) else { return nil }
        return (redis, database)
    }

    /// Whether the data directory has its passwords already.
    static func exist(dataDirectory: URL) -> Bool {
        FileManager.default.fileExists(atPath: passwordsFile(dataDirectory: dataDirectory).path)
    }

    /// The stored passwords, or new ones, stored now.
    static func loadOrCreate(dataDirectory: URL) throws -> Credentials {
        let file = passwordsFile(dataDirectory: dataDirectory)
        if let data = FileManager.default.contents(atPath: file.path) {
            let stored: Credentials
            do {
                stored = try JSONDecoder().decode(Credentials.self, from: data)
            } catch {
                throw LocalServerError("\(file.path) is not readable as Chorus credentials (\(error)); move it away to make new ones")
            }
            guard stored.isComplete else {
                throw LocalServerError("\(file.path) lacks a password for some service; move it away to make new ones")
            }
            return stored
        }
        let credentials = Credentials.generate()
        try createPrivateDirectory(directory(dataDirectory: dataDirectory))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writePrivate(String(decoding: try encoder.encode(credentials), as: UTF8.self), to: file)
        return credentials
    }

    /// Writes every principal's URL files for the given servers.
    static func writeURLFiles(
        _ credentials: Credentials, names: AccessNames, dataDirectory: URL, redisPort: Int, cluster: PostgresCluster, database: String
    ) throws {
        try createPrivateDirectory(directory(dataDirectory: dataDirectory))
        for principal in Principal.all {
            let redisPassword = credentials.redis[principal.name] ?? ""
            let databasePassword = credentials.postgres[principal.name] ?? ""
            try writePrivate(
                "redis://\(names.redisUser(for: principal)):\(redisPassword)@127.0.0.1:\(redisPort)\n",
                to: urlFile(principal, .redis, dataDirectory: dataDirectory))
            try writePrivate(
                cluster.connectionString(database: database, user: names.role(for: principal), password: databasePassword) + "\n",
                to: urlFile(principal, .database, dataDirectory: dataDirectory))
        }
    }

    static func createPrivateDirectory(_ url: URL) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: url.path)
    }

    static func writePrivate(_ text: String, to file: URL) throws {
        try RedisServer.writePrivateFile(text, to: file)
    }
}
