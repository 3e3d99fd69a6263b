import Foundation

/// Reads a whole file the user named for input (`-i name=@FILE`, `--inputs FILE`).
///
/// Through a file handle rather than `FileManager.contents(atPath:)`, which returns nil for
/// `/dev/null`, a FIFO and the `/dev/fd/N` of a shell's process substitution (`@<(cmd)`),
/// so those were refused as "cannot read"; and with the reason when a file cannot be read.
public enum FileReading {
    public struct Failure: Error, CustomStringConvertible {
        public enum Reason: Sendable { case directory, missing, unreadable }
        public var reason: Reason
        public var description: String
    }

    /// Opens a file for reading, or says why it cannot be: a directory, no such file, or
    /// unreadable (permissions).
    public static func open(_ path: String) throws(Failure) -> FileHandle {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue { throw Failure(reason: .directory, description: "'\(path)' is a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw exists
                ? Failure(reason: .unreadable, description: "cannot read '\(path)' (permission denied?)")
                : Failure(reason: .missing, description: "no such file '\(path)'")
        }
        return handle
    }

    public static func contents(of path: String) throws -> Data {
        let handle = try open(path)
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw Failure(reason: .unreadable, description: "cannot read '\(path)': \(error.localizedDescription)")
        }
    }

    /// The file as UTF-8 text.
    public static func text(of path: String) throws -> String {
        let data = try contents(of: path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(reason: .unreadable, description: "'\(path)' is not valid UTF-8 text")
        }
        return text
    }
}
