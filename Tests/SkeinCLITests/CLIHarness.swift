import Foundation
import SkeinTesting

/// Runs the real `skein` executable built next to the test bundle.
struct CLI {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `.build/<triple>/debug/skein`: the test bundle sits in the same folder.
    static var executable: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("skein")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder.deleteLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug/skein")
    }

    /// A scratch directory for one test, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("skein-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Starts `skein` with arguments; returns the process so a test can signal it.
    static func start(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:],
                      stdin: String? = nil, program: URL? = nil) throws -> (Process, Pipe, Pipe)
    {
        let process = Process()
        process.executableURL = program ?? executable
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repositoryRoot
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "NOVITA_API_KEY")
        env.removeValue(forKey: "SKEIN_PROVIDER")
        // Runs in the repository get a store of their own, so no test reads another's
        // (or a previous test run's) replies; a test with its own directory uses
        // `.skein/` there, as a user would.
        env.removeValue(forKey: "SKEIN_STORE")
        if directory == nil {
            env["SKEIN_STORE"] = FileManager.default.temporaryDirectory
                .appendingPathComponent("skein-cli-store-\(UUID().uuidString).sqlite").path
        }
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        return (process, out, err)
    }

    static func finish(_ process: Process, _ out: Pipe, _ err: Pipe) async -> Result {
        // Blocking reads and waits run on threads of their own, neither on the cooperative
        // pool nor on Dispatch's global queues (see `ChildProcess`): blocking either would
        // starve the in-process test server the child is talking to, and the timers of
        // every test.
        let finished = await ChildProcess.finish(process, output: out, errors: err)
        return Result(status: finished.status, stdout: finished.text, stderr: finished.errorText)
    }

    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:],
                    stdin: String? = nil, program: URL? = nil) async throws -> Result
    {
        let (process, out, err) = try start(arguments, in: directory, environment: environment, stdin: stdin, program: program)
        return await finish(process, out, err)
    }

    /// A pipeline file in `directory` whose steps use the test server as provider `test`.
    static func writePipeline(_ body: String, server: SkeinTestServer, in directory: URL, name: String = "p.yaml",
                              apiKeyEnvironment: String = "null", providerSettings: [String: String] = [:]) throws -> String
    {
        let settings = providerSettings.sorted { $0.key < $1.key }.map { "\n    \($0.key): \($0.value)" }.joined()
        let text = """
            version: 1
            defaults:
              provider: test
              model: test-model
            providers:
              test:
                base_url: \(server.baseURL)
                api_key_env: \(apiKeyEnvironment)\(settings)
            \(body)
            """
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
