import Foundation

/// Event times on the wire: RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T09:15:02.123Z`.
///
/// Times are whole milliseconds. Formatting rounds to the nearest millisecond, so that a time
/// read back from its text formats to the same text: `Date` holds binary fractions, and a
/// truncating formatter would turn `.912` into `.911`.
public enum Timestamp {
    private static let wholeSeconds = Date.ISO8601FormatStyle(timeZone: .gmt)

    /// The time as whole milliseconds since 1970.
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// Formats a time to the millisecond.
    public static func format(_ date: Date) -> String {
        let total = milliseconds(date)
        // Floored, so that times before 1970 keep a fraction between 0 and 999.
        let fraction = ((total % 1000) + 1000) % 1000
        let seconds = (total - fraction) / 1000
        let base = Date(timeIntervalSince1970: Double(seconds)).formatted(wholeSeconds)
        let digits = String(fraction)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// Reads a time written by ``format(_:)``, or the same without milliseconds.
    public static func parse(_ text: String) -> Date? {
        guard text.hasSuffix("Z") else { return nil }
        var base = String(text.dropLast())
        var fraction: Int64 = 0
        if let dot = base.lastIndex(of: ".") {
            let digits = base[base.index(after: dot)...]
            guard (1...3).contains(digits.count), digits.allSatisfy(\.isASCII), let value = Int64(digits) else { return nil }
            fraction = value * [100, 10, 1][digits.count - 1]
            base = String(base[..<dot])
        }
        guard let seconds = try? wholeSeconds.parse(base + "Z") else { return nil }
        return Date(timeIntervalSince1970: Double(milliseconds(seconds) + fraction) / 1000)
    }

    /// The current time, to the millisecond, so that it survives a round trip unchanged.
    public static func now() -> Date {
        Date(timeIntervalSince1970: Double(milliseconds(Date())) / 1000)
    }
}
