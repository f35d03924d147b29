import StockReservation
import ServiceSupport

/// The `stock-reservation` process: configuration in, `StockReservation` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run(StockReservationEffect())
    }
}
