import CoreMetrics
import Hummingbird
import Observability

/// Counts requests by route, method and status, and times them by route and method.
///
/// The route is the matched pattern (`/checkouts/{id}`), never the raw path, and requests that
/// match no route share the label `unmatched`: ids in paths would otherwise make a new series
/// per request.
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
        let method = request.method.rawValue
        Counter(
            label: ChorusMetric.httpRequests.rawValue,
            dimensions: [("route", route), ("method", method), ("status", String(status))],
            factory: metrics
        ).increment()
        CoreMetrics.Timer(label: ChorusMetric.httpRequestDuration.rawValue, dimensions: [("route", route), ("method", method)], factory: metrics)
            .recordInterval(since: started)
    }
}
