import AIMCCore

/// Everything counted on one tile (one analog array of a weight block) since the run started: the pulses fired into
/// it by gradient updates and by transfers (with those a bound cut short and the pulse slots driven), and the reads
/// through it (forward and backward reads of training, one-hot transfer reads of it as a source, evaluation reads),
/// with their bound-management repeats and clipped converter values. Plain data, owned by the block per array
/// (`WeightBlock.counters`); counting never draws a random number or changes a result.
///
/// A checkpoint saves and restores it as a fixed list of integers (`values`, in the order of `names`).
public struct TileCounters: Sendable, Equatable {
    /// Pulses of gradient updates into this array (zero in expected mode: no pulse is simulated; the updates and
    /// slots are counted, each update `update.desired_bl` slots).
    public var gradient = PulseStatistics()
    /// Pulses of transfers into this array (column updates, threshold pulses).
    public var transfer = PulseStatistics()
    /// Training reads of the weights this array takes part in (its coefficient in the read weight is nonzero): the
    /// simulator reads the block's mixed weight once through one periphery, and every array in the mixture counts it.
    public var forward = ReadStatistics()
    public var backward = ReadStatistics()
    /// One-hot column reads of this array as the source of a transfer.
    public var transferRead = ReadStatistics()
    /// Forward reads of evaluation (test set), kept apart from training.
    public var evaluation = ReadStatistics()
    /// Pulses spent zero-shifting this array (pulsed zero-shifting only).
    public var zeroShiftPulses: UInt64 = 0

    public init() {}

    /// The reads of training: forward, backward and transfer reads.
    public var trainingReads: ReadStatistics {
        var r = forward
        r += backward
        r += transferRead
        return r
    }

    /// Every pulse fired into the array (gradient and transfer).
    public var pulses: PulseStatistics {
        var p = gradient
        p += transfer
        return p
    }

    static let pulseFields = ["pulses", "visited", "updates", "clipped", "slots"]
    static let readFields = ["reads", "repeats", "outputs", "outputs_clipped", "inputs", "inputs_clipped"]

    /// The names of `values`, in order ("gradient_pulses", ..., "evaluation_inputs_clipped", "zero_shift_pulses").
    public static let names: [String] = pulseFields.map { "gradient_" + $0 } + pulseFields.map { "transfer_" + $0 }
        + ["forward", "backward", "transfer_read", "evaluation"].flatMap { group in readFields.map { group + "_" + $0 } }
        + ["zero_shift_pulses"]

    /// Every counter as a 64-bit integer (the bits of the unsigned count), in the order of `names`.
    public var values: [Int64] {
        func p(_ s: PulseStatistics) -> [UInt64] { [s.coincidences, s.visited, s.updates, s.clipped, s.slots] }
        func r(_ s: ReadStatistics) -> [UInt64] { [s.reads, s.boundManagementRepeats, s.outputs, s.clippedOutputs, s.inputs, s.clippedInputs] }
        let all = p(gradient) + p(transfer) + r(forward) + r(backward) + r(transferRead) + r(evaluation) + [zeroShiftPulses]
        return all.map { Int64(bitPattern: $0) }
    }

    /// The counters `values` recorded.
    /// - Throws: `StateError` when the count of values is not `names.count`.
    public init(values: [Int64]) throws(StateError) {
        guard values.count == Self.names.count else {
            throw StateError("tile counters hold \(values.count) values; this version records \(Self.names.count)")
        }
        let u = values.map { UInt64(bitPattern: $0) }
        func p(_ o: Int) -> PulseStatistics {
            var s = PulseStatistics()
            (s.coincidences, s.visited, s.updates, s.clipped, s.slots) = (u[o], u[o + 1], u[o + 2], u[o + 3], u[o + 4])
            return s
        }
        func r(_ o: Int) -> ReadStatistics {
            var s = ReadStatistics()
            (s.reads, s.boundManagementRepeats, s.outputs, s.clippedOutputs, s.inputs, s.clippedInputs) = (u[o], u[o + 1], u[o + 2], u[o + 3], u[o + 4], u[o + 5])
            return s
        }
        gradient = p(0)
        transfer = p(5)
        forward = r(10)
        backward = r(16)
        transferRead = r(22)
        evaluation = r(28)
        zeroShiftPulses = u[34]
    }
}
