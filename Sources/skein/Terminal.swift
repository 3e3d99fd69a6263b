import Foundation

/// Writing to the terminal: diagnostics and progress go to stderr, results to stdout.
enum Terminal {
    struct Stream: Sendable {
        let descriptor: Int32

        func write(_ text: String) {
            var text = text
            text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
        }

        func write(_ bytes: UnsafeRawBufferPointer) {
            guard let failure = Terminal.writeAll(bytes, to: descriptor) else { return }
            Terminal.streamFailed(descriptor, errno: failure)
        }
    }

    static let standardError = Stream(descriptor: STDERR_FILENO)
    static let standardOutput = Stream(descriptor: STDOUT_FILENO)

    /// Writes every byte to a file descriptor, going on after interrupted and partial writes.
    /// - Returns: `nil`, or the `errno` of the write that failed.
    ///
    /// Not `FileHandle.write(_:)`: it traps on any failure, so `skein run … | head` crashed
    /// with a backtrace when `head` closed the pipe (the process ignores SIGPIPE, as
    /// SwiftNIO sets it to, so a closed pipe is an EPIPE error rather than a signal).
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) -> Int32? {
        guard var address = bytes.baseAddress else { return nil }
        var remaining = bytes.count
        while remaining > 0 {
            let written = Glibc.write(descriptor, address, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            address += written
            remaining -= written
        }
        return nil
    }

    /// What a failed write to stdout or stderr does. The reader of stdout went away
    /// (`| head`, `| jq` that exited): stop at once and quietly with status 141, as a
    /// process killed by SIGPIPE would (shells report 128 + 13); what the run finished is
    /// in the store already. Any other failure of stdout (a full disk behind `> file`) is
    /// said on stderr, with status 1. A failing stderr is ignored: there is nowhere to say so.
    static func streamFailed(_ descriptor: Int32, errno failure: Int32) {
        guard descriptor == STDOUT_FILENO else { return }
        if failure == EPIPE { exit(141) }
        standardError.write("error: cannot write to standard output: \(String(cString: strerror(failure)))\n")
        exit(1)
    }

    static func count(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }

    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The columns of the terminal on `fd`, or nil when it is not a terminal.
    static func columns(_ fd: Int32) -> Int? {
        guard isTerminal(fd) else { return nil }
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Colour only on a terminal and when NO_COLOR is not set (https://no-color.org).
    static var usesColor: Bool {
        ProcessInfo.processInfo.environment["NO_COLOR"].map { $0.isEmpty } ?? true && isTerminal(2)
    }
}
