import CheckoutDomain
import ExactlyOnce
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// What each executable's `main` calls: read the environment, set up logging, run the process
/// until SIGTERM or SIGINT.
public enum ProcessMain {
    public static func run<Effect: EventEffect>(
        _ effect: Effect,
        routes: @escaping @Sendable (Router<BasicRequestContext>, ProcessResources) -> Void = { _, _ in }
    ) async {
        let configuration: ChorusConfiguration
        do {
            configuration = try ChorusConfiguration.fromEnvironment()
        } catch {
            FileHandle.standardError.write(Data("\(effect.worker.rawValue): configuration error: \(error)\n".utf8))
            exit(64)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "chorus.\(effect.worker.rawValue)")
        let process = ChorusProcess(effect: effect, configuration: configuration, logger: logger, routes: routes)
        let group = ServiceGroup(configuration: .init(
            services: [process], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
