import Foundation
import OrderedCollections

/// Turns what the user passed (`-i name=value`, `--inputs file`) into the pipeline's
/// `inputs` object: declared types checked, defaults applied, every problem reported
/// before any request is sent.
public struct InputResolver: Sendable {
    /// A value as given on the command line: text still to be interpreted by the input's type.
    public enum Provided: Sendable, Hashable {
        /// Text from `-i name=value`, `@file` or `@-`: a string input takes it as it is;
        /// other types parse it as JSON (`[\"French\", \"German\"]`, `3`, `true`).
        case text(String)
        /// An already typed value (from `--inputs file.yaml|json` or a dataset row).
        case value(JSONValue)
    }

    public let pipeline: Pipeline

    public init(pipeline: Pipeline) {
        self.pipeline = pipeline
    }

    /// - Throws: `DiagnosticsError` listing every unknown, missing or ill-typed input.
    public func resolve(_ provided: OrderedDictionary<String, Provided>) throws -> JSONValue.JSONObject {
        var diagnostics: [Diagnostic] = []
        var values = JSONValue.JSONObject()
        for (name, value) in provided where pipeline.inputs[name] == nil {
            let known = Array(pipeline.inputs.keys)
            // The list first, the suggestion (which ends in '?') last.
            diagnostics.append(.error(
                "unknown input '\(name)'"
                    + (known.isEmpty ? "; the pipeline declares no inputs" : "; the inputs are \(known.joined(separator: ", "))")
                    + Suggestion.didYouMean(name, in: known)))
            _ = value
        }
        for (name, input) in pipeline.inputs {
            guard let given = provided[name] else {
                if let defaultValue = input.defaultValue {
                    values[name] = defaultValue
                } else {
                    diagnostics.append(.error(
                        "missing input '\(name)'; pass it with -i \(name)=VALUE, -i \(name)=@FILE or --inputs FILE",
                        at: input.location))
                }
                continue
            }
            var value: JSONValue
            switch given {
            case .value(let typed): value = typed
            case .text(let text):
                if input.type == .string {
                    value = .string(text)
                } else if let parsed = try? JSONValue(parsing: text) {
                    value = parsed
                } else {
                    diagnostics.append(.error(
                        "input '\(name)' must be \(PipelineDecoder.article(input.type.rawValue)) written as JSON (for example \(Self.example(input.type))), got '\(Self.shorten(text))'",
                        at: input.location))
                    continue
                }
            }
            if input.type == .number, case .int(let i) = value { value = .int(i) }
            guard PipelineDecoder.matches(value, input.type) else {
                diagnostics.append(.error(
                    "input '\(name)' must be \(PipelineDecoder.article(input.type.rawValue)), got \(value.typeName)",
                    at: input.location))
                continue
            }
            if let schema = try? JSONSchema(input.schema) {
                let violations = schema.validate(value)
                if !violations.isEmpty {
                    diagnostics.append(.error(
                        "input '\(name)' is not valid: " + violations.map(\.description).joined(separator: "; "),
                        at: input.location))
                    continue
                }
            }
            values[name] = value
        }
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
        return values
    }

    static func example(_ type: InputDeclaration.InputType) -> String {
        switch type {
        case .array: return "'[\"a\", \"b\"]'"
        case .object: return "'{\"key\": \"value\"}'"
        case .number: return "3.5"
        case .integer: return "3"
        case .boolean: return "true"
        case .string: return "text"
        }
    }

    static func shorten(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count > 40 ? String(line.prefix(37)) + "..." : line
    }

    /// Reads `--inputs FILE` (YAML or JSON: a mapping of input names to values).
    public static func readInputsFile(_ path: String) throws -> OrderedDictionary<String, Provided> {
        let text: String
        do {
            text = try FileReading.text(of: path)
        } catch {
            throw DiagnosticsError([.error("inputs file: \(error)")])
        }
        let root = try YAMLReader.read(text, file: path, limits: YAMLLimits())
        guard case .object(let object)? = root?.jsonValue else {
            throw DiagnosticsError([.error("inputs file '\(path)' must be a mapping of input names to values",
                                           at: SourceLocation(file: path, line: 1, column: 1))])
        }
        var result = OrderedDictionary<String, Provided>()
        for (key, value) in object { result[key] = .value(value) }
        return result
    }
}
