import CoreMetrics
import Hummingbird
import Observability

/// Counts requests by route, method and status, and times them by route and method.
///
/// The route is the matched pattern (`/checkouts/{id}`), never the raw path: ids in paths would
/// otherwise make a new series per request. Hummingbird runs router middleware for matched routes
/// only, so a request no route matches is not counted here (the gateway's access log has it).
public struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: any MetricsFactory

    public init(metrics: any MetricsFactory) {
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status.code, since: started)
            return response
        } catch let error as any HTTPResponseError {
            record(request, context, status: error.status.code, since: started)
            throw error
        } catch {
            record(request, context, status: 500, since: started)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since started: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "unmatched"
        let method = HTTPMetricLabels.knownMethods.contains(request.method.rawValue) ? request.method.rawValue : "other"
        Counter(
            label: ChorusMetric.httpRequests.rawValue,
            dimensions: [("route", route), ("method", method), ("status", String(status))],
            factory: metrics
        ).increment()
        CoreMetrics.Timer(label: ChorusMetric.httpRequestDuration.rawValue, dimensions: [("route", route), ("method", method)], factory: metrics)
            .recordInterval(since: started)
    }
}

/// Label values the HTTP metrics allow.
enum HTTPMetricLabels {
    /// Any other method token becomes `other`: clients may invent methods, and each would be a series.
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
}
