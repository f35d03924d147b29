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

    @Test("format agrees with Foundation's ISO 8601 formatter across two centuries, leap days included")
    func formatAgreesWithFoundation() {
        // Whole seconds from Foundation (its fraction truncates binary fractions), the millisecond by hand.
        let reference = Date.ISO8601FormatStyle(timeZone: .gmt)
        var generator = SplitMix64(seed: 7)
        var instants: [Int64] = [951_782_400_000, 951_868_799_999, 4_107_542_400_000, -2_208_988_800_000]  // 2000-02-29, 2100-03-01, 1900-01-01
        for _ in 0..<2_000 { instants.append(Int64(generator.nextValue() % 7_258_118_400_000) - 2_208_988_800_000) }
        var mismatches: [String] = []
        for milliseconds in instants {
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            let fraction = ((milliseconds % 1000) + 1000) % 1000
            let seconds = Date(timeIntervalSince1970: Double((milliseconds - fraction) / 1000))
            let digits = String(fraction)
            let expected = seconds.formatted(reference).dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
            if Timestamp.format(date) != expected { mismatches.append("\(milliseconds): \(Timestamp.format(date)) != \(expected)") }
            if Timestamp.parse(expected) != date { mismatches.append("parse \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test(
        "parse rejects days and times that do not exist",
        arguments: ["2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-22T24:00:00Z",
                    "2026-11-22T09:60:00Z", "2026-11-22T09:15:60Z", "2026-11-22T09:15:02.1234Z", "2026-11-22T09:15:02.Z",
                    "2026-11-22T09:15:02,123Z", "+026-11-22T09:15:02Z", "2026-11-22T09:15:0aZ"]
    )
    func parseRejectsImpossibleTimes(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("parse accepts a leap day and one or two fraction digits")
    func parseAcceptsLeapDaysAndShortFractions() {
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") == Date(timeIntervalSince1970: 1_709_164_800))
        #expect(Timestamp.parse("2026-11-22T09:15:02.5Z") == Date(timeIntervalSince1970: 1_795_338_902.5))
        #expect(Timestamp.parse("2026-11-22T09:15:02.25Z") == Date(timeIntervalSince1970: 1_795_338_902.25))
    }

    @Test("utcDay is the calendar day in UTC, before and after midnight")
    func utcDay() {
        #expect(Timestamp.utcDay(Date(timeIntervalSince1970: 1_795_305_599.999)) == "2026-11-21")
        #expect(Timestamp.utcDay(Date(timeIntervalSince1970: 1_795_305_600)) == "2026-11-22")
        #expect(Timestamp.utcDay(Date(timeIntervalSince1970: -1)) == "1969-12-31")
    }
}
