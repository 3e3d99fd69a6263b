/// Text put into an HTML page so that it stays text: what a model or a user wrote never
/// becomes markup or script.
public enum HTMLText {
    /// Escapes text for an element's content or a quoted attribute value.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// JSON for a `<script type="application/json">` element. A script element ends at the
    /// first `</script` whatever the quotes around it, and `<!--` changes how the parser looks
    /// for that end; JSON has `<`, `>` and `&` only inside strings, where `\u003c` means the
    /// same, so escaping all three leaves the data identical and the element unbreakable.
    /// U+2028 and U+2029 are escaped too, for a reader that evaluates the text as script.
    public static func scriptJSON(_ value: JSONValue) -> String {
        var out = ""
        let text = value.serialized()
        out.reserveCapacity(text.utf8.count + text.utf8.count / 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
