/// The `format`s Skein asserts. JSON Schema 2020-12 makes `format` an annotation unless a
/// validator opts in; Skein opts in because a model's `"date": "next Tuesday"` is exactly the
/// kind of output a pipeline wants rejected. Unknown formats are annotations and pass.
///
/// Where Python's `jsonschema` (with its `FORMAT_CHECKER`) checks a format, these agree with
/// it on ordinary input; the deliberate differences are noted on each case.
extension JSONSchema {
    enum Format: String, Sendable, Hashable {
        /// RFC 3339 `date-time`, as the `rfc3339-validator` package Python uses checks it:
        /// `T` and `Z` in either case, seconds up to 59 (no leap second), a real calendar day.
        /// Unlike it, a trailing newline is refused (Python's `$` lets one through).
        case dateTime = "date-time"
        /// RFC 3339 `full-date`: `YYYY-MM-DD`, a real calendar day, year 0001 to 9999.
        case date
        /// An address with a non-empty local part, `@`, and a non-empty domain, no spaces.
        /// Stricter than Python, which only asks for an `@` somewhere.
        case email
        /// An absolute RFC 3986 URI: a scheme, `:`, then only characters a URI may contain,
        /// with valid `%XX` escapes. (Python checks `uri` only with the `rfc3987` package.)
        case uri
        /// The hyphenated 8-4-4-4-12 hexadecimal form. Python's check also lets some odd forms
        /// through (extra hyphens inside groups); those are refused here.
        case uuid

        func isValid(_ string: String) -> Bool {
            switch self {
            case .dateTime: return Format.isDateTime(Array(string.utf8))
            case .date: return Format.isDate(Array(string.utf8))
            case .email: return Format.isEmail(string)
            case .uri: return Format.isURI(Array(string.utf8))
            case .uuid: return Format.isUUID(Array(string.utf8))
            }
        }

        /// How messages name the format: `'x' is not a valid date-time`.
        var name: String { rawValue }

        // MARK: Dates

        private static func isDate(_ bytes: [UInt8]) -> Bool {
            guard bytes.count == 10 else { return false }
            return isFullDate(bytes[...])
        }

        private static func isDateTime(_ bytes: [UInt8]) -> Bool {
            // full-date "T" HH:MM:SS [.frac] ("Z" / ("+" / "-") HH:MM)
            guard bytes.count >= 20, isFullDate(bytes[0..<10]),
                bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
                let hour = twoDigits(bytes, 11), hour <= 23, bytes[13] == UInt8(ascii: ":"),
                let minute = twoDigits(bytes, 14), minute <= 59, bytes[16] == UInt8(ascii: ":"),
                let second = twoDigits(bytes, 17), second <= 59
            else { return false }
            var index = 19
            if bytes[index] == UInt8(ascii: ".") {
                index += 1
                let start = index
                while index < bytes.count && isDigit(bytes[index]) { index += 1 }
                guard index > start else { return false }
            }
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                return index + 1 == bytes.count
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard index + 6 == bytes.count, let offsetHour = twoDigits(bytes, index + 1), offsetHour <= 23,
                    bytes[index + 3] == UInt8(ascii: ":"), let offsetMinute = twoDigits(bytes, index + 4),
                    offsetMinute <= 59
                else { return false }
                return true
            default:
                return false
            }
        }

        private static func isFullDate(_ bytes: ArraySlice<UInt8>) -> Bool {
            let base = bytes.startIndex
            guard bytes.count == 10, bytes[base + 4] == UInt8(ascii: "-"), bytes[base + 7] == UInt8(ascii: "-"),
                let high = twoDigits(bytes, base), let low = twoDigits(bytes, base + 2),
                let month = twoDigits(bytes, base + 5), let day = twoDigits(bytes, base + 8)
            else { return false }
            let year = high * 100 + low
            guard year > 0, (1...12).contains(month), day >= 1 else { return false }
            let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let days = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            return day <= days[month - 1]
        }

        private static func twoDigits<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, _ index: Int) -> Int?
        where Bytes.Index == Int {
            guard index >= bytes.startIndex, index + 1 < bytes.endIndex, isDigit(bytes[index]),
                isDigit(bytes[index + 1])
            else { return nil }
            return Int(bytes[index] - UInt8(ascii: "0")) * 10 + Int(bytes[index + 1] - UInt8(ascii: "0"))
        }

        private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        // MARK: Others

        private static func isEmail(_ string: String) -> Bool {
            guard let at = string.lastIndex(of: "@") else { return false }
            let local = string[..<at]
            let domain = string[string.index(after: at)...]
            return !local.isEmpty && !domain.isEmpty
                && !string.unicodeScalars.contains { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }
        }

        private static func isUUID(_ bytes: [UInt8]) -> Bool {
            guard bytes.count == 36 else { return false }
            for (index, byte) in bytes.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    guard byte == UInt8(ascii: "-") else { return false }
                } else {
                    guard isHexDigit(byte) else { return false }
                }
            }
            return true
        }

        private static func isHexDigit(_ byte: UInt8) -> Bool {
            isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
        }

        private static func isURI(_ bytes: [UInt8]) -> Bool {
            // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, isLetter(bytes[0]) else {
                return false
            }
            for byte in bytes[1..<colon] {
                guard
                    isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")
                        || byte == UInt8(ascii: ".")
                else { return false }
            }
            // The rest: unreserved, reserved (gen-delims and sub-delims) or pct-encoded, nothing else.
            let allowed = Set("-._~:/?#[]@!$&'()*+,;=".utf8)
            var index = colon + 1
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "%") {
                    guard index + 2 < bytes.count, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                        return false
                    }
                    index += 3
                    continue
                }
                guard isLetter(byte) || isDigit(byte) || allowed.contains(byte) else { return false }
                index += 1
            }
            return true
        }

        private static func isLetter(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        }
    }
}
