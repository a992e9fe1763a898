/// The column transfers of one block (paper Eq. 11 in simulation: one column of the source per transfer, read by a
/// noisy one-hot MVM): which source arrays are due after a step, and the next column of each, cycling 0, 1, ...,
/// cols - 1. Shared by every algorithm that transfers; its column pointers are checkpoint state.
public struct TransferCycle: Sendable {
    /// For source array s = 1...N (entry 0 unused): its period in steps and its rate.
    public let periods: [Int]
    public let rates: [Float]
    /// The next column of each source.
    public private(set) var columns: [Int]
    /// Columns moved at each transfer (transfer_columns, at most the block's columns).
    public let columnsPerTransfer: Int
    let cols: Int

    /// The cycle of `config`'s schedule on a block of `cols` columns (validated: periods <= 1e12).
    public init(_ config: AlgorithmConfig, cols: Int) {
        let schedule = config.transferSchedule
        periods = schedule.periods.map { Int($0) }
        rates = schedule.rates.map { Float($0) }
        columns = Array(repeating: 0, count: periods.count)
        columnsPerTransfer = min(config.transferColumns, cols)
        self.cols = cols
    }

    /// Number of source arrays N.
    public var sources: Int { periods.count - 1 }

    /// Whether source s transfers after training step `step` (0-based): every periods[s] steps.
    public func isDue(_ s: Int, after step: Int64) -> Bool { (step + 1) % Int64(periods[s]) == 0 }

    /// The next column of source s; the pointer moves on.
    public mutating func next(_ s: Int) -> Int {
        let k = columns[s]
        columns[s] = (k + 1) % cols
        return k
    }

    /// The column pointers as checkpoint state.
    public var scalars: [String: ScalarState] { ["columns": .integers(columns.map { Int64($0) })] }

    /// Restores the column pointers.
    public mutating func restore(_ scalars: [String: ScalarState]) throws(StateError) {
        let v = try StateError.integers(scalars, "columns", count: columns.count)
        guard v.allSatisfy({ $0 >= 0 && $0 < cols }) else { throw StateError("a column pointer lies outside 0..<\(cols)") }
        columns = v.map { Int($0) }
    }
}
