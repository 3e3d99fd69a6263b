import Foundation

/// A result store in memory: the test double of `SQLiteResultStore`, and a store for
/// library users who want caching within one process and no files.
public actor MemoryResultStore: ResultStore {
    public private(set) var completions: [RequestKey: Completion] = [:]
    public private(set) var runs: [Int64: (record: RunRecord, status: String, outputs: JSONValue?)] = [:]
    public private(set) var requests: [RequestRecord] = []
    public private(set) var steps: [StepRecord] = []
    public private(set) var toolExecutions: [ToolKey: StoredToolExecution] = [:]
    public private(set) var tools: [ToolRecord] = []
    public private(set) var tests: [TestVerdictsRecord] = []
    public private(set) var rows: [RowResultRecord] = []
    private var nextRunID: Int64 = 1

    public init() {}

    public func completion(for key: RequestKey) async throws -> Completion? { completions[key] }

    public func beginRun(_ run: RunRecord) async throws -> Int64 {
        let id = nextRunID
        nextRunID += 1
        runs[id] = (run, "running", nil)
        return id
    }

    public func record(_ request: RequestRecord) async throws {
        if let completion = request.completion, !request.cached { completions[request.key] = completion }
        requests.append(request)
    }

    public func record(_ step: StepRecord) async throws { steps.append(step) }

    public func record(_ test: TestVerdictsRecord) async throws { tests.append(test) }

    public func record(_ row: RowResultRecord) async throws { rows.append(row) }

    public func toolExecution(for key: ToolKey) async throws -> StoredToolExecution? { toolExecutions[key] }

    public func record(_ tool: ToolRecord) async throws {
        if tool.storesResult { toolExecutions[tool.key] = tool.execution }
        tools.append(tool)
    }

    public func endRun(_ id: Int64, status: String, outputs: JSONValue?, endedAt: Date) async throws {
        runs[id]?.status = status
        runs[id]?.outputs = outputs
    }
}
