import Foundation

/// Event times on the wire: RFC 3339 in UTC with milliseconds, e.g. `2026-11-22T09:15:02.123Z`.
///
/// Times are whole milliseconds. Formatting rounds to the nearest millisecond, so that a time
/// read back from its text formats to the same text: `Date` holds binary fractions, and a
/// truncating formatter would turn `.912` into `.911`.
///
/// Every event is formatted and parsed several times on its way through the saga, so both are
/// plain calendar arithmetic on the proleptic Gregorian calendar (years 0000 to 9999), with no
/// formatter, locale or time zone involved.
public enum Timestamp {
    private static let millisecondsPerDay: Int64 = 86_400_000

    /// The time as whole milliseconds since 1970.
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// Formats a time to the millisecond.
    public static func format(_ date: Date) -> String {
        let total = milliseconds(date)
        // Floored, so that times before 1970 keep a time of day between 0 and 86,399,999 ms.
        let days = floorDivision(total, millisecondsPerDay)
        let ofDay = total - days * millisecondsPerDay
        let (year, month, day) = civil(fromDaysSince1970: days)
        var bytes = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int64, at offset: Int, digits: Int) {
            var value = value
            for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 0, digits: 4)
        bytes[4] = UInt8(ascii: "-")
        put(month, at: 5, digits: 2)
        bytes[7] = UInt8(ascii: "-")
        put(day, at: 8, digits: 2)
        bytes[10] = UInt8(ascii: "T")
        put(ofDay / 3_600_000, at: 11, digits: 2)
        bytes[13] = UInt8(ascii: ":")
        put(ofDay / 60_000 % 60, at: 14, digits: 2)
        bytes[16] = UInt8(ascii: ":")
        put(ofDay / 1000 % 60, at: 17, digits: 2)
        bytes[19] = UInt8(ascii: ".")
        put(ofDay % 1000, at: 20, digits: 3)
        bytes[23] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The UTC calendar day of a time, as `YYYY-MM-DD`.
    public static func utcDay(_ date: Date) -> String {
        String(format(date).prefix(10))
    }

    /// Reads a time written by ``format(_:)``, or the same without milliseconds or with one or
    /// two fraction digits; `nil` for anything else.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"),
              bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60
        else { return nil }
        var fraction: Int64 = 0
        let rest = bytes.count - 20  // what lies between the seconds and the Z
        if rest > 0 {
            guard bytes[19] == UInt8(ascii: "."), (2...4).contains(rest), let digits = number(20..<(bytes.count - 1)) else { return nil }
            fraction = digits * [100, 10, 1][rest - 2]
        }
        let days = daysSince1970(year: year, month: month, day: day)
        let total = days * millisecondsPerDay + ((hour * 60 + minute) * 60 + second) * 1000 + fraction
        return Date(timeIntervalSince1970: Double(total) / 1000)
    }

    /// The current time, to the millisecond, so that it survives a round trip unchanged.
    public static func now() -> Date {
        Date(timeIntervalSince1970: Double(milliseconds(Date())) / 1000)
    }

    // MARK: - Calendar arithmetic (Howard Hinnant's days-from-civil algorithms)

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }

    private static func civil(fromDaysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = floorDivision(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let year = month <= 2 ? year - 1 : year
        let era = floorDivision(year, 400)
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
