import Foundation
import Testing

@testable import CheckoutDomain

@Suite("Timestamp")
struct TimestampTests {
    @Test(
        "format writes RFC 3339 in UTC with exactly three fraction digits and a Z",
        arguments: [
            (0.0, "1970-01-01T00:00:00.000Z"),
            (1_795_338_902.0, "2026-11-22T09:15:02.000Z"),
            (1_795_338_902.5, "2026-11-22T09:15:02.500Z"),
            (1_795_338_902.25, "2026-11-22T09:15:02.250Z"),
            (1_795_338_902.75, "2026-11-22T09:15:02.750Z"),
            (-0.5, "1969-12-31T23:59:59.500Z"),
        ]
    )
    func format(secondsSince1970: Double, expected: String) {
        #expect(Timestamp.format(Date(timeIntervalSince1970: secondsSince1970)) == expected)
    }

    @Test("format rounds to the nearest millisecond, carrying into the next second")
    func formatRounds() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_795_338_902.2504)) == "2026-11-22T09:15:02.250Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_795_338_902.2509)) == "2026-11-22T09:15:02.251Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_795_338_902.9999)) == "2026-11-22T09:15:03.000Z")
    }

    @Test(
        "format writes the millisecond of an instant that is a whole number of milliseconds",
        arguments: [1, 7, 123, 301, 999]
    )
    func formatKeepsTheMillisecond(millisecond: Int) {
        // The kind of instant Timestamp.now() returns: whole milliseconds since 1970.
        let date = Date(timeIntervalSince1970: Double(1_795_338_902_000 + Int64(millisecond)) / 1_000)
        let text = Timestamp.format(date)
        let expected = "2026-11-22T09:15:02." + String(repeating: "0", count: 3 - String(millisecond).count) + "\(millisecond)Z"
        #expect(text == expected)
    }

    @Test("every whole-millisecond instant survives format then parse unchanged, as now() promises")
    func millisecondInstantsRoundTrip() {
        var broken: [Int] = []
        for millisecond in 0..<1_000 {
            let date = Date(timeIntervalSince1970: Double(1_795_338_902_000 + Int64(millisecond)) / 1_000)
            if Timestamp.parse(Timestamp.format(date)) != date { broken.append(millisecond) }
        }
        #expect(broken.isEmpty, "\(broken.count) of 1000 milliseconds do not round trip, e.g. \(broken.prefix(10))")
    }

    @Test(
        "parse reads back what format wrote",
        arguments: [0.0, 1_795_338_902.0, 1_795_338_902.5, 1_795_338_902.25, 1_795_338_902.125, 4_102_444_800.0, -86_400.0]
    )
    func roundTrip(secondsSince1970: Double) throws {
        let date = Date(timeIntervalSince1970: secondsSince1970)
        let parsed = try #require(Timestamp.parse(Timestamp.format(date)))
        #expect(parsed == date)
    }

    @Test("parse reads the documented example")
    func parseExample() throws {
        let date = try #require(Timestamp.parse("2026-11-22T09:15:02.500Z"))
        #expect(date == Date(timeIntervalSince1970: 1_795_338_902.5))
    }

    @Test("parse accepts a time without a fraction")
    func parseWithoutFraction() {
        #expect(Timestamp.parse("2026-11-22T09:15:02Z") == Fixture.time)
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
    }

    @Test(
        "parse rejects what is not an RFC 3339 time",
        arguments: [
            "", "yesterday", "12345", "2026-11-22", "09:15:02Z", "2026-11-22 09:15:02Z", "2026-11-22T09:15:02",
            "2026-11-22T09:15:02.123", "2026-13-45T09:15:02Z", "Z", "T09:15:02Z",
        ]
    )
    func parseRejectsGarbage(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("now is a whole number of milliseconds")
    func nowIsTruncatedToTheMillisecond() {
        for _ in 0..<100 {
            let seconds = Timestamp.now().timeIntervalSince1970
            #expect((seconds * 1_000).rounded(.down) / 1_000 == seconds)
        }
    }
}
