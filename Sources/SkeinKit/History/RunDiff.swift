/// What changed between two stored runs (`skein runs diff A B`): each step (and each dataset
/// row's step) as the same, changed, or in one run only, with the old and new text of what
/// changed.
public struct RunDiff: Sendable, Hashable {
    public struct Key: Sendable, Hashable {
        /// The dataset row; 0 for a run without a dataset.
        public var row: Int
        public var step: String
    }

    public enum Change: Sendable, Hashable {
        /// Same output and status; `fromStore` when the new run took it from the store.
        case same(fromStore: Bool)
        /// A different output or status: the texts shown to people (an output, or the
        /// failure's message) before and after.
        case changed(oldStatus: String, newStatus: String, old: String, new: String)
        case onlyInOld
        case onlyInNew
    }

    public struct Entry: Sendable, Hashable {
        public var key: Key
        public var change: Change
    }

    public var old: SQLiteResultStore.RunDetail
    public var new: SQLiteResultStore.RunDetail
    /// Every step of either run, in the order they first appear (old run first).
    public var entries: [Entry]

    public init(old: SQLiteResultStore.RunDetail, new: SQLiteResultStore.RunDetail) {
        self.old = old
        self.new = new
        let before = Dictionary(old.steps.map { (Key(row: $0.row, step: $0.step), $0) }, uniquingKeysWith: { _, last in last })
        let after = Dictionary(new.steps.map { (Key(row: $0.row, step: $0.step), $0) }, uniquingKeysWith: { _, last in last })
        var seen = Set<Key>()
        var entries: [Entry] = []
        for step in old.steps + new.steps {
            let key = Key(row: step.row, step: step.step)
            guard seen.insert(key).inserted else { continue }
            switch (before[key], after[key]) {
            case (let was?, let now?):
                if was.output == now.output && was.status == now.status {
                    entries.append(Entry(key: key, change: .same(fromStore: now.cacheHits > 0 && now.requests == 0)))
                } else {
                    entries.append(Entry(key: key, change: .changed(
                        oldStatus: was.status, newStatus: now.status, old: Self.shownText(was), new: Self.shownText(now))))
                }
            case (_?, nil): entries.append(Entry(key: key, change: .onlyInOld))
            case (nil, _?): entries.append(Entry(key: key, change: .onlyInNew))
            case (nil, nil): break
            }
        }
        self.entries = entries
    }

    /// Whether the pipeline file's text differs between the runs (same path).
    public var isFileChanged: Bool { old.summary.pipelineSHA256 != new.summary.pipelineSHA256 }
    public var isInputsChanged: Bool { old.inputs != new.inputs }

    /// Steps that changed, or are in one run only.
    public var changedCount: Int {
        entries.filter { if case .same = $0.change { return false } else { return true } }.count
    }

    /// A step's output as people read it, or why it has none.
    static func shownText(_ step: SQLiteResultStore.StepRow) -> String {
        step.output.map(displayText) ?? step.message ?? ""
    }

    /// A stored JSON value for people: text as it is, anything else as pretty JSON.
    public static func displayText(_ json: String) -> String {
        guard let value = try? JSONValue(parsing: json) else { return json }
        if case .string(let text) = value { return text }
        return value.serialized(.pretty)
    }
}

/// A line diff of two texts, for people: lines only in the old one, lines only in the new
/// one, and the lines they share, in order (Swift's `CollectionDifference`).
public enum LineDiff {
    public enum Line: Sendable, Hashable {
        case removed(String), inserted(String), unchanged(String)
    }

    public static func lines(_ old: String, _ new: String) -> [Line] {
        let oldLines = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let newLines = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let difference = newLines.difference(from: oldLines)
        var removed = Set<Int>()
        var inserted = Set<Int>()
        for change in difference {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        var out: [Line] = []
        var i = 0, j = 0
        while i < oldLines.count || j < newLines.count {
            if i < oldLines.count && removed.contains(i) {
                out.append(.removed(oldLines[i])); i += 1
            } else if j < newLines.count && inserted.contains(j) {
                out.append(.inserted(newLines[j])); j += 1
            } else {
                if j < newLines.count { out.append(.unchanged(newLines[j])) }
                i += 1; j += 1
            }
        }
        return out
    }

    /// The diff as text: `- ` removed, `+ ` inserted, two spaces before unchanged lines.
    public static func text(_ old: String, _ new: String) -> String {
        lines(old, new).map { line in
            switch line {
            case .removed(let text): return "- \(text)\n"
            case .inserted(let text): return "+ \(text)\n"
            case .unchanged(let text): return "  \(text)\n"
            }
        }.joined()
    }
}
