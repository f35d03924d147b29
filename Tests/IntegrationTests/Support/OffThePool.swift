import Foundation

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

/// Runs `command` (its first element an absolute path) to its end, in `directory` if given,
/// and returns its exit status and its output and errors together. Blocks: call it off the pool.
func runToEnd(_ command: [String], in directory: URL? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    process.currentDirectoryURL = directory
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.runSerialized()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Serializes starting child processes across the whole test run.
private let launches = NSLock()

extension Process {
    /// `run()`, one at a time: under the full suite, two tests starting children at the same
    /// moment once crashed inside Foundation's `Process.run()` (a bad read in its copying of the
    /// launch arguments), which took every test down with it. Only the start is serialized; the
    /// children run side by side.
    func runSerialized() throws {
        launches.lock()
        defer { launches.unlock() }
        try run()
    }
}
