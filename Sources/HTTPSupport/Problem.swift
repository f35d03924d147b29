import Foundation
import Logging
import Hummingbird
import Postgres

/// An error answered as `application/problem+json` (RFC 9457).
public struct Problem: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    /// A short slug naming the kind of problem; the body's `type` is `/problems/<slug>`.
    public var slug: String
    public var title: String
    public var detail: String
    /// Extra members of the body, such as the offending field.
    public var extensions: [String: String]
    /// Headers to add, such as `Retry-After`.
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status,
        slug: String,
        title: String,
        detail: String,
        extensions: [String: String] = [:],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extensions = extensions
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: Any] = extensions
        body["type"] = "/problems/\(slug)"
        body["title"] = title
        body["status"] = Int(status.code)
        body["detail"] = detail
        body["instance"] = request.uri.path
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Problem {
    public static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, slug: "not-found", title: "Not found", detail: detail)
    }

    public static func badRequest(_ detail: String, slug: String = "bad-request") -> Problem {
        Problem(.badRequest, slug: slug, title: "Bad request", detail: detail)
    }

    public static func unprocessable(_ detail: String, slug: String, field: String? = nil) -> Problem {
        Problem(.unprocessableContent, slug: slug, title: "Unprocessable request", detail: detail,
                extensions: field.map { ["field": $0] } ?? [:])
    }

    public static func unavailable(_ detail: String) -> Problem {
        Problem(.serviceUnavailable, slug: "unavailable", title: "Service unavailable", detail: detail,
                headers: [.retryAfter: "1"])
    }
}

/// Answers every error as problem+json: routing's 404 and 405, body limits, and any unexpected
/// error, which is logged and answered 500 without details.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            throw problem
        } catch let error as PostgresError where error.isConnectionProblem {
            // An outage, not a fault of the request: the client may try again shortly.
            context.logger.warning("database unavailable", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw Problem.unavailable("the database is unavailable; try again")
        } catch let error as any HTTPResponseError {
            let status = error.status
            throw Problem(status, slug: status.code == 404 ? "not-found" : "http-\(status.code)",
                          title: status.reasonPhrase, detail: status.code == 404 ? "no such resource: \(request.uri.path)" : status.reasonPhrase)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw Problem(.internalServerError, slug: "internal", title: "Internal server error",
                          detail: "the request could not be completed")
        }
    }
}
