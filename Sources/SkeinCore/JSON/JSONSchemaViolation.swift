/// One way in which an instance fails a `JSONSchema`.
///
/// The text is meant for people and for a model asked to repair its output, so it names
/// the place in the instance the way a template would reach it (`$.tags[2]`) and says
/// what was expected in plain words: `$.tags[2]: expected string, got number`.
public struct JSONSchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// Where in the instance: `$` for the whole value, `$.a.b`, `$.tags[2]`, and keys that are
    /// not identifiers quoted as JSON strings: `$["a b"]`.
    public var instancePath: String
    /// What is wrong, for example `missing required property 'title'`.
    public var message: String

    public init(instancePath: String, message: String) {
        self.instancePath = instancePath
        self.message = message
    }

    /// `instancePath: message`, for example `$.tags[2]: expected string, got number`.
    public var description: String { "\(instancePath): \(message)" }
}

/// One step into a JSON value: an object member or an array element. Used for the
/// instance paths of violations and for the schema paths of compile errors.
enum JSONPathComponent: Sendable, Hashable {
    case key(String)
    case index(Int)

    /// Renders `$`, `$.a.b`, `$.tags[2]`, `$["a b"]`. Keys are written bare when they look
    /// like JavaScript identifiers (letters, digits, `_` and `$`, not starting with a digit),
    /// so schema paths read `$.$defs.item`.
    static func render(_ components: some Sequence<JSONPathComponent>) -> String {
        var out = "$"
        for component in components {
            switch component {
            case .index(let index):
                out += "[\(index)]"
            case .key(let key):
                if isIdentifier(key) {
                    out += "." + key
                } else {
                    out += "["
                    JSONValue.writeString(key, to: &out)
                    out += "]"
                }
            }
        }
        return out
    }

    /// Renders an RFC 6901 JSON pointer fragment: `#`, `#/$defs/a~1b`.
    static func pointer(_ components: some Sequence<JSONPathComponent>) -> String {
        var out = "#"
        for component in components {
            switch component {
            case .index(let index): out += "/\(index)"
            case .key(let key): out += "/" + key.replacingTilde()
            }
        }
        return out
    }

    private static func isIdentifier(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return key.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || scalar == "$"
        }
    }
}

extension String {
    /// Escapes `~` and `/` for a JSON pointer token (RFC 6901).
    fileprivate func replacingTilde() -> String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
