import CSV
import Foundation
import OrderedCollections

/// One row of a dataset: its position (0-based, counting data rows only) and its values by
/// column name.
public struct DatasetRow: Sendable {
    public var index: Int
    /// The line the row starts on (1-based), for errors.
    public var line: Int
    public var values: OrderedDictionary<String, InputResolver.Provided>
}

/// Reads a dataset as a stream of rows, so memory does not grow with the file: JSON Lines
/// (one object per line; values keep their JSON types) or CSV with a header row (values
/// are text, converted to each input's declared type like `-i` values). CSV parsing is
/// yaslab/CSV.swift's (RFC 4180: quoted fields, embedded newlines).
///
/// A reader may be handed to another task, but must be read by one task at a time (the
/// dataset runner reads it from its one producer loop); hence `@unchecked Sendable`.
public final class DatasetReader: @unchecked Sendable {
    public enum Format: String, Sendable { case jsonl, csv }

    public let path: String
    public let format: Format
    /// `--map column=input`: a column's values go to the named input.
    let renames: [String: String]
    private var lines: LineReader?
    private var csv: CSVReader?
    private var csvStream: InputStream?
    private var header: [String] = []
    private var nextIndex = 0
    private var lineNumber = 0

    /// Opens the dataset; the format comes from the extension (`.jsonl`, `.ndjson`, `.csv`).
    /// - Throws: `DatasetError` for an unknown extension, an unreadable file, or a CSV without header.
    public init(path: String, format: Format? = nil, renames: [String: String] = [:]) throws {
        self.path = path
        self.renames = renames
        let lowered = path.lowercased()
        if let format {
            self.format = format
        } else if lowered.hasSuffix(".jsonl") || lowered.hasSuffix(".ndjson") || lowered.hasSuffix(".json") {
            self.format = .jsonl
        } else if lowered.hasSuffix(".csv") {
            self.format = .csv
        } else {
            throw DatasetError("dataset '\(path)': unknown format; name it .jsonl (JSON Lines) or .csv (with a header row)")
        }
        let handle: FileHandle
        do {
            handle = try FileReading.open(path)
        } catch {
            switch error.reason {
            case .directory: throw DatasetError("dataset '\(path)' is a directory; give a .jsonl or .csv file")
            case .missing: throw DatasetError("cannot read dataset '\(path)': no such file")
            case .unreadable: throw DatasetError("cannot read dataset '\(path)'")
            }
        }
        switch self.format {
        case .jsonl:
            lines = LineReader(handle: handle)
        case .csv:
            // CSV.swift reads a byte that is not UTF-8 as the end of a record, splitting rows
            // (and renumbering every row after it), so the whole file is checked first.
            defer { try? handle.close() }
            if let line = DatasetReader.firstLineNotUTF8(handle) {
                throw DatasetError("\(path):\(line): not valid UTF-8; save the file as UTF-8")
            }
            guard let stream = InputStream(fileAtPath: path) else { throw DatasetError("cannot read dataset '\(path)'") }
            do {
                let reader = try CSVReader(stream: stream, hasHeaderRow: true)
                guard let header = reader.headerRow, !header.isEmpty, header != [""] else {
                    throw DatasetError("dataset '\(path)': the CSV file has no header row; its first line must name the columns")
                }
                self.header = header.map { $0.trimmingCharacters(in: .whitespaces) }
                // Two columns of one name: a row would silently keep only the last.
                var seen = Set<String>()
                for column in self.header where !seen.insert(column).inserted {
                    throw DatasetError(
                        "dataset '\(path)': the CSV header names the column '\(column)' twice; give each column its own name")
                }
                csv = reader
                csvStream = stream
                lineNumber = 1
            } catch let error as DatasetError {
                throw error
            } catch CSVError.cannotReadHeaderRow {
                throw DatasetError("dataset '\(path)': the CSV file is empty; its first line must name the columns")
            } catch {
                throw DatasetError("dataset '\(path)': \(error)")
            }
        }
    }

    /// The column names (CSV only; JSON Lines rows name their own keys).
    public var columns: [String] { header }

    /// The next row, nil at the end.
    /// - Throws: `DatasetError` naming the line, for a row that is not a JSON object or a CSV
    ///   record with the wrong number of fields. Reading can go on after it.
    public func next() throws -> DatasetRow? {
        switch format {
        case .jsonl:
            while let line = lines?.next() {
                lineNumber += 1
                if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
                let index = nextIndex
                nextIndex += 1
                guard lines?.lastLineIsUTF8 != false else {
                    throw DatasetError("\(path):\(lineNumber): row \(index) is not valid UTF-8; save the file as UTF-8", row: index)
                }
                let value: JSONValue
                do {
                    value = try JSONValue(parsing: line)
                } catch {
                    throw DatasetError("\(path):\(lineNumber): row \(index) is not valid JSON: \(error)", row: index)
                }
                guard case .object(let object) = value else {
                    throw DatasetError("\(path):\(lineNumber): row \(index) is \(value.typeName), expected a JSON object of inputs", row: index)
                }
                var values = OrderedDictionary<String, InputResolver.Provided>()
                for (key, value) in object { values[renames[key] ?? key] = .value(value) }
                return DatasetRow(index: index, line: lineNumber, values: values)
            }
            return nil
        case .csv:
            guard let reader = csv, let record = reader.next() else {
                // CSV.swift flags the end of its input stream as an error; only a stream that
                // did not reach its end is one.
                if let error = csv?.error, csvStream?.streamStatus != .atEnd {
                    throw DatasetError("dataset '\(path)': \(error)")
                }
                return nil
            }
            lineNumber += 1
            let index = nextIndex
            nextIndex += 1
            if record == [""] && header.count > 1 { return try next() }
            guard record.count == header.count else {
                throw DatasetError(
                    "\(path): row \(index) has \(record.count) fields, the header has \(header.count)", row: index)
            }
            var values = OrderedDictionary<String, InputResolver.Provided>()
            for (column, field) in zip(header, record) { values[renames[column] ?? column] = .text(field) }
            return DatasetRow(index: index, line: lineNumber, values: values)
        }
    }

    /// The line (from 1) of the first byte sequence that is not UTF-8, or nil; reads the
    /// file in 1 MiB chunks and leaves the handle at the end.
    static func firstLineNotUTF8(_ handle: FileHandle) -> Int? {
        var line = 1
        var carried: [UInt8] = []
        while true {
            let chunk = (try? handle.read(upToCount: 1 << 20)) ?? nil
            let atEnd = chunk?.isEmpty ?? true
            var bytes = carried
            if let chunk { bytes.append(contentsOf: chunk) }
            // Hold back an incomplete sequence at the end of a chunk for the next one.
            var end = bytes.count
            if !atEnd {
                var back = 0
                while back < 3, end - back - 1 >= 0, bytes[end - back - 1] & 0xC0 == 0x80 { back += 1 }
                if end - back - 1 >= 0, bytes[end - back - 1] >= 0xC0 { end -= back + 1 }
            }
            if String(validating: bytes[..<end], as: UTF8.self) == nil {
                // Find the line: validate line by line within the chunk.
                var start = 0
                for index in 0..<end where bytes[index] == UInt8(ascii: "\n") {
                    if String(validating: bytes[start..<index], as: UTF8.self) == nil { return line }
                    line += 1
                    start = index + 1
                }
                return line
            }
            line += bytes[..<end].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            if atEnd { return nil }
            carried = Array(bytes[end...])
        }
    }

    /// Counts the rows without keeping them (for the progress bar's total and ETA).
    public static func countRows(path: String, format: Format? = nil) -> Int? {
        guard let reader = try? DatasetReader(path: path, format: format) else { return nil }
        if reader.format == .jsonl, let lines = reader.lines {
            var count = 0
            while let line = lines.next() {
                if !line.isEmpty { count += 1 }
            }
            return count
        }
        var count = 0
        while true {
            do {
                guard try reader.next() != nil else { break }
            } catch {}
            count += 1
        }
        return count
    }
}

/// A problem with a dataset file or one of its rows.
public struct DatasetError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// The row the problem is in, when it is about one row.
    public var row: Int?
    public init(_ message: String, row: Int? = nil) {
        self.message = message
        self.row = row
    }
    public var description: String { message }
}

/// Reads a file line by line in 256 KiB chunks (lines split on `\n`, a trailing `\r` dropped).
public final class LineReader {
    private let handle: FileHandle
    private var buffer = [UInt8]()
    private var start = 0
    private var atEnd = false
    /// Whether the line `next()` returned last was valid UTF-8 (invalid bytes came back as U+FFFD).
    public private(set) var lastLineIsUTF8 = true

    public init(handle: FileHandle) {
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// The next line, nil at the end of the file.
    public func next() -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = decode(buffer[start..<end])
                start = newline + 1
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = decode(buffer[start...])
                start = buffer.count
                return line
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            let chunk = (try? handle.read(upToCount: 256 * 1024)) ?? nil
            if let chunk, !chunk.isEmpty { buffer.append(contentsOf: chunk) } else { atEnd = true }
        }
    }

    private func decode(_ bytes: ArraySlice<UInt8>) -> String {
        if let text = String(validating: bytes, as: UTF8.self) {
            lastLineIsUTF8 = true
            return text
        }
        lastLineIsUTF8 = false
        return String(decoding: bytes, as: UTF8.self)
    }
}
