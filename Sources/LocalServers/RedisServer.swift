import Foundation

/// A `redis-server` with its files in a local directory.
///
/// It listens on the loopback interface only, with `protected-mode` on. Given an ACL file, it
/// takes its users from there; Chorus's files turn the default user off, so that every
/// connection must authenticate as a named user.
public struct RedisServer: Sendable {
    public var directory: URL
    public var port: Int
    /// Whether writes go to an append-only file, so that data survives a restart.
    public var appendOnly: Bool
    /// The users, in `redis-server --aclfile` format; `nil` keeps Redis's open default user.
    public var aclFile: URL?

    public init(directory: URL, port: Int, appendOnly: Bool, aclFile: URL? = nil) {
        self.directory = directory
        self.port = port
        self.appendOnly = appendOnly
        self.aclFile = aclFile
    }

    /// The command that runs the server in the foreground.
    public func serverCommand() throws -> [String] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return [
            try Binaries.find("redis-server", in: ["/usr/bin", "/usr/local/bin", "/usr/sbin"]),
            "--port", String(port), "--bind", "127.0.0.1", "--protected-mode", "yes", "--save", "",
            "--appendonly", appendOnly ? "yes" : "no", "--dir", directory.path,
            "--logfile", directory.appendingPathComponent("redis.log").path,
        ] + (aclFile.map { ["--aclfile", $0.path] } ?? [])
    }

    /// `redis://127.0.0.1:<port>`.
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Writes `contents` to `file`, readable by this user alone (it names users, and may hold
    /// passwords).
    public static func writePrivateFile(_ contents: String, to file: URL) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: file.path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw LocalServerError("could not write \(file.path)")
        }
        // createFile keeps an existing file's mode; make sure of it.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
    }
}
