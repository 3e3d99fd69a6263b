import Foundation

/// The files of a git revision, read with `git show` (`skein test --against REV`): the
/// pipeline and the prompt and case files it names, as they were, with nothing checked out.
public struct GitRevisionFiles: Sendable {
    /// What went wrong, said so that the user knows what to do.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The repository's top directory.
    public let root: String
    /// The full commit hash the revision names.
    public let commit: String
    public let revision: String

    /// - Parameters:
    ///   - revision: anything `git rev-parse` takes (`HEAD~1`, a branch, a tag, a hash).
    ///   - path: a file in the repository (the pipeline).
    /// - Throws: `Failure` outside a git repository, without git, or for an unknown revision.
    public init(revision: String, near path: String) throws {
        let directory = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent().path
        guard let top = Self.git(["rev-parse", "--show-toplevel"], in: directory) else {
            throw Failure(description: "--against \(revision): '\(path)' is not in a git repository (or git is not installed); "
                + "--against compares with a committed revision of the pipeline")
        }
        guard let hash = Self.git(["rev-parse", "--verify", "--quiet", revision + "^{commit}"], in: directory) else {
            throw Failure(description: "--against \(revision): no such revision in \(top.text); "
                + "try a commit hash, a branch, a tag or HEAD~1 (git log --oneline lists them)")
        }
        root = URL(fileURLWithPath: top.text).resolvingSymlinksInPath().path
        commit = hash.text
        self.revision = revision
    }

    /// The path inside the repository, or nil for one outside it.
    func relative(_ path: String) -> String? {
        let resolved = Self.resolved(path)
        let prefix = root.hasSuffix("/") ? root : root + "/"
        guard resolved.hasPrefix(prefix) else { return nil }
        return String(resolved.dropFirst(prefix.count))
    }

    /// An absolute path with the symbolic links of its existing part resolved.
    static func resolved(_ path: String) -> String {
        var url = URL(fileURLWithPath: path).standardizedFileURL
        var tail: [String] = []
        while !FileManager.default.fileExists(atPath: url.path) && url.path != "/" {
            tail.insert(url.lastPathComponent, at: 0)
            url.deleteLastPathComponent()
        }
        var result = url.resolvingSymlinksInPath().path
        for component in tail { result = (result as NSString).appendingPathComponent(component) }
        return result
    }

    /// A file's bytes at the revision.
    public func read(_ path: String) -> Data? {
        guard let relative = relative(path) else { return nil }
        return Self.git(["show", "\(commit):\(relative)"], in: root, trimming: false)?.data
    }

    /// What the loader reads through: this revision's files.
    public var fileSource: PipelineLoader.FileSource {
        let files = self
        return PipelineLoader.FileSource(
            read: { files.read($0) },
            isDirectory: { path in
                guard let relative = files.relative(path) else { return nil }
                switch Self.git(["cat-file", "-t", "\(files.commit):\(relative)"], in: files.root)?.text {
                case "blob": return false
                case "tree": return true
                default: return nil
                }
            })
    }

    /// Runs git; its stdout, or nil when it fails.
    static func git(_ arguments: [String], in directory: String, trimming: Bool = true) -> (text: String, data: Data)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        return (trimming ? text.trimmingCharacters(in: .whitespacesAndNewlines) : text, data)
    }
}
