import Foundation
import OrderedCollections

/// Loads pipeline files: YAML with located errors, structure and types checked,
/// every problem reported (in source order), not just the first.
public struct PipelineLoader: Sendable {
    public struct Configuration: Sendable {
        public var limits: YAMLLimits
        /// Prompt files (`{file: ...}`) must resolve inside this directory.
        public var workingDirectory: String
        /// Images (`{image_file: ...}`) larger than this are refused.
        public var maximumImageSize: Int
        /// Where prompt files and cases' `@path` inputs are read from: the disk, or a git
        /// revision (`skein test --against REV`).
        public var files: FileSource

        public init(limits: YAMLLimits = YAMLLimits(),
                    workingDirectory: String = FileManager.default.currentDirectoryPath,
                    maximumImageSize: Int = 20 << 20, files: FileSource = .disk)
        {
            self.limits = limits
            self.workingDirectory = workingDirectory
            self.maximumImageSize = maximumImageSize
            self.files = files
        }
    }

    /// Reads the files a pipeline names. The disk by default; `skein test --against REV`
    /// reads them from a git revision instead, without checking anything out.
    public struct FileSource: Sendable {
        /// The file's bytes, or nil when it cannot be read.
        public var read: @Sendable (String) -> Data?
        /// Whether the path is a file (`false`), a directory (`true`), or nothing (nil).
        public var isDirectory: @Sendable (String) -> Bool?

        public init(read: @escaping @Sendable (String) -> Data?, isDirectory: @escaping @Sendable (String) -> Bool?) {
            self.read = read
            self.isDirectory = isDirectory
        }

        public static let disk = FileSource(
            read: { FileManager.default.contents(atPath: $0) },
            isDirectory: { path in
                var directory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &directory) else { return nil }
                return directory.boolValue
            })
    }

    /// The outcome of loading: the pipeline when there were no errors, and every diagnostic.
    public struct Result: Sendable {
        public var pipeline: Pipeline?
        public var diagnostics: [Diagnostic]
        public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    }

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Loads a pipeline file from disk.
    public func load(path: String) -> Result {
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            return Result(pipeline: nil, diagnostics: [.error("no such file: \(path)")])
        }
        if let size = attributes[.size] as? Int, size > configuration.limits.maximumFileSize {
            let mib = Double(size) / Double(1 << 20)
            return Result(pipeline: nil, diagnostics: [
                .error("file is \(String(format: "%.1f", mib)) MiB; pipeline files are limited to \(configuration.limits.maximumFileSize >> 20) MiB", at: start)
            ])
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return Result(pipeline: nil, diagnostics: [.error("cannot read \(path)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return Result(pipeline: nil, diagnostics: [.error("file is not valid UTF-8", at: start)])
        }
        return load(text: text, path: path)
    }

    /// Loads a pipeline from text; `path` names it in diagnostics and anchors relative prompt files.
    public func load(text: String, path: String) -> Result {
        let root: YAMLNode?
        do {
            root = try YAMLReader.read(text, file: path, limits: configuration.limits)
        } catch let error as DiagnosticsError {
            return Result(pipeline: nil, diagnostics: error.diagnostics)
        } catch {
            return Result(pipeline: nil, diagnostics: [.error("\(error)", at: SourceLocation(file: path, line: 1, column: 1))])
        }
        var decoder = PipelineDecoder(path: path, text: text, configuration: configuration)
        let pipeline = decoder.decode(root)
        let diagnostics = decoder.diagnostics.sorted { a, b in
            switch (a.location, b.location) {
            case (let l?, let r?): return l < r
            case (nil, _?): return true
            default: return false
            }
        }
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return Result(pipeline: hasErrors ? nil : pipeline, diagnostics: diagnostics)
    }
}
