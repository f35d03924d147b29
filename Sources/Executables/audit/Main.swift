import Audit
import ServiceSupport

/// The `audit` process: configuration in, `Audit` out.
@main
enum Main {
    static func main() async {
        await ProcessMain.run { configuration, logger in
            ChorusProcess(effect: AuditEffect(), configuration: configuration, logger: logger)
        }
    }
}
