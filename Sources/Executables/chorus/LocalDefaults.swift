import Foundation
import LocalStack
import ServiceSupport

/// Where the commands that talk to Redis and PostgreSQL directly (`seed`, `lag`, `dlq`,
/// `history`, `verify`, `bench`) find them when nothing is said.
///
/// The `CHORUS_*` environment comes first, as for every Chorus process. What it leaves unset
/// comes from the operator credentials the last `chorus up` wrote into its data directory
/// (`CHORUS_DATA_DIR`, else `.chorus`), so that a command run next to `chorus up` needs no
/// password typed or exported.
enum LocalDefaults {
    static func configuration(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> ChorusConfiguration {
        var configuration = try ChorusConfiguration.fromEnvironment(environment)
        let dataDirectory = URL(fileURLWithPath: environment["CHORUS_DATA_DIR"] ?? ".chorus")
        let needed = !isSet("CHORUS_REDIS_URL", in: environment) || !isSet("CHORUS_DATABASE_URL", in: environment)
        guard let local = LocalStackCredentials.operator(dataDirectory: dataDirectory) else {
            if needed {
                // Said before the command fails with a bare NOAUTH, so that the cause is plain.
                FileHandle.standardError.write(Data("""
                    chorus: no operator credentials in \(dataDirectory.standardizedFileURL.path)/credentials and no \
                    CHORUS_REDIS_URL / CHORUS_DATABASE_URL: trying the unauthenticated defaults, which a running Chorus \
                    refuses. Run from where `chorus up` runs, or set CHORUS_DATA_DIR (or the URLs).

                    """.utf8))
            }
            return configuration
        }
        if !isSet("CHORUS_REDIS_URL", in: environment) { configuration.redisURL = local.redisURL }
        if !isSet("CHORUS_DATABASE_URL", in: environment) { configuration.databaseURL = local.databaseURL }
        return configuration
    }

    /// Where the URLs of a command came from when the environment did not give them: said when
    /// a server refuses them or cannot be reached, since a stale data directory is a common cause.
    static func credentialsSource(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard !isSet("CHORUS_REDIS_URL", in: environment) || !isSet("CHORUS_DATABASE_URL", in: environment) else { return nil }
        let dataDirectory = URL(fileURLWithPath: environment["CHORUS_DATA_DIR"] ?? ".chorus")
        let directory = LocalStackCredentials.directory(dataDirectory: dataDirectory).standardizedFileURL.path
        guard LocalStackCredentials.operator(dataDirectory: dataDirectory) != nil else { return nil }
        return "the operator credentials in \(directory) (from CHORUS_DATA_DIR, default .chorus): are they this system's?"
    }

    private static func isSet(_ name: String, in environment: [String: String]) -> Bool {
        environment[name] != nil || environment[name + "_FILE"] != nil
    }
}
