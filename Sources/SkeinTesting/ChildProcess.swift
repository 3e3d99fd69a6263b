import Foundation

/// Runs a command to its end for a test (`psql`, `python3`, `dot`, `openssl`), without
/// blocking a thread of Swift's cooperative pool.
///
/// Foundation's `Process` offers only blocking waits (`waitUntilExit`, `readDataToEndOfFile`).
/// On a 2-core machine the cooperative pool has two threads: two tests blocked in a child
/// (two `CREATE DATABASE`s waiting on each other, say) stop every other test of the process,
/// the in-process test servers with them, and the deadlines those tests hold run out (seen
/// in CI: a 3 s request past its 30 s deadline). So the reads and the wait run on Dispatch
/// threads, and the caller awaits them.
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
        async let standardOutput = offThePool { output.fileHandleForReading.readDataToEndOfFile() }
        async let standardError = offThePool { errors.fileHandleForReading.readDataToEndOfFile() }
        let (_, out, err) = await (written, standardOutput, standardError)
        await offThePool { process.waitUntilExit() }
        return Output(status: process.terminationStatus, standardOutput: out, standardError: err)
    }

    /// Runs blocking work on a Dispatch thread and awaits its result.
    public static func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }
}
