/// A prompt template: a strict subset of Jinja2, parsed once and rendered many times.
///
/// Why hand-written: Skein needs three things together that no Swift template library
/// offers. Undefined names and fields must be errors that name the path and point at
/// the pipeline file's line and column (Stencil and swift-mustache render a missing
/// value as empty text); the paths a template reads must be extractable without
/// rendering, so the graph can infer edges and validation can check them before any
/// request is made; and output must match Jinja2's, which prompt authors know. Stencil
/// (Django syntax, lenient lookups, no static analysis) and swift-mustache (logic-less,
/// no expressions or filters) were considered; adapting either would have meant
/// rewriting its lookup and error model anyway.
///
/// The language, and where it departs from Jinja2 (run with `StrictUndefined`):
/// - Text, `{{ expr }}`, `{% if %}/{% elif %}/{% else %}`, `{% for x in xs %}` with
///   `{% else %}` and `loop.index/index0/revindex/revindex0/first/last/length`,
///   `{% set x = … %}` and `{% set x %}…{% endset %}`, `{# comments #}`, `{% raw %}`,
///   whitespace control with `-` (and `+`, which changes nothing with Jinja2's defaults).
///   No trim_blocks or lstrip_blocks; one trailing newline of the template is dropped.
/// - Expressions: literals (strings with Python escapes, integers, floats,
///   `true/false/none` in either case, lists, objects), paths (`a.b`, `a["k"]`, `a[0]`,
///   `a[-1]`, `a.0`), `+ - * / // %`, unary `-`, comparisons (chained as in Python),
///   `and/or/not` (returning an operand, as in Python), `in`/`not in`, `~`, `x if c else y`,
///   `is defined`, `is undefined`, `is none` (each with `not`), parentheses, and the
///   filters in `TemplateFilter`. No function or method calls, slices, `**`, tuples,
///   macros, includes or loop filters: these are syntax errors, not silent surprises.
/// - Values render as Jinja2 prints them (`None`, `True`, `3`, `0.5`, `1e+20`) except
///   lists and objects, which render as compact JSON (`["a","b"]`, `{"a":1}`) instead of
///   Python's repr.
/// - `x.y | default(…)` and `x.y is defined` guard the whole path: a missing `x` is
///   undefined too, where Jinja2 raises.
/// - `tojson` sorts keys and escapes non-ASCII like Jinja2 but does not HTML-escape.
/// - Integers are 64-bit; overflow is an error instead of a big integer.
/// - Inserted values are text: a value containing `{{ … }}` is never evaluated again.
public struct Template: Sendable, Hashable {
    public let source: String
    /// Maps the template's lines to the pipeline file.
    public let map: SourceMap
    let nodes: [TemplateNode]
    /// Owns the objects `nodes` point at.
    private let arena = TemplateArena()
    /// The UTF-8 of the text nodes, which are ranges of it.
    let text: [UInt8]
    /// Offsets (in Unicode scalars of the normalized text) where each line starts.
    private let lineStarts: [Int]
    /// Every path the template reads, in source order, with loop and `set` variables
    /// resolved to what they stand for (see `TemplateReferenceCollector`).
    public let references: [TemplateReference]

    /// Parses a template.
    /// - Parameters:
    ///   - source: the template text.
    ///   - map: where the text's lines are in the pipeline file.
    /// - Throws: a `Diagnostic` (severity `.error`) located at the syntax error.
    public init(_ source: String, map: SourceMap) throws {
        self.source = source
        self.map = map
        let scalars = TemplateLexer.normalize(source)
        var lineStarts = [0]
        for (offset, scalar) in scalars.enumerated() where scalar == "\n" { lineStarts.append(offset + 1) }
        self.lineStarts = lineStarts
        do {
            (nodes, text) = try TemplateParser.parse(try TemplateLexer.tokenize(scalars), into: arena)
        } catch let error as TemplateError {
            throw Template.diagnostic(error, lineStarts: lineStarts, map: map)
        }
        references = TemplateReferenceCollector.collect(nodes).map { found in
            TemplateReference(
                path: found.path, location: Template.location(of: found.offset, lineStarts: lineStarts, map: map),
                isGuarded: found.isGuarded)
        }
    }

    /// Parses a template that is not from a file (errors point at `<template>:line:column`).
    public init(_ source: String) throws {
        try self.init(source, map: .identity(startingAt: SourceLocation(file: "<template>", line: 1, column: 1)))
    }

    /// True when the template renders nothing but one `{{ expr }}`: no text around it
    /// except what the syntax itself removes (comments, whitespace stripped by `-`, the
    /// single trailing newline Jinja2 drops). `"{{ xs }}"` and `"{{ xs }}\n"` qualify;
    /// `" {{ xs }}"` and `"{{ a }}{{ b }}"` do not.
    public var isSingleExpression: Bool { singleExpression != nil }

    private var singleExpression: TemplateExpression? {
        guard nodes.count == 1, case .output(let expression) = nodes[0] else { return nil }
        return expression.takeUnretainedValue()
    }

    /// Renders the template to text.
    /// - Throws: a `Diagnostic` located at the expression that failed: an undefined name
    ///   or field, a type error, a filter given the wrong kind of value.
    public func render(_ context: TemplateContext) throws -> String {
        var output: [UInt8] = []
        output.reserveCapacity(source.utf8.count + source.utf8.count / 2)
        do {
            try TemplateRenderer(context: context, text: text).render(nodes, into: &output)
        } catch let error as TemplateError {
            throw diagnostic(error)
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Evaluates the template keeping the value's type: a single-expression template
    /// (see `isSingleExpression`) yields its value as it is (a list stays a list), any
    /// other template yields `.string(render(context))`.
    /// - Throws: a `Diagnostic`, as `render(_:)`.
    public func evaluate(_ context: TemplateContext) throws -> JSONValue {
        guard let expression = singleExpression else { return .string(try render(context)) }
        do {
            return try TemplateRenderer(context: context, text: text).evaluate(expression)
        } catch let error as TemplateError {
            throw diagnostic(error)
        }
    }

    /// Python's and Jinja2's truthiness: null, false, 0, 0.0, and empty strings, lists and
    /// objects are false; everything else is true.
    public static func isTruthy(_ value: JSONValue) -> Bool {
        TemplateOperators.isTruthy(value)
    }

    /// The filters templates may use, for documentation and completion.
    public static var filterNames: [String] { TemplateFilter.names }

    public static func == (a: Template, b: Template) -> Bool {
        a.source == b.source && a.map == b.map
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(map)
    }

    // MARK: Locations

    private func diagnostic(_ error: TemplateError) -> Diagnostic {
        Template.diagnostic(error, lineStarts: lineStarts, map: map)
    }

    private static func diagnostic(_ error: TemplateError, lineStarts: [Int], map: SourceMap) -> Diagnostic {
        .error(error.message, at: location(of: error.offset, lineStarts: lineStarts, map: map))
    }

    /// The pipeline-file location of a scalar offset in the normalized text.
    private static func location(of offset: Int, lineStarts: [Int], map: SourceMap) -> SourceLocation {
        // The last line starting at or before the offset (binary search).
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return map.location(line: low + 1, column: offset - lineStarts[low] + 1)
    }
}
