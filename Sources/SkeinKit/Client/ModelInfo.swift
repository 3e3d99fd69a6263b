/// A model a provider serves, from `GET /models`.
public struct ModelInfo: Sendable, Hashable {
    public var id: String
    /// `owned_by`, when given.
    public var ownedBy: String?
    /// `created`, seconds since 1970, when given.
    public var created: Int?

    public init(id: String, ownedBy: String? = nil, created: Int? = nil) {
        self.id = id
        self.ownedBy = ownedBy
        self.created = created
    }

    /// Decodes `{"data": [{"id", "owned_by", "created"}, ...]}`; some servers send the bare list.
    static func decodeList(_ response: JSONValue) -> [ModelInfo]? {
        guard let items = response["data"]?.arrayValue ?? response["models"]?.arrayValue ?? response.arrayValue else {
            return nil
        }
        return items.compactMap { item in
            guard let id = item["id"]?.stringValue ?? item["name"]?.stringValue else { return nil }
            return ModelInfo(id: id, ownedBy: item["owned_by"]?.stringValue, created: item["created"]?.intValue)
        }
    }
}
