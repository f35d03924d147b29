import StockReservation
import ServiceSupport

/// The `stock-reservation` process: configuration in, `StockReservation` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run { configuration, logger in
            ChorusProcess(effect: StockReservationEffect(), configuration: configuration, logger: logger)
        }
    }
}
