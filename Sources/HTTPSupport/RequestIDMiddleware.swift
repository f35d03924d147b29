import Hummingbird
import Logging

/// Gives every log line of a request one request id, `request_id`: the gateway's `X-Request-Id`
/// (which checkout-api also makes the saga's correlation id), else Hummingbird's own id for the
/// request. Hummingbird's `hb.request.id` is dropped, so that a line never carries two ids for
/// one request.
public struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let hummingbirdID = context.logger[metadataKey: "hb.request.id"].map { "\($0)" }
        context.logger[metadataKey: "hb.request.id"] = nil
        if let id = request.requestID ?? hummingbirdID { context.logger[metadataKey: "request_id"] = "\(id)" }
        return try await next(request, context)
    }
}
