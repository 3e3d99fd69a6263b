import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT and SIGTERM into a cancellation of the run; a second signal exits at once.
final class SignalWatcher: @unchecked Sendable {
    // @unchecked: the sources are created once in init and only cancelled in stop();
    // DispatchSource is thread-safe.
    private let sources: [DispatchSourceSignal]

    init(onSignal: @escaping @Sendable () -> Void) {
        let fired = Mutex(false)
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let again = fired.withLock { wasSet in
                    defer { wasSet = true }
                    return wasSet
                }
                if again {
                    Terminal.standardError.write("\ninterrupted again: exiting now\n")
                    exit(130)
                }
                Terminal.standardError.write("\ninterrupting: cancelling requests in flight (again to exit now)\n")
                onSignal()
            }
            source.resume()
            return source
        }
    }

    func stop() {
        for source in sources { source.cancel() }
    }
}

