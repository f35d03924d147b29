import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The few HTTP calls the CLI makes.
enum HTTP {
    struct Answer {
        var status: Int
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    /// - Parameter quietly: throw without a line on stderr when the target does not answer
    ///   (for polling, where no answer yet is expected).
    static func send(
        _ method: String, _ url: String, json: Any? = nil, headers: [String: String] = [:], timeout: TimeInterval = 10,
        quietly: Bool = false
    ) async throws -> Answer {
        guard let target = URL(string: url) else { throw CLIError("not a URL: \(url)") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        request.timeoutInterval = timeout
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            // One line and EX_UNAVAILABLE, as the other commands do, rather than an NSError dump.
            let reason = (error as? URLError).map { "\($0.code == .timedOut ? "timed out" : "no answer") (\($0.code.rawValue))" } ?? "\(error)"
            if !quietly {
                let place = "\(target.scheme ?? "http")://\(target.host ?? "?"):\(target.port.map(String.init) ?? "")"
                FileHandle.standardError.write(Data("chorus: \(place) is unreachable: \(reason)\n".utf8))
            }
            throw ExitCode(69)
        }
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    /// Whether `url` answers 200 now.
    static func isUp(_ url: String) async -> Bool {
        (try? await send("GET", url, timeout: 2, quietly: true).status) == 200
    }

    static func pretty(_ data: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: data),
            let formatted = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return String(decoding: data, as: UTF8.self) }
        return String(decoding: formatted, as: UTF8.self)
    }
}

/// A failure the CLI reports in one sentence.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
