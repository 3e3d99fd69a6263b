import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct TemplateReferenceTests {
    /// `dotted@line:column` for each reference, `?` marking guarded ones.
    private func references(_ source: String) throws -> [String] {
        try Template(source).references.map {
            "\($0.dotted)\($0.isGuarded ? "?" : "")@\($0.location.line):\($0.location.column)"
        }
    }

    @Test func pathsWithTheirLocations() throws {
        #expect(
            try references("Hi {{ inputs.name }}\n{{ steps.extract.output.title | upper }}")
                == ["inputs.name@1:7", "steps.extract.output.title@2:4"])
        let reference = try #require(try Template("{{ steps.a.output[0]['odd key'] }}").references.first)
        #expect(reference.path == [.key("steps"), .key("a"), .key("output"), .index(0), .key("odd key")])
        #expect(reference.dotted == #"steps.a.output[0]["odd key"]"#)
    }

    @Test func loopVariablesResolveToElementsOfTheirList() throws {
        #expect(
            try references("{% for it in steps.a.output %}{{ it.name }}{{ loop.index }}{% endfor %}")
                == ["steps.a.output@1:14", "steps.a.output[*].name@1:34"])
        #expect(
            try references("{% for row in inputs.table %}{% for cell in row %}{{ cell.v }}{% endfor %}{% endfor %}")
                == ["inputs.table@1:15", "inputs.table[*]@1:45", "inputs.table[*][*].v@1:54"])
        let path = try #require(try Template("{% for it in xs %}{{ it }}{% endfor %}").references.last).path
        #expect(path == [.key("xs"), .anyElement])
    }

    @Test func setVariablesResolveToWhatTheyStandFor() throws {
        #expect(
            try references("{% set x = inputs.doc %}{{ x.title }}") == ["inputs.doc@1:12", "inputs.doc.title@1:28"])
        #expect(try references("{% set x = inputs.a ~ inputs.b %}{{ x.title }}") == ["inputs.a@1:12", "inputs.b@1:23"])
        #expect(try references("{% set x %}{{ inputs.a }}{% endset %}{{ x }}") == ["inputs.a@1:15"])
    }

    @Test func unknownNamesAreStillReported() throws {
        #expect(try references("{{ inptus.doc }} {{ loop.index }}") == ["inptus.doc@1:4", "loop.index@1:21"])
    }

    @Test func guardedReads() throws {
        #expect(
            try references(
                "{{ inputs.extra is defined }}{{ inputs.opt | default('x') }}{{ inputs.z is not undefined }}")
                == ["inputs.extra?@1:4", "inputs.opt?@1:33", "inputs.z?@1:64"])
        #expect(
            try references(
                "{% if inputs.extra is defined %}{{ inputs.extra.a }}{% else %}{{ inputs.extra }}{% endif %}")
                == ["inputs.extra?@1:7", "inputs.extra.a?@1:36", "inputs.extra@1:66"])
        #expect(
            try references("{% if inputs.e is not defined %}no{% else %}{{ inputs.e }}{% endif %}")
                == ["inputs.e?@1:7", "inputs.e?@1:48"])
        #expect(
            try references("{{ inputs.e is defined and inputs.e.x }}{{ inputs.f is undefined or inputs.f.y }}")
                == ["inputs.e?@1:4", "inputs.e.x?@1:28", "inputs.f?@1:44", "inputs.f.y?@1:69"])
        #expect(
            try references("{% for it in inputs.xs | default([]) %}{{ it.a }}{% endfor %}")
                == ["inputs.xs?@1:14", "inputs.xs[*].a?@1:43"])
        #expect(try references("{{ inputs.a | upper | default('') }}") == ["inputs.a@1:4"])
    }

    @Test func computedSubscriptsAndArguments() throws {
        #expect(try references("{{ inputs.table[inputs.key] }}") == ["inputs.table[?]@1:4", "inputs.key@1:17"])
        #expect(try references("{{ inputs.xs[-1] | join(inputs.sep) }}") == ["inputs.xs[-1]@1:4", "inputs.sep@1:25"])
        #expect(try references("{{ (inputs.raw | fromjson).title }}") == ["inputs.raw@1:5"])
    }

    @Test func textCommentsAndRawBlocksReadNothing() throws {
        #expect(try references("{{ '{{ inputs.a }}' }}{# {{ inputs.b }} #}{% raw %}{{ inputs.c }}{% endraw %}") == [])
    }

    @Test func locationsGoThroughTheSourceMap() throws {
        let map = SourceMap(lineStarts: [
            SkeinKit.SourceLocation(file: "p.yaml", line: 4, column: 7),
            SkeinKit.SourceLocation(file: "p.yaml", line: 5, column: 7),
        ])
        let template = try Template("Translate:\n  {{ steps.summarize.output }}", map: map)
        #expect(template.references.map(\.location) == [SkeinKit.SourceLocation(file: "p.yaml", line: 5, column: 12)])
    }
}
