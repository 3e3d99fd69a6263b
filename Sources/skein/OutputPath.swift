import Foundation

/// A file the user names for output (`-o`, `--errors`, `--trace`): checked before any
/// request is sent, and written whole or not at all.
///
/// - A regular file, or a path that does not exist yet, is written to `PATH.partial` and
///   renamed over `PATH` at the end, so a file at `PATH` is always complete. A symbolic
///   link is followed first: the link stays, and the file it points to is replaced.
/// - Anything else that exists (a device such as `/dev/null` or `/dev/stdout`, a FIFO) is
///   written in place: renaming over it replaced the device with a regular file (run as
///   root, `-o /dev/null` replaced `/dev/null` itself).
/// - A directory, an empty path, or a folder that cannot be written is refused up front, so a
///   paid-for run does not end in an error about where to put its results.
struct OutputPath: Sendable {
    /// The path as the user gave it, for messages.
    let given: String
    /// Where the bytes go: the link's target for a symbolic link.
    let resolved: String
    /// True for a device or FIFO: written in place, no `.partial`.
    let isSpecial: Bool

    /// The file written while the command runs, renamed to `resolved` by `commit`.
    var partial: String { isSpecial ? resolved : resolved + ".partial" }

    /// - Parameter option: the flag, for messages (`-o`, `--errors`, `--trace`).
    init(_ path: String, option: String) throws {
        given = path
        guard !path.isEmpty else { throw OutputPath.refusal("\(option) needs a file path, got an empty one") }
        resolved = OutputPath.followingLinks(path)
        var info = stat()
        if stat(resolved, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFDIR: throw OutputPath.refusal("\(option) '\(path)' is a directory; give a file path")
            case S_IFREG: isSpecial = false
            default:
                isSpecial = true
                return
            }
        } else {
            isSpecial = false
        }
        let folder = (resolved as NSString).deletingLastPathComponent
        let folderPath = folder.isEmpty ? "." : folder
        var folderInfo = stat()
        guard stat(folderPath, &folderInfo) == 0, folderInfo.st_mode & S_IFMT == S_IFDIR else {
            throw OutputPath.refusal("\(option) '\(path)': the folder '\(folder)' does not exist")
        }
        guard access(folderPath, W_OK) == 0 else {
            throw OutputPath.refusal("\(option) '\(path)': the folder '\(folder)' cannot be written (\(String(cString: strerror(errno))))")
        }
    }

    /// Whether two output paths, or an output and an input, are the same file.
    func isSameFile(as other: String) -> Bool {
        OutputPath.canonical(resolved) == OutputPath.canonical(OutputPath.followingLinks(other))
    }

    /// The path with symbolic links at its end followed, also to a file that does not exist
    /// yet (`URL.resolvingSymlinksInPath` leaves a dangling link as it is, and renaming over
    /// it replaced the link).
    static func followingLinks(_ path: String) -> String {
        var current = path
        for _ in 0..<40 {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: current) else { break }
            current = target.hasPrefix("/") ? target : ((current as NSString).deletingLastPathComponent as NSString).appendingPathComponent(target)
        }
        return current
    }

    /// An absolute, standardized path, for comparing (`./a` and `a` are one file).
    static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Opens the file the command writes into (`partial`), truncated.
    func open() throws -> FileHandle {
        if !isSpecial {
            guard FileManager.default.createFile(atPath: partial, contents: nil) else {
                throw OutputPath.refusal("cannot write '\(partial)': \(String(cString: strerror(errno)))")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: partial) else {
            throw OutputPath.refusal("cannot write '\(partial)': \(String(cString: strerror(errno)))")
        }
        return handle
    }

    /// Renames the finished `partial` over the file (nothing to do for a device).
    func commit() throws {
        guard !isSpecial else { return }
        guard rename(partial, resolved) == 0 else {
            throw OutputPath.refusal("cannot rename '\(partial)' to '\(resolved)': \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `text` as the whole file.
    func write(_ text: String) throws {
        let handle = try open()
        var text = text
        let failure = text.withUTF8 { Terminal.writeAll(UnsafeRawBufferPointer($0), to: handle.fileDescriptor) }
        try? handle.close()
        if let failure {
            if !isSpecial { unlink(partial) }
            throw OutputPath.refusal("cannot write '\(given)': \(String(cString: strerror(failure)))")
        }
        try commit()
    }

    /// A message for stderr and exit status 1.
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    static func refusal(_ message: String) -> Refusal { Refusal(description: message) }
}
