import CheckoutAPI
import ServiceSupport

/// The `checkout-api` process: configuration in, `CheckoutAPI` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run { configuration, logger in
            ChorusProcess.checkoutAPI(configuration: configuration, logger: logger)
        }
    }
}
