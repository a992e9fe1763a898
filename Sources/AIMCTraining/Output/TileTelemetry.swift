import AIMCCore
import Foundation

/// Per-tile telemetry: what each tile (one analog array of a weight block) was drawn as and what it did, one row
/// per tile per record in the run folder's `tiles.csv`.
///
/// Each owner measures its own tiles at a record point (O(devices) work on the owner), packs one fixed-width
/// record per tile (`wordsPerTile` 64-bit words: O(tiles) bytes, never O(devices)) and the records are gathered to
/// the coordinator, which writes them in global block order. Every value is computed by the tile's owner from the
/// tile alone, in a fixed order, so the file is the same at any rank count and placement but for the owner column.
/// Measuring reads the arrays only: it draws no random number and changes no state.
public enum TileTelemetry {
    /// A column of `tiles.csv`: its name, unit and meaning (the file's comment header lists them).
    public struct Column: Sendable {
        public let name: String
        public let unit: String
        public let meaning: String
    }

    /// Static values per tile: t2t draws (3), d2d means and standard deviations (8), devices without a symmetric point.
    static let staticCount = 12
    /// Values measured at each record: saturation, weight mean/std/min/max, mean |w - w_sym|, Frobenius norm.
    static let measureCount = 7
    /// 64-bit words of one tile's record in the gather: statics, measures, counters (`TileCounters.values`).
    public static let wordsPerTile = staticCount + measureCount + TileCounters.names.count

    /// The columns of `tiles.csv`, in order.
    public static let columns: [Column] = [
        Column(name: "record", unit: "count", meaning: "record number: 0 before training, then one per record point"),
        Column(name: "epoch", unit: "count", meaning: "the epoch the record belongs to (0 before training)"),
        Column(name: "step", unit: "count", meaning: "training steps (mini-batches) done"),
        Column(name: "layer", unit: "index", meaning: "layer, 1 = the input layer (as `plan` numbers them)"),
        Column(name: "block", unit: "index", meaning: "global block index (as `plan` numbers them)"),
        Column(name: "block_row", unit: "index", meaning: "row of the block in the layer's grid (output slice)"),
        Column(name: "block_col", unit: "index", meaning: "column of the block in the layer's grid (input slice)"),
        Column(name: "array", unit: "role", meaning: "the tile's array in its block: W, P, W1, W2, ..."),
        Column(name: "rows", unit: "devices", meaning: "tile rows (outputs)"),
        Column(name: "cols", unit: "devices", meaning: "tile columns (inputs)"),
        Column(name: "owner_rank", unit: "rank", meaning: "MPI rank that holds the tile (depends on ranks and placement)"),
        Column(name: "t2t_dw_min_gain", unit: "ratio", meaning: "drawn tile-to-tile gain on dw_min, |1 + t2t_dw_min xi|"),
        Column(name: "t2t_symmetric_point_shift", unit: "w", meaning: "drawn tile-to-tile shift of the symmetric point, t2t_symmetric_point xi"),
        Column(name: "t2t_range_scale", unit: "ratio", meaning: "drawn tile-to-tile scale of both bounds, |1 + t2t_range xi|"),
        Column(name: "d2d_dw_min_mean", unit: "w", meaning: "mean over devices of each device's dw_min"),
        Column(name: "d2d_dw_min_std", unit: "w", meaning: "standard deviation over devices of dw_min"),
        Column(name: "d2d_w_max_mean", unit: "w", meaning: "mean of each device's upper bound w_max"),
        Column(name: "d2d_w_max_std", unit: "w", meaning: "standard deviation of w_max"),
        Column(name: "d2d_w_min_mean", unit: "w", meaning: "mean of each device's lower bound w_min"),
        Column(name: "d2d_w_min_std", unit: "w", meaning: "standard deviation of w_min"),
        Column(name: "d2d_symmetric_point_mean", unit: "w", meaning: "mean of each device's symmetric point (devices with one in range; nan if none)"),
        Column(name: "d2d_symmetric_point_std", unit: "w", meaning: "standard deviation of the symmetric points"),
        Column(name: "devices_without_symmetric_point", unit: "count", meaning: "devices whose G = (q_- - q_+)/2 keeps its sign in range"),
        Column(name: "zero_shift_pulses", unit: "count", meaning: "pulses spent zero-shifting the tile (pulsed zero-shifting)"),
        Column(name: "gradient_pulses", unit: "count", meaning: "device pulses fired by gradient updates, since the start"),
        Column(name: "transfer_pulses", unit: "count", meaning: "device pulses fired by transfers into the tile, since the start"),
        Column(name: "clipped_pulses", unit: "count", meaning: "of those pulses, the ones a device bound cut short"),
        Column(name: "gradient_updates", unit: "count", meaning: "gradient updates of the tile (one per sample, or per mini-batch)"),
        Column(name: "transfer_updates", unit: "count", meaning: "transfer updates of the tile (one per column moved into it)"),
        Column(name: "pulse_slots", unit: "count", meaning: "pulse slots of all its updates (BL per update)"),
        Column(name: "saturated_fraction", unit: "fraction", meaning: "devices within one of their dw_min of w_max or w_min"),
        Column(name: "w_mean", unit: "w", meaning: "mean weight as reads see it (state minus reference)"),
        Column(name: "w_std", unit: "w", meaning: "standard deviation of the weights"),
        Column(name: "w_min", unit: "w", meaning: "smallest weight"),
        Column(name: "w_max", unit: "w", meaning: "largest weight"),
        Column(name: "mean_abs_w_minus_w_sym", unit: "w", meaning: "mean distance of each device's state from its own symmetric point (devices with one)"),
        Column(name: "frobenius_norm", unit: "w", meaning: "Frobenius norm of the weights (of P: the residual Residual Learning drives to 0)"),
        Column(name: "reads", unit: "count", meaning: "training reads of a vector through the tile (forward, backward, transfer), since the start"),
        Column(name: "bound_management_repeats", unit: "count", meaning: "reads repeated by iterative bound management"),
        Column(name: "adc_clipped_fraction", unit: "fraction", meaning: "of the ADC outputs of those reads, the ones clipped at the output bound (nan: no reads)"),
        Column(name: "dac_clipped_fraction", unit: "fraction", meaning: "of the DAC inputs of those reads, the ones clipped at the input bound (nan: no reads)"),
        Column(name: "eval_reads", unit: "count", meaning: "reads of evaluation (test set), not in the cost"),
        Column(name: "latency_ns", unit: "ns", meaning: "estimated time the tile spent reading and updating (CostModel), since the start"),
        Column(name: "energy_pj", unit: "pJ", meaning: "estimated energy of its reads and pulses (0 unless cost.read_pj or cost.pulse_pj is set)"),
    ]

    /// What `truncate` kept of a resumed run's `tiles.csv`.
    public struct Kept: Sendable, Equatable {
        /// Whole records kept (the next record's number).
        public let records: Int
        /// Why rows of steps up to the checkpoint's were dropped (a damaged row or an incomplete record), nil when none
        /// was: the first problem, its line number (1-based, in the file as it was) and what was kept.
        public let problem: String?
    }

    /// Cuts `tiles.csv` in a resumed run folder back to the records of steps up to `step` (the checkpoint's: later
    /// records are made again), rewriting it whole as `header(config)` followed by the records kept; a missing,
    /// unreadable or empty file starts anew with `header(config)`.
    ///
    /// The file is checked as it is read (any line ending; bytes that are not UTF-8 count as damage): its header row
    /// must be this version's (`columns`); each row must have one cell per column, a number in every cell but
    /// `array` (a role label of letters and digits), integer record, epoch and step, the same epoch and step as the
    /// other rows of its record; records are numbered 0, 1, 2, ... in the file's order with steps that do not
    /// decrease, and each has as many rows as record 0 (one per tile; `tilesPerRecord` when given). The file is kept
    /// up to its first line that breaks a rule (the record before it kept if whole): what follows is dropped, and
    /// `Kept.problem` says where and what, for the run to report, but only when records of steps up to the
    /// checkpoint's were lost (rows after the checkpoint's step are made again, so their damage loses nothing: a run
    /// killed while it appended a record leaves a row cut short).
    /// - Parameters:
    ///   - tilesPerRecord: rows of one record (tiles of the layout), or nil to take record 0's count.
    /// - Returns: the records kept and the problem found, if any.
    /// - Throws: `OutputError` when the file cannot be written.
    public static func truncate(in directory: RunDirectory, throughStep step: Int64, config: ExperimentConfig,
                                tilesPerRecord: Int? = nil) throws(OutputError) -> Kept {
        let path = (directory.path as NSString).appendingPathComponent("tiles.csv")
        let fresh = header(config)
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else {
            try directory.write("tiles.csv", text: fresh)
            return Kept(records: 0, problem: nil)
        }
        let expectedHeader = columns.map(\.name).joined(separator: ",")
        let arrayColumn = columns.firstIndex { $0.name == "array" } ?? 7
        var kept = fresh, problem: String? = nil, seenHeader = false
        // The record being read (its rows wait in `pending` until it is whole), its first line, epoch and step.
        var pending = "", pendingRows = 0, current = -1, perRecord = tilesPerRecord, records = 0
        var pendingLine = 0, pendingEpoch = 0, pendingStep: Int64 = -1, lastStep: Int64 = -1
        // The first row after the checkpoint's step (line, step): what follows is made again, unless a later row
        // has a step up to the checkpoint's, which shows the steps out of order.
        var after: (line: Int, step: Int64)? = nil
        func close() -> Bool {
            guard current >= 0, pendingRows > 0 else { return true }
            if perRecord == nil { perRecord = pendingRows }
            guard pendingRows == perRecord else {
                problem = "line \(pendingLine): record \(current) has \(pendingRows) row(s), not \(perRecord!) (one per tile)"
                return false
            }
            kept += pending
            records = current + 1
            lastStep = pendingStep
            pending = ""; pendingRows = 0
            return true
        }
        // Whole lines of any ending (Swift reads "\r\n" as one character); bytes that are not UTF-8 become U+FFFD,
        // which no cell accepts.
        let text = String(decoding: data, as: UTF8.self)
        var lineNumber = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            if !seenHeader {
                seenHeader = true
                guard line == expectedHeader else {
                    problem = "line \(lineNumber): the header row is not this version's (\(columns.count) columns from record to energy_pj)"
                    break
                }
                continue
            }
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            let rowStep = cells.count > 3 ? Int64(cells[2]) : nil
            if let a = after {
                if let s = rowStep, s <= step {
                    problem = "line \(a.line): step \(a.step) (after the checkpoint's) is followed by step \(s) on line \(lineNumber): "
                        + "the steps are out of order"
                    break
                }
                continue
            }
            if let s = rowStep, s > step {
                guard close() else { break }
                after = (lineNumber, s)
                continue
            }
            let numbers = cells.indices.allSatisfy { i in
                i == arrayColumn ? !cells[i].isEmpty && cells[i].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
                    : Double(cells[i]) != nil
            }
            guard cells.count == columns.count, numbers, let record = Int(cells[0]), let epoch = Int(cells[1]), let s = Int64(cells[2]) else {
                if let n = perRecord, pendingRows == n { _ = close() }    // a whole record before the damage stays
                problem = "line \(lineNumber) is damaged (\(cells.count) of \(columns.count) cells, a cell that is not a number, "
                    + "or record, epoch or step not an integer)"
                break
            }
            if record != current {
                guard close() else { break }
                guard record == current + 1 else {
                    problem = current < 0 ? "line \(lineNumber): the first record is \(record), not 0"
                        : "line \(lineNumber): record \(record) follows record \(current)"
                    break
                }
                guard s >= lastStep else {
                    problem = "line \(lineNumber): record \(record) is of step \(s), before the previous record's \(lastStep)"
                    break
                }
                current = record; pendingLine = lineNumber; pendingEpoch = epoch; pendingStep = s
            } else if epoch != pendingEpoch || s != pendingStep {
                problem = "line \(lineNumber): a row of record \(record) with epoch \(epoch) and step \(s), not \(pendingEpoch) and \(pendingStep)"
                break
            }
            pending += line + "\n"
            pendingRows += 1
        }
        if problem == nil { _ = close() }
        // Damage after a whole record of the checkpoint's step loses nothing up to it (steps do not decrease).
        if lastStep >= step { problem = nil }
        if let p = problem {
            problem = "tiles.csv: \(p); kept its first \(records) whole record(s), dropped the rest of those up to the checkpoint's "
                + "step \(step) (later records are made again)"
        }
        try directory.write("tiles.csv", text: kept)
        return Kept(records: records, problem: problem)
    }

    /// The comment lines and the header row that start `tiles.csv` (read it with `pandas.read_csv(path, comment="#")`).
    public static func header(_ config: ExperimentConfig) -> String {
        var s = "# tiles.csv of aimc-dist: one row per tile (one analog array of a weight block) per record; "
            + "counts are cumulative since the start of the run. Read with pandas.read_csv(path, comment=\"#\").\n"
        let c = config.cost
        s += "# cost model (CostModel): read \(Report.g(c.readNs)) ns and \(Report.g(c.readPj)) pJ per read, pulse slot \(Report.g(c.pulseSlotNs)) ns, "
            + "update overhead \(Report.g(c.updateOverheadNs)) ns, \(Report.g(c.pulsePj)) pJ per device pulse. Unit w: the simulator's weight "
            + "(conductance) unit.\n"
        for col in columns { s += "# \(col.name) [\(col.unit)]: \(col.meaning)\n" }
        return s + columns.map(\.name).joined(separator: ",") + "\n"
    }

    /// What the coordinator gathered: every tile in global block order (arrays in order within a block).
    public struct Gathered: Sendable {
        public struct Tile: Sendable {
            public let block: Int
            public let array: Int
            /// `staticCount` statics then `measureCount` measures (empty when only counters were gathered).
            public let values: [Double]
            public let counters: TileCounters
        }
        public let tiles: [Tile]
    }

    /// The rows of one record.
    public static func rows(_ report: Gathered, record: Int, epoch: Int, step: Int64, config: ExperimentConfig, layout: NetworkLayout,
                            placement: Placement) -> String {
        let roles = config.algorithm.type.roles(config.algorithm)
        let cost = CostModel(config.cost)
        var out = ""
        out.reserveCapacity(report.tiles.count * 480)
        for t in report.tiles {
            let info = layout.blocks[t.block]
            let v = t.values, c = t.counters
            let reads = c.trainingReads, pulses = c.pulses
            let estimate = cost.tile(c)
            var cells: [String] = ["\(record)", "\(epoch)", "\(step)", "\(info.layer + 1)", "\(t.block)", "\(info.rowBlock)", "\(info.colBlock)",
                                   roles[t.array].label, "\(info.rows)", "\(info.cols)", "\(placement.owner[t.block])"]
            cells += v[0..<(staticCount - 1)].map(number)
            cells += ["\(Int(v[staticCount - 1]))", "\(c.zeroShiftPulses)", "\(c.gradient.coincidences)", "\(c.transfer.coincidences)",
                      "\(pulses.clipped)", "\(c.gradient.updates)", "\(c.transfer.updates)", "\(pulses.slots)"]
            cells += v[staticCount..<(staticCount + measureCount)].map(number)
            cells += ["\(reads.reads)", "\(reads.boundManagementRepeats)",
                      number(reads.outputs == 0 ? .nan : Double(reads.clippedOutputs) / Double(reads.outputs)),
                      number(reads.inputs == 0 ? .nan : Double(reads.clippedInputs) / Double(reads.inputs)),
                      "\(c.evaluation.reads)", number(estimate.latencyNs), number(estimate.energyPj)]
            out += cells.joined(separator: ",") + "\n"
        }
        return out
    }

    /// A value in Swift's shortest round-trip form (equal doubles give equal text; integral values without ".0").
    static func number(_ d: Double) -> String {
        if d.isFinite && d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    /// Bytes gathered to the coordinator per record for `tiles` tiles.
    public static func recordBytes(tiles: Int) -> Int { tiles * wordsPerTile * 8 }

    /// Rough bytes of `tiles.csv` per record (about 350 characters per row).
    public static func fileBytesPerRecord(tiles: Int) -> Int { tiles * 350 }

    /// Extra bytes per device the telemetry keeps on the owner: a cached symmetric point per device for families
    /// without a closed form (power, exponential, tables: bisection is too slow to repeat at every record).
    public static func bytesPerDevice(_ config: ExperimentConfig) -> Int {
        guard config.telemetry.tiles, config.algorithm.arrayCount > 0 else { return 0 }
        return BlockMonitor.hasClosedForm(config.device.family) ? 0 : 4 * config.algorithm.arrayCount
    }
}

/// The telemetry of one block on its owner: each tile's static description (drawn t2t factors, d2d summary,
/// symmetric points), computed once, and the measurement at a record.
final class BlockMonitor {
    let block: WeightBlock
    /// Per array: the statics (`TileTelemetry.staticCount` values) and, for families without a closed-form symmetric
    /// point, each device's symmetric point (NaN: none in range; +inf: symmetric everywhere).
    let statics: [[Double]]
    let symmetricPoints: [[Float]?]

    static func hasClosedForm(_ family: DeviceConfig.Family) -> Bool {
        [.constantStep, .softBounds, .linearStep].contains(family)
    }

    /// A device's symmetric point as stored: the point, NaN for none in range, +inf for everywhere (start 0, as
    /// ideal zero-shifting takes it).
    @inline(__always)
    static func symmetricPoint(_ model: DeviceModel, _ c: DeviceCell) -> Float {
        switch model.symmetricPoint(c, from: 0) {
        case .point(let w): return w
        case .everywhere: return .infinity
        case .none: return .nan
        }
    }

    init(block: WeightBlock) {
        self.block = block
        var statics = [[Double]](), points = [[Float]?]()
        for a in block.arrays {
            let n = a.count
            let closed = Self.hasClosedForm(a.device.family)
            var cache: [Float]? = closed ? nil : [Float](repeating: 0, count: n)
            var dw = Moments(), hi = Moments(), lo = Moments(), sym = Moments()
            var without = 0
            a.forEachCells { start, count, cells in
                for k in 0..<count {
                    let c = cells[k]
                    dw.add(c.dw)
                    hi.add(c.wMax)
                    lo.add(c.wMin)
                    let p = Self.symmetricPoint(a.model, c)
                    cache?[start + k] = p
                    if p.isNaN { without += 1 } else if p.isFinite { sym.add(p) }
                }
            }
            statics.append([Double(a.tile.gain), Double(a.tile.shift), Double(a.tile.rangeScale), dw.mean, dw.std, hi.mean, hi.std,
                            lo.mean, lo.std, sym.mean, sym.std, Double(without)])
            points.append(cache)
        }
        self.statics = statics
        symmetricPoints = points
    }

    /// The record values of array k: fraction of devices within one dw_min of a bound, weight mean, std, min, max,
    /// mean |w - w_sym| over devices with a symmetric point (NaN if none), Frobenius norm. One pass, sums in Double in
    /// device order.
    func measure(_ k: Int) -> [Double] {
        let a = block.arrays[k]
        let n = a.count
        let model = a.model
        let reference = a.reference
        let cache = symmetricPoints[k]
        var weights = Moments()
        var low = Float.infinity, high = -Float.infinity
        var saturated = 0, distance = 0.0, withPoint = 0
        a.forEachCells { start, count, cells in
            for k in 0..<count {
                let i = start + k
                let c = cells[k], w = a.weights[i]
                let v = w - (reference?[i] ?? 0)
                weights.add(v)
                low = min(low, v)
                high = max(high, v)
                if w >= c.wMax - c.dw || w <= c.wMin + c.dw { saturated += 1 }
                let p = cache?[i] ?? Self.symmetricPoint(model, c)
                if p.isNaN { continue }
                withPoint += 1
                if p.isFinite { distance += Double(abs(w - p)) }
            }
        }
        return [Double(saturated) / Double(n), weights.mean, weights.std, Double(low), Double(high),
                withPoint == 0 ? .nan : distance / Double(withPoint), weights.sumOfSquares.squareRoot()]
    }

    /// Sums for a mean and a (population) standard deviation, in Double.
    struct Moments {
        var count = 0, sum = 0.0, sumOfSquares = 0.0
        @inline(__always) mutating func add(_ x: Float) {
            let d = Double(x)
            count += 1
            sum += d
            sumOfSquares += d * d
        }
        var mean: Double { count == 0 ? .nan : sum / Double(count) }
        var std: Double { count == 0 ? .nan : max(sumOfSquares / Double(count) - mean * mean, 0).squareRoot() }
    }
}
