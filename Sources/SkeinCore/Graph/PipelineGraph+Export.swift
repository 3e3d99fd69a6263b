/// Pictures of the graph: Mermaid (renders on GitHub and in most Markdown viewers),
/// Graphviz DOT, and plain text by level with the critical path marked.
extension PipelineGraph {
    public enum ExportFormat: String, Sendable, CaseIterable {
        case mermaid, dot, text
    }

    public func export(_ format: ExportFormat) -> String {
        switch format {
        case .mermaid: return mermaid()
        case .dot: return dot()
        case .text: return text()
        }
    }

    /// A short description of what the step produces and how it runs, for labels.
    func annotations(_ position: Int) -> [String] {
        let step = self.step(position).step
        var lines: [String] = []
        if let variable = step.loopVariable?.value, let forEach = step.forEach {
            lines.append("for each \(variable) in \(Self.summarize(forEach.text))")
        }
        if let when = step.when { lines.append("when \(Self.summarize(when.text))") }
        switch step.output {
        case .schema(let schema, _):
            let fields = schema["properties"]?.objectValue.map { Array($0.keys) } ?? []
            lines.append(fields.isEmpty ? "→ JSON (schema)" : "→ {" + fields.joined(separator: ", ") + "}")
        case .json: lines.append("→ JSON")
        case .text: break
        }
        return lines
    }

    /// A template shown in a label: the expression inside `{{ }}`, shortened.
    static func summarize(_ template: String) -> String {
        var text = template.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("{{") && text.hasSuffix("}}") {
            text = String(text.dropFirst(2).dropLast(2)).trimmingCharacters(in: .whitespaces)
        }
        if text.count > 40 { text = String(text.prefix(37)) + "..." }
        return text.replacingOccurrences(of: "\n", with: " ")
    }

    func inputsRead(by position: Int) -> [String] {
        var names: [String] = []
        for (_, template) in step(position).templates {
            for reference in template.references {
                if reference.path.count >= 2, reference.path[0] == .key("inputs"), case .key(let name) = reference.path[1],
                    pipeline.inputs[name] != nil, !names.contains(name)
                {
                    names.append(name)
                }
            }
        }
        return names
    }

    // MARK: - Mermaid

    public func mermaid() -> String {
        var out = "flowchart TD\n"
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "\"", with: "#quot;").replacingOccurrences(of: "<", with: "#lt;")
                .replacingOccurrences(of: ">", with: "#gt;").replacingOccurrences(of: "{", with: "#123;")
                .replacingOccurrences(of: "}", with: "#125;").replacingOccurrences(of: "|", with: "#124;")
        }
        for name in pipeline.inputs.keys {
            out += "  input_\(name)[/\"\(escape("inputs." + name))\"/]\n"
        }
        for position in 0..<stepCount {
            let step = self.step(position).step
            let label = ([names[position]] + annotations(position)).map(escape).joined(separator: "<br/>")
            let id = "step_\(names[position])"
            if step.forEach != nil {
                out += "  \(id)[[\"\(label)\"]]\n"
            } else if step.when != nil {
                out += "  \(id){{\"\(label)\"}}\n"
            } else {
                out += "  \(id)[\"\(label)\"]\n"
            }
        }
        for name in pipeline.outputs.keys {
            out += "  output_\(name)([\"\(escape("outputs." + name))\"])\n"
        }
        for position in 0..<stepCount {
            for input in inputsRead(by: position) { out += "  input_\(input) -.-> step_\(names[position])\n" }
        }
        let critical = Set(zip(criticalPath, criticalPath.dropFirst()).map { "\($0)->\($1)" })
        var linkIndex = pipeline.inputs.isEmpty ? 0 : (0..<stepCount).reduce(0) { $0 + inputsRead(by: $1).count }
        var criticalLinks: [Int] = []
        for position in order {
            for dependency in dependencies[position] {
                let status = statusDependencies[position].contains(dependency)
                out += "  step_\(names[dependency]) \(status ? "-- status -->" : "-->") step_\(names[position])\n"
                if critical.contains("\(dependency)->\(position)") { criticalLinks.append(linkIndex) }
                linkIndex += 1
            }
        }
        for (name, template) in compiled.outputs {
            var seen = Set<String>()
            for reference in template.references {
                if reference.path.count >= 2, reference.path[0] == .key("steps"), case .key(let step) = reference.path[1],
                    index[step] != nil, seen.insert(step).inserted
                {
                    out += "  step_\(step) --> output_\(name)\n"
                    linkIndex += 1
                }
            }
        }
        if !criticalLinks.isEmpty {
            out += "  linkStyle \(criticalLinks.map(String.init).joined(separator: ",")) stroke-width:3px\n"
        }
        return out
    }

    // MARK: - DOT

    public func dot() -> String {
        func quote(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var out = "digraph \(quote(pipeline.name ?? "pipeline")) {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
        for name in pipeline.inputs.keys {
            out += "  \(quote("inputs." + name)) [shape=parallelogram];\n"
        }
        let critical = Set(zip(criticalPath, criticalPath.dropFirst()).map { "\($0)->\($1)" })
        for position in 0..<stepCount {
            let step = self.step(position).step
            let label = ([names[position]] + annotations(position)).joined(separator: "\\n")
            var attributes = ["label=\(quote(label).replacingOccurrences(of: "\\\\n", with: "\\n"))"]
            if step.forEach != nil { attributes.append("peripheries=2") }
            if step.when != nil { attributes.append("shape=hexagon") }
            if criticalPath.contains(position) { attributes.append("penwidth=2") }
            out += "  \(quote(names[position])) [\(attributes.joined(separator: ", "))];\n"
        }
        for name in pipeline.outputs.keys {
            out += "  \(quote("outputs." + name)) [shape=ellipse];\n"
        }
        for position in 0..<stepCount {
            for input in inputsRead(by: position) {
                out += "  \(quote("inputs." + input)) -> \(quote(names[position])) [style=dashed];\n"
            }
        }
        for position in order {
            for dependency in dependencies[position] {
                var attributes: [String] = []
                if statusDependencies[position].contains(dependency) { attributes.append("label=\"status\"") }
                if critical.contains("\(dependency)->\(position)") { attributes.append("penwidth=2") }
                out += "  \(quote(names[dependency])) -> \(quote(names[position]))"
                out += attributes.isEmpty ? ";\n" : " [\(attributes.joined(separator: ", "))];\n"
            }
        }
        for (name, template) in compiled.outputs {
            var seen = Set<String>()
            for reference in template.references {
                if reference.path.count >= 2, reference.path[0] == .key("steps"), case .key(let step) = reference.path[1],
                    index[step] != nil, seen.insert(step).inserted
                {
                    out += "  \(quote(step)) -> \(quote("outputs." + name));\n"
                }
            }
        }
        out += "}\n"
        return out
    }

    // MARK: - Text

    /// Steps by level; `*` marks the critical path.
    public func text() -> String {
        let critical = Set(criticalPath)
        var byLevel: [[Int]] = Array(repeating: [], count: (levels.max() ?? -1) + 1)
        for position in order { byLevel[levels[position]].append(position) }
        var out = ""
        for (level, steps) in byLevel.enumerated() {
            out += "level \(level):\n"
            for position in steps {
                var line = "  \(critical.contains(position) ? "*" : " ") \(names[position])"
                let deps = dependencies[position].map { names[$0] }
                if !deps.isEmpty { line += " <- " + deps.joined(separator: ", ") }
                let notes = annotations(position)
                if !notes.isEmpty { line += "  [" + notes.joined(separator: "; ") + "]" }
                out += line + "\n"
            }
        }
        out += "critical path (\(criticalPath.count) \(criticalPath.count == 1 ? "step" : "steps")): "
            + criticalPath.map { names[$0] }.joined(separator: " -> ") + "\n"
        return out
    }
}
