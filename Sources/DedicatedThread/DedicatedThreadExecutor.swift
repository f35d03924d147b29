import Dispatch
import Foundation
import Synchronization

/// A serial executor that runs every job on one thread of its own.
///
/// The C clients (hiredis, libpq) block the calling thread. An actor whose executor is a
/// `DedicatedThreadExecutor` can call them freely: no NIO event loop and no thread of the shared
/// Swift concurrency pool is ever blocked, and the connection's pointers never leave the actor.
///
/// - Important: call ``shutdown()`` when the owner is done; the thread runs until then.
public final class DedicatedThreadExecutor: SerialExecutor {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var head = 0
        var isShutDown = false
    }

    private let queue = Mutex(Queue())
    private let jobsAvailable = DispatchSemaphore(value: 0)

    /// Starts the thread.
    /// - Parameter name: the thread's name, as shown by debuggers and `top -H`.
    public init(name: String) {
        let thread = Thread { [self] in self.runJobs() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.withLock { $0.jobs.append(unowned) }
        jobsAvailable.signal()
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread finish the jobs already queued, then end.
    public func shutdown() {
        queue.withLock { $0.isShutDown = true }
        jobsAvailable.signal()
    }

    private func runJobs() {
        while true {
            jobsAvailable.wait()
            let next: UnownedJob?? = queue.withLock { queue in
                if queue.head < queue.jobs.count {
                    let job = queue.jobs[queue.head]
                    queue.head += 1
                    if queue.head > 1024, queue.head * 2 > queue.jobs.count {
                        queue.jobs.removeFirst(queue.head)
                        queue.head = 0
                    }
                    return .some(job)
                }
                return queue.isShutDown ? .none : .some(nil)
            }
            switch next {
            case .none: return
            case .some(.none): continue
            case .some(.some(let job)): job.runSynchronously(on: asUnownedSerialExecutor())
            }
        }
    }
}
