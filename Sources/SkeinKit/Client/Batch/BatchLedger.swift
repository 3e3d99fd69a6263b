import Foundation

/// What a run in `--batch` mode must remember across restarts: which batch each request
/// went into, so a restarted run waits for that batch instead of paying for a second one.
public protocol BatchLedger: Sendable {
    /// The batch a request (by its key) was submitted in, unless that batch failed, expired
    /// or was cancelled.
    func batch(containing key: String) async throws -> BatchLedgerEntry?
    /// Records a batch just created and the keys of its requests (one transaction).
    func recordBatch(_ entry: BatchLedgerEntry, keys: [String]) async throws
    /// Records a batch's latest status.
    func updateBatch(id: String, status: String, outputFileID: String?, errorFileID: String?) async throws
}

public struct BatchLedgerEntry: Sendable, Hashable {
    public var id: String
    public var provider: String
    public var baseURL: String
    public var endpoint: String
    public var inputFileID: String
    public var status: String

    public init(id: String, provider: String, baseURL: String, endpoint: String, inputFileID: String, status: String) {
        self.id = id
        self.provider = provider
        self.baseURL = baseURL
        self.endpoint = endpoint
        self.inputFileID = inputFileID
        self.status = status
    }
}
