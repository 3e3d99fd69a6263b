import Foundation
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// The YAML reader (`YAMLReader`, libyaml's events composed by Skein): what it refuses and
/// where it says so. The malformed fixtures pin the common cases through the whole loader;
/// these pin the cases a fixture cannot show as plainly (a 10,000-level file, several
/// problems in one file, an alias bomb that would not fit in memory).
@Suite struct YAMLReaderTests {
    /// The diagnostics of reading `text`, notes included, one string each (`p.yaml:1:2: error: …`).
    static func problems(_ text: String, limits: YAMLLimits = YAMLLimits()) -> [String] {
        do {
            _ = try YAMLReader.read(text, file: "p.yaml", limits: limits)
            return []
        } catch let error as DiagnosticsError {
            return error.diagnostics.flatMap { [$0.description] + $0.notes.map(\.description) }
        } catch {
            return ["unexpected error: \(error)"]
        }
    }

    // MARK: Duplicate keys

    @Test func everyDuplicateKeyIsReportedAtItsPlaceWithTheFirstAsANote() {
        let text = """
            version: 1
            steps:
              a:
                prompt: one
                model: m
                prompt: two
              b:
                prompt: x
              a:
                prompt: three
                prompt: four
                "prompt": five
            version: 2
            """
        #expect(
            Self.problems(text) == [
                "p.yaml:6:5: error: duplicate key 'prompt' (first defined at line 4)",
                "p.yaml:4:5: note: 'prompt' first defined here",
                "p.yaml:9:3: error: duplicate key 'a' (first defined at line 3)",
                "p.yaml:3:3: note: 'a' first defined here",
                "p.yaml:11:5: error: duplicate key 'prompt' (first defined at line 10)",
                "p.yaml:10:5: note: 'prompt' first defined here",
                "p.yaml:12:5: error: duplicate key 'prompt' (first defined at line 10)",
                "p.yaml:10:5: note: 'prompt' first defined here",
                "p.yaml:13:1: error: duplicate key 'version' (first defined at line 1)",
                "p.yaml:1:1: note: 'version' first defined here",
            ])
    }

    /// Past a few keys the reader looks keys up in a table instead of scanning: the same answers.
    @Test func duplicatesAreFoundInLargeMappings() {
        let keys = (0..<50).map { "k\($0): v" }
        let text = (keys + ["k3: again", "k49: again", "k50: new", "k50: again"]).joined(separator: "\n") + "\n"
        #expect(
            Self.problems(text) == [
                "p.yaml:51:1: error: duplicate key 'k3' (first defined at line 4)",
                "p.yaml:4:1: note: 'k3' first defined here",
                "p.yaml:52:1: error: duplicate key 'k49' (first defined at line 50)",
                "p.yaml:50:1: note: 'k49' first defined here",
                "p.yaml:54:1: error: duplicate key 'k50' (first defined at line 53)",
                "p.yaml:53:1: note: 'k50' first defined here",
            ])
    }

    /// The same key in different mappings is no duplicate; reported duplicates come before the
    /// error that ends the reading.
    @Test func duplicatesBeforeASyntaxErrorAreReportedWithIt() {
        let text = "a: {x: 1, y: 2}\nb: {x: 1, x: 2}\nc: \"unclosed\n"
        #expect(
            Self.problems(text) == [
                "p.yaml:2:11: error: duplicate key 'x' (first defined at line 2)",
                "p.yaml:2:5: note: 'x' first defined here",
                "p.yaml:4:1: error: invalid YAML: found unexpected end of stream while scanning a quoted scalar",
                "p.yaml:3:4: note: the quoted scalar starts here",
            ])
    }

    /// A refusal stops the building, not the reading: what says more about the file and comes
    /// later (libyaml's errors, an alias in a key) is reported instead; duplicate keys with it.
    @Test func aRefusalStopsTheBuildingNotTheReading() {
        let bomb =
            "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
            + (1..<6).map { level in
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
            }.joined()
        #expect(
            Self.problems(bomb + "b: {*a1 : v}\n") == [
                "p.yaml:7:5: error: YAML alias '*a1' in a mapping key; aliases may only stand for values"
            ])
        #expect(
            Self.problems(bomb + "b: \"unclosed\n") == [
                "p.yaml:8:1: error: invalid YAML: found unexpected end of stream while scanning a quoted scalar",
                "p.yaml:7:4: note: the quoted scalar starts here",
            ])
        #expect(
            Self.problems("a: 1\n<<: {b: 2}\nc: 1\na: 2\n") == [
                "p.yaml:2:1: error: YAML merge keys ('<<') are not supported; write the keys out or use defaults:",
                "p.yaml:4:1: error: duplicate key 'a' (first defined at line 1)",
                "p.yaml:1:1: note: 'a' first defined here",
            ])
        // Past the lookahead (8 × the depth limit) the reading stops with the refusal.
        let deep = "a: " + String(repeating: "[", count: 600) + "\n" + "b: *nowhere\n"
        #expect(Self.problems(deep) == ["p.yaml:1:68: error: YAML is nested too deeply (more than 64 levels)"])
    }

    // MARK: Hostile files

    /// Forty levels of nine aliases each stand for 9^40 nodes, more than any memory could hold
    /// written out; the reader counts each alias as the nodes it stands for before adding it,
    /// so the file is refused at once, at the node where the budget runs out.
    @Test func anAliasBombIsRefusedBeforeItIsExpanded() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        for level in 1..<40 {
            let previous = "*a\(level - 1)"
            lines.append("a\(level): &a\(level) [" + Array(repeating: previous, count: 9).joined(separator: ", ") + "]")
        }
        let text = lines.joined(separator: "\n") + "\n"
        let clock = ContinuousClock()
        let started = clock.now
        let problems = Self.problems(text)
        #expect(clock.now - started < .seconds(1))
        // Counted in document order, keys included: the lists a0…a4 stand for 10, 91, 820, 7,381
        // and 66,430 nodes; node 8,309 is a4's list, so a4's first alias (*a3) would pass the
        // budget of 10,000. Its 1,692nd node is in its third *a2, that one's first *a1, that
        // one's fifth *a0: the 9th node of a0's list, the eighth x, at line 1, column 31.
        #expect(
            problems == [
                "p.yaml:1:31: error: YAML aliases expand to more than 10000 nodes; refusing to expand them (an alias bomb?)"
            ])
    }

    /// An alias is checked against the budget before it is added, and the refusal names the
    /// node, inside the anchored list, that the budget runs out on.
    @Test func anAliasIsCountedAsTheNodesItStandsFor() throws {
        let items = (1...20).map { "i\($0)" }
        let text = "a: &a [\(items.joined(separator: ", "))]\nb: [*a, *a, *a, *a, *a, *a]\n"
        // The budget is the file's size in bytes (above the default 10,000 only for larger files,
        // so set it lower). Nodes: the root, key a, the list and its 20 items (1–23), key b, b's
        // list (24–25), then 21 for each alias.
        let limits = YAMLLimits(maximumNodes: 100)
        let budget = text.utf8.count
        #expect(budget == 126)
        let past = budget + 1 - 26  // the first node past the budget, counted from the first copy
        let copy = past / 21, offset = past % 21
        #expect(copy == 4 && offset == 17)  // the 17th item of the fifth copy
        let column = try #require(text.range(of: "i17,")).lowerBound.utf16Offset(in: text) + 1
        #expect(
            Self.problems(text, limits: limits) == [
                "p.yaml:1:\(column): error: YAML aliases expand to more than 126 nodes; refusing to expand them (an alias bomb?)"
            ])
        // Four copies fit.
        #expect(
            Self.problems("a: &a [\(items.joined(separator: ", "))]\nb: [*a, *a, *a, *a]\n", limits: limits).isEmpty)
    }

    /// 10,000 levels, in flow and in block style, are refused at the 65th level as the reader
    /// meets it: nothing scans the file first, and nothing recurses.
    @Test(arguments: [
        (String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n", "p.yaml:1:66"),
        (String(repeating: "- ", count: 10_000) + "x\n", "p.yaml:1:131"),
        (String(repeating: "{a: ", count: 10_000) + String(repeating: "}", count: 10_000) + "\n", "p.yaml:1:261"),
    ])
    func tenThousandLevelsAreRefusedAsTheyAreMet(_ text: String, _ location: String) {
        let clock = ContinuousClock()
        let started = clock.now
        #expect(Self.problems(text) == ["\(location): error: YAML is nested too deeply (more than 64 levels)"])
        #expect(clock.now - started < .seconds(1))
    }

    /// Block mappings nest by indentation; one space deeper each, as many levels as fit in the
    /// 10 MiB a pipeline file may have (about 4,500).
    @Test func deepBlockMappingsAreRefusedAsTheyAreMet() {
        var lines: [String] = []
        var size = 0
        while size + lines.count + 4 < 10 << 20 {
            lines.append(String(repeating: " ", count: lines.count) + "k:\n")
            size += lines.count + 2
        }
        #expect(lines.count > 4_000)
        let text = lines.joined()
        let clock = ContinuousClock()
        let started = clock.now
        // The mapping at level 65 starts at its first key: line 66, column 66.
        #expect(Self.problems(text) == ["p.yaml:66:66: error: YAML is nested too deeply (more than 64 levels)"])
        #expect(clock.now - started < .seconds(2))
    }

    // MARK: libyaml's errors, located exactly

    @Test func aTabInIndentationIsLocatedExactly() {
        let text = "version: 1\nsteps:\n  a:\n\tprompt: x\n"
        #expect(
            Self.problems(text) == [
                "p.yaml:4:1: error: invalid YAML: found character that cannot start any token while scanning for the next token"
            ])
    }

    @Test func anUnclosedQuoteIsLocatedAtTheEndWithItsStartAsANote() {
        let text = "version: 1\nsteps:\n  a:\n    prompt: 'never closed\n    model: m\n"
        #expect(
            Self.problems(text) == [
                "p.yaml:6:1: error: invalid YAML: found unexpected end of stream while scanning a quoted scalar",
                "p.yaml:4:13: note: the quoted scalar starts here",
            ])
    }

    // MARK: What the loader refuses

    @Test func aSecondDocumentIsRefusedWhereItStarts() {
        #expect(
            Self.problems("version: 1\n---\nsteps: {}\n") == [
                "p.yaml:2:1: error: invalid YAML: a second document; a pipeline file holds one YAML document",
                "p.yaml:1:1: note: the first document starts here",
            ])
        #expect(
            Self.problems("# a comment\n--- {a: 1}\n...\n--- {b: 2}\n") == [
                "p.yaml:4:1: error: invalid YAML: a second document; a pipeline file holds one YAML document",
                "p.yaml:2:1: note: the first document starts here",
            ])
    }

    @Test func mergeKeysNonScalarKeysAndUnknownAliasesAreRefused() {
        #expect(
            Self.problems("base: &b {x: 1}\nc:\n  <<: *b\n") == [
                "p.yaml:3:3: error: YAML merge keys ('<<') are not supported; write the keys out or use defaults:"
            ])
        #expect(Self.problems("a:\n  [x, y]: 1\n") == ["p.yaml:2:3: error: mapping keys must be plain strings"])
        #expect(Self.problems("a: *nowhere\n") == ["p.yaml:1:4: error: invalid YAML: found undefined alias"])
        // An anchor counts from where its node ends: a list cannot hold itself.
        #expect(Self.problems("a: &a [1, *a]\n") == ["p.yaml:1:11: error: invalid YAML: found undefined alias"])
    }

    @Test func aliasesStandForTheLatestAnchorOfTheirName() throws {
        let root = try YAMLReader.read("a: &x 1\nb: *x\nc: &x [2]\nd: *x\n", file: "p.yaml", limits: YAMLLimits())
        #expect(root?.jsonValue == ["a": 1, "b": 1, "c": [2], "d": [2]])
    }

    @Test func scalarsFollowTheCoreSchemaAndKeepTheirLocations() throws {
        let text = "a: yes\nb: 0x1F\nc: !!str 12\nd: '12'\ne: ~\nf: |\n  text\n"
        let root = try #require(try YAMLReader.read(text, file: "p.yaml", limits: YAMLLimits()))
        #expect(root.jsonValue == ["a": "yes", "b": 31, "c": "12", "d": "12", "e": nil, "f": "text\n"])
        guard case .mapping(let pairs, let location) = root else { Issue.record("not a mapping"); return }
        #expect(location == SourceLocation(file: "p.yaml", line: 1, column: 1))
        #expect(
            pairs.map {
                "\($0.key.location.line):\($0.key.location.column) \($0.value.location.line):\($0.value.location.column)"
            }
                == ["1:1 1:4", "2:1 2:4", "3:1 3:4", "4:1 4:4", "5:1 5:4", "6:1 6:4"])
    }

    @Test func aFileWithNoDocumentIsNil() throws {
        #expect(try YAMLReader.read("", file: "p.yaml", limits: YAMLLimits()) == nil)
        #expect(try YAMLReader.read("# only a comment\n", file: "p.yaml", limits: YAMLLimits()) == nil)
    }
}
