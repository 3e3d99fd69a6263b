import Foundation

/// A job of a provider's Batch API (`POST /batches`), as the provider last described it.
///
/// Decoded from OpenAI's batch object and from Novita AI's variant of it, which spells the
/// status in upper case (`PROGRESS` for in progress), writes `created_at` as RFC 3339 text,
/// sends `""` rather than `null` for a file it has not written, and gives `errors` as a string.
public struct BatchJob: Sendable, Hashable {
    /// Where a batch is in its life: `validating`, then `inProgress` (briefly `finalizing`) and
    /// `completed`; or `failed` (the input file was refused; see ``BatchJob/errors``), `expired`
    /// (the completion window passed), `cancelling` and `cancelled`.
    public enum Status: Sendable, Hashable, CustomStringConvertible {
        case validating, inProgress, finalizing, completed, failed, expired, cancelling, cancelled
        /// A status this client does not know, as the provider spelled it.
        case other(String)

        /// Reads OpenAI's spelling (`in_progress`) and Novita's (`PROGRESS`, upper case).
        public init(_ text: String) {
            switch text.lowercased() {
            case "validating": self = .validating
            case "in_progress", "progress", "in-progress", "inprogress": self = .inProgress
            case "finalizing": self = .finalizing
            case "completed", "complete": self = .completed
            case "failed": self = .failed
            case "expired": self = .expired
            case "cancelling", "canceling": self = .cancelling
            case "cancelled", "canceled": self = .cancelled
            default: self = .other(text)
            }
        }

        /// OpenAI's spelling.
        public var rawValue: String {
            switch self {
            case .validating: return "validating"
            case .inProgress: return "in_progress"
            case .finalizing: return "finalizing"
            case .completed: return "completed"
            case .failed: return "failed"
            case .expired: return "expired"
            case .cancelling: return "cancelling"
            case .cancelled: return "cancelled"
            case .other(let text): return text
            }
        }

        /// Whether the batch has ended: nothing about it changes any more. An expired or
        /// cancelled batch may still have an output file with the requests that did run.
        public var isFinished: Bool {
            switch self {
            case .completed, .failed, .expired, .cancelled: return true
            default: return false
            }
        }

        public var description: String { rawValue }
    }

    /// How many requests the batch has, and how many have succeeded or failed so far.
    public struct RequestCounts: Sendable, Hashable {
        public var total: Int
        public var completed: Int
        public var failed: Int

        public init(total: Int, completed: Int, failed: Int) {
            self.total = total
            self.completed = completed
            self.failed = failed
        }
    }

    /// Why a batch's input file was refused (a batch that `failed` before it ran).
    public struct ValidationError: Sendable, Hashable, CustomStringConvertible {
        public var code: String?
        public var message: String
        /// The request parameter at fault, when the provider names one.
        public var param: String?
        /// The input file's line (1-based), when the error is about one line.
        public var line: Int?

        public init(code: String?, message: String, param: String? = nil, line: Int? = nil) {
            self.code = code
            self.message = message
            self.param = param
            self.line = line
        }

        /// `line 3: The custom_id 'a' is used by an earlier line. (duplicate_custom_id)`.
        public var description: String {
            (line.map { "line \($0): " } ?? "") + message + (code.map { " (\($0))" } ?? "")
        }
    }

    public var id: String
    public var status: Status
    /// The endpoint every request of the batch goes to, as the provider states it
    /// (`/v1/chat/completions`).
    public var endpoint: String
    public var inputFileID: String
    /// The file with the successful replies; `nil` until there is one.
    public var outputFileID: String?
    /// The file with the requests that failed; `nil` until there is one.
    public var errorFileID: String?
    public var completionWindow: String?
    public var requestCounts: RequestCounts
    /// Why the batch failed before running; empty otherwise.
    public var errors: [ValidationError]
    public var metadata: [String: String]
    public var createdAt: Date?
    public var inProgressAt: Date?
    public var expiresAt: Date?
    public var finalizingAt: Date?
    public var completedAt: Date?
    public var failedAt: Date?
    public var expiredAt: Date?
    public var cancellingAt: Date?
    public var cancelledAt: Date?
    /// The object exactly as the provider sent it: for fields not read above, and for storing.
    public var json: JSONValue

    /// The endpoint as a ``CompletionAPI``; `nil` for an endpoint Skein does not call.
    public var api: CompletionAPI? { CompletionAPI(batchEndpoint: endpoint) }

    /// Decodes a batch object; `nil` when it is not an object with an `id`.
    public init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, !id.isEmpty else { return nil }
        self.id = id
        self.json = json
        status = Status(json["status"]?.stringValue ?? "")
        endpoint = json["endpoint"]?.stringValue ?? ""
        inputFileID = json["input_file_id"]?.stringValue ?? ""
        outputFileID = BatchJSON.fileID(json["output_file_id"])
        errorFileID = BatchJSON.fileID(json["error_file_id"])
        completionWindow = json["completion_window"]?.stringValue
        let counts = json["request_counts"]
        func count(_ name: String) -> Int { counts?[name]?.intValue ?? json[name]?.intValue ?? 0 }
        requestCounts = RequestCounts(total: count("total"), completed: count("completed"), failed: count("failed"))
        errors = BatchJSON.validationErrors(json["errors"])
        metadata = BatchJSON.stringDictionary(json["metadata"])
        createdAt = BatchJSON.date(json["created_at"])
        inProgressAt = BatchJSON.date(json["in_progress_at"])
        expiresAt = BatchJSON.date(json["expires_at"])
        finalizingAt = BatchJSON.date(json["finalizing_at"])
        completedAt = BatchJSON.date(json["completed_at"])
        failedAt = BatchJSON.date(json["failed_at"])
        expiredAt = BatchJSON.date(json["expired_at"])
        cancellingAt = BatchJSON.date(json["cancelling_at"])
        cancelledAt = BatchJSON.date(json["cancelled_at"])
    }
}

/// A file of a provider's Files API: an uploaded batch input file, or a batch's output or
/// error file.
public struct FileObject: Sendable, Hashable {
    public var id: String
    /// The size in bytes.
    public var bytes: Int
    public var createdAt: Date?
    /// When the provider deletes it, when it says.
    public var expiresAt: Date?
    public var filename: String
    /// `batch` for an input file; `batch_output` for a batch's output and error files.
    public var purpose: String
    /// The requests in an input file, when the provider counted them (Novita's
    /// `metadata.total_requests`).
    public var totalRequests: Int?
    /// The object exactly as the provider sent it.
    public var json: JSONValue

    /// Decodes a file object; `nil` when it is not an object with an `id`.
    public init?(json: JSONValue) {
        guard let id = json["id"]?.stringValue, !id.isEmpty else { return nil }
        self.id = id
        self.json = json
        bytes = json["bytes"]?.intValue ?? 0
        createdAt = BatchJSON.date(json["created_at"])
        expiresAt = BatchJSON.date(json["expires_at"])
        filename = json["filename"]?.stringValue ?? ""
        purpose = json["purpose"]?.stringValue ?? ""
        totalRequests = json["metadata"]?["total_requests"]?.intValue
    }
}

/// One page of `GET /batches`, newest first.
public struct BatchPage: Sendable, Hashable {
    public var jobs: [BatchJob]
    /// Whether older batches follow; ask for them with `after: lastID`.
    public var hasMore: Bool
    public var lastID: String?

    public init(jobs: [BatchJob], hasMore: Bool, lastID: String?) {
        self.jobs = jobs
        self.hasMore = hasMore
        self.lastID = lastID
    }
}

extension CompletionAPI {
    /// The Batch API's name for the endpoint: the batch's `endpoint` and each input line's
    /// `url` (`/v1/chat/completions`, `/v1/completions`).
    public var batchEndpoint: String { path.hasPrefix("/v1/") ? path : "/v1" + path }

    /// The API of a batch endpoint, with or without the `/v1` prefix; `nil` for another endpoint.
    public init?(batchEndpoint: String) {
        let path = batchEndpoint.hasPrefix("/v1/") ? String(batchEndpoint.dropFirst(3)) : batchEndpoint
        guard let api = CompletionAPI.allCases.first(where: { $0.path == path }) else { return nil }
        self = api
    }
}

/// Reading the loosely typed fields of batch and file objects.
enum BatchJSON {
    /// A file id; `null` (OpenAI) and `""` (Novita) both mean none.
    static func fileID(_ value: JSONValue?) -> String? {
        guard let text = value?.stringValue, !text.isEmpty else { return nil }
        return text
    }

    /// OpenAI's `{"object": "list", "data": [{code, message, param, line}]}`, a bare list,
    /// or Novita's string.
    static func validationErrors(_ value: JSONValue?) -> [BatchJob.ValidationError] {
        switch value {
        case .string(let text)? where !text.trimmingCharacters(in: .whitespaces).isEmpty:
            return [BatchJob.ValidationError(code: nil, message: text)]
        case .object? where value?["data"] != nil:
            return validationErrors(value?["data"])
        case .array(let items)?:
            return items.compactMap { item in
                guard let message = item["message"]?.stringValue ?? item.stringValue else { return nil }
                return BatchJob.ValidationError(
                    code: item["code"]?.stringValue, message: message, param: item["param"]?.stringValue,
                    line: item["line"]?.intValue)
            }
        default:
            return []
        }
    }

    /// An object's members as text (values that are not strings as compact JSON).
    static func stringDictionary(_ value: JSONValue?) -> [String: String] {
        guard let object = value?.objectValue else { return [:] }
        var result: [String: String] = [:]
        for (key, member) in object {
            result[key] = member.stringValue ?? member.serialized(.compact)
        }
        return result
    }

    /// A time as Unix seconds (milliseconds when the number is too large for seconds), or
    /// RFC 3339 text; `nil` for `null`, `""`, `0` and anything unreadable.
    static func date(_ value: JSONValue?) -> Date? {
        func fromNumber(_ number: Double) -> Date? {
            guard number > 0, number.isFinite else { return nil }
            return Date(timeIntervalSince1970: number > 100_000_000_000 ? number / 1000 : number)
        }
        switch value {
        case .int(let number)?: return fromNumber(Double(number))
        case .double(let number)?: return fromNumber(number)
        case .string(let text)?:
            if let number = Double(text) { return fromNumber(number) }
            return rfc3339(text)
        default: return nil
        }
    }

    /// `2025-08-11T16:31:52.949816948+08:00`: a date, `T` (or a space), a time with any
    /// fraction of a second, and `Z` or an offset.
    static func rfc3339(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + digits)] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += digits
            return value
        }
        func expect(_ allowed: String) -> Bool {
            guard index < bytes.count, allowed.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect("Tt "), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
            let second = number(2), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60,
            second <= 60
        else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2) else { return nil }
            _ = expect(":")
            guard let minutes = number(2) else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
