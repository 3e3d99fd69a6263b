internal import CYAML

/// Reads a pipeline file (or an inputs file) into located `YAMLNode`s by composing the
/// events of libyaml's parser itself, one event at a time and without recursion.
///
/// The file is hostile until proven otherwise, so every limit is checked as the events
/// arrive, before anything is built for them: nesting deeper than `maximumDepth` is refused
/// at the node that goes too deep (libyaml's parser is iterative too, so ten thousand `[`
/// cost nothing before that), and an alias is counted as the nodes it stands for, against
/// the node budget, before it is added (an alias bomb is refused when its first oversized
/// alias is met, at the node the budget runs out on). Every node counts once per place it
/// appears, mapping keys included, in document order.
///
/// Refused, each at its line and column: libyaml's own errors (with where the construct
/// they are about starts, as a note), a second document, an alias that names no anchor
/// (anchors count from their node's end, within the document), an alias anywhere in a
/// mapping key; and, as refusals that stop the building but not the reading, a key that is
/// not a scalar, the merge key `<<`, the limits. After such a refusal the events are still
/// read (nothing is built or expanded, and no deeper than `lookahead` levels) in case one
/// of the errors before it in that list comes later, since those say more about the file:
/// a file that is not YAML, or whose keys are aliases, is reported as that. Every
/// duplicate key is reported, each with a note at the key's first occurrence.
package enum YAMLReader {
    /// Parses YAML text into located nodes; nil when the text holds no document.
    /// - Throws: `DiagnosticsError` with every duplicate key met and the error that ended
    ///   the building (a syntax error, a limit, an alias or key the loader refuses), in the
    ///   order of the file.
    package static func read(_ text: String, file: String, limits: YAMLLimits) throws -> YAMLNode? {
        let size = text.utf8.count
        if size > limits.maximumFileSize {
            let mib = Double(size) / Double(1 << 20)
            throw DiagnosticsError([
                .error(
                    "file is \(String(format: "%.1f", mib)) MiB; pipeline files are limited to \(limits.maximumFileSize >> 20) MiB",
                    at: SourceLocation(file: file, line: 1, column: 1))
            ])
        }
        if size == 0 { return nil }
        var composer = Composer(file: file, limits: limits, budget: max(limits.maximumNodes, size))
        var contiguous = text
        let outcome = contiguous.withUTF8 { bytes in composer.compose(bytes) }
        let error: Diagnostic?
        switch outcome {
        case .finished: error = composer.refusal
        case .refused(let diagnostic): error = diagnostic
        case .libyamlFailed(let failure): error = failure.diagnostic(text: text, file: file)
        }
        guard error != nil || !composer.duplicates.isEmpty else { return composer.root }
        throw DiagnosticsError(inOrder(composer.duplicates + (error.map { [$0] } ?? [])))
    }

    /// Diagnostics in the order of the file (a stable sort: all of these have locations).
    private static func inOrder(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case (let l?, let r?) where l != r: return l < r
            default: return a.offset < b.offset
            }
        }.map(\.element)
    }

    /// How one read ended.
    enum Outcome {
        case finished
        /// The reader refused the file before its end (an alias, a second document, or nesting
        /// past `lookahead` after an earlier refusal).
        case refused(Diagnostic)
        /// libyaml's parser reported an error.
        case libyamlFailed(LibyamlFailure)
    }

    /// libyaml's error, copied out of the parser before it is freed.
    struct LibyamlFailure {
        enum Kind { case memory, reader, syntax }
        var kind: Kind
        var problem: String
        /// For reader errors: the byte at which the input could not be read.
        var offset: Int
        /// 0-based line and column, as libyaml counts (columns in Unicode scalars).
        var mark: (line: Int, column: Int)
        var context: (text: String, line: Int, column: Int)?

        /// The error as the loader has always worded it (the pinned fixtures hold the text):
        /// `invalid YAML: <problem> <context>` at the problem, with a note at the context's
        /// start when that is elsewhere ("the quoted scalar starts here").
        func diagnostic(text: String, file: String) -> Diagnostic {
            let origin = SourceLocation(file: file, line: 1, column: 1)
            switch kind {
            case .memory:
                return .error("invalid YAML: Memory error", at: origin)
            case .reader:
                // Reader errors are located by their offset, counted in characters.
                let index = text.utf8.index(text.utf8.startIndex, offsetBy: offset, limitedBy: text.utf8.endIndex)?
                    .samePosition(in: text)
                let characters = index.map { text.distance(from: text.startIndex, to: $0) }
                return .error("invalid YAML: \(problem)" + (characters.map { " at byte \($0)" } ?? ""), at: origin)
            case .syntax:
                let at = SourceLocation(file: file, line: mark.line + 1, column: mark.column + 1)
                var message = "invalid YAML: \(problem)"
                var notes: [Diagnostic] = []
                if let context {
                    message += " \(context.text)"
                    let start = SourceLocation(file: file, line: context.line + 1, column: context.column + 1)
                    if start != at {
                        var what = context.text.replacingOccurrences(of: "while scanning ", with: "")
                            .replacingOccurrences(of: "while parsing ", with: "")
                        for article in ["a ", "an "] where what.hasPrefix(article) { what.removeFirst(article.count) }
                        notes.append(.note("the \(what) starts here", at: start))
                    }
                }
                return .error(message, at: at, notes: notes)
            }
        }

        init(_ parser: yaml_parser_t) {
            switch parser.error {
            case YAML_MEMORY_ERROR: kind = .memory
            case YAML_READER_ERROR: kind = .reader
            default: kind = .syntax
            }
            problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
            offset = Int(parser.problem_offset)
            mark = (Int(parser.problem_mark.line), Int(parser.problem_mark.column))
            context = parser.context.map {
                (String(cString: $0), Int(parser.context_mark.line), Int(parser.context_mark.column))
            }
        }
    }

    /// Builds the tree from the events. Collections under construction are frames on an
    /// explicit stack; a finished node is added to the frame below it.
    struct Composer {
        let file: String
        let limits: YAMLLimits
        let budget: Int
        /// How deep the events are still read after a refusal (the reader's old pre-scan
        /// allowed as much before it gave up).
        let lookahead: Int

        private(set) var root: YAMLNode?
        /// One error per repeated key, in the order met, each with a note at the first one.
        private(set) var duplicates: [Diagnostic] = []
        /// The first limit or rule the file broke: from there on nothing is built.
        private(set) var refusal: Diagnostic?

        /// Nodes counted so far, aliases as the nodes they stand for.
        private var visited = 0
        private var stack: [Frame] = []
        /// How many of the open collections stand as (or inside) a mapping key.
        private var keyDepth = 0
        private var anchors: [String: Anchored] = [:]
        private var firstDocument: SourceLocation?

        init(file: String, limits: YAMLLimits, budget: Int) {
            self.file = file
            self.limits = limits
            self.budget = budget
            self.lookahead = max(limits.maximumDepth * 8, 256)
        }

        /// An open collection.
        private struct Frame {
            var isMapping: Bool
            /// A collection that stands as (or inside) a mapping key: read, never built.
            var isKey: Bool
            var location: SourceLocation
            var anchor: String?
            var items: [YAMLNode] = []
            var pairs: [(key: YAMLScalar, value: YAMLNode)] = []
            /// Mappings: a key was read and its value comes next; the key, when it is a scalar.
            var awaitsValue = false
            var pendingKey: YAMLScalar?
            /// First occurrences of the keys, once the mapping has too many to scan.
            var keyIndex: [String: SourceLocation]?
            /// Nodes in this subtree as `visited` counts them, and how many levels lie below it.
            var count = 1
            var height = 0

            var expectsKey: Bool { isMapping && !awaitsValue }

            /// Where `key` was first written in this mapping, if it was; records it otherwise.
            mutating func firstOccurrence(of key: String, at location: SourceLocation) -> SourceLocation? {
                if keyIndex == nil {
                    if let earlier = pairs.first(where: { $0.key.text == key }) { return earlier.key.location }
                    guard pairs.count >= 8 else { return nil }
                    var index: [String: SourceLocation] = [:]
                    index.reserveCapacity(pairs.count * 2)
                    for pair in pairs where index[pair.key.text] == nil { index[pair.key.text] = pair.key.location }
                    keyIndex = index
                }
                if let earlier = keyIndex?[key] { return earlier }
                keyIndex?[key] = location
                return nil
            }
        }

        /// A finished node with an anchor, and what adding it again costs (after a refusal
        /// only the name matters, and the node is a stand-in).
        private struct Anchored {
            var node: YAMLNode
            var count: Int
            var height: Int
        }

        private func location(_ mark: yaml_mark_t) -> SourceLocation {
            SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
        }

        private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: UnsafePointer($0)) }
        }

        /// Reads every event of `bytes` (UTF-8, not empty).
        mutating func compose(_ bytes: UnsafeBufferPointer<UInt8>) -> Outcome {
            let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
            defer { parser.deallocate() }
            guard yaml_parser_initialize(parser) == 1 else {
                return .libyamlFailed(LibyamlFailure(parser.pointee))
            }
            defer { yaml_parser_delete(parser) }
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(parser, bytes.baseAddress, bytes.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(parser, &event) == 1 else {
                    return .libyamlFailed(LibyamlFailure(parser.pointee))
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return .finished }
                if let error = handle(event) { return .refused(error) }
            }
        }

        /// Adds one event to the tree; returns the error that ends the reading, if any.
        private mutating func handle(_ event: yaml_event_t) -> Diagnostic? {
            let at = location(event.start_mark)
            let isKey = keyDepth > 0 || stack.last?.expectsKey == true
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                if let first = firstDocument {
                    return .error(
                        "invalid YAML: a second document; a pipeline file holds one YAML document", at: at,
                        notes: [.note("the first document starts here", at: first)])
                }
                firstDocument = at
                anchors = [:]
                return nil
            case YAML_SCALAR_EVENT:
                let data = event.data.scalar
                let anchor = Self.string(data.anchor)
                if keyDepth > 0 {
                    if let anchor { anchors[anchor] = Self.standIn(at) }
                    return nil
                }
                let text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
                let style: YAMLScalar.Style
                switch data.style {
                case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
                case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
                case YAML_LITERAL_SCALAR_STYLE: style = .literal
                case YAML_FOLDED_SCALAR_STYLE: style = .folded
                default: style = .plain
                }
                let scalar = YAMLReader.scalar(text, style: style, tag: Self.string(data.tag), location: at)
                if isKey {
                    addKey(scalar)
                } else {
                    if refusal == nil { checkValue(at: at) }
                    add(.scalar(scalar), count: 1, height: 0)
                }
                if let anchor { anchors[anchor] = Anchored(node: .scalar(scalar), count: 1, height: 0) }
                return nil
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                if isKey {
                    return .error("YAML alias '*\(name)' in a mapping key; aliases may only stand for values", at: at)
                }
                guard let anchored = anchors[name] else { return .error("invalid YAML: found undefined alias", at: at) }
                if refusal == nil {
                    if visited + anchored.count > budget || stack.count + anchored.height > limits.maximumDepth {
                        refusal = refusalInside(anchored.node, depth: stack.count, alias: at)
                    } else {
                        visited += anchored.count
                    }
                }
                add(anchored.node, count: anchored.count, height: anchored.height)
                return nil
            case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT:
                if stack.count >= lookahead, let refusal { return refusal }
                if isKey {
                    if keyDepth == 0 && refusal == nil {
                        refusal = .error("mapping keys must be plain strings", at: at)
                    }
                    keyDepth += 1
                } else if refusal == nil {
                    checkValue(at: at)
                }
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let anchor = Self.string(isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor)
                stack.append(Frame(isMapping: isMapping, isKey: isKey, location: at, anchor: anchor))
                return nil
            case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                guard let frame = stack.popLast() else {
                    return .error("internal error: a collection ended that never started (\(#fileID):\(#line))", at: at)
                }
                if frame.isKey {
                    keyDepth -= 1
                    if let anchor = frame.anchor { anchors[anchor] = Self.standIn(frame.location) }
                    // The key is read; its value comes next.
                    if keyDepth == 0, !stack.isEmpty { stack[stack.count - 1].awaitsValue = true }
                    return nil
                }
                guard refusal == nil else {
                    add(Self.standIn(frame.location).node, count: 0, height: 0)
                    if let anchor = frame.anchor { anchors[anchor] = Self.standIn(frame.location) }
                    return nil
                }
                let node: YAMLNode =
                    frame.isMapping ? .mapping(frame.pairs, frame.location) : .sequence(frame.items, frame.location)
                add(node, count: frame.count, height: frame.height)
                if let anchor = frame.anchor {
                    anchors[anchor] = Anchored(node: node, count: frame.count, height: frame.height)
                }
                return nil
            default:
                return nil
            }
        }

        /// What an anchor names once nothing is built any more: only that it exists matters.
        private static func standIn(_ location: SourceLocation) -> Anchored {
            Anchored(
                node: .scalar(YAMLScalar(text: "", value: .null, style: .plain, location: location)), count: 1,
                height: 0)
        }

        /// Counts a node that is not a key and checks the limits before it is built.
        private mutating func checkValue(at location: SourceLocation) {
            visited += 1
            if visited > budget {
                refusal = budgetRefusal(at: location)
            } else if stack.count > limits.maximumDepth {
                refusal = depthRefusal(at: location)
            }
        }

        private func budgetRefusal(at location: SourceLocation) -> Diagnostic {
            .error(
                "YAML aliases expand to more than \(budget) nodes; refusing to expand them (an alias bomb?)",
                at: location)
        }

        private func depthRefusal(at location: SourceLocation) -> Diagnostic {
            .error("YAML is nested too deeply (more than \(limits.maximumDepth) levels)", at: location)
        }

        /// A scalar key of the open mapping: counted (keys are never where a limit is
        /// reported), refused if it is a merge key, reported if it repeats an earlier one.
        private mutating func addKey(_ scalar: YAMLScalar) {
            if scalar.style == .plain && scalar.text == "<<" && refusal == nil {
                refusal = .error(
                    "YAML merge keys ('<<') are not supported; write the keys out or use defaults:", at: scalar.location
                )
            }
            visited += 1
            let top = stack.count - 1
            if let first = stack[top].firstOccurrence(of: scalar.text, at: scalar.location) {
                duplicates.append(
                    .error(
                        "duplicate key '\(scalar.text)' (first defined at line \(first.line))", at: scalar.location,
                        notes: [.note("'\(scalar.text)' first defined here", at: first)]))
            }
            var key = scalar
            key.value = .string(scalar.text)
            stack[top].pendingKey = key
            stack[top].awaitsValue = true
        }

        /// Adds a finished node (already counted) to the collection it is in, or makes it the
        /// root. After a refusal only the keys are kept, to find duplicates.
        private mutating func add(_ node: YAMLNode, count: Int, height: Int) {
            guard !stack.isEmpty else {
                root = node
                return
            }
            let top = stack.count - 1
            if stack[top].isMapping {
                if let key = stack[top].pendingKey { stack[top].pairs.append((key, node)) }
                stack[top].pendingKey = nil
                stack[top].awaitsValue = false
            }
            // After a refusal aliases are no longer counted (nor their counts added up, which
            // in a bomb would overflow).
            guard refusal == nil else { return }
            if stack[top].isMapping {
                stack[top].count += 1 + count
            } else {
                stack[top].items.append(node)
                stack[top].count += count
            }
            stack[top].height = max(stack[top].height, height + 1)
        }

        /// Where adding an aliased node would break a limit: its nodes are counted in
        /// document order, exactly as if they were written out at the alias, until the
        /// budget runs out or a node lies too deep. Only called when one of them will
        /// (the node's count and height say so), so this walks at most `budget` nodes.
        private func refusalInside(_ node: YAMLNode, depth: Int, alias: SourceLocation) -> Diagnostic {
            enum Work { case node(YAMLNode, depth: Int), key }
            var visited = self.visited
            var work: [Work] = [.node(node, depth: depth)]
            while let next = work.popLast() {
                guard case .node(let node, let depth) = next else {
                    visited += 1
                    continue
                }
                visited += 1
                if visited > budget { return budgetRefusal(at: node.location) }
                if depth > limits.maximumDepth { return depthRefusal(at: node.location) }
                switch node {
                case .scalar:
                    break
                case .sequence(let items, _):
                    for item in items.reversed() { work.append(.node(item, depth: depth + 1)) }
                case .mapping(let pairs, _):
                    for pair in pairs.reversed() {
                        work.append(.node(pair.value, depth: depth + 1))
                        work.append(.key)
                    }
                }
            }
            return budgetRefusal(at: alias)
        }
    }
}
