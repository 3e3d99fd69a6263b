import Foundation
import NIOHTTP1
import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct ClientProviderErrorTests {
    let novita = ProviderConfiguration(
        name: "novita", baseURL: "https://api.novita.ai/v3/openai", apiKeyEnvironmentVariable: "NOVITA_API_KEY")

    private func error(
        _ status: Int, _ body: String, reason: String = "", retryAfter: Duration? = nil, apiKey: String? = nil
    ) -> ProviderError {
        ProviderError.response(
            provider: novita, status: status, reasonPhrase: reason, body: Array(body.utf8), retryAfter: retryAfter,
            apiKey: apiKey)
    }

    @Test func flatShapeDescriptionsForEveryCode() {
        let cases: [(Int, String, ProviderError.Kind, Bool, String)] = [
            (
                401, #"{"code":401,"reason":"INVALID_API_KEY","message":"Invalid API key"}"#, .invalidAPIKey, false,
                "provider 'novita' returned 401 INVALID_API_KEY: Invalid API key. Check the key in NOVITA_API_KEY."
            ),
            (
                403, #"{"code":403,"reason":"NOT_ENOUGH_BALANCE","message":"Not enough balance"}"#, .insufficientBalance,
                false,
                "provider 'novita' returned 403 NOT_ENOUGH_BALANCE: Not enough balance. "
                    + "Top up the balance of the account whose key is in NOVITA_API_KEY."
            ),
            (
                404, #"{"code":404,"reason":"MODEL_NOT_FOUND","message":"model x not found"}"#, .modelNotFound, false,
                "provider 'novita' returned 404 MODEL_NOT_FOUND: model x not found. "
                    + "Check the model name; `skein models --provider novita` lists the models it serves."
            ),
            (
                429, #"{"code":429,"reason":"RATE_LIMIT_EXCEEDED","message":"Too many requests"}"#, .rateLimited, true,
                "provider 'novita' returned 429 RATE_LIMIT_EXCEEDED: Too many requests. "
                    + "Lower requests_per_minute or max_concurrency for provider 'novita', or try again later."
            ),
            (
                500, #"{"code":500,"reason":"MODEL_NOT_AVAILABLE","message":"Model is not available"}"#,
                .modelNotAvailable, true,
                "provider 'novita' returned 500 MODEL_NOT_AVAILABLE: Model is not available. "
                    + "The model may be overloaded or down; try again later or choose another model."
            ),
            (
                503, #"{"code":503,"reason":"MODEL_NOT_AVAILABLE","message":"busy"}"#, .modelNotAvailable, true,
                "provider 'novita' returned 503 MODEL_NOT_AVAILABLE: busy. "
                    + "The model may be overloaded or down; try again later or choose another model."
            ),
            (
                400, #"{"code":400,"reason":"INVALID_REQUEST_BODY","message":"temperature must be <= 2"}"#, .badRequest,
                false,
                "provider 'novita' returned 400 INVALID_REQUEST_BODY: temperature must be <= 2. "
                    + "Check the step's parameters against what the model accepts."
            ),
        ]
        for (status, body, kind, retryable, description) in cases {
            let error = error(status, body)
            #expect(error.kind == kind, "\(status)")
            #expect(error.status == status)
            #expect(error.isRetryable == retryable, "\(status)")
            #expect(error.description == description)
        }
    }

    @Test func openAIShape() {
        let unauthorized = error(
            401, #"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#)
        #expect(unauthorized.kind == .invalidAPIKey)
        #expect(unauthorized.code == "invalid_api_key")
        #expect(
            unauthorized.description
                == "provider 'novita' returned 401 invalid_api_key: Incorrect API key provided. Check the key in NOVITA_API_KEY.")
        let quota = error(429, #"{"error":{"message":"You exceeded your quota.","type":"insufficient_quota","code":"insufficient_quota"}}"#)
        #expect(quota.kind == .insufficientBalance)
        #expect(!quota.isRetryable)
        let missing = error(404, #"{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","code":"model_not_found"}}"#)
        #expect(missing.kind == .modelNotFound)
        #expect(missing.code == "model_not_found")
        let llamaCpp = error(500, #"{"error":{"code":500,"message":"Input should be 'text' or 'json_object'","type":"server_error"}}"#)
        #expect(llamaCpp.code == "server_error")
        #expect(llamaCpp.message == "Input should be 'text' or 'json_object'")
        // llama-cpp-python reports a request its validation rejects as 500: sending it
        // again cannot help, so it is final (and the runner falls back to json_object).
        #expect(llamaCpp.kind == .badRequest)
        #expect(!llamaCpp.isRetryable)
        let overloaded = error(503, #"{"error":{"message":"Model is overloaded","type":"server_error"}}"#)
        #expect(overloaded.isRetryable)
    }

    @Test func statusAloneStillGivesTheCode() {
        let bare = error(429, "", reason: "Too Many Requests")
        #expect(bare.code == "RATE_LIMIT_EXCEEDED")
        #expect(bare.message == "Too Many Requests")
        #expect(error(403, "{}", reason: "Forbidden").code == "INVALID_API_KEY")
        #expect(error(503, "{}").code == "MODEL_NOT_AVAILABLE")
    }

    @Test func nonJSONBodiesGiveAReadableLine() {
        let html = error(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", reason: "Bad Gateway")
        #expect(html.description == "provider 'novita' returned 502: Bad Gateway. The provider had a problem; try again later.")
        #expect(html.isRetryable)
        let text = error(400, "upstream said:\n  no\n", reason: "Bad Request")
        #expect(text.message == "upstream said: no")
    }

    @Test func retryableStatuses() {
        for status in [408, 409, 429, 500, 502, 503, 504] {
            #expect(error(status, "").isRetryable, "\(status)")
        }
        for status in [400, 401, 402, 403, 404, 422] {
            #expect(!error(status, "").isRetryable, "\(status)")
        }
    }

    @Test func missingKeyMessageIsExact() {
        let error = ProviderError.missingAPIKey(provider: "novita", variable: "NOVITA_API_KEY")
        #expect(error.description == "NOVITA_API_KEY is not set; export it or choose another provider with --provider")
        #expect(!error.isRetryable)
    }

    @Test func keylessProviderHint() {
        let local = ProviderConfiguration(name: "local", baseURL: "http://127.0.0.1:8080/v1")
        let error = ProviderError.response(
            provider: local, status: 401, reasonPhrase: "Unauthorized", body: [UInt8](), retryAfter: nil, apiKey: nil)
        #expect(
            error.description
                == "provider 'local' returned 401 INVALID_API_KEY: Unauthorized. "
                + "Provider 'local' wants a key: set its api_key_env to the variable that holds one.")
    }

    @Test func anEchoedKeyIsRedacted() {
        let error = error(401, #"{"error":{"message":"Key sk-secret-1234 is wrong"}}"#, apiKey: "sk-secret-1234")
        #expect(error.message == "Key [redacted] is wrong")
    }

    @Test func streamEventWithStatusUsesIt() {
        let overloaded = ProviderError.streamEvent(
            provider: novita, data: #"{"error":{"message":"Model overloaded","code":503}}"#, apiKey: nil)
        #expect(overloaded.isRetryable)
        #expect(overloaded.code == "MODEL_NOT_AVAILABLE")
        let refused = ProviderError.streamEvent(
            provider: novita, data: #"{"error":{"message":"content policy","type":"invalid_request_error"}}"#, apiKey: nil)
        #expect(!refused.isRetryable)
        let plain = ProviderError.streamEvent(provider: novita, data: "boom", apiKey: nil)
        #expect(plain.message == "boom")
    }
}
