import Foundation
import Hummingbird

extension RequestContext {
    /// The path parameter `name`, percent-decoded (`cus%2D0001` is `cus-0001`), as the links
    /// this server writes percent-encode ids.
    /// - Throws: 400 when it is not valid percent-encoding.
    public func pathParameter(_ name: String) throws -> String {
        let raw = try parameters.require(name)
        guard raw.contains("%") else { return raw }
        guard let decoded = raw.removingPercentEncoding else {
            throw Problem.badRequest("the path's \(name) is not valid percent-encoding", slug: "invalid-parameter")
        }
        return decoded
    }
}
