import CHiredis
import DedicatedThread
import Foundation

/// One connection to Redis through hiredis, owned by an actor that runs on a thread of its own.
///
/// hiredis blocks the calling thread; the actor's executor is a ``DedicatedThreadExecutor`` so
/// that no event loop and no thread of the shared concurrency pool ever waits on the socket.
/// Commands are sent as argv, so values are never parsed as part of the command.
///
/// A broken connection is dropped and opened again on the next command, with a backoff that
/// doubles up to ``RedisConfiguration/reconnectBackoffMilliseconds``.
public actor RedisConnection {
    /// Where this connection goes.
    public nonisolated let configuration: RedisConfiguration
    /// How many connection attempts a command makes before it gives up.
    public nonisolated let connectAttempts: Int

    private let executor: DedicatedThreadExecutor
    /// Touched only on the actor's executor, and by `deinit`, which runs when no one else can
    /// reach the connection. (An `isolated deinit` would say so to the compiler, but it sends
    /// Swift 6.3's optimiser into a cycle.)
    nonisolated(unsafe) private var context: UnsafeMutablePointer<redisContext>?
    private var isClosed = false
    /// When the last command ended; an idle connection is checked before it is used again.
    private var lastUsed = ContinuousClock.now
    /// How long a connection may sit idle before it is checked for a server that went away.
    static let idleCheckAfter: Duration = .seconds(1)

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Creates a connection; it opens lazily, on the first command.
    /// - Parameters:
    ///   - configuration: where to connect and how long to wait.
    ///   - connectAttempts: how many times a command tries to (re)connect before it throws.
    public init(configuration: RedisConfiguration, connectAttempts: Int = 5) {
        self.configuration = configuration
        self.connectAttempts = max(1, connectAttempts)
        self.executor = DedicatedThreadExecutor(name: "redis \(configuration.host):\(configuration.port)")
    }

    deinit {
        if let context { redisFree(context) }
        executor.shutdown()
    }

    /// Closes the socket. Later commands throw; the thread ends when the connection is released.
    public func close() {
        if let context { redisFree(context) }
        context = nil
        isClosed = true
    }

    /// Sends one command and returns its reply. An error reply is returned as ``RedisValue/error(_:)``.
    /// - Parameters:
    ///   - arguments: the command and its arguments, e.g. `["XACK", stream, group, id]`.
    ///   - blockingMilliseconds: for commands that block on the server (`XREADGROUP … BLOCK`),
    ///     how long they may block; it is added to the command timeout.
    public func send(_ arguments: [String], blockingMilliseconds: Int = 0) async throws(RedisError) -> RedisValue {
        try await send(arguments, blockingMilliseconds: blockingMilliseconds) { reply in reply.value }
    }

    /// Sends one command and hands its reply to `reading` in place, without copying it into a
    /// ``RedisValue`` first. An error reply is handed over too (``RedisReply/errorMessage``).
    /// - Parameter reading: runs on the connection's thread; the reply is freed when it returns.
    public func send<Result>(
        _ arguments: [String], blockingMilliseconds: Int = 0, reading: (RedisReply) throws(RedisError) -> Result
    ) async throws(RedisError) -> Result {
        let context = try await connected()
        if blockingMilliseconds > 0 { setTimeout(context, milliseconds: configuration.commandTimeoutMilliseconds + blockingMilliseconds) }
        defer {
            // Only while the context is still ours: a failed command frees it.
            if blockingMilliseconds > 0, self.context == context {
                setTimeout(context, milliseconds: configuration.commandTimeoutMilliseconds)
            }
        }
        let raw = Self.withArgv(arguments) { argc, argv, lengths in redisCommandArgv(context, argc, argv, lengths) }
        guard let raw else { throw dropConnection(during: arguments) }
        defer { freeReplyObject(raw) }
        return try reading(RedisReply(pointer: UnsafePointer(raw.assumingMemoryBound(to: redisReply.self))))
    }

    /// Sends one command and throws if Redis answers with an error.
    public func execute(_ arguments: [String], blockingMilliseconds: Int = 0) async throws(RedisError) -> RedisValue {
        try await send(arguments, blockingMilliseconds: blockingMilliseconds).throwingError(command: arguments)
    }

    /// Writes every command before reading any reply: one round trip for the whole batch.
    /// - Returns: one reply per command, in order; error replies are values, not throws.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        let context = try await connected()
        for command in commands {
            let status = Self.withArgv(command) { argc, argv, lengths in redisAppendCommandArgv(context, argc, argv, lengths) }
            guard status == REDIS_OK else { throw dropConnection(during: command) }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for command in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw dropConnection(during: command) }
            replies.append(Self.decode(raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Runs a pipeline and throws on the first error reply.
    public func executePipeline(_ commands: [[String]]) async throws(RedisError) -> [RedisValue] {
        let replies = try await pipeline(commands)
        for (reply, command) in zip(replies, commands) { _ = try reply.throwingError(command: command) }
        return replies
    }

    // MARK: - Connecting

    private func connected() async throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        defer { lastUsed = ContinuousClock.now }
        if let context {
            guard ContinuousClock.now - lastUsed > Self.idleCheckAfter, Self.serverSpokeUnasked(context) else { return context }
            // A restarted or departed server closed this socket while it sat idle: open another
            // rather than send a command down it and fail.
            redisFree(context)
            self.context = nil
        }
        guard !isClosed else { throw RedisError(code: .connectionFailed, message: "the connection was closed") }
        var delay = configuration.reconnectBackoffMilliseconds.lowerBound
        var attempt = 1
        while true {
            do {
                let opened = try openConnection()
                // Another caller may have reconnected while this one slept: keep one socket.
                if let existing = context {
                    redisFree(opened)
                    return existing
                }
                context = opened
                return opened
            } catch {
                guard attempt < connectAttempts else { throw error }
                attempt += 1
                try? await Task.sleep(for: .milliseconds(delay))
                delay = min(delay * 2, configuration.reconnectBackoffMilliseconds.upperBound)
            }
        }
    }

    private func openConnection() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        let timeout = Self.timeval(milliseconds: configuration.connectTimeoutMilliseconds)
        guard let opened = redisConnectWithTimeout(configuration.host, Int32(configuration.port), timeout) else {
            throw RedisError(code: .connectionFailed, message: "hiredis could not allocate a context")
        }
        if opened.pointee.err != 0 {
            let message = Self.errorText(opened)
            redisFree(opened)
            throw RedisError(code: .connectionFailed, message: "\(configuration.host):\(configuration.port): \(message)")
        }
        setTimeout(opened, milliseconds: configuration.commandTimeoutMilliseconds)
        do {
            if let password = configuration.password {
                let auth = configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
                try handshake(opened, auth, summary: "AUTH")
            }
            if configuration.database != 0 {
                try handshake(opened, ["SELECT", String(configuration.database)], summary: "SELECT")
            }
        } catch {
            redisFree(opened)
            throw error
        }
        return opened
    }

    private func handshake(_ context: UnsafeMutablePointer<redisContext>, _ arguments: [String], summary: String) throws(RedisError) {
        let raw = Self.withArgv(arguments) { argc, argv, lengths in redisCommandArgv(context, argc, argv, lengths) }
        guard let raw else { throw RedisError(code: .connectionFailed, message: Self.errorText(context), command: summary) }
        defer { freeReplyObject(raw) }
        if case .error(let message) = Self.decode(raw.assumingMemoryBound(to: redisReply.self)) {
            // A refused password is not an outage: retrying will not fix it, and operators
            // need to tell the two apart.
            throw RedisError(code: summary == "AUTH" ? .authenticationFailed : .connectionFailed, message: message, command: summary)
        }
    }

    private func dropConnection(during command: [String]) -> RedisError {
        let message = context.map(Self.errorText) ?? "no connection"
        if let context { redisFree(context) }
        context = nil
        return RedisError(code: .connectionLost, message: message, command: RedisCommandSummary(command).text)
    }

    /// Whether an idle socket has input waiting. Redis sends nothing unasked on a connection
    /// that is not subscribed, so input there is the end of the connection (a restart, a
    /// `CLIENT KILL`, the idle timeout): a check without a round trip.
    private static func serverSpokeUnasked(_ context: UnsafeMutablePointer<redisContext>) -> Bool {
        var descriptor = pollfd(fd: Int32(context.pointee.fd), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    private func setTimeout(_ context: UnsafeMutablePointer<redisContext>, milliseconds: Int) {
        _ = redisSetTimeout(context, Self.timeval(milliseconds: milliseconds))
    }

    // MARK: - C helpers

    private static func timeval(milliseconds: Int) -> Foundation.timeval {
        Foundation.timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { bytes in
            let text = bytes.prefix { $0 != 0 }
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// Lays the arguments out as one C buffer with lengths, so that binary-safe values pass unchanged.
    private static func withArgv<Result>(
        _ arguments: [String],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?) -> Result
    ) -> Result {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(arguments.reduce(1) { $0 + $1.utf8.count })
        var offsets: [Int] = []
        offsets.reserveCapacity(arguments.count)
        var lengths: [Int] = []
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            offsets.append(bytes.count)
            bytes.append(contentsOf: argument.utf8)
            lengths.append(bytes.count - offsets[offsets.count - 1])
        }
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { buffer in
                var argv: [UnsafePointer<CChar>?] = offsets.map { offset in buffer.baseAddress.map { base in base + offset } }
                return argv.withUnsafeMutableBufferPointer { argvBuffer in
                    lengths.withUnsafeBufferPointer { lengthBuffer in
                        body(Int32(arguments.count), argvBuffer.baseAddress, lengthBuffer.baseAddress)
                    }
                }
            }
        }
    }

    static func decode(_ reply: UnsafePointer<redisReply>) -> RedisValue {
        let value = reply.pointee
        func text() -> String {
            guard let characters = value.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: characters, count: value.len), as: UTF8.self)
        }
        switch value.type {
        case REDIS_REPLY_STRING: return .bulk(text())
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(Int64(value.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<value.elements).map { index in
                elements[index].map { decode(UnsafePointer($0)) } ?? .null
            })
        default:
            return .error("CHORUS unsupported reply type \(value.type)")
        }
    }
}
