import Payment
import ServiceSupport

/// The `payment` process: configuration in, `Payment` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run { configuration, logger in
            ChorusProcess(effect: PaymentEffect(), configuration: configuration, logger: logger)
        }
    }
}
