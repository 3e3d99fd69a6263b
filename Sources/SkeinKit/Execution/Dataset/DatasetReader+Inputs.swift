/// A dataset whose columns cannot feed the pipeline's inputs, found before any row runs.
public struct DatasetMismatch: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A rename (`--map column=input`) names an input the pipeline does not have.
        case unknownInput
        /// A rename names a column the (CSV) file does not have.
        case unknownColumn
        /// No column (or fixed input) gives a required input.
        case missingInput
    }

    public var kind: Kind
    public var message: String

    /// Whether the mistake is in how the run was asked for (a rename), rather than in the file.
    public var isUsageError: Bool { kind != .missingInput }

    public var description: String { message }
}

extension DatasetReader {
    /// Checks that the rows can feed the pipeline's inputs: every rename names an input the
    /// pipeline has and, for a CSV (which names its columns up front), a column the file
    /// has; and every required input has a column or a fixed value. JSON Lines rows are
    /// checked one by one as they are read, since each may have other keys.
    /// - Parameters:
    ///   - renames: column name to input name (`--map column=input`).
    ///   - fixedInputs: inputs given for every row (`-i`, `--inputs`).
    ///   - pipeline: the pipeline the rows run.
    /// - Throws: the first `DatasetMismatch` found.
    public func checkInputs(renames: [String: String], fixedInputs: Set<String>, pipeline: Pipeline) throws(DatasetMismatch) {
        for (column, input) in renames.sorted(by: { $0.key < $1.key }) where pipeline.inputs[input] == nil {
            throw DatasetMismatch(
                kind: .unknownInput,
                message: "--map \(column)=\(input): the pipeline has no input '\(input)'"
                    + Suggestion.didYouMean(input, in: Array(pipeline.inputs.keys)))
        }
        guard format == .csv else { return }
        for column in renames.keys.sorted() where !columns.contains(column) {
            throw DatasetMismatch(
                kind: .unknownColumn,
                message: "--map \(column)=\(renames[column] ?? ""): \(path) has no column '\(column)'; the columns are "
                    + columns.joined(separator: ", ") + Suggestion.didYouMean(column, in: columns))
        }
        let available = Set(columns.map { renames[$0] ?? $0 }).union(fixedInputs)
        let missing = pipeline.inputs.values.filter { $0.isRequired && !available.contains($0.name) }.map(\.name)
        if !missing.isEmpty {
            throw DatasetMismatch(
                kind: .missingInput,
                message: "\(path): no column for the required input\(missing.count == 1 ? "" : "s") "
                    + missing.map { "'\($0)'" }.joined(separator: ", ")
                    + "; the columns are \(columns.joined(separator: ", ")) (rename one with --map COLUMN=INPUT)")
        }
    }
}
