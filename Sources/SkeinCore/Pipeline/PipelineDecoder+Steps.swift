import Foundation
import OrderedCollections

extension PipelineDecoder {
    // MARK: - Steps

    mutating func decodeSteps(_ node: YAMLNode) -> OrderedDictionary<String, Step> {
        var steps = OrderedDictionary<String, Step>()
        guard let pairs = requireMapping(node, key: "steps") else { return steps }
        if pairs.isEmpty { error("'steps' is empty; a pipeline needs at least one step", at: node.location) }
        for (nameScalar, value) in pairs {
            let name = nameScalar.text
            guard identifier(name, at: nameScalar.location, what: "step") else { continue }
            guard case .mapping(let stepPairs, _) = value else {
                error("step '\(name)' must be a mapping with a 'prompt' or 'messages', got \(value.kindDescription)", at: value.location)
                continue
            }
            steps[name] = decodeStep(name: name, location: nameScalar.location, pairs: stepPairs)
        }
        return steps
    }

    mutating func decodeStep(name: String, location: SourceLocation, pairs: [(key: YAMLScalar, value: YAMLNode)]) -> Step {
        var step = Step(name: name, location: location)
        let fields = mapping(pairs, allowed: Self.stepKeys, context: "in step '\(name)'")
        for (key, pair) in fields {
            let value = pair.value
            switch key {
            case "description": _ = string(value, key: key)
            case "system": step.system = template(value, key: key)
            case "prompt": step.prompt = template(value, key: key)
            case "messages": step.messages = decodeMessages(value)
            case "api": if let api = enumeration(value, key: key, as: StepAPI.self) { step.api = api }
            case "provider": step.provider = string(value, key: key).map { Located($0, at: value.location) }
            case "model": step.model = string(value, key: key).map { Located($0, at: value.location) }
            case "extra": step.extra = jsonObject(value, key: key)
            case "output": if let output = decodeOutput(value) { step.output = output }
            case "reasoning": step.reasoning = enumeration(value, key: key, as: ReasoningMode.self)
            case "tools": step.tools = decodeTools(value)
            case "tool_choice":
                switch value {
                case .scalar(let scalar) where scalar.value.stringValue != nil: step.toolChoice = scalar.value
                case .mapping: step.toolChoice = value.jsonValue
                default: error("'tool_choice' must be auto, none, required or a mapping, got \(value.kindDescription)", at: value.location)
                }
            case "max_turns": step.maxTurns = integer(value, key: key, range: 1...1_000, rangeText: "at least 1")
            case "needs": step.needs = decodeNeeds(value)
            case "when": step.when = template(value, key: key)
            case "for_each": step.forEach = template(value, key: key)
            case "as":
                if let variable = string(value, key: key), identifier(variable, at: value.location, what: "'as' variable") {
                    if Self.reservedNames.contains(variable) {
                        error("'as: \(variable)' would hide the pipeline's '\(variable)'; choose another name", at: value.location)
                    } else {
                        step.loopVariable = Located(variable, at: value.location)
                    }
                }
            case "max_concurrency": step.maxConcurrency = integer(value, key: key, range: 1...100_000, rangeText: "at least 1")
            case "retries": step.retries = integer(value, key: key, range: 0...10)
            case "timeout": step.timeout = duration(value, key: key)
            case "cache": step.cache = bool(value, key: key)
            case "expect": step.expect = decodeAssertions(value, key: "expect")
            default: decodeSampling(key, value, into: &step.sampling)
            }
        }

        let hasPrompt = fields["prompt"] != nil
        let hasMessages = fields["messages"] != nil
        if hasPrompt && hasMessages {
            error("step '\(name)' has both 'prompt' and 'messages'; use one of them", at: fields["messages"]!.key.location)
        } else if !hasPrompt && !hasMessages {
            error("step '\(name)' has no prompt or messages; add 'prompt:' or 'messages:'", at: location)
        }
        if hasMessages, let system = fields["system"] {
            error("step '\(name)' has 'system' and 'messages'; put the system message in 'messages'", at: system.key.location)
        }
        if step.api == .completion {
            if hasMessages { error("'api: completion' sends 'prompt' as raw text; it takes no 'messages'", at: fields["messages"]!.key.location) }
            if let system = fields["system"] { error("'api: completion' sends 'prompt' as raw text; it takes no 'system'", at: system.key.location) }
            if let tools = fields["tools"] { error("'api: completion' does not support 'tools'", at: tools.key.location) }
        }
        if let forEach = fields["for_each"], fields["as"] == nil {
            error("step '\(name)' has 'for_each' but no 'as'; name the item variable with 'as:'", at: forEach.key.location)
        }
        if let variable = fields["as"], fields["for_each"] == nil {
            error("step '\(name)' has 'as' but no 'for_each'", at: variable.key.location)
        }
        if let maxTurns = fields["max_turns"], !Self.declaresRunnableTool(fields["tools"]?.value) {
            error("step '\(name)' has 'max_turns', but none of its tools runs; give a tool 'run:' or 'http:', or drop "
                + "'max_turns'", at: maxTurns.key.location)
        }
        if let toolChoice = fields["tool_choice"], fields["tools"] == nil {
            error("step '\(name)' has 'tool_choice' but no 'tools'", at: toolChoice.key.location)
        }
        return step
    }

    mutating func decodeNeeds(_ node: YAMLNode) -> [Located<String>] {
        switch node {
        case .scalar(let scalar) where scalar.value.stringValue != nil:
            return [Located(scalar.text, at: scalar.location)]
        case .sequence(let items, _):
            return items.compactMap { item in string(item, key: "needs").map { Located($0, at: item.location) } }
        default:
            error("'needs' must be a step name or a list of step names, got \(node.kindDescription)", at: node.location)
            return []
        }
    }

    mutating func decodeOutput(_ node: YAMLNode) -> OutputSpec? {
        guard let pairs = requireMapping(node, key: "output") else { return nil }
        let fields = mapping(pairs, allowed: ["schema", "format"], context: "in 'output'")
        var format: String?
        if let node = fields["format"]?.value {
            format = string(node, key: "format")
            if let f = format, f != "json" && f != "text" {
                error("'format' must be json or text, got '\(f)'", at: node.location)
                return nil
            }
        }
        if let schemaNode = fields["schema"]?.value {
            if format == "text" { error("an output with a 'schema' is JSON; drop 'format: text'", at: fields["format"]!.value.location) }
            switch schemaNode {
            case .mapping: return .schema(schemaNode.jsonValue, location: schemaNode.location)
            case .scalar(let scalar) where scalar.value.boolValue != nil: return .schema(scalar.value, location: schemaNode.location)
            default:
                error("'schema' must be a JSON Schema mapping, got \(schemaNode.kindDescription)", at: schemaNode.location)
                return nil
            }
        }
        if format == nil && fields.isEmpty {
            error("'output' needs 'schema' or 'format: json'", at: node.location)
        }
        return format == "json" ? .json : .text
    }

    mutating func decodeTools(_ node: YAMLNode) -> [ToolSpec]? {
        guard case .sequence(let items, _) = node else {
            error("'tools' must be a list of {name, description, parameters}, got \(node.kindDescription)", at: node.location)
            return nil
        }
        var tools: [ToolSpec] = []
        var seen: [String: SourceLocation] = [:]
        for item in items {
            guard let pairs = requireMapping(item, key: "tools[]") else { continue }
            let fields = mapping(
                pairs, allowed: ["name", "description", "parameters", "run", "http", "timeout", "cache"], context: "in a tool")
            guard let nameNode = fields["name"]?.value else {
                error("a tool needs a 'name'", at: item.location)
                continue
            }
            guard let name = string(nameNode, key: "name") else { continue }
            if let first = seen[name] {
                error("tool '\(name)' is defined twice in this step (first at line \(first.line)); rename one", at: nameNode.location)
            }
            seen[name] = nameNode.location
            var parameters: JSONValue?
            if let node = fields["parameters"]?.value {
                if case .mapping = node { parameters = node.jsonValue }
                else { error("'parameters' must be a JSON Schema mapping, got \(node.kindDescription)", at: node.location) }
            }
            let description = fields["description"].flatMap { string($0.value, key: "description") }
            var tool = ToolSpec(name: name, description: description, parameters: parameters, location: item.location)
            if let run = fields["run"], let http = fields["http"] {
                error("tool '\(name)' has both 'run' and 'http'; a tool runs one way: keep one", at: http.key.location)
                _ = run
            } else if let run = fields["run"]?.value {
                tool.implementation = decodeToolCommand(run, tool: name).map { .run($0) }
            } else if let http = fields["http"]?.value {
                tool.implementation = decodeToolEndpoint(http, tool: name).map { .http(url: $0) }
            }
            if let timeout = fields["timeout"] {
                tool.timeout = duration(timeout.value, key: "timeout")
                if tool.implementation == nil && fields["run"] == nil && fields["http"] == nil {
                    error("tool '\(name)' has a 'timeout' but does not run; give it 'run:' or 'http:'", at: timeout.key.location)
                }
            }
            if let cache = fields["cache"] {
                tool.cache = bool(cache.value, key: "cache")
                if fields["run"] == nil && fields["http"] == nil {
                    error("tool '\(name)' has 'cache' but does not run; give it 'run:' or 'http:'", at: cache.key.location)
                }
            }
            tools.append(tool)
        }
        return tools
    }

    /// Whether a `tools` list has a tool with `run` or `http` (valid or not: a bad one has its
    /// own error, and `max_turns` is not wrong because of it).
    static func declaresRunnableTool(_ node: YAMLNode?) -> Bool {
        guard case .sequence(let items, _)? = node else { return false }
        return items.contains { item in
            guard case .mapping(let pairs, _) = item else { return false }
            return pairs.contains { $0.key.text == "run" || $0.key.text == "http" }
        }
    }

    /// `run: [argv...]`: a non-empty list of strings, taken as it is (no shell, no templates).
    mutating func decodeToolCommand(_ node: YAMLNode, tool: String) -> [String]? {
        let usage = "'run' of tool '\(tool)' must be a non-empty list of strings, the program and its arguments "
            + "(no shell), e.g. run: [python3, tools/weather.py]"
        guard case .sequence(let items, _) = node, !items.isEmpty else {
            error(usage + ", got " + (node.isEmptySequence ? "an empty list" : node.kindDescription), at: node.location)
            return nil
        }
        var argv: [String] = []
        for item in items {
            guard case .scalar(let scalar) = item, !scalar.text.isEmpty, scalar.value.arrayValue == nil else {
                error(usage + "; this entry is \(item.kindDescription)", at: item.location)
                return nil
            }
            if scalar.text.contains("{{") || scalar.text.contains("{%") {
                error("'run' of tool '\(tool)' is not a template: the command comes from the file as written, "
                    + "and the model's arguments reach the tool only on stdin", at: item.location)
                return nil
            }
            argv.append(scalar.text)
        }
        return argv
    }

    /// `http: {url}`: an http or https URL the arguments are POSTed to.
    mutating func decodeToolEndpoint(_ node: YAMLNode, tool: String) -> String? {
        guard let pairs = requireMapping(node, key: "http") else { return nil }
        let fields = mapping(pairs, allowed: ["url"], context: "in 'http' of tool '\(tool)'")
        guard let urlNode = fields["url"]?.value else {
            error("'http' of tool '\(tool)' needs a 'url'", at: node.location)
            return nil
        }
        guard let url = string(urlNode, key: "url") else { return nil }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "http" || scheme == "https",
            parsed.host != nil
        else {
            error("'url' of tool '\(tool)' must be an http:// or https:// URL, got '\(url)'", at: urlNode.location)
            return nil
        }
        return url
    }

    // MARK: - Messages

    mutating func decodeMessages(_ node: YAMLNode) -> [MessageSpec]? {
        guard case .sequence(let items, _) = node else {
            error("'messages' must be a list of {role, content}, got \(node.kindDescription)", at: node.location)
            return nil
        }
        if items.isEmpty { error("'messages' is empty", at: node.location) }
        var messages: [MessageSpec] = []
        for item in items {
            guard let pairs = requireMapping(item, key: "messages[]") else { continue }
            let fields = mapping(pairs, allowed: ["role", "content", "name"], context: "in a message")
            guard let roleNode = fields["role"]?.value else {
                error("a message needs a 'role' (system, user or assistant)", at: item.location)
                continue
            }
            guard let role = enumeration(roleNode, key: "role", as: MessageSpec.Role.self) else { continue }
            guard let contentNode = fields["content"]?.value else {
                error("a message needs 'content'", at: item.location)
                continue
            }
            let name = fields["name"].flatMap { string($0.value, key: "name") }
            let content: MessageSpec.Content
            if case .sequence(let parts, _) = contentNode {
                content = .parts(parts.compactMap { decodePart($0) })
            } else if let source = template(contentNode, key: "content") {
                content = .text(source)
            } else {
                continue
            }
            messages.append(MessageSpec(role: role, content: content, name: name, location: item.location))
        }
        return messages
    }

    mutating func decodePart(_ node: YAMLNode) -> MessageSpec.Part? {
        guard let pairs = requireMapping(node, key: "content[]") else { return nil }
        let fields = mapping(pairs, allowed: ["text", "image_url", "image_file"], context: "in a content part")
        guard fields.count == 1, let key = fields.keys.first, let pair = fields[key] else {
            if !fields.isEmpty || pairs.isEmpty {
                error("a content part must be one of {text: ...}, {image_url: ...} or {image_file: path}", at: node.location)
            }
            return nil
        }
        switch key {
        case "text": return template(pair.value, key: "text").map { .text($0) }
        case "image_url": return template(pair.value, key: "image_url").map { .imageURL($0) }
        default:
            guard let path = string(pair.value, key: "image_file") else { return nil }
            guard let resolved = resolveFile(path, at: pair.value.location, what: "image file") else { return nil }
            if ImageFile.mediaType(forPath: resolved) == nil {
                error("image file '\(path)' has an unknown type; use .png, .jpg, .jpeg, .gif or .webp", at: pair.value.location)
                return nil
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: resolved)[.size] as? Int) ?? 0
            if size > configuration.maximumImageSize {
                error("image file '\(path)' is \(size >> 20) MiB; the limit is \(configuration.maximumImageSize >> 20) MiB", at: pair.value.location)
                return nil
            }
            return .imageFile(Located(resolved, at: pair.value.location))
        }
    }

    // MARK: - Templates

    /// A template: inline text, or `{file: path}` relative to the pipeline file.
    mutating func template(_ node: YAMLNode, key: String) -> TemplateSource? {
        switch node {
        case .scalar(let scalar):
            guard case .string(let text) = scalar.value else {
                error("'\(key)' must be text or {file: path}, got \(node.kindDescription)", at: node.location)
                return nil
            }
            return TemplateSource(text: text, map: sourceMap(for: scalar), location: scalar.location)
        case .mapping(let pairs, let location):
            let fields = mapping(pairs, allowed: ["file"], context: "in '\(key)' (a template is text or {file: path})")
            guard let fileNode = fields["file"]?.value else {
                if fields.isEmpty && pairs.isEmpty { error("'\(key)' must be text or {file: path}", at: location) }
                return nil
            }
            guard let relative = string(fileNode, key: "file"),
                let resolved = resolveFile(relative, at: fileNode.location, what: "prompt file")
            else { return nil }
            guard let data = configuration.files.read(resolved) else {
                error("cannot read prompt file '\(relative)'", at: fileNode.location)
                return nil
            }
            if data.count > configuration.limits.maximumFileSize {
                error("prompt file '\(relative)' is larger than \(configuration.limits.maximumFileSize >> 20) MiB", at: fileNode.location)
                return nil
            }
            guard var text = String(data: data, encoding: .utf8) else {
                error("prompt file '\(relative)' is not valid UTF-8", at: fileNode.location)
                return nil
            }
            if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
            let display = Self.displayPath(resolved, workingDirectory: configuration.workingDirectory)
            return TemplateSource(
                text: text, map: .identity(startingAt: SourceLocation(file: display, line: 1, column: 1)),
                location: fileNode.location, file: display)
        case .sequence:
            error("'\(key)' must be text or {file: path}, got a list", at: node.location)
            return nil
        }
    }

    /// Resolves a path relative to the pipeline file; it must exist and stay inside the working directory.
    mutating func resolveFile(_ relative: String, at location: SourceLocation, what: String) -> String? {
        let resolved = Self.realPath(pathFromPipeline(relative))
        let root = Self.realPath(URL(fileURLWithPath: configuration.workingDirectory).standardizedFileURL.path)
        guard resolved == root || resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            error("\(what) '\(relative)' is outside the working directory; keep prompts and images inside the project", at: location)
            return nil
        }
        let shown = Self.displayPath(resolved, workingDirectory: configuration.workingDirectory)
        return requireFile(resolved, written: relative, what: what, shown: shown, at: location) ? resolved : nil
    }

    /// `written` taken from the pipeline file's folder; an absolute path as it is.
    func pathFromPipeline(_ written: String) -> String {
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        let url = written.hasPrefix("/") ? URL(fileURLWithPath: written) : base.appendingPathComponent(written)
        return url.standardizedFileURL.path
    }

    /// Whether `resolved` is a file; otherwise an error at `location` that names the path
    /// looked for (as `shown`) or says it is a directory.
    mutating func requireFile(
        _ resolved: String, written: String, what: String, shown: String, directoryAdvice: String = "",
        at location: SourceLocation
    ) -> Bool {
        guard let isDirectory = configuration.files.isDirectory(resolved) else {
            error("\(what) '\(written)' not found (looked for \(shown))", at: location)
            return false
        }
        if isDirectory {
            error("\(what) '\(written)' is a directory\(directoryAdvice)", at: location)
            return false
        }
        return true
    }

    /// The path with symbolic links resolved (`realpath`); for a path that does not exist,
    /// its deepest existing ancestor is resolved and the rest appended, so a missing file
    /// inside the project still counts as inside it.
    static func realPath(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        if parent == path || parent.isEmpty { return path }
        return (realPath(parent) as NSString).appendingPathComponent(url.lastPathComponent)
    }

    static func displayPath(_ path: String, workingDirectory: String) -> String {
        let root = realPath(URL(fileURLWithPath: workingDirectory).standardizedFileURL.path)
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// Where each line of a scalar's text starts in the file.
    func sourceMap(for scalar: YAMLScalar) -> SourceMap {
        let start = scalar.location
        switch scalar.style {
        case .singleQuoted, .doubleQuoted:
            return .identity(startingAt: start.advanced(byColumns: 1))
        case .plain:
            return SourceMap(lineStarts: [start])
        case .literal, .folded:
            // The mark is the `|` or `>` indicator; content starts on the next line at
            // the indentation of its first non-blank line.
            var index = start.line  // 0-based index of the first content line
            var indentation: Int?
            var probe = index
            while probe < sourceLines.count {
                let line = sourceLines[probe]
                if !line.allSatisfy({ $0 == " " || $0 == "\r" }) {
                    indentation = line.prefix { $0 == " " }.count
                    break
                }
                probe += 1
            }
            guard let indentation, indentation > 0 else { return SourceMap(lineStarts: [start]) }
            var starts: [SourceLocation] = []
            var previousBlank = true
            var first = true
            while index < sourceLines.count {
                let line = sourceLines[index]
                let blank = line.allSatisfy { $0 == " " || $0 == "\r" }
                if !blank && line.prefix(while: { $0 == " " }).count < indentation { break }
                let location = SourceLocation(file: start.file, line: index + 1, column: indentation + 1)
                if scalar.style == .literal {
                    starts.append(location)
                } else if blank {
                    if !previousBlank || first { /* the fold consumes one line break */ } else { starts.append(location) }
                } else if previousBlank || first || line.prefix(while: { $0 == " " }).count > indentation {
                    starts.append(location)
                }
                previousBlank = blank
                first = false
                index += 1
            }
            return starts.isEmpty ? SourceMap(lineStarts: [start]) : SourceMap(lineStarts: starts)
        }
    }
}
