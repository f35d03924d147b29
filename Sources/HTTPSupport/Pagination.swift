import Foundation
import HTTPTypes
import Hummingbird

/// A page of a list that grows without bound: at most `limit` items after an opaque cursor.
///
/// The cursor is the position of the last item of the previous page, encoded (base64url) so
/// that clients pass it back rather than build one; the list decides what it holds. Pages are
/// read by position (keyset), not by offset, so an item added meanwhile neither repeats nor
/// hides another.
public struct PageRequest: Sendable, Hashable {
    /// How many items a page holds when the client does not say.
    public static let defaultLimit = 50
    /// The most a client may ask for.
    public static let maximumLimit = 200

    public var limit: Int
    /// The decoded cursor: the previous page's last position; `nil` for the first page.
    public var after: String?

    public init(limit: Int = PageRequest.defaultLimit, after: String? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Reads `limit` and `after` from the request's query.
    /// - Throws: a 400 ``Problem`` (`invalid-parameter`) for a limit outside 1 … ``maximumLimit``
    ///   or a cursor this server did not write.
    public init(_ request: Request) throws {
        self.init()
        let query = request.uri.queryParameters
        if let text = query.get("limit") {
            guard let limit = Int(text), (1...Self.maximumLimit).contains(limit) else {
                throw Problem.badRequest("limit must be a whole number from 1 to \(Self.maximumLimit)", slug: "invalid-parameter")
            }
            self.limit = limit
        }
        if let cursor = query.get("after") {
            guard let decoded = Self.decode(cursor) else {
                throw Problem.badRequest("after must be a cursor from a previous page's next link", slug: "invalid-parameter")
            }
            after = decoded
        }
    }

    /// `id` as one path segment of a next link: percent-encoded, so that a `/` or `?` in it
    /// cannot change the link.
    public static func pathSegment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? id
    }

    /// The cursor a client passes back for `position`.
    public static func cursor(for position: String) -> String {
        Data(position.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) -> String? {
        guard !cursor.isEmpty, cursor.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).flatMap { String(data: $0, encoding: .utf8) }
    }

    /// The next page's path (`path?limit=…&after=…`) when `lastPosition` is the last item of a
    /// full page, else `nil`; and the `Link` header (RFC 8288) that names it.
    public func next(path: String, lastPosition: String?) -> (link: String, header: HTTPFields)? {
        guard let lastPosition else { return nil }
        let link = "\(path)?limit=\(limit)&after=\(Self.cursor(for: lastPosition))"
        var headers = HTTPFields()
        headers[.link] = "<\(link)>; rel=\"next\""
        return (link, headers)
    }
}

extension HTTPField.Name {
    /// `Link`, RFC 8288.
    public static let link = HTTPField.Name("Link")!
}
