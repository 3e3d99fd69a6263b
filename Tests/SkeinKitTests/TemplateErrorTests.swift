import Testing

@testable import SkeinCore
@testable import SkeinKit

/// Pins the text and location of template errors, syntax and runtime alike.
@Suite struct TemplateErrorTests {
    static let context: [String: JSONValue] = [
        "inputs": ["doc": ["title": "T", "body": "B"], "n": 3, "langs": ["fr", "de"], "name": "Ada"],
        "steps": ["summarize": ["output": ["title": "x", "tags": []]]],
    ]

    /// The diagnostic a template raises, parsing or rendering, as `file:line:column: error: message`.
    private func failure(_ source: String, map: SourceMap? = nil) -> String? {
        do {
            let template = try map.map { try Template(source, map: $0) } ?? Template(source)
            _ = try template.render(TemplateContext(TemplateErrorTests.context))
            return nil
        } catch let diagnostic as Diagnostic {
            return diagnostic.description
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    // MARK: Syntax errors

    @Test(arguments: [
        (
            "a\n{% for x in inputs.langs %}\n{{ x }}",
            "<template>:2:1: error: unclosed '{% for %}' (expected '{% endfor %}')"
        ),
        ("{% if true %}\n  yes", "<template>:1:1: error: unclosed '{% if %}' (expected '{% endif %}')"),
        ("text\n  {% endif %}", "<template>:2:3: error: unexpected '{% endif %}'"),
        (
            "{% for x in y %}{% endif %}{% endfor %}",
            "<template>:1:17: error: unexpected '{% endif %}'; expected '{% endfor %}'"
        ),
        (
            "{% if x %}{% else %}{% elif y %}{% endif %}",
            "<template>:1:21: error: unexpected '{% elif %}'; expected '{% endif %}'"
        ),
        ("{{ inputs.langs | uper }}", "<template>:1:19: error: unknown filter 'uper'; did you mean 'upper'?"),
        ("{{ x is defind }}", "<template>:1:9: error: unknown test 'defind'; did you mean 'defined'?"),
        ("{% endfro %}", "<template>:1:1: error: unknown tag 'endfro'; did you mean 'endfor'?"),
        ("{% include 'x.md' %}", "<template>:1:1: error: unknown tag 'include' (tags are if, for, set and raw)"),
        ("{{ 1 + }}", "<template>:1:8: error: expected an expression, got '}}'"),
        ("{{ foo bar }}", "<template>:1:8: error: expected '}}', got 'bar'"),
        ("{{ }}", "<template>:1:4: error: expected an expression, got '}}'"),
        ("Hello {{ name", "<template>:1:7: error: unclosed '{{' (expected '}}')"),
        ("{# note", "<template>:1:1: error: unclosed comment (expected '#}')"),
        ("{{ 'abc }}", "<template>:1:4: error: unterminated string"),
        ("{{ (1 ] }}", "<template>:1:7: error: unexpected ']'; expected ')'"),
        ("{{ $ }}", "<template>:1:4: error: unexpected character '$'"),
        ("{% raw %}abc", "<template>:1:1: error: unclosed '{% raw %}' (expected '{% endraw %}')"),
        ("{{ x | truncate(size=3) }}", "<template>:1:17: error: filter 'truncate' has no argument 'size'"),
        (
            "{{ x | indent(wdth=2) }}",
            "<template>:1:15: error: filter 'indent' has no argument 'wdth'; did you mean 'width'?"
        ),
        ("{{ x | replace('a') }}", "<template>:1:8: error: filter 'replace' is missing argument 'new'"),
        ("{{ x | upper(1) }}", "<template>:1:14: error: filter 'upper' takes no arguments"),
        ("{{ x | d(1, 2, 3) }}", "<template>:1:16: error: filter 'd' takes at most 2 arguments"),
        (
            "{{ x | d(boolean=true, 2) }}",
            "<template>:1:24: error: a positional argument cannot follow a keyword argument"
        ),
        ("{{ x.items() }}", "<template>:1:11: error: templates cannot call functions"),
        ("{{ xs[1:2] }}", "<template>:1:8: error: slices are not supported"),
        ("{{ x if y }}", "<template>:1:11: error: an inline 'if' needs an 'else'"),
        ("{{ 2 ** 3 }}", "<template>:1:6: error: the '**' operator is not supported"),
        ("{% set x.y = 1 %}", "<template>:1:9: error: 'set' can only assign to a single plain name"),
        ("{% set true = 1 %}", "<template>:1:8: error: cannot assign to 'true'"),
        (
            "{% for a, b in c %}{% endfor %}",
            "<template>:1:9: error: unpacking into several loop variables is not supported"
        ),
        (
            "{% for x in xs if x %}{% endfor %}",
            "<template>:1:16: error: filtering a loop with 'if' is not supported; put an '{% if %}' inside the loop"
        ),
        ("{{ 99999999999999999999 }}", "<template>:1:4: error: integer literal too large"),
        ("{{ '\\xZZ' }}", "<template>:1:5: error: invalid '\\x' escape: expected 2 hexadecimal digits"),
    ])
    func syntaxErrorsArePinned(source: String, expected: String) {
        #expect(failure(source) == expected)
    }

    // MARK: Runtime errors

    @Test(arguments: [
        ("Hello {{ inptus.doc }}", "<template>:1:10: error: undefined variable 'inptus'; did you mean 'inputs'?"),
        (
            "{{ steps.summarize.output.titel }}",
            "<template>:1:27: error: 'steps.summarize.output' has no field 'titel'; did you mean 'title'?"
        ),
        (
            "line one\n  {{ inputs.langs[5] }}",
            "<template>:2:18: error: 'inputs.langs' has no element [5]; its length is 2"
        ),
        ("{{ inputs.n.x }}", "<template>:1:13: error: 'inputs.n' is an integer and has no field 'x'"),
        (
            "{{ inputs.doc['ti tle'] }}",
            "<template>:1:14: error: 'inputs.doc' has no field 'ti tle'; did you mean 'title'?"
        ),
        ("{{ inputs.doc[inputs.name] }}", "<template>:1:14: error: 'inputs.doc' has no field 'Ada'"),
        ("{{ loop.index }}", "<template>:1:4: error: undefined variable 'loop'"),
        (
            "{% for x in inputs.langs %}{{ loop.indx }}{% endfor %}",
            "<template>:1:36: error: 'loop' has no field 'indx'; did you mean 'index'?"
        ),
        (
            "{% for x in inputs.langs %}{{ x.name }}{% endfor %}",
            "<template>:1:33: error: 'x' is a string and has no field 'name'"
        ),
        ("{{ inputs.n + 'a' }}", "<template>:1:13: error: unsupported operand types for '+': 'integer' and 'string'"),
        ("{{ -inputs.name }}", "<template>:1:4: error: unsupported operand type for unary '-': 'string'"),
        ("{{ 1 / 0 }}", "<template>:1:6: error: division by zero"),
        ("{{ 9223372036854775807 + 1 }}", "<template>:1:24: error: integer overflow in '+'"),
        (
            "{% for x in inputs.n %}{% endfor %}",
            "<template>:1:13: error: cannot loop over 'inputs.n': it is an integer"
        ),
        ("{{ 'a' < 1 }}", "<template>:1:8: error: '<' is not supported between 'string' and 'integer'"),
        ("{{ 1 in 2 }}", "<template>:1:6: error: 'in' needs a string, list or object on the right, got an integer"),
        ("{{ [] | first }}", "<template>:1:9: error: filter 'first' found no item: its input is empty"),
        ("{{ 5 | length }}", "<template>:1:8: error: filter 'length' expects a string, list or object, got an integer"),
        (
            "{{ 'x' | truncate(2) }}",
            "<template>:1:10: error: filter 'truncate': 'length' must be at least 3 (the length of 'end'), got 2"
        ),
        (
            "{{ 'x' | fromjson }}",
            "<template>:1:10: error: filter 'fromjson' could not parse its input: unexpected character 'x' at offset 0"
        ),
        ("{{ 'abc' | chunk(0) }}", "<template>:1:12: error: filter 'chunk': 'size' must be a positive integer"),
        ("{{ {1: 2} }}", "<template>:1:5: error: object keys must be strings, got an integer"),
        ("{{ 'a' % 2 }}", "<template>:1:8: error: string formatting with '%' is not supported; use '~' or filters"),
        ("{% if inputs.missing %}x{% endif %}", "<template>:1:14: error: 'inputs' has no field 'missing'"),
    ])
    func runtimeErrorsArePinned(source: String, expected: String) {
        #expect(failure(source) == expected)
    }

    @Test func onlyDefinedAndDefaultEscapeStrictness() throws {
        let template = try Template(
            "{{ inputs.nope is defined }} {{ inputs.nope.deeper | default('d') }} {{ nope is undefined }}")
        #expect(try template.render(TemplateContext(TemplateErrorTests.context)) == "False d True")
        #expect(
            failure("{{ inputs.missing | upper | default('d') }}")
                == "<template>:1:11: error: 'inputs' has no field 'missing'")
        #expect(failure("{{ inputs.missing is none }}") == "<template>:1:11: error: 'inputs' has no field 'missing'")
    }

    // MARK: Locations in the pipeline file

    @Test func blockScalarLinesMapToTheirFileLines() {
        // A `|` block scalar whose lines start at column 5 of lines 10 and 11.
        let map = SourceMap(lineStarts: [
            SkeinKit.SourceLocation(file: "pipeline.yaml", line: 10, column: 5),
            SkeinKit.SourceLocation(file: "pipeline.yaml", line: 11, column: 5),
        ])
        #expect(failure("Hello\n{{x}}", map: map) == "pipeline.yaml:11:7: error: undefined variable 'x'")
        #expect(failure("Hello\n{{x | nope}}", map: map) == "pipeline.yaml:11:11: error: unknown filter 'nope'")
        #expect(
            failure("{% if x %}\nyes", map: map)
                == "pipeline.yaml:10:5: error: unclosed '{% if %}' (expected '{% endif %}')")
    }

    @Test func quotedScalarColumnsAreOffsetFromTheOpeningQuote() {
        // prompt: "Summarize {{ inputs.artcle }}" with the text starting at column 14.
        let map = SourceMap.identity(startingAt: SkeinKit.SourceLocation(file: "p.yaml", line: 7, column: 14))
        #expect(
            failure("Summarize {{ inputs.artcle }}", map: map) == "p.yaml:7:34: error: 'inputs' has no field 'artcle'")
    }

    @Test func promptFileLinesPastTheTableContinueOneByOne() {
        let map = SourceMap.identity(startingAt: SkeinKit.SourceLocation(file: "prompts/a.md", line: 1, column: 1))
        #expect(failure("one\ntwo\n  {{ nope }}", map: map) == "prompts/a.md:3:6: error: undefined variable 'nope'")
    }

    @Test func windowsLineEndingsKeepLinesAndColumns() {
        #expect(failure("a\r\nb\r\n  {{ nope }}") == "<template>:3:6: error: undefined variable 'nope'")
    }

    @Test func columnsCountUnicodeScalars() {
        #expect(failure("héllo 🙂 {{ nope }}") == "<template>:1:12: error: undefined variable 'nope'")
    }

    // MARK: Limits

    @Test func deepNestingIsAnErrorNotACrash() {
        let parentheses = String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000)
        #expect(failure("{{ \(parentheses) }}")?.hasSuffix("error: expression nested deeper than 64 levels") == true)
        let lists = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        #expect(failure("{{ \(lists) }}")?.hasSuffix("error: expression nested deeper than 64 levels") == true)
        let negations = String(repeating: "not ", count: 5_000)
        #expect(failure("{{ \(negations) true }}")?.hasSuffix("error: expression nested deeper than 64 levels") == true)
        let blocks = String(repeating: "{% if true %}", count: 1_000)
        #expect(failure(blocks) == "<template>:1:833: error: blocks nested deeper than 64 levels")
        let chain = "{{ a" + String(repeating: " + a", count: 200) + " }}"
        #expect(failure(chain)?.hasSuffix("error: expression nested deeper than 64 levels") == true)
        let path = "{{ inputs" + String(repeating: ".a", count: 5_000) + " }}"
        #expect(failure(path)?.hasSuffix("error: expression nested deeper than 64 levels") == true)
    }

    @Test func nestingWithinTheLimitRenders() throws {
        let parentheses = String(repeating: "(", count: 30) + "1" + String(repeating: ")", count: 30)
        #expect(try Template("{{ \(parentheses) }}").render(TemplateContext([:])) == "1")
        let blocks =
            String(repeating: "{% if true %}", count: 60) + "deep" + String(repeating: "{% endif %}", count: 60)
        #expect(try Template(blocks).render(TemplateContext([:])) == "deep")
        // Everything at once, just inside the limits: the deepest recursion rendering can reach.
        var nested: JSONValue = "leaf"
        for _ in 0..<30 { nested = ["a": nested] }
        let path = "x" + String(repeating: ".a", count: 30)
        let negations = String(repeating: "not ", count: 30)
        let deepest =
            String(repeating: "{% for i in [1] %}", count: 62)
            + "{{ (\(negations)\(path) is defined) ~ \(path) | upper }}" + String(repeating: "{% endfor %}", count: 62)
        #expect(try Template(deepest).render(TemplateContext(["x": nested])) == "TrueLEAF")
    }

    @Test func hugeRepetitionIsRefused() {
        #expect(
            failure("{{ 'ab' * 100000000 }}")
                == "<template>:1:9: error: result of '*' would be longer than 10000000 characters")
    }

    @Test func rendersThatWouldExhaustMemoryOrTimeStopAtTheirBudget() {
        // Doubling a string: 10 bytes × 2^23 passes 64 MiB at the 23rd `~`.
        let doubling = "{% set a = 'xxxxxxxxxx' %}" + String(repeating: "{% set a = a ~ a %}", count: 40) + "{{ a | length }}"
        #expect(failure(doubling)?.contains("error: the rendered text would be longer than 64 MiB") == true)
        let adding = "{% set a = 'xxxxxxxxxx' %}" + String(repeating: "{% set a = a + a %}", count: 40) + "{{ a | length }}"
        #expect(failure(adding)?.contains("error: the result of '+' would be longer than 64 MiB") == true)
        let lists = "{% set a = [1] %}" + String(repeating: "{% set a = a + a %}", count: 40) + "{{ a | length }}"
        #expect(failure(lists)?.contains("error: the result of '+' would have more than 10000000 items") == true)
        let replacing = "{{ ('x' * 1000000) | replace('x', 'y' * 100) }}"
        #expect(failure(replacing) == "<template>:1:22: error: the result of 'replace' would be longer than 64 MiB, the most a template may build")
        // 1,001 × 1,001 iterations: one loop budget for the whole render.
        let loops = "{% for i in range %}{% for j in range %}.{% endfor %}{% endfor %}"
        let range = JSONValue.array((0...1000).map { .int($0) })
        do {
            _ = try Template(loops).render(TemplateContext(["range": range]))
            Issue.record("1,002,001 loop iterations rendered")
        } catch let diagnostic as Diagnostic {
            #expect(diagnostic.description.contains("error: loops ran more than 1000000 times in one render"))
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }
}
