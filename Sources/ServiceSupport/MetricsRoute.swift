import Hummingbird
import Observability

/// `GET /metrics`: the process's series in the Prometheus text format.
struct MetricsRoute: Sendable {
    let metrics: ProcessMetrics

    func register(on router: Router<some RequestContext>) {
        router.get("/metrics") { _, _ -> Response in
            let body = metrics.exposition()
            return Response(
                status: .ok,
                headers: [.contentType: ProcessMetrics.contentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
    }
}
