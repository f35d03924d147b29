import EventStore
import ServiceSupport

/// The `event-store` process: configuration in, `EventStore` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run { configuration, logger in
            ChorusProcess.eventStore(configuration: configuration, logger: logger)
        }
    }
}
