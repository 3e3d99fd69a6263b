import Foundation
import Testing

@testable import SkeinCore
@testable import SkeinKit
import SkeinTesting

/// Renders generated templates with Skein and with Jinja2 (through
/// `Tests/Python/jinja_render.py`) and requires identical output for every case.
/// Needs Python 3 with Jinja2 3.1 (`SKEIN_PYTHON` names the interpreter, else `python3`);
/// without them the test fails rather than skips.
@Suite struct TemplateJinjaAgreementTests {
    static let caseCount = 400

    @Test func generatedTemplatesRenderLikeJinja2() async throws {
        var generator = TemplateCaseGenerator(seed: 0x5EED_2024)
        let cases = (0..<TemplateJinjaAgreementTests.caseCount).map { _ in generator.makeCase() }
        let jinja = try await JinjaRunner.render(cases)
        try #require(
            jinja.count == cases.count, "jinja_render.py returned \(jinja.count) results for \(cases.count) cases")

        var mismatches: [String] = []
        for (index, (testCase, expected)) in zip(cases, jinja).enumerated() {
            let actual: JinjaRunner.Result
            do {
                actual = .output(
                    try Template(testCase.template).render(
                        TemplateContext(Dictionary(uniqueKeysWithValues: testCase.context.map { ($0.key, $0.value) }))))
            } catch {
                actual = .error("\(error)")
            }
            if actual != expected {
                mismatches.append(
                    """
                    case \(index):
                      template: \(testCase.template.debugDescription)
                      context:  \(JSONValue.object(testCase.context).serialized())
                      jinja2:   \(expected)
                      skein:    \(actual)
                    """)
            }
        }
        #expect(
            mismatches.isEmpty,
            "\(mismatches.count) of \(cases.count) templates render differently; the first ones:\n\(mismatches.prefix(5).joined(separator: "\n"))"
        )
    }

    /// A few hand-written cases for the corners the generator does not reach.
    @Test func cornerCasesRenderLikeJinja2() async throws {
        let templates = [
            "a\n", "a\n\n", "a\r\nb\rc\r\n", "{{-1}}", "{{+'a'}}", "x  {{- 1 -}}  \n y", "x  {#- c -#}  y",
            "x  {%- raw -%}  {{ y }}  {%- endraw -%}  z", "{% if true %}{% set z = 3 %}{% endif %}{{ z }}",
            "{% set y = 5 %}{% for i in [1, 2] %}{% set y = i %}{{ y }}{% endfor %}{{ y }}",
            "{% for i in [1, 2] %}{% if loop.first %}{% set y = 1 %}{% endif %}{{ y is defined }}{% endfor %}",
            "{{ {'a': {'b': 1}}['a']['b'] }}", "{{ '}}' }}", "{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}",
            "{{ '\\x41\\u00e9\\n\\q\\101' }}", "{{ 1 == 1.0 }}{{ true == 1 }}{{ true + 1 }}",
            "{{ 'abc'[-1] }}{{ [1, 2][-1] }}{{ 'abc'.1 }}", "{{ 'a' ~ none ~ true ~ 1.5 }}",
            "{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}", "{{ 'abc' | first }}{{ {'a': 1, 'b': 2} | last }}",
            "{{ 'ab' * 3 }}{{ 3 * 'ab' }}{{ 'x' * -1 }}", "{% set x %}hi {{ 1 }}{% endset %}[{{ x }}]",
            "{{ 'a\\n\\n  \\nb\\n' | indent(2, true) }}", "{{ '' | indent(2, true) }}",
            "{{ 'foo bar baz qux' | truncate(9) }}|{{ 'foo bar baz qux' | truncate(11, False, '...', 0) }}",
            "{{ 'helloworldfoo' | truncate(5, false, '...', 0) }}", "{{ 'abc' | replace('', '-') }}",
            "{{ 'abc' | replace('', '-', 2) }}", "{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 100000.0 * 3 }} {{ 1e22 }}",
            "{{ 5.0 // -2 }} {{ -5 // 2.0 }} {{ 5 % -3 }} {{ 5.5 % -2 }} {{ -0.0 }} {{ 0 * -1.0 }}",
            "{{ 1 and 2 }}{{ 0 or 'x' }}{{ [] or none }}", "{{ 'ß' | upper }}{{ 'ÉCOLE' | lower }}",
            "{{ '  a \\t' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ '\u{a0}b\u{3000}' | trim }}",
            "{{ [1, 'a', none, true, 1.5] | join(', ') }}",
            "{% for c in 'héllo' %}{{ loop.revindex }}{{ c }}{% endfor %}",
            "{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 1E3 }}", "{{ a.0 }}",
            "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }}",
            "{% raw %}{{ {% endraw %}", "{%+ if 1 %}x{%+ endif +%}",
            "{{ 'x' if false else 'y' }}{{ 1 if 0 else 2 if 1 else 3 }}",
            "{{ not 1 == 2 }} {{ 'b' in 'abc' }} {{ 'a' not in ['a'] }} {{ 1 in [1.0] }}",
            "{{\n  1 +\n  2\n}}", "  {%- if true -%}  \n  x  \n  {%- endif -%}  \n", "{{ 'a' 'b' \"c\" }}",
            "{{ [1, 2] == [1, 2.0] }}{{ {'a': 1} == {'a': 1.0} }}{{ [1, 2] < [1, 3] }}{{ 'B' < 'a' }}",
            "{{ nothing | default('d') }}{{ nothing | default('d', true) }}{{ 0 | d(5, boolean=true) }}",
        ]
        let context: [String: JSONValue] = ["a": [5], "nothing": nil]
        let cases = templates.map {
            TemplateCase(
                template: $0, context: JSONValue.JSONObject(uniqueKeysWithValues: context.map { ($0.key, $0.value) }))
        }
        let jinja = try await JinjaRunner.render(cases)
        for (template, expected) in zip(templates, jinja) {
            let actual: JinjaRunner.Result
            do { actual = .output(try Template(template).render(TemplateContext(context))) } catch {
                actual = .error("\(error)")
            }
            #expect(actual == expected, "template \(template.debugDescription)")
        }
    }
}

/// Runs `Tests/Python/jinja_render.py` on a batch of cases.
enum JinjaRunner {
    enum Result: Equatable, CustomStringConvertible {
        case output(String)
        case error(String)

        var description: String {
            switch self {
            case .output(let text): return text.debugDescription
            case .error(let message): return "error: \(message)"
            }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The repository root, found from this file's real location (the test files may
    /// be symlinked into a scratch package).
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent()  // SkeinKitTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
    }

    static func render(_ cases: [TemplateCase]) async throws -> [Result] {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("skein-jinja-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("cases.json")
        let document = JSONValue.array(
            cases.map { ["template": .string($0.template), "context": .object($0.context)] })
        try Data(document.serialized().utf8).write(to: input)

        let python = ProcessInfo.processInfo.environment["SKEIN_PYTHON"] ?? "python3"
        let script = repositoryRoot.appendingPathComponent("Tests/Python/jinja_render.py").path
        let run: ChildProcess.Output
        do {
            run = try await ChildProcess.run([python, script, input.path])
        } catch {
            throw Failure(description: "could not run \(python): \(error)")
        }
        guard run.status == 0 else {
            throw Failure(
                description: "\(python) \(script) failed with status \(run.status) "
                    + "(Python 3 with Jinja2 is required; set SKEIN_PYTHON to choose the interpreter): \(run.errorText)")
        }
        let data = run.standardOutput
        let parsed = try JSONValue(parsing: data)
        guard let results = parsed["results"]?.arrayValue else {
            throw Failure(description: "jinja_render.py printed no results")
        }
        return results.map { result in
            if let text = result["output"]?.stringValue { return .output(text) }
            return .error(result["error"]?.stringValue ?? "unknown")
        }
    }
}
