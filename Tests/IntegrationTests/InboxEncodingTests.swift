import Foundation
import StreamRuntime
import Testing

@testable import ExactlyOnce

/// The inbox stores the events a worker emitted as JSON written by hand: it must read back
/// exactly, whatever the fields hold.
@Suite("Inbox encoding")
struct InboxEncodingTests {
    @Test("stored outputs read back unchanged: quotes, backslashes, control characters and non-ASCII text")
    func roundTrip() throws {
        let outputs = [
            OutgoingEntry(stream: "chorus:checkouts:1", fields: [
                (name: "event_id", value: "e-1"),
                (name: "payload", value: #"{"name":"Zoë \"the\" \\ cat","note":"line\nbreak\ttab\r\u{01}\u{1F}"}"#),
            ]),
            OutgoingEntry(stream: "chorus:reference", fields: []),
        ]
        let text = Inbox.encode(outputs)
        #expect(try Inbox.decode(text) == outputs)
        // What PostgreSQL's jsonb accepts: valid JSON, by Foundation's reading too.
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [Any])
        #expect(Inbox.encode([]) == "[]")
    }
}
