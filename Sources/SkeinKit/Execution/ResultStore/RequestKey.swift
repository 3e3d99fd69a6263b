import Crypto
import Foundation

/// What identifies a request in the result store: SHA-256 over a canonical encoding of
/// the provider's wire protocol and base URL, the API (chat or legacy completions) and the
/// full request body (model, messages, every parameter, response format, tools).
///
/// Two things are deliberately left out:
/// - the API key (and every header): a key never reaches the store, and rotating it must
///   not invalidate results;
/// - `stream` and `stream_options`: a streamed and a non-streamed request ask the model
///   the same question and are assembled into the same `Completion`, so `skein run` and
///   `skein run --stream STEP` share their results.
public struct RequestKey: Sendable, Hashable, CustomStringConvertible {
    /// 64 lowercase hex digits.
    public let hex: String

    /// The request body as it is hashed and stored: canonical JSON (sorted keys, compact),
    /// without `stream` and `stream_options`.
    public let canonicalBody: String

    public init(provider: ProviderConfiguration, request: CompletionRequest) {
        var body = request.body
        body.removeValue(forKey: "stream")
        body.removeValue(forKey: "stream_options")
        var canonical: [UInt8] = []
        canonical.reserveCapacity(256)
        JSONValue.object(body).write(to: &canonical, style: .canonical)
        canonicalBody = String(decoding: canonical, as: UTF8.self)
        var hasher = SHA256()
        hasher.update(data: Data("skein-request-v1\n\(provider.kind.rawValue)\n\(Self.normalized(provider.baseURL))\n\(request.api.rawValue)\n".utf8))
        hasher.update(data: canonical)
        hex = Self.hexString(hasher.finalize())
    }

    /// A key read back from the store.
    init(hex: String, canonicalBody: String) {
        self.hex = hex
        self.canonicalBody = canonicalBody
    }

    /// `https://host/v1/` and `https://host/v1` are the same endpoint.
    static func normalized(_ baseURL: String) -> String {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    public var description: String { String(hex.prefix(12)) }

    static func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func == (lhs: RequestKey, rhs: RequestKey) -> Bool { lhs.hex == rhs.hex }
    public func hash(into hasher: inout Hasher) { hasher.combine(hex) }
}

/// SHA-256 of data as hex, for pipeline files in the run history.
public func sha256Hex(_ data: Data) -> String {
    RequestKey.hexString(SHA256.hash(data: data))
}
