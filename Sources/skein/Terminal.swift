import Foundation

/// Writing to the terminal: diagnostics and progress go to stderr, results to stdout.
enum Terminal {
    struct Stream: Sendable {
        let handle: FileHandle
        func write(_ text: String) { handle.write(Data(text.utf8)) }
    }

    static let standardError = Stream(handle: .standardError)
    static let standardOutput = Stream(handle: .standardOutput)

    static func count(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }

    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Colour only on a terminal and when NO_COLOR is not set (https://no-color.org).
    static var usesColor: Bool {
        ProcessInfo.processInfo.environment["NO_COLOR"].map { $0.isEmpty } ?? true && isTerminal(2)
    }
}
