import Foundation

/// Runs child processes and keeps them running: a process that exits while the supervisor is
/// not stopping is started again after a backoff that doubles (1 s, 2 s, 4 s … up to 30 s).
public actor ProcessSupervisor {
    /// A program to run.
    public struct Program: Sendable {
        public var name: String
        public var command: [String]
        /// Added to this process's environment.
        public var environment: [String: String]
        /// Where its standard output and error go (appended).
        public var log: URL
        /// The signal that stops it cleanly.
        public var stopSignal: Int32

        public init(name: String, command: [String], environment: [String: String] = [:], log: URL, stopSignal: Int32 = SIGTERM) {
            self.name = name
            self.command = command
            self.environment = environment
            self.log = log
            self.stopSignal = stopSignal
        }
    }

    private struct Child {
        var program: Program
        var process: ChildProcess
        var startedAt: ContinuousClock.Instant
        var restarts: Int
    }

    private var children: [String: Child] = [:]
    private var isStopping = false
    private let report: @Sendable (String) -> Void

    /// - Parameter report: receives one line per event worth telling the operator.
    public init(report: @escaping @Sendable (String) -> Void) {
        self.report = report
    }

    /// Starts `program` and supervises it.
    public func start(_ program: Program) throws {
        try launch(program, restarts: 0)
    }

    /// Whether `name` is running now.
    public func isRunning(_ name: String) -> Bool {
        children[name]?.process.isRunning ?? false
    }

    /// Stops the named programs, all at once, waiting up to `grace` before killing them.
    public func stop(_ names: [String], grace: Duration = .seconds(15)) async {
        isStopping = true
        let stopping = names.compactMap { children[$0] }
        for child in stopping { child.process.send(child.program.stopSignal) }
        let deadline = ContinuousClock.now + grace
        for child in stopping {
            while child.process.isRunning && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
            if child.process.isRunning {
                report("\(child.program.name) did not stop in time; killing it")
                child.process.send(SIGKILL)
            }
            children[child.program.name] = nil
        }
    }

    private func launch(_ program: Program, restarts: Int) throws {
        let name = program.name
        let process = try ChildProcess(
            command: program.command,
            environment: ProcessInfo.processInfo.environment.merging(program.environment) { $1 },
            output: program.log
        ) { [weak self] status in
            Task { await self?.exited(name, status: status) }
        }
        children[name] = Child(program: program, process: process, startedAt: .now, restarts: restarts)
    }

    private func exited(_ name: String, status: Int32) async {
        guard !isStopping, let child = children[name], !child.process.isRunning else { return }
        // A process that ran a while before failing starts its backoff afresh.
        let restarts = ContinuousClock.now - child.startedAt > .seconds(60) ? 0 : child.restarts
        let delay = min(30, 1 << min(restarts, 5))
        report("\(name) exited (\(ChildProcess.describe(status))); restarting in \(delay)s, see \(child.program.log.path)")
        try? await Task.sleep(for: .seconds(delay))
        guard !isStopping else { return }
        do {
            try launch(child.program, restarts: restarts + 1)
        } catch {
            report("could not restart \(name): \(error)")
        }
    }
}
