import CQRSProjection
import ServiceSupport

/// The `cqrs-projection` process: configuration in, `CQRSProjection` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run { configuration, logger in
            ChorusProcess.cqrsProjection(configuration: configuration, logger: logger)
        }
    }
}
