import Foundation

/// Which rows of a dataset this process runs: `--shard i/n` takes the rows whose index is
/// `i` modulo `n`, so n processes (a Kubernetes indexed Job, a Slurm array) together run
/// every row exactly once.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public static let all = Shard(index: 0, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses `i/n` with 0 <= i < n.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, index >= 0, index < count
        else { return nil }
        self.init(index: index, count: count)
    }

    public func contains(_ row: Int) -> Bool { row % count == index }
    public var description: String { "\(index)/\(count)" }
}
