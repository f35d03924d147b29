import Foundation
import Identity
import Logging
import ServiceLifecycle
import StreamRuntime
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Loads the key set that ``ChorusConfiguration/TokenSettings`` names, and reloads it while the
/// process runs, so that an issuer's rotated keys are trusted without a restart.
public struct TrustedKeys: Sendable {
    public let settings: ChorusConfiguration.TokenSettings

    static let largestKeySet = 1 << 20

    public init(settings: ChorusConfiguration.TokenSettings) {
        self.settings = settings
    }

    /// A verifier over the key set as it is now.
    public func verifier() async throws -> TokenVerifier {
        try await TokenVerifier(
            jwks: try await keySet(),
            requirements: TokenRequirements(issuer: settings.issuer, audience: settings.audience, leeway: .seconds(settings.leewaySeconds)))
    }

    /// The key set's JSON, read from its file or fetched from its URL.
    func keySet() async throws -> String {
        switch settings.keys {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(variable: "CHORUS_JWKS_FILE", message: "names \(path), which cannot be read")
            }
            return String(decoding: data, as: UTF8.self)
        case .url(let address):
            guard let url = URL(string: address) else {
                throw ConfigurationError(variable: "CHORUS_JWKS_URL", message: "is not a URL")
            }
            var request = URLRequest(url: url)
            request.timeoutInterval = 5
            let (data, response) = try await URLSession.shared.data(for: request)
            guard let status = (response as? HTTPURLResponse)?.statusCode, status == 200 else {
                throw KeySetError("at \(address) answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
            }
            // A key set is a few kilobytes; anything far larger is not one, whoever sent it.
            guard data.count <= Self.largestKeySet else { throw KeySetError("at \(address) is over \(Self.largestKeySet) bytes") }
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Reads the key set again every `refreshSeconds` and hands it to `verifier`. A failed
    /// read keeps the keys already trusted, and is logged.
    func refresher(for verifier: TokenVerifier, logger: Logger) -> PeriodicSampler {
        PeriodicSampler("the trusted token keys to reload", every: .seconds(settings.refreshSeconds), logger: logger) {
            do {
                try await verifier.replaceKeys(jwks: try await keySet())
            } catch {
                logger.warning("cannot reload the trusted token keys; keeping the current ones", metadata: ["error": "\(error)"])
            }
        }
    }
}
