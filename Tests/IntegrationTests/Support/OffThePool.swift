import Foundation
import LocalServers

/// Runs blocking work (waiting for a child process, reading its pipes) on a thread of its own,
/// off Swift concurrency's cooperative pool.
///
/// The services under test run in this process, on that pool, which has one thread per core. A
/// test that blocks a pool thread while its child (`curl`, `chorus status`) talks to those
/// services leaves them fewer threads, or none: under a full suite the child then times out.
func offThePool<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// What a child process that ran to its end left behind.
struct FinishedProcess {
    /// Its exit code, or 128 plus the signal that ended it.
    var status: Int32
    var output: String
    /// Its standard error, when it was kept apart; else empty, and the errors are in `output`.
    var errors: String
}

/// Runs `command` (its first element an absolute path) to its end, in `directory` if given, and
/// returns its exit status and what it wrote. Blocks: call it off the pool.
///
/// Children start through ``ChildProcess`` (`posix_spawn`), not Foundation's `Process`: under the
/// full suite, with over a thousand descriptors open in this process, `Process.run()` crashed
/// inside its own copying (a write past a buffer's end), which took every test down with it.
func runToEnd(
    _ command: [String], in directory: URL? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
    separatingErrors: Bool = false
) throws -> FinishedProcess {
    let files = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-child-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: files) }
    let output = files.appendingPathComponent("output")
    let errors = files.appendingPathComponent("errors")
    // GNU env changes the directory (Glibc's posix_spawn_file_actions_addchdir_np is not
    // exposed to Swift).
    let command = directory.map { ["/usr/bin/env", "-C", $0.path] + command } ?? command
    let child = try ChildProcess(command: command, environment: environment, output: output, errors: separatingErrors ? errors : nil)
    let status = ChildProcess.exitCode(child.waitForExit())
    func text(_ file: URL) -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }
    return FinishedProcess(status: status, output: text(output), errors: separatingErrors ? text(errors) : "")
}
