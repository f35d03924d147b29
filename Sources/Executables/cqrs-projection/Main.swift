import CQRSProjection
import ServiceSupport

/// The `cqrs-projection` process: configuration in, `CQRSProjection` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run(ProjectionEffect()) { router, resources in
            ReadModelRoutes(database: resources.database).register(on: router)
        }
    }
}
