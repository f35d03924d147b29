import Foundation

/// Event times on the wire: RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T09:15:02.123Z`.
public enum Timestamp {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    /// Formats a time, truncated to the millisecond.
    public static func format(_ date: Date) -> String {
        date.formatted(style)
    }

    /// Reads a time written by ``format(_:)``, with or without milliseconds.
    public static func parse(_ text: String) -> Date? {
        if let date = try? style.parse(text) { return date }
        return try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)
    }

    /// The current time, truncated to the millisecond so that it survives a round trip unchanged.
    public static func now() -> Date {
        Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}
