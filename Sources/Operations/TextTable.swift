import Foundation

/// Column-aligned plain text for terminal output.
public enum TextTable {
    /// Pads every column to its widest cell; the first row is the header. The last column is
    /// not padded, so that long values (reasons, consumer lists) do not leave trailing blanks.
    public static func render(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

extension Duration {
    /// A short human reading: `850ms`, `12.3s`, `4m05s`, `2h10m`, `3d4h`.
    public var compactDescription: String {
        let milliseconds = components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
        switch milliseconds {
        case ..<1_000: return "\(milliseconds)ms"
        case ..<60_000: return "\(milliseconds / 1_000).\((milliseconds % 1_000) / 100)s"
        case ..<3_600_000:
            let seconds = milliseconds / 1_000
            return "\(seconds / 60)m" + String(repeating: "0", count: seconds % 60 < 10 ? 1 : 0) + "\(seconds % 60)s"
        case ..<86_400_000:
            let minutes = milliseconds / 60_000
            return "\(minutes / 60)h\(minutes % 60)m"
        default:
            let hours = milliseconds / 3_600_000
            return "\(hours / 24)d\(hours % 24)h"
        }
    }
}
