import OrderCreation
import ServiceSupport

/// The `order-creation` process: configuration in, `OrderCreation` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run { configuration, logger in
            ChorusProcess(effect: OrderCreationEffect(), configuration: configuration, logger: logger)
        }
    }
}
