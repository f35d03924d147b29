import CheckoutAPI
import ServiceSupport

/// The `checkout-api` process: configuration in, `CheckoutAPI` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run(CatalogueEffect()) { router, resources in
            CheckoutRoutes(
                database: resources.database,
                publisher: EventPublisher(redis: resources.redis, topology: resources.topology),
                maxBodyBytes: resources.configuration.maxBodyBytes
            ).register(on: router)
        }
    }
}
