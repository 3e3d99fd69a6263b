import Foundation

/// Reads a whole file the user named for input (`-i name=@FILE`, `--inputs FILE`).
///
/// Through a file handle rather than `FileManager.contents(atPath:)`, which returns nil for
/// `/dev/null`, a FIFO and the `/dev/fd/N` of a shell's process substitution (`@<(cmd)`),
/// so those were refused as "cannot read"; and with the reason when a file cannot be read.
public enum FileReading {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func contents(of path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && isDirectory.boolValue { throw Failure(description: "'\(path)' is a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Failure(description: exists ? "cannot read '\(path)' (permission denied?)" : "no such file '\(path)'")
        }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw Failure(description: "cannot read '\(path)': \(error.localizedDescription)")
        }
    }

    /// The file as UTF-8 text.
    public static func text(of path: String) throws -> String {
        let data = try contents(of: path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "'\(path)' is not valid UTF-8 text")
        }
        return text
    }
}
