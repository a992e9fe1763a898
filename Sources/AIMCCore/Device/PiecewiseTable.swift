import Foundation

/// A measured response: points (w_k, q_+(w_k), q_-(w_k)) with w strictly increasing and q > 0, interpolated
/// linearly in w and held constant beyond the first and last point (the `piecewise` family).
public struct PiecewiseTable: Sendable, Equatable {
    public let w: [Float]
    public let qPlus: [Float]
    public let qMinus: [Float]

    /// - Throws: `ConfigError` naming `device.piecewise_table` if a point is invalid.
    public init(w: [Float], qPlus: [Float], qMinus: [Float], source: String = "table") throws(ConfigError) {
        let key = "device.piecewise_table"
        guard w.count >= 2, w.count == qPlus.count, w.count == qMinus.count else {
            throw ConfigError(key: key, option: "--piecewise-table", message: "\(source) needs at least 2 rows of (w, q_plus, q_minus); got \(w.count)")
        }
        for k in 0..<w.count {
            guard w[k].isFinite, qPlus[k].isFinite, qMinus[k].isFinite else {
                throw ConfigError(key: key, option: "--piecewise-table", message: "\(source) row \(k + 1) is not finite")
            }
            if k > 0 && !(w[k] > w[k - 1]) {
                throw ConfigError(key: key, option: "--piecewise-table",
                                  message: "\(source): w must increase strictly; row \(k + 1) has w = \(w[k]) after \(w[k - 1])")
            }
            if !(qPlus[k] > 0 && qMinus[k] > 0) {
                throw ConfigError(key: key, option: "--piecewise-table",
                                  message: "\(source): q must be positive; row \(k + 1) has q_plus = \(qPlus[k]), q_minus = \(qMinus[k])")
            }
        }
        self.w = w
        self.qPlus = qPlus
        self.qMinus = qMinus
    }

    /// Reads a CSV file of rows `w,q_plus,q_minus` (a non-numeric first row is a header; `#` starts a comment).
    public static func load(path: String) throws(ConfigError) -> PiecewiseTable {
        let key = "device.piecewise_table"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(key: key, option: "--piecewise-table", message: "cannot read \(path)")
        }
        var w = [Float](), p = [Float](), m = [Float]()
        for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let cells = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let values = cells.compactMap { Float($0) }
            if values.count != cells.count || cells.count != 3 {
                if w.isEmpty && n == 0 { continue }  // header
                throw ConfigError(key: key, option: "--piecewise-table",
                                  message: "\(path) line \(n + 1): expected three numbers w,q_plus,q_minus; got \"\(line)\"")
            }
            w.append(values[0]); p.append(values[1]); m.append(values[2])
        }
        return try PiecewiseTable(w: w, qPlus: p, qMinus: m, source: path)
    }
}
