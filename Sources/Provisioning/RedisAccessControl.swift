import CheckoutDomain
import Crypto
import Redis

/// The Redis ACL of one deployment: the default user off, one user per service limited to the
/// streams it reads and writes, and an operator user.
///
/// One definition serves `chorus up` and compose (as an ACL file, ``aclFile(credentials:)``) and
/// the tests (applied live with `ACL SETUSER`, ``apply(credentials:on:)``).
///
/// A service's root permissions hold the consumer's commands on the streams it reads; a
/// selector adds `XADD`, alone, on the streams it emits to and on the dead-letter stream. So the
/// payment user can read the reference stream but gets `NOPERM` writing to it. Only the event
/// store, which trims the streams, may run `XTRIM`.
public struct RedisAccessControl: Sendable {
    public let names: AccessNames

    /// The ACL of the deployment `names` describes.
    public init(names: AccessNames) {
        self.names = names
    }

    /// What a consumer does on the streams it reads (`StreamConsumer`, `HealthRoutes`).
    static let consumerCommands = [
        "+ping", "+xreadgroup", "+xack", "+xautoclaim", "+xpending", "+xinfo|groups", "+xinfo|stream",
        "+xgroup|create", "+xrange", "+xrevrange", "+multi", "+exec", "+discard",
    ]

    /// What the operator's tools do: read every stream, re-publish dead letters (in a script,
    /// checked against a retry record) or discard them (recorded), seed the demo data, and
    /// read-only diagnostics (`INFO`, with its command statistics, and `MEMORY USAGE`).
    static let operatorCommands = [
        "+ping", "+xinfo", "+xpending", "+xrange", "+xrevrange", "+xread", "+xlen", "+xadd", "+type", "+exists",
        "+info", "+memory|usage",
        "+eval", "+evalsha", "+eval_ro", "+evalsha_ro", "+script|load", "+script|exists",
        "+multi", "+exec", "+discard", "+watch", "+unwatch",
    ]

    private var topology: StreamTopology { StreamTopology(prefix: names.prefix, checkoutPartitions: 1) }

    /// Every checkout partition at once, whatever the partition count.
    private var checkoutStreamsPattern: String { "\(names.prefix):checkouts:*" }

    /// The key patterns of the streams `worker` reads.
    public func readPatterns(of worker: Worker) -> [String] {
        topology.streams(readBy: worker).map { $0 == topology.referenceStream ? $0 : checkoutStreamsPattern }.uniqued()
    }

    /// The key patterns of the streams `worker` may `XADD` to: those of the events it emits, and
    /// the dead-letter stream.
    public func writePatterns(of worker: Worker) -> [String] {
        let emitted = worker.emits.sorted { $0.rawValue < $1.rawValue }.map { type in
            type.isReferenceData ? topology.referenceStream : checkoutStreamsPattern
        }
        return (emitted + [topology.deadLetterStream]).uniqued()
    }

    /// The ACL rules of `principal`, after its password, as `ACL SETUSER` takes them.
    public func rules(for principal: Principal) -> [String] {
        switch principal {
        case .service(let worker):
            let reads = readPatterns(of: worker).map { "~" + $0 }
            let writes = writePatterns(of: worker).map { "~" + $0 }
            var rules = ["resetchannels"] + reads + Self.consumerCommands + ["(" + (writes + ["+xadd"]).joined(separator: " ") + ")"]
            if worker == .eventStore {
                // The one principal that trims: the streams it reads, and the dead letters.
                rules.append("(" + (reads + ["~" + topology.deadLetterStream, "+xtrim", "+xinfo|groups", "+xinfo|consumers", "+xpending"])
                    .joined(separator: " ") + ")")
            }
            return rules
        case .operator:
            return ["resetchannels", "~\(names.prefix):*"] + Self.operatorCommands + [
                "(~\(topology.deadLetterStream):* +hset +hsetnx +hget +hmget +hgetall +hexists +hlen +hkeys)",
                // Discarding a dead letter deletes it (after recording it, in a script).
                "(~\(topology.deadLetterStream) +xdel)",
                "(~\(names.prefix):demo-data:* +set +get +del +exists)",
            ]
        }
    }

    /// `#<sha256>`: Redis stores and compares only the hash, so the ACL file holds no password.
    static func passwordRule(_ password: String) -> String {
        "#" + SHA256.hash(data: Array(password.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    private static func password(of principal: Principal, in credentials: Credentials) throws(ProvisioningError) -> String {
        guard let password = credentials.redis[principal.name], Secrets.isWellFormed(password) else {
            throw ProvisioningError("no well-formed Redis password for \(principal)")
        }
        return password
    }

    /// The ACL rule of Redis's default user: off, so that no connection can act as it.
    ///
    /// Its permissions still matter. When Redis 7.0 loads its append-only file, it replays each
    /// `MULTI`/`EXEC` block as the default user and checks that user's permissions at `EXEC`;
    /// a block they refuse is skipped with a log line, and the server starts without it. Every
    /// publish-and-acknowledge of a worker is such a block, and so is Redis's own record of an
    /// `XREADGROUP` that delivered several entries: with a default user allowed nothing, a
    /// restart dropped published events, acknowledgements and pending entries, and the
    /// observers saw a checkout's events out of order. Being off, the default user lends these
    /// permissions to nobody but that replay.
    public static let defaultUserRule = "user default off ~* &* +@all"

    /// An ACL file for `redis-server --aclfile`: the default user off, then every principal.
    /// It holds password hashes only. Redis allows no comments in it.
    public func aclFile(credentials: Credentials) throws(ProvisioningError) -> String {
        var lines = [Self.defaultUserRule]
        for principal in Principal.all {
            let password = try Self.password(of: principal, in: credentials)
            lines.append((["user", names.redisUser(for: principal), "on", Self.passwordRule(password)] + rules(for: principal))
                .joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Creates or replaces every principal's user on a running server, through a connection
    /// allowed to run `ACL SETUSER`. Leaves the default user as the server has it.
    public func apply(credentials: Credentials, on admin: RedisConnection) async throws {
        for principal in Principal.all {
            let password = try Self.password(of: principal, in: credentials)
            let command = ["ACL", "SETUSER", names.redisUser(for: principal), "reset", "on", Self.passwordRule(password)]
                + rules(for: principal)
            _ = try await admin.send(command).throwingError(command: ["ACL", "SETUSER"])
        }
    }
}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
