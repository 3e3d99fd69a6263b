import Foundation
import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct TemplateFilterTests {
    @Test func defaultAndItsAlias() throws {
        let context: [String: JSONValue] = ["x": "", "n": nil, "o": ["a": 1]]
        #expect(
            try renderTemplate("{{ missing | default('d') }}|{{ o.b | d('e') }}|{{ o.a | default(5) }}", context)
                == "d|e|1")
        #expect(
            try renderTemplate(
                "{{ x | default('empty') }}|{{ x | default('empty', true) }}|{{ n | d('z', boolean=true) }}", context)
                == "|empty|z")
        #expect(
            try renderTemplate("{{ missing | default }}|{{ missing | default(other | default('deep')) }}", context)
                == "|deep")
        #expect(try renderTemplate("{{ [] | first | default('none') }}", context) == "none")
    }

    @Test func tojsonSortsKeysAndEscapesNonASCIIButNotHTML() throws {
        let context: [String: JSONValue] = ["v": ["b": [1, 2.5], "a": "<é & 'q'>", "c": nil]]
        #expect(
            try renderTemplate("{{ v | tojson }}", context) == #"{"a": "<\u00e9 & 'q'>", "b": [1, 2.5], "c": null}"#)
        #expect(try renderTemplate("{{ v.b | tojson(2) }}", context) == "[\n  1,\n  2.5\n]")
        #expect(try renderTemplate("{{ 'x' | tojson }}", context) == #""x""#)
    }

    @Test func fromjsonParsesText() throws {
        let context: [String: JSONValue] = ["raw": #"{"title": "T", "tags": ["a"]}"#]
        #expect(
            try renderTemplate("{{ (raw | fromjson).title }} {{ (raw | fromjson).tags | join(',') }}", context) == "T a"
        )
        #expect(
            try Template("{{ raw | fromjson }}").evaluate(TemplateContext(context)) == ["title": "T", "tags": ["a"]])
    }

    @Test func joinTrimCaseLengthFirstLast() throws {
        let context: [String: JSONValue] = ["xs": ["a", 1, nil, true], "o": ["k1": 1, "k2": 2], "s": "  héllo \n"]
        #expect(
            try renderTemplate("{{ xs | join(', ') }}|{{ o | join }}|{{ 'abc' | join('-') }}", context)
                == "a, 1, None, True|k1k2|a-b-c")
        #expect(try renderTemplate("[{{ s | trim }}][{{ '--x--' | trim('-') }}]", context) == "[héllo][x]")
        #expect(try renderTemplate("{{ 'Straße' | upper }} {{ 'ÉCOLE' | lower }}", context) == "STRASSE école")
        #expect(try renderTemplate("{{ s | length }} {{ xs | length }} {{ o | length }}", context) == "9 4 2")
        #expect(
            try renderTemplate("{{ xs | first }} {{ xs | last }} {{ o | first }} {{ 'hé' | last }}", context)
                == "a True k1 é")
    }

    @Test func replaceFollowsPython() throws {
        #expect(
            try renderTemplate(
                "{{ 'a-b-c' | replace('-', '+') }} {{ 'a-b-c' | replace('-', '', 1) }} {{ 'ab' | replace('', '.') }}")
                == "a+b+c ab-c .a.b.")
    }

    @Test func truncateMatchesJinja2() throws {
        let text = "foo bar baz qux"
        let context: [String: JSONValue] = ["t": .string(text)]
        #expect(try renderTemplate("{{ t | truncate(9) }}", context) == "foo...")
        #expect(try renderTemplate("{{ t | truncate(9, True) }}", context) == "foo ba...")
        // Within the default leeway of 5:
        #expect(try renderTemplate("{{ t | truncate(11) }}", context) == "foo bar baz qux")
        #expect(try renderTemplate("{{ t | truncate(11, False, '...', 0) }}", context) == "foo bar...")
        #expect(try renderTemplate("{{ t | truncate(length=7, end='…', leeway=0) }}", context) == "foo…")
        #expect(try renderTemplate("{{ 'héllo wörld again' | truncate(8, leeway=0) }}", context) == "héllo...")
    }

    @Test func indentMatchesJinja2() throws {
        let context: [String: JSONValue] = ["t": "a\n\n  \nb\n"]
        #expect(try renderTemplate("{{ t | indent }}", context) == "a\n\n      \n    b\n")
        #expect(try renderTemplate("{{ t | indent(2, true) }}", context) == "  a\n\n    \n  b\n")
        #expect(try renderTemplate("{{ t | indent(2, blank=true) }}", context) == "a\n  \n    \n  b\n  ")
        #expect(try renderTemplate("{{ 'x\ny' | indent('> ', first=true) }}", context) == "> x\n> y")
    }

    @Test func linesSplitsLikePythonSplitlines() throws {
        #expect(
            try Template("{{ t | lines }}").evaluate(TemplateContext(["t": "a\r\nb\n\nc\n"])) == ["a", "b", "", "c"])
        #expect(try Template("{{ '' | lines }}").evaluate(TemplateContext([:])) == [])
        #expect(try renderTemplate("{% for l in 'x\ny' | lines %}<{{ l }}>{% endfor %}") == "<x><y>")
    }

    // MARK: chunk

    private func chunks(_ text: String, _ size: Int) throws -> [String] {
        let value = try Template("{{ text | chunk(\(size)) }}").evaluate(TemplateContext(["text": .string(text)]))
        return value.arrayValue?.compactMap(\.stringValue) ?? []
    }

    @Test func chunkPacksParagraphsFirst() throws {
        let text = "First paragraph here.\n\nSecond one.\n\n\nThird paragraph is a bit longer."
        #expect(try chunks(text, 100) == [text])
        #expect(try chunks(text, 40) == ["First paragraph here.\n\nSecond one.", "Third paragraph is a bit longer."])
        #expect(
            try chunks(text, 25) == ["First paragraph here.", "Second one.", "Third paragraph is a bit", "longer."])
    }

    @Test func chunkFallsBackToSentencesThenWordsThenCharacters() throws {
        #expect(
            try chunks("One. Two! Three? Four \"five.\" Six", 12) == ["One. Two!", "Three?", "Four \"five.\"", "Six"])
        #expect(try chunks("line one\nline two\nline three", 18) == ["line one\nline two", "line three"])
        #expect(try chunks("alpha beta gamma delta", 11) == ["alpha beta", "gamma delta"])
        #expect(try chunks("abcdefghij", 4) == ["abcd", "efgh", "ij"])
        #expect(try chunks("日本語の文。二つ目の文。", 6) == ["日本語の文。", "二つ目の文。"])
    }

    @Test func chunkPiecesAreTrimmedBoundedAndComplete() throws {
        var random = TemplateCaseRandom(state: 42)
        let words = [
            "lorem", "ipsum.", "dolor", "sit!", "amet,", "consectetur", "adipiscing?", "\n\n", "\n", "élit", "x",
        ]
        for size in [1, 3, 8, 20, 57, 200] {
            let text = (0..<300).map { _ in random.pick(words) }.joined(separator: random.chance(80) ? " " : "  ")
            let pieces = try chunks(text, size)
            #expect(pieces.allSatisfy { !$0.isEmpty && $0.unicodeScalars.count <= size })
            #expect(pieces.allSatisfy { $0 == $0.trimmingCharacters(in: .whitespacesAndNewlines) })
            let squeezed = { (s: String) in
                s.unicodeScalars.filter { !TemplateWhitespace.contains($0) }.map(String.init).joined()
            }
            #expect(squeezed(pieces.joined()) == squeezed(text), "size \(size)")
        }
        #expect(try chunks("   \n\n  ", 5) == [])
    }

    @Test func filterNamesAreListed() {
        #expect(
            Template.filterNames == [
                "default", "tojson", "fromjson", "join", "trim", "upper", "lower", "length", "first", "last", "replace",
                "truncate", "indent", "lines", "chunk", "d",
            ])
    }
}
