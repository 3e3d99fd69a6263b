import CSkeinSpawn
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a tool's process (`run: [argv...]`): the arguments on stdin, stdout the result.
///
/// Written on the C library rather than Foundation's `Process`, which cannot start the
/// child in a process group of its own (a timeout must kill the tool and whatever it
/// started) nor tie its life to Skein's (see `CSkeinSpawn`). The blocking reads and the
/// wait run on threads of their own, four per execution: tools are few, and each thread
/// lives as long as its tool.
struct ToolProcess: Sendable {
    /// How an execution ended.
    struct Outcome: Sendable {
        /// The exit status, or nil when a signal ended it.
        var exitStatus: Int32?
        var signal: Int32?
        var stdout: Data
        /// The last part of stderr (at most ``stderrLimit`` bytes).
        var stderr: Data
        var timedOut: Bool
        /// stdout passed ``outputLimit``: the process was killed.
        var outputTooLarge: Bool
    }

    /// A tool that cannot start: not found, not executable, a directory that is gone.
    struct StartError: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    static let outputLimit = 1 << 20
    static let stderrLimit = 4 << 10

    var argv: [String]
    var environment: [String: String]
    /// The working directory: the pipeline's.
    var directory: String
    var timeout: Duration

    /// Finds the program: a name without a slash on `PATH` (the tool's), a path relative
    /// to the pipeline's directory otherwise. Checked before starting, so the error names
    /// the file and the fix.
    func resolvedProgram() throws(StartError) -> String {
        let program = argv[0]
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : (directory as NSString).appendingPathComponent(program)
            try Self.checkExecutable(path, as: program)
            return path
        }
        for entry in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = String(entry) + "/" + program
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw StartError(description: "'\(program)' is not on PATH (\(environment["PATH"] ?? "unset")); "
            + "write its full path in 'run', or install it")
    }

    static func checkExecutable(_ path: String, as written: String) throws(StartError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw StartError(description: "'\(written)' does not exist (looked for \(path)); paths in 'run' are relative to "
                + "the pipeline's directory")
        }
        if (status.st_mode & S_IFMT) == S_IFDIR { throw StartError(description: "'\(written)' is a directory, not a program") }
        if access(path, X_OK) != 0 {
            let interpreters = ["py": "python3", "sh": "sh", "bash": "bash", "js": "node", "rb": "ruby", "pl": "perl"]
            let interpreter = interpreters[(written as NSString).pathExtension.lowercased()]
            throw StartError(description: "'\(written)' is not executable: chmod +x it"
                + (interpreter.map { ", or run it through its interpreter (run: [\($0), \(written)])" } ?? ""))
        }
    }

    /// Runs the process to its end, the timeout or the task's cancellation (both kill its
    /// process group).
    func run(input: Data) async throws -> Outcome {
        let program = try resolvedProgram()
        let pipes = try Pipes()
        var pid: pid_t = 0
        let error = CStrings.with(argv) { argvPointer in
            CStrings.with(environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }) { envPointer in
                skein_spawn(program, argvPointer, envPointer, directory, pipes.stdin.read, pipes.stdout.write,
                            pipes.stderr.write, &pid)
            }
        }
        pipes.closeChildEnds()
        guard error == 0 else {
            pipes.closeParentEnds()
            throw StartError(description: "cannot start '\(argv[0])': \(String(cString: strerror(error)))")
        }
        let processID = pid
        let killGroup: @Sendable () -> Void = { _ = kill(-processID, SIGKILL) }
        let stdinFD = pipes.stdin.write
        let stdoutFD = pipes.stdout.read
        let stderrFD = pipes.stderr.read
        return await withTaskCancellationHandler {
            async let written: Void = Self.blocking { Self.writeAll(input, to: stdinFD) }
            async let output = Self.blocking { Self.readAll(stdoutFD, limit: Self.outputLimit, keepTail: false, onOverflow: killGroup) }
            async let errors = Self.blocking { Self.readAll(stderrFD, limit: Self.stderrLimit, keepTail: true, onOverflow: {}) }
            // Whether the timer killed the tool is decided once, before the kill: read again
            // after it, the cancellation that follows the tool's exit (caused by that kill)
            // could already be set, and a timed-out tool was reported "killed by signal 9".
            let timer = Task { () -> Bool in
                guard (try? await Task.sleep(for: timeout)) != nil, !Task.isCancelled else { return false }
                killGroup()
                return true
            }
            let status = await Self.blocking { Self.wait(processID) }
            timer.cancel()
            let timedOut = await timer.value
            // What the tool left running (and holding stdout open) ends with it.
            killGroup()
            _ = await written
            let (stdout, overflow) = await output
            let (stderr, _) = await errors
            return Outcome(
                exitStatus: status.exited ? status.code : nil, signal: status.exited ? nil : status.code, stdout: stdout,
                stderr: stderr, timedOut: timedOut && !overflow, outputTooLarge: overflow)
        } onCancel: {
            killGroup()
        }
    }

    // MARK: Plumbing

    /// Runs a blocking call (a read, a write, `waitpid`) on a thread of its own. Not on
    /// Dispatch's global queue, whose threads are as many as the cores: a tool that hangs
    /// held one, and with two cores the other tools' reads waited for its timeout.
    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.stackSize = 256 << 10
            thread.start()
        }
    }

    private static func writeAll(_ data: Data, to fd: Int32) {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    break  // EPIPE: the tool did not read its input; it still ran.
                }
                offset += count
            }
        }
        close(fd)
    }

    /// Reads to EOF. Past `limit`: the head is kept and `onOverflow` runs (stdout), or
    /// only the last `limit` bytes are kept (stderr).
    private static func readAll(_ fd: Int32, limit: Int, keepTail: Bool, onOverflow: @Sendable () -> Void) -> (Data, Bool) {
        var data = Data()
        var overflow = false
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            if overflow { continue }  // drain, so the tool is not blocked until it is killed
            data.append(contentsOf: buffer[0..<count])
            if data.count > limit {
                if keepTail {
                    data = data.suffix(limit)
                } else {
                    data = data.prefix(limit)
                    overflow = true
                    onOverflow()
                }
            }
        }
        close(fd)
        return (data, overflow)
    }

    private static func wait(_ pid: pid_t) -> (exited: Bool, code: Int32) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return (true, -1) }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
        if status & 0x7f == 0 { return (true, (status >> 8) & 0xff) }
        return (false, status & 0x7f)
    }

    /// stdin, stdout and stderr pipes, every end close-on-exec (the child's are dup2'd).
    private struct Pipes {
        var stdin: (read: Int32, write: Int32)
        var stdout: (read: Int32, write: Int32)
        var stderr: (read: Int32, write: Int32)

        init() throws {
            func make() throws -> (Int32, Int32) {
                var fds: [Int32] = [0, 0]
                guard skein_pipe_cloexec(&fds) == 0 else {
                    throw StartError(description: "cannot create a pipe: \(String(cString: strerror(errno)))")
                }
                return (fds[0], fds[1])
            }
            stdin = try make()
            stdout = try make()
            stderr = try make()
        }

        func closeChildEnds() {
            close(stdin.read)
            close(stdout.write)
            close(stderr.write)
        }

        func closeParentEnds() {
            close(stdin.write)
            close(stdout.read)
            close(stderr.read)
        }
    }
}

/// NUL-terminated C string arrays for `execve`, alive for the duration of `body`.
enum CStrings {
    static func with<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
