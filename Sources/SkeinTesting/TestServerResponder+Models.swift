import Hummingbird

extension TestServerResponder {
    /// `GET /v1/models`: the configured model ids, in OpenAI's list shape, with their
    /// configured prices in the fields of the provider the price imitates.
    func models(_ incoming: IncomingRequest) async -> Response {
        let id = await state.record(
            method: incoming.method, path: incoming.path, headers: incoming.headers, body: nil,
            arrival: incoming.arrival, handling: .models
        )
        let data = configuration.modelIDs.map { model -> TestJSON in
            var entry: [String: TestJSON] = ["id": .string(model), "object": "model", "created": 0, "owned_by": "skein-test-server"]
            if let price = configuration.modelPrices[model] { entry.merge(price.fields) { _, new in new } }
            return .object(entry)
        }
        return await jsonResponse(status: 200, body: ["object": "list", "data": .array(data)], id: id)
    }
}
