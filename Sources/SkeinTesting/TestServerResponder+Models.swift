import Hummingbird

extension TestServerResponder {
    /// `GET /v1/models`: the configured model ids, in OpenAI's list shape.
    func models(_ incoming: IncomingRequest) async -> Response {
        let id = await state.record(
            method: incoming.method, path: incoming.path, headers: incoming.headers, body: nil,
            arrival: incoming.arrival, handling: .models
        )
        let data = configuration.modelIDs.map { model -> TestJSON in
            ["id": .string(model), "object": "model", "created": 0, "owned_by": "skein-test-server"]
        }
        return await jsonResponse(status: 200, body: ["object": "list", "data": .array(data)], id: id)
    }
}
