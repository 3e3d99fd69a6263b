import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

/// Runs the tools of a pipeline (DESIGN.md section 7): a process for `run`, a POST for
/// `http`. What comes back is data for the model: a result, or an error it reads (a tool
/// that fails never crashes the step).
///
/// Safety, as DESIGN.md has it: the argv is the file's, never a template's or the model's;
/// the model's arguments reach the tool only on stdin (or as the body); the process runs
/// in the pipeline's directory with only `PATH`, `HOME`, `LANG`, the names listed under
/// `env:` and `SKEIN_TOOL_CALL_ID`; stdout is capped at 1 MiB; the timeout kills the
/// process group. Tool output is never evaluated as a template.
final class ToolExecutor: Sendable {
    /// What one execution gave.
    struct Outcome: Sendable {
        var result: String?
        var error: String?
        /// The tool finished and answered (a result, or its own error such as a non-zero
        /// exit or a 4xx): kept for replay. A timeout, a tool that could not start, a
        /// server error or an unreachable endpoint may go differently next time.
        var isFinal: Bool
    }

    /// The pipeline's directory: tools run there, and relative paths in `run` start there.
    let directory: String
    /// The environment a tool process gets (before `SKEIN_TOOL_CALL_ID`).
    let environment: [String: String]

    /// - Parameters:
    ///   - pipeline: where the directory and the `env:` names come from.
    ///   - environment: Skein's own environment, from which only `PATH`, `HOME`, `LANG`
    ///     and the listed names pass.
    init(pipeline: Pipeline, environment: [String: String]) {
        let directory = (pipeline.path as NSString).deletingLastPathComponent
        self.directory = directory.isEmpty ? FileManager.default.currentDirectoryPath
            : (directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory)
        var passed: [String: String] = [:]
        for name in ["PATH", "HOME", "LANG"] + pipeline.environment.map(\.value) {
            if let value = environment[name] { passed[name] = value }
        }
        self.environment = passed
    }

    /// The tool's definition for its store key, with the SHA-256 of each existing file its
    /// `run` names (a script edited since the last run is a different tool).
    func definition(of tool: ToolSpec) -> JSONValue {
        guard case .run(let argv) = tool.implementation, var object = tool.definitionValue.objectValue else {
            return tool.definitionValue
        }
        var files = JSONValue.JSONObject()
        for argument in argv {
            let path = argument.hasPrefix("/") ? argument : (directory as NSString).appendingPathComponent(argument)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil, size < 16 << 20,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            files[argument] = .string(sha256Hex(data))
        }
        if !files.isEmpty { object["files"] = .object(files) }
        return .object(object)
    }

    func execute(_ tool: ToolSpec, arguments: JSONValue, callID: String) async throws -> Outcome {
        let timeout = tool.timeout ?? ToolSpec.defaultTimeout
        let input = arguments.serialized()
        switch tool.implementation {
        case .run(let argv):
            var environment = self.environment
            environment["SKEIN_TOOL_CALL_ID"] = callID
            let process = ToolProcess(argv: argv, environment: environment, directory: directory, timeout: timeout)
            let outcome: ToolProcess.Outcome
            do {
                outcome = try await process.run(input: Data(input.utf8))
            } catch let error as ToolProcess.StartError {
                return Outcome(result: nil, error: "cannot run: \(error.description)", isFinal: false)
            }
            try Task.checkCancellation()
            return Self.interpret(outcome, timeout: timeout)
        case .http(let url):
            return await post(input, to: url, timeout: timeout)
        case nil:
            return Outcome(result: nil, error: "the tool has no 'run' or 'http'", isFinal: false)
        }
    }

    static func interpret(_ outcome: ToolProcess.Outcome, timeout: Duration) -> Outcome {
        let stderr = Self.text(outcome.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
        let detail = stderr.isEmpty ? "" : ": " + Self.tail(stderr, limit: 1_000)
        if outcome.outputTooLarge {
            return Outcome(result: nil, error: "wrote more than 1 MiB to stdout and was stopped", isFinal: true)
        }
        if outcome.timedOut {
            return Outcome(result: nil, error: "timed out after \(formatSeconds(timeout.inSeconds)) and was killed", isFinal: false)
        }
        if let signal = outcome.signal {
            return Outcome(result: nil, error: "was killed by signal \(signal)\(detail)", isFinal: false)
        }
        if let status = outcome.exitStatus, status != 0 {
            return Outcome(result: nil, error: "exited with status \(status)\(detail)", isFinal: true)
        }
        var result = Self.text(outcome.stdout)
        if result.hasSuffix("\n") { result.removeLast() }
        return Outcome(result: result, error: nil, isFinal: true)
    }

    func post(_ body: String, to url: String, timeout: Duration) async -> Outcome {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "skein/\(SkeinVersion.current)")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await Self.httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.inSeconds * 1e9)))
            var collected = try await response.body.collect(upTo: ToolProcess.outputLimit)
            let text = collected.readString(length: collected.readableBytes) ?? ""
            switch response.status.code {
            case 200..<300:
                return Outcome(result: text, error: nil, isFinal: true)
            default:
                let detail = text.trimmingCharacters(in: .whitespacesAndNewlines)
                return Outcome(
                    result: nil, error: "HTTP \(response.status.code)" + (detail.isEmpty ? "" : ": " + Self.tail(detail, limit: 1_000)),
                    isFinal: response.status.code < 500)
            }
        } catch let error as NIOTooManyBytesError {
            _ = error
            return Outcome(result: nil, error: "answered more than 1 MiB", isFinal: true)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return Outcome(result: nil, error: "timed out after \(formatSeconds(timeout.inSeconds))", isFinal: false)
        } catch {
            return Outcome(result: nil, error: "cannot reach \(url): \(ProviderTransport.describeTransportFailure(error))", isFinal: false)
        }
    }

    /// The client for `http` tools: one for the process, never shut down. A refused
    /// connection is an answer for the model at once, not retried until the timeout (what
    /// AsyncHTTPClient does by default, and `HTTPClient.shared` cannot be told otherwise).
    static let httpClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.idleTimeout = .seconds(30)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    static func tail(_ text: String, limit: Int) -> String {
        text.count > limit ? "..." + String(text.suffix(limit)) : text
    }
}

/// "10s", "2.5s", "500ms".
func formatSeconds(_ seconds: Double) -> String {
    if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
    return seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.1fs", seconds)
}
