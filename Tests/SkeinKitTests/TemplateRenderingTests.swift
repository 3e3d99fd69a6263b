import Testing

@testable import SkeinCore
@testable import SkeinKit

/// Renders `source` with `variables`.
func renderTemplate(_ source: String, _ variables: [String: JSONValue] = [:]) throws -> String {
    try Template(source).render(TemplateContext(variables))
}

@Suite struct TemplateRenderingTests {
    static let context: [String: JSONValue] = [
        "inputs": [
            "article": "Swift is fast.", "languages": ["French", "German"], "count": 3, "ratio": 0.5,
            "flag": true, "nothing": nil, "doc": ["title": "Report", "tags": ["a", "b"]],
        ],
        "steps": ["summarize": ["output": "- one\n- two", "usage": ["total_tokens": 12]]],
    ]

    private func render(_ source: String) throws -> String {
        try renderTemplate(source, TemplateRenderingTests.context)
    }

    @Test func substitutesPathsIntoText() throws {
        #expect(try render("Summarize:\n\n{{ inputs.article }}\n") == "Summarize:\n\nSwift is fast.")
        #expect(
            try render(
                "{{ inputs['doc'].title }}/{{ inputs.doc['tags'][1] }}/{{ inputs.doc.tags[-1] }}/{{ inputs.languages.0 }}"
            )
                == "Report/b/b/French")
        #expect(try render("{{ steps.summarize.usage.total_tokens * 2 }}") == "24")
    }

    @Test func scalarsRenderAsJinja2AndContainersAsCompactJSON() throws {
        #expect(
            try render(
                "{{ inputs.nothing }} {{ inputs.flag }} {{ false }} {{ inputs.count }} {{ inputs.ratio }} {{ 1e20 }}")
                == "None True False 3 0.5 1e+20")
        #expect(
            try render("{{ inputs.languages }} {{ inputs.doc }}")
                == #"["French","German"] {"title":"Report","tags":["a","b"]}"#)
        #expect(try renderTemplate("{{ x }}", ["x": ["é": [1.5, nil, true]]]) == #"{"é":[1.5,null,true]}"#)
        #expect(try render("{{ 'list: ' ~ inputs.languages }}") == #"list: ["French","German"]"#)
    }

    @Test func integersRenderAtEveryLength() throws {
        let values = [0, 7, -7, 10, -10, 99, 100, 123_456_789, Int.max, Int.min, Int.min + 1]
        for value in values {
            #expect(try renderTemplate("{{ x }}|{{ x ~ '' }}", ["x": .int(value)]) == "\(value)|\(value)")
        }
    }

    /// The renderer keeps variables in memory it manages itself (`Slots`) and refers to
    /// the template's nodes unretained: rebinding, shadowing and nesting must neither
    /// lose nor free a value still in use.
    @Test func loopVariablesSurviveRebindingShadowingAndNesting() throws {
        let source = """
            {% set x = 'outer' %}{% for x in xs %}{% set x = x ~ '!' %}{% for y in x %}{{ y }}{% endfor %}\
            {% set block %}[{{ x }}]{% endset %}{{ block }}{% for x in ['in'] %}{{ x }}{% endfor %}{{ x }};{% endfor %}{{ x }}
            """
        #expect(
            try renderTemplate(source, ["xs": ["ab", "c"]])
                == "ab![ab!]inab!;c![c!]inc!;outer")
        let template = try Template("{% for item in items %}{{ item.name }}{{ loop.index }}{% endfor %}")
        for round in 0..<3 {
            let items: [JSONValue] = (0..<50).map { ["name": .string("n\(round)-\($0)")] }
            let expected = (0..<50).map { "n\(round)-\($0)\($0 + 1)" }.joined()
            #expect(try template.render(TemplateContext(["items": .array(items)])) == expected)
        }
    }

    @Test func singleExpressionsKeepTheirType() throws {
        let context = TemplateContext(TemplateRenderingTests.context)
        #expect(try Template("{{ inputs.languages }}").evaluate(context) == ["French", "German"])
        #expect(try Template("{{ inputs.languages }}\n").evaluate(context) == ["French", "German"])
        #expect(try Template("{{- inputs.doc -}}").evaluate(context) == ["title": "Report", "tags": ["a", "b"]])
        #expect(try Template("{# the count #}{{ inputs.count + 1 }}").evaluate(context) == 4)
        #expect(try Template("{{ inputs.count > 2 }}").evaluate(context) == true)
        #expect(try Template("{{ inputs.nothing }}").evaluate(context) == nil)
        #expect(try Template("{{ '[1, 2]' | fromjson }}").evaluate(context) == [1, 2])
        #expect(try Template(" {{ inputs.count }}").evaluate(context) == " 3")
        #expect(try Template("{{ inputs.count }}{{ inputs.count }}").evaluate(context) == "33")
        #expect(try Template("n={{ inputs.languages }}").evaluate(context) == #"n=["French","German"]"#)
    }

    @Test func singleExpressionRule() throws {
        #expect(try Template("{{ x }}").isSingleExpression)
        #expect(try Template("{{ x }}\n").isSingleExpression)
        #expect(try Template("  {{- x -}}  \n\n").isSingleExpression)
        #expect(try Template("{# c #}{{ x }}").isSingleExpression)
        #expect(try !Template("{{ x }}\n\n").isSingleExpression)
        #expect(try !Template(" {{ x }}").isSingleExpression)
        #expect(try !Template("{{ x }}{{ y }}").isSingleExpression)
        #expect(try !Template("{% if a %}{{ x }}{% endif %}").isSingleExpression)
        #expect(try !Template("plain").isSingleExpression)
        #expect(try !Template("").isSingleExpression)
    }

    /// A model's output is data: template syntax inside it is never evaluated.
    @Test func insertedValuesAreNeverEvaluatedAgain() throws {
        let hostile = "{{ secrets }} {% for x in inputs %}{{ x }}{% endfor %} {# c #} {% raw %}"
        let context = TemplateContext(["steps": ["a": ["output": .string(hostile)]], "secrets": "TOKEN"])
        let expected = "Review: \(hostile)"
        #expect(try Template("Review: {{ steps.a.output }}").render(context) == expected)
        #expect(try Template("{% set o = steps.a.output %}Review: {{ o }}").render(context) == expected)
        #expect(try Template("{% set o %}Review: {{ steps.a.output }}{% endset %}{{ o }}").render(context) == expected)
        #expect(try Template("{{ 'Review: ' ~ steps.a.output }}").render(context) == expected)
        #expect(try Template("{{ steps.a.output | upper }}").render(context) == hostile.uppercased())
        #expect(try Template("{{ steps.a.output }}").evaluate(context) == .string(hostile))
        #expect(try Template("{% for c in [steps.a.output] %}{{ c }}{% endfor %}").render(context) == hostile)
    }

    @Test func conditionals() throws {
        #expect(
            try render("{% if inputs.count > 5 %}big{% elif inputs.count > 2 %}medium{% else %}small{% endif %}")
                == "medium")
        #expect(try render("{% if inputs.nothing %}x{% else %}none{% endif %}") == "none")
        #expect(try render("{% if inputs.extra is defined and inputs.extra %}x{% else %}y{% endif %}") == "y")
        #expect(try render("{% if 'French' in inputs.languages and not inputs.flag is none %}fr{% endif %}") == "fr")
        #expect(try render("{{ 'yes' if inputs.flag else 'no' }}") == "yes")
    }

    @Test func loopsExposeLoopVariables() throws {
        let source =
            "{% for l in inputs.languages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/"
            + "{{ loop.length }}/{{ loop.first }}/{{ loop.last }} {{ l }};{% endfor %}"
        #expect(try render(source) == "1/0/2/1/2/True/False French;2/1/1/0/2/False/True German;")
        #expect(try render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty")
        #expect(try render("{% for k in inputs.doc %}{{ k }},{% endfor %}") == "title,tags,")
        #expect(try render("{% for c in 'héé' %}[{{ c }}]{% endfor %}") == "[h][é][é]")
        #expect(
            try render(
                "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{% endfor %}")
                == "1x1 1y2 2x1 2y2 ")
        #expect(
            try render(
                "{% for a in [1, 2] %}{% set outer = loop %}{% for b in [3] %}{{ outer.index }}{% endfor %}{% endfor %}"
            )
                == "12")
    }

    @Test func setIsScopedLikeJinja2() throws {
        #expect(try render("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}") == "2")
        #expect(try render("{% set x = 1 %}{% for i in [5, 6] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}") == "561")
        #expect(throws: Diagnostic.self) { try render("{% for i in [1] %}{% set y = i %}{% endfor %}{{ y }}") }
        #expect(throws: Diagnostic.self) { try render("{% for i in [1] %}{% endfor %}{{ i }}") }
        #expect(
            try render("{% set block %}\n  {{ inputs.count }} items\n{% endset %}[{{ block | trim }}]") == "[3 items]")
    }

    @Test func whitespaceControlAndTrailingNewline() throws {
        #expect(try render("a\n") == "a")
        #expect(try render("a\n\n") == "a\n")
        #expect(
            try render("<ul>\n  {%- for l in inputs.languages %}\n  <li>{{ l }}</li>\n  {%- endfor %}\n</ul>")
                == "<ul>\n  <li>French</li>\n  <li>German</li>\n</ul>")
        #expect(try render("x {{- ' y ' -}} z") == "x y z")
        #expect(try render("a {#- comment -#} b") == "ab")
        #expect(try render("{% raw -%}  {{ kept }} {% endraw %}") == "{{ kept }} ")
    }

    @Test func operatorsFollowPython() throws {
        #expect(
            try render(
                "{{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 2 * 3 + 1 }} {{ 2 * (3 + 1) }}")
                == "3.5 3 -4 2 1.5 7 8")
        #expect(
            try render("{{ 0.1 + 0.2 }} {{ 1 == 1.0 }} {{ true + 1 }} {{ 'ab' * 2 }} {{ [1] + [2] }}")
                == "0.30000000000000004 True 2 abab [1,2]")
        #expect(
            try render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'b' in 'abc' }} {{ 'z' not in inputs.languages }}")
                == "True False True True")
        #expect(
            try render("{{ inputs.nothing or 'fallback' }} {{ 0 and 1 }} {{ inputs.count and 'yes' }}")
                == "fallback 0 yes")
        #expect(
            try render("{{ 'a' ~ 1 ~ none ~ 2.5 }} {{ 'it''s' }} {{ \"tab\\tnew\\nline\" }}")
                == "a1None2.5 its tab\tnew\nline")
    }

    @Test func truthinessIsPython() {
        let falsy: [JSONValue] = [nil, false, 0, 0.0, "", [], [:]]
        let truthy: [JSONValue] = [true, 1, -1, 0.1, " ", [nil], ["a": nil], "False"]
        #expect(falsy.allSatisfy { !Template.isTruthy($0) })
        #expect(truthy.allSatisfy { Template.isTruthy($0) })
    }

    @Test func templatesCompareBySourceAndMap() throws {
        let a = try Template("{{ x }}")
        #expect(a == (try Template("{{ x }}")))
        #expect(a != (try Template("{{ y }}")))
        let elsewhere = try Template(
            "{{ x }}", map: .identity(startingAt: SkeinKit.SourceLocation(file: "f", line: 2, column: 1)))
        #expect(a != elsewhere)
        #expect(Set([a, try Template("{{ x }}")]).count == 1)
    }
}
