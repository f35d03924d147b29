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
    ///   malformed JSON, 422 (`invalid-field`, with the field's path) for well-formed JSON with a
    ///   field missing, of the wrong type, or out of its type's range (say, a quantity of 1.5),
    ///   as for every other invalid field.
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
            throw problem(for: error)
        } catch {
            throw Problem.badRequest("the body is not valid JSON", slug: "malformed-json")
        }
    }

    private static func tooLarge(_ maxBytes: Int) -> Problem {
        Problem(.contentTooLarge, slug: "body-too-large", title: "Body too large", detail: "the body may be at most \(maxBytes) bytes")
    }

    private static func problem(for error: DecodingError) -> Problem {
        /// `items[0].quantity`; `nil` for the body itself.
        func path(_ codingPath: [any CodingKey]) -> String? {
            let names = codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? nil : names.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        func invalid(_ detail: String, _ field: String) -> Problem { .unprocessable(detail, slug: "invalid-field", field: field) }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key]) ?? key.stringValue
            return invalid("missing field \(field)", field)
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            guard let field = path(context.codingPath) else { return .badRequest("the body must be a JSON object", slug: "malformed-json") }
            return invalid("wrong type for \(field)", field)
        case .dataCorrupted(let context):
            guard let field = path(context.codingPath) else { return .badRequest("the body is not valid JSON", slug: "malformed-json") }
            return invalid("invalid value for \(field) (\(context.debugDescription))", field)
        @unknown default:
            return .badRequest("the body is not valid JSON", slug: "malformed-json")
        }
    }
}
