import CheckoutDomain
import ExactlyOnce
import Foundation
import Hummingbird
import Logging
import Observability
import ServiceLifecycle
import UnixSignals

/// What each executable's `main` calls: read the environment, set up logging, run the process
/// until SIGTERM or SIGINT.
public enum ProcessMain {
    /// Runs the process `makeProcess` builds from the environment's configuration.
    public static func run(_ makeProcess: @Sendable (ChorusConfiguration, Logger) -> some Service) async {
        let name = ProcessInfo.processInfo.processName
        let configuration: ChorusConfiguration
        do {
            configuration = try ChorusConfiguration.fromEnvironment()
        } catch {
            FileHandle.standardError.write(Data("\(name): configuration error: \(error)\n".utf8))
            exit(64)
        }
        bootstrapLogging(configuration, service: name)
        let logger = Logger(label: "chorus.\(name)")
        let group = ServiceGroup(configuration: .init(
            services: [makeProcess(configuration, logger)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("\(name): configuration error: \(error)\n".utf8))
            exit(64)
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            exit(1)
        }
    }

    /// Sets up swift-log for `configuration`: JSON lines by default, plain text on request.
    public static func bootstrapLogging(_ configuration: ChorusConfiguration, service: String) {
        let level = configuration.logLevel
        switch configuration.logFormat {
        case .json:
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, service: service, level: level) }
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardOutput(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
