import Foundation

/// A measured response: points (w_k, q_+(w_k), q_-(w_k)) with w strictly increasing and q > 0, interpolated
/// linearly in w and held constant beyond the first and last point (the `piecewise` family). Values are kept as
/// given (Double, so a configuration records them exactly); the simulator uses them as Float, so each must be a
/// finite Float (w may be 0; a nonzero magnitude at least Float's smallest normal, about 1.2e-38), w must still
/// increase strictly after rounding to Float, and q may be at most `DeviceCell.largestFactor` (1e22).
public struct PiecewiseTable: Sendable, Equatable {
    /// Most rows a table may have: 10,000 rows keep a run's config.json, which embeds the table
    /// (about 100 bytes a row), under the 1 MiB that configuration files may have.
    public static let maximumRows = 10_000
    /// Largest table file read (1 MiB, like configuration files); checked before the file is read.
    public static let maximumFileSize = 1 << 20

    public let w: [Double]
    public let qPlus: [Double]
    public let qMinus: [Double]

    /// - Parameters:
    ///   - source: names the table in errors (a file, or the configuration keys of the points).
    ///   - key, option: the configuration key and command-line option errors name.
    /// - Throws: `ConfigError` if there are fewer than 2 or more than `maximumRows` points, the three lists differ
    ///   in length, or a point is invalid.
    public init(w: [Double], qPlus: [Double], qMinus: [Double], source: String = "table",
                key: String = "device.piecewise_table", option: String? = "--piecewise-table") throws(ConfigError) {
        guard w.count >= 2, w.count == qPlus.count, w.count == qMinus.count else {
            let counts = w.count == qPlus.count && w.count == qMinus.count
                ? "got \(w.count)" : "got \(w.count) w, \(qPlus.count) q_plus and \(qMinus.count) q_minus values"
            throw ConfigError(key: key, option: option, message: "\(source) needs at least 2 rows of (w, q_plus, q_minus); \(counts)")
        }
        guard w.count <= Self.maximumRows else {
            throw ConfigError(key: key, option: option,
                              message: "\(source) has \(w.count) rows; at most \(Self.maximumRows) are allowed (thin the table: linear interpolation needs far fewer)")
        }
        let smallest = Double(Float.leastNormalMagnitude), largest = Double(Float.greatestFiniteMagnitude)
        func representable(_ v: Double) -> Bool { v == 0 || (abs(v) >= smallest && abs(v) <= largest) }
        for k in 0..<w.count {
            guard w[k].isFinite, qPlus[k].isFinite, qMinus[k].isFinite else {
                throw ConfigError(key: key, option: option, message: "\(source) row \(k + 1) is not finite")
            }
            guard representable(w[k]) && representable(qPlus[k]) && representable(qMinus[k]) else {
                throw ConfigError(key: key, option: option,
                                  message: "\(source) row \(k + 1) has a value outside Float's normal range (nonzero magnitudes 1.2e-38...3.4e38): w = \(w[k]), q_plus = \(qPlus[k]), q_minus = \(qMinus[k])")
            }
            if k > 0 && !(Float(w[k]) > Float(w[k - 1])) {
                throw ConfigError(key: key, option: option,
                                  message: "\(source): w must increase strictly (as 32-bit floats); row \(k + 1) has w = \(w[k]) after \(w[k - 1])")
            }
            let cap = DeviceCell.largestFactor
            if !(qPlus[k] > 0 && qMinus[k] > 0 && Float(qPlus[k]) <= cap && Float(qMinus[k]) <= cap) {
                throw ConfigError(key: key, option: option,
                                  message: "\(source): q must lie in (0, 1e22]; row \(k + 1) has q_plus = \(qPlus[k]), q_minus = \(qMinus[k])")
            }
        }
        self.w = w
        self.qPlus = qPlus
        self.qMinus = qMinus
    }

    /// Reads a CSV file of rows `w,q_plus,q_minus` (a non-numeric first row is a header; `#` starts a comment).
    ///
    /// - Throws: `ConfigError` naming `device.piecewise_table` if the file is missing, not a regular file, larger
    ///   than `maximumFileSize` (checked before reading), has more than `maximumRows` rows, or a row is invalid.
    public static func load(path: String) throws(ConfigError) -> PiecewiseTable {
        let key = "device.piecewise_table", option = "--piecewise-table"
        var isDirectory: ObjCBool = false
        if let problem = PathProblem.describe(path), !problem.hasPrefix("does not exist") {
            throw ConfigError(key: key, option: option, message: "cannot read \(path): it \(problem)")
        }
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            let relative = path.hasPrefix("/") ? "" : " (relative to \(FileManager.default.currentDirectoryPath))"
            throw ConfigError(key: key, option: option, message: "cannot read \(path): no such file\(relative)")
        }
        guard !isDirectory.boolValue, let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              attributes[.type] as? FileAttributeType == .typeRegular else {
            throw ConfigError(key: key, option: option, message: "\(path) is not a regular file")
        }
        let tooLarge = "\(path) is larger than \(maximumFileSize) bytes (1 MiB), the limit for a piecewise table "
            + "(at most \(maximumRows) rows of w,q_plus,q_minus); thin the table (fewer rows) before using it"
        if let size = attributes[.size] as? Int, size > maximumFileSize {
            throw ConfigError(key: key, option: option, message: tooLarge)
        }
        // Read at most one byte beyond the limit, so a file that grew after the check is still bounded.
        guard let handle = FileHandle(forReadingAtPath: path),
              let data = try? handle.read(upToCount: maximumFileSize + 1) ?? Data() else {
            throw ConfigError(key: key, option: option, message: "cannot read \(path)")
        }
        try? handle.close()
        if data.count > maximumFileSize { throw ConfigError(key: key, option: option, message: tooLarge) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(key: key, option: option, message: "\(path) is not UTF-8 text")
        }
        var w = [Double](), p = [Double](), m = [Double]()
        for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let cells = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let values = cells.compactMap { Double($0) }
            if values.count != cells.count || cells.count != 3 {
                if w.isEmpty && n == 0 { continue }  // header
                throw ConfigError(key: key, option: option,
                                  message: "\(path) line \(n + 1): expected three numbers w,q_plus,q_minus; got \"\(line)\"")
            }
            if w.count == maximumRows {
                throw ConfigError(key: key, option: option,
                                  message: "\(path) has more than \(maximumRows) rows, the limit for a piecewise table; thin the table (fewer rows) before using it")
            }
            w.append(values[0]); p.append(values[1]); m.append(values[2])
        }
        return try PiecewiseTable(w: w, qPlus: p, qMinus: m, source: path, key: key, option: option)
    }
}
