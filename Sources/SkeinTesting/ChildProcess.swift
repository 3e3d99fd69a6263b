import Foundation

/// Runs a command to its end for a test (`psql`, `python3`, `dot`, `openssl`), without
/// blocking a thread of Swift's cooperative pool.
///
/// Foundation's `Process` offers only blocking waits (`waitUntilExit`, `readDataToEndOfFile`).
/// On a 2-core machine the cooperative pool has two threads: two tests blocked in a child
/// stop every other test of the process, the in-process test servers with them.
///
/// Nor may they block Dispatch's global queues: on Linux, libdispatch sizes that pool by the
/// cores and notices blocked threads only on a one-second check (where it notices them at
/// all), and timers are delivered through it, `Task.sleep` among them. With a dozen CLI
/// tests reading their children's output on global-queue threads, a 100 ms `Task.sleep`
/// in the same process was measured taking 21.8 s, every test stood still for ~23 s, and
/// in CI a 3 s request ran past its 30 s deadline. So each blocking call gets a thread of
/// its own (as `ToolProcess` does for tools), and the caller awaits it.
public enum ChildProcess {
    public struct Output: Sendable {
        public var status: Int32
        public var standardOutput: Data
        public var standardError: Data
        public var text: String { String(decoding: standardOutput, as: UTF8.self) }
        public var errorText: String { String(decoding: standardError, as: UTF8.self) }
    }

    /// Runs `arguments` (looked up on `PATH`), writes `input` to its stdin, and returns its
    /// exit status and what it printed. Throws only when it cannot be started.
    public static func run(_ arguments: [String], input: Data? = nil, in directory: URL? = nil) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe(), errors = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        let writer = stdin.fileHandleForWriting
        // Written on its own thread too: a large input fills the pipe before the child reads it all.
        async let written: Void = offThePool {
            if let input { writer.write(input) }
            try? writer.close()
        }
        let finished = await finish(process, output: output, errors: errors)
        await written
        return finished
    }

    /// Reads a started process's stdout and stderr to their ends, waits for it to exit, and
    /// returns its status and what it printed (for callers that start it themselves: another
    /// executable, a process group, a signal sent mid-run).
    public static func finish(_ process: Process, output: Pipe, errors: Pipe) async -> Output {
        async let standardOutput = offThePool { output.fileHandleForReading.readDataToEndOfFile() }
        async let standardError = offThePool { errors.fileHandleForReading.readDataToEndOfFile() }
        let (out, err) = await (standardOutput, standardError)
        await offThePool { process.waitUntilExit() }
        return Output(status: process.terminationStatus, standardOutput: out, standardError: err)
    }

    /// Runs blocking work on a thread of its own and awaits its result.
    public static func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.stackSize = 512 << 10
            thread.start()
        }
    }
}
