import Foundation
import Synchronization

/// A child process started with a clean signal state.
///
/// `Foundation.Process` passes on the parent's blocked-signal mask and ignored signals, and a
/// server started that way (redis-server is one) never sees the SIGTERM meant to stop it. Here
/// the child starts with no signal blocked and every signal at its default, through
/// `posix_spawn`, and a dedicated thread waits for it so that its exit is known at once.
public final class ChildProcess: Sendable {
    public let processIdentifier: pid_t
    private let exitStatus = Mutex<Int32?>(nil)
    private let exited = DispatchSemaphore(value: 0)

    /// Starts `command` (looked up in `PATH` when it has no slash).
    /// - Parameters:
    ///   - environment: the child's whole environment.
    ///   - output: a file that receives standard output, and standard error unless `errors` is
    ///     given (appended); `nil` discards them.
    ///   - errors: a file that receives standard error (appended), apart from the output.
    ///   - onExit: called once, on the waiting thread, with the raw wait status.
    public init(
        command: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        output: URL?,
        errors: URL? = nil,
        onExit: @escaping @Sendable (Int32) -> Void = { _ in }
    ) throws {
        guard !command.isEmpty else { throw LocalServerError("empty command") }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errors {
            posix_spawn_file_actions_addopen(&actions, 2, errors.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }

        let arguments = command.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var pid = pid_t()
        let result = posix_spawnp(&pid, command[0], &actions, &attributes, arguments, variables)
        guard result == 0 else {
            throw LocalServerError("could not start \(command[0]): \(String(cString: strerror(result)))")
        }
        processIdentifier = pid
        let child = pid
        let waiter = Thread { [self] in
            var raw: Int32 = 0
            while waitpid(child, &raw, 0) == -1 && errno == EINTR {}
            exitStatus.withLock { $0 = raw }
            onExit(raw)
            exited.signal()
        }
        waiter.name = "wait \(pid)"
        waiter.start()
    }

    /// Whether the child has not exited yet.
    public var isRunning: Bool { exitStatus.withLock { $0 == nil } }

    /// The raw wait status once the child has exited.
    public var status: Int32? { exitStatus.withLock { $0 } }

    /// Blocks until the child has exited, and returns its raw wait status.
    @discardableResult
    public func waitForExit() -> Int32 {
        exited.wait()
        exited.signal()
        return exitStatus.withLock { $0 } ?? 0
    }

    /// A raw wait status as a shell reports it: the exit code, or 128 plus the signal's number.
    public static func exitCode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7F
        return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
    }

    /// Sends `signal` to the child, if it still runs.
    public func send(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }

    /// Describes a raw wait status: `status 1` or `signal 9`.
    public static func describe(_ raw: Int32) -> String {
        let signal = raw & 0x7F
        return signal == 0 ? "status \((raw >> 8) & 0xFF)" : "signal \(signal)"
    }
}
