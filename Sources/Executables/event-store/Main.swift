import EventStore
import ServiceSupport

/// The `event-store` process: configuration in, `EventStore` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run(EventStoreEffect()) { router, resources in
            EventStoreRoutes(reader: EventStoreReader(database: resources.database)).register(on: router)
        }
    }
}
