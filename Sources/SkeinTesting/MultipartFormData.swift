/// The parts of a `multipart/form-data` body (RFC 7578), as `POST /files` receives them.
///
/// Only what an upload needs: each part's name, filename and bytes. Part headers other than
/// `Content-Disposition` are ignored, and so is the preamble before the first boundary.
struct MultipartFormData: Sendable {
    struct Part: Sendable {
        /// The `name` of the part's `Content-Disposition`.
        var name: String
        /// The `filename`, for a file part.
        var filename: String?
        var content: ArraySlice<UInt8>

        /// The content as UTF-8 text (for plain fields such as `purpose`).
        var text: String { String(decoding: content, as: UTF8.self) }
    }

    var parts: [Part]

    /// The first part with the name.
    func part(named name: String) -> Part? {
        parts.first { $0.name == name }
    }

    /// Reads a body; `nil` when the content type is not multipart/form-data with a boundary, or
    /// the body does not have the shape it announces.
    init?(contentType: String, body: [UInt8]) {
        guard let boundary = Self.boundary(in: contentType) else { return nil }
        let delimiter = Array("--\(boundary)".utf8)
        // Every delimiter after the first is preceded by CRLF, which belongs to it.
        let separator = [0x0D, 0x0A] + delimiter
        guard var position = Self.find(delimiter, in: body, from: body.startIndex) else { return nil }
        position += delimiter.count
        var parts: [Part] = []
        while true {
            // After a delimiter: `--` ends the body, CRLF starts a part.
            if body[position...].starts(with: [0x2D, 0x2D]) { break }
            guard body[position...].starts(with: [0x0D, 0x0A]) else { return nil }
            let headersStart = position + 2
            guard let headersEnd = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: headersStart) else { return nil }
            let headers = String(decoding: body[headersStart..<headersEnd], as: UTF8.self)
            let contentStart = headersEnd + 4
            guard let contentEnd = Self.find(separator, in: body, from: contentStart) else { return nil }
            if let disposition = Self.disposition(in: headers) {
                parts.append(
                    Part(
                        name: disposition.name, filename: disposition.filename, content: body[contentStart..<contentEnd]
                    ))
            }
            position = contentEnd + separator.count
        }
        self.parts = parts
    }

    /// The `boundary` parameter of a `multipart/form-data` content type, unquoted.
    static func boundary(in contentType: String) -> String? {
        let fields = contentType.split(separator: ";").map { $0.trimmingWhitespace() }
        guard fields.first?.lowercased() == "multipart/form-data" else { return nil }
        for field in fields.dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingWhitespace().lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingWhitespace()
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// `name` and `filename` of a part's `Content-Disposition: form-data; name="…"; filename="…"`.
    static func disposition(in headers: String) -> (name: String, filename: String?)? {
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingWhitespace().lowercased() == "content-disposition" else { continue }
            var name: String?
            var filename: String?
            for parameter in pair[1].split(separator: ";").dropFirst() {
                let keyValue = parameter.split(separator: "=", maxSplits: 1)
                guard keyValue.count == 2 else { continue }
                var value = keyValue[1].trimmingWhitespace()
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                    value = String(value.dropFirst().dropLast())
                }
                switch keyValue[0].trimmingWhitespace().lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            return name.map { ($0, filename) }
        }
        return nil
    }

    /// The index where `needle` first occurs in `haystack` at or after `start`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, !needle.isEmpty else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            guard let candidate = haystack[index...last].firstIndex(of: first) else { return nil }
            if haystack[candidate..<(candidate + needle.count)].elementsEqual(needle) { return candidate }
            index = candidate + 1
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
