import Foundation
import Hummingbird

/// Reading JSON requests and writing JSON responses, the same way in every service.
public enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A JSON response.
    public static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let data = try encoder.encode(value)
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Reads and decodes a JSON body.
    ///
    /// - Throws: a ``Problem``: 415 for another content type, 413 past `maxBytes`, 400 for
    ///   malformed JSON or a field of the wrong type.
    public static func decode<Value: Decodable>(_ type: Value.Type, from request: Request, maxBytes: Int) async throws -> Value {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw Problem(.unsupportedMediaType, slug: "unsupported-media-type", title: "Unsupported media type",
                          detail: "send the body as application/json")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBytes {
            throw tooLarge(maxBytes)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBytes)
        } catch {
            throw tooLarge(maxBytes)
        }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Problem.badRequest(describe(error), slug: "malformed-json")
        } catch {
            throw Problem.badRequest("the body is not valid JSON", slug: "malformed-json")
        }
    }

    private static func tooLarge(_ maxBytes: Int) -> Problem {
        Problem(.contentTooLarge, slug: "body-too-large", title: "Body too large", detail: "the body may be at most \(maxBytes) bytes")
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? "the body" : names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return parent == "the body" ? "missing field \(key.stringValue)" : "missing field \(key.stringValue) in \(parent)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "wrong type for \(path(context))"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "the body is not valid JSON" : "invalid value for \(path(context))"
        @unknown default: return "the body is not valid JSON"
        }
    }
}
