import AIMCCore

/// Resets of the transferred columns (aihwkit 1.1.0 `TransferCompound.with_reset_prob`;
/// `TransferRPUDevice::readAndUpdate`): after column k of a source array is read for a transfer, with probability
/// `with_reset_prob` the whole column (every row) of that source is reset to the device's reset point,
/// w_ik = b_ik + reset_std xi, clipped to the device's bounds (`AnalogArray.resetDevices`, aihwkit
/// `PulsedRPUDevice::resetCols`; b_ik = reset + reset_dtod xi per device, `ResetBias`). One decision per column and
/// transfer, for all rows at once, as aihwkit's "COL-wise prob"; the column's read (what moves into the target) is
/// the one taken before the reset.
///
/// Which algorithms: aihwkit's `TransferCompound` honours it, with any gamma and any number of devices (Tiki-Taka,
/// Residual Learning, multi-tile residual learning: the source of every transfer is reset, the gradient array and the
/// intermediate tiles alike, as aihwkit's `rpu_device_vec_[from_device_idx]->resetCols`). Its buffered, chopped and
/// dynamic compounds accept the field and ignore it (`UNUSED(reset_prob_in)` in their `readAndUpdate`; measured on
/// aihwkit 1.1.0's `BufferedTransferCompound` tile: nothing is reset), so Tiki-Taka v2, c-TTv2 and AGAD have no such key.
///
/// A known difference of detail: with `transfer_columns` (aihwkit `n_reads_per_transfer`) above 1, aihwkit draws
/// once per column read but on success resets all the columns of that transfer, so the transfer's later columns
/// are read after the reset (measured: with probability 1 and two reads, the second column moves the reset value
/// into C); here each transferred column is reset after its own read, with probability with_reset_prob, as aihwkit's
/// documentation states. With one column per transfer (aihwkit's default and every preset's) both are the same.
///
/// Draws: key (seed, deviceEffects, block, source, `TransferReset.tag`) at counter (update count of the transfer,
/// column): a uniform u (the column is reset when u < with_reset_prob), then, for a reset column with reset_std > 0,
/// one normal per row in row order. The counters are those the transfer schedule already keeps, so a resumed run
/// draws the same and nothing is added to a checkpoint; no draw at all when with_reset_prob is 0.
public enum TransferReset {
    /// The probability that a transferred column of the source array is reset (aihwkit `with_reset_prob`).
    public static let withResetProb = Parameter<Double>.number(
        "with_reset_prob", option: nil, default: 0, in: 0...1,
        help: "transfers: probability that each transferred column of the source array is reset to reset + reset_std xi after its read "
            + "(aihwkit TransferCompound with_reset_prob)")

    /// The report's note on the resets ("" when with_reset_prob is 0).
    static func describe(_ a: AlgorithmConfig) -> String {
        let p = a[withResetProb]
        return p == 0 ? "" : ", each transferred column reset with probability \(Report.g(p))"
    }

    /// The last id of the key of the reset streams ("RST"), telling them from the array's other device-effect streams.
    static let tag: UInt64 = 0x52_5354
}

extension WeightBlock {
    /// Resets column k of array `source` with probability `probability` after it was read for the transfer after
    /// update `step` (`TransferReset`). Nothing is drawn when `probability` is 0.
    /// - Returns: whether the column was reset.
    @discardableResult
    public func resetTransferredColumn(_ source: Int, column k: Int, probability: Double, step: Int64) -> Bool {
        guard probability > 0 else { return false }
        var s = RandomStream(key: StreamKey(seed: seed, purpose: .deviceEffects, UInt64(info.index), UInt64(source), TransferReset.tag),
                             step: UInt64(bitPattern: step), sub: UInt32(k))
        guard Double(s.nextUInt32()) * 0x1p-32 < probability else { return false }
        arrays[source].resetDevices(columns: k..<(k + 1), stream: &s)
        return true
    }
}
