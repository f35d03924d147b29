import Compensation
import ServiceSupport

/// The `compensation` process: configuration in, `Compensation` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run { configuration, logger in
            ChorusProcess(effect: CompensationEffect(), configuration: configuration, logger: logger)
        }
    }
}
