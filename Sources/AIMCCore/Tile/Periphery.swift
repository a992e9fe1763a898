/// Where the noise of one analog read comes from: a stream key (seed, purpose, layer, block, array) and
/// the counter words (step, first sample). Sample b of the batch, bound-management round i, uses the
/// stream with counter (step, firstSample + b, i), so a result never depends on which rank computed it.
public struct NoiseSource: Sendable {
    public var key: StreamKey
    public var step: UInt32
    public var firstSample: UInt32

    public init(key: StreamKey, step: UInt32, firstSample: UInt32 = 0) {
        self.key = key
        self.step = step
        self.firstSample = firstSample
    }

    @inlinable
    func stream(sample: Int, round: Int) -> RandomStream {
        RandomStream(key: key, counter: (step, firstSample &+ UInt32(truncatingIfNeeded: sample), UInt32(round)))
    }
}

/// Reusable buffers for the periphery, so a step allocates nothing.
public final class PeripheryScratch {
    var quantised: [Float] = []
    var raw: [Float] = []
    var row: [Float] = []
    public init() {}

    @inline(__always)
    static func ensure(_ a: inout [Float], _ n: Int) {
        if a.count < n { a = [Float](repeating: 0, count: n) }
    }
}

/// Counts of reads through a periphery, for per-tile telemetry and the cost estimate. Filled by `Periphery.multiply`
/// and `Periphery.readOneHot` when given one; counting changes no result and draws no random number.
public struct ReadStatistics: Sendable, Equatable {
    /// Vectors read (one per sample of a batch, or one per one-hot column read), first rounds only.
    public var reads: UInt64 = 0
    /// Extra rounds of iterative bound management (a read repeated with its input halved).
    public var repeats: UInt64 = 0
    /// Outputs the ADC converted (every round), and those beyond the output bound (clipped by the ADC).
    public var outputs: UInt64 = 0
    public var outputsClipped: UInt64 = 0
    /// Inputs the DAC converted (every round), and those beyond the input bound (clipped by the DAC).
    public var inputs: UInt64 = 0
    public var inputsClipped: UInt64 = 0
    public init() {}
    public static func += (a: inout ReadStatistics, b: ReadStatistics) {
        a.reads &+= b.reads
        a.repeats &+= b.repeats
        a.outputs &+= b.outputs
        a.outputsClipped &+= b.outputsClipped
        a.inputs &+= b.inputs
        a.inputsClipped &+= b.inputsClipped
    }
}

/// Analog matrix-vector products through a tile's periphery, batched (aihwkit's ForwardBackwardPassIOManaged,
/// per-sample semantics; paper Table 4):
///
/// 1. noise management: s = max_j |x_j| (abs-max) or 1; an all-zero input gives an exact zero output;
/// 2. DAC: v = clip(round(x / (s * r)) quantised to steps of 2 * inp_bound * inp_res, +-inp_bound), round half to even;
/// 3. analog MVM y = W v plus N(0, out_noise^2) per output;
/// 4. ADC: quantise to steps of 2 * out_bound * out_res, clip to +-out_bound;
/// 5. bound management (forward only): if any output saturates, repeat with r doubled (r = 1, 2, 4, 8, 16;
///    the fifth result is accepted as is);
/// 6. digital rescale y * s * r.
public enum Periphery {
    /// y = W x for every sample of a batch, through the periphery.
    ///
    /// - Parameters:
    ///   - weights: W, `rows` x `cols`, row-major (the tile's effective weights, conductance units).
    ///   - input: x of sample b at `input[b * inputStride + j]`, j in 0..<cols.
    ///   - output: y of sample b at `output[b * rows + i]` (overwritten).
    ///   - transposed: false for forward (y = W x, x has `cols` entries); true for backward (z = W^T d,
    ///     d has `rows` entries, z has `cols`): then input rows have `rows` entries and outputs `cols`.
    public static func multiply(weights: UnsafePointer<Float>, rows: Int, cols: Int, transposed: Bool,
                                input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                                output: UnsafeMutablePointer<Float>, io: IOConfig, noise: NoiseSource,
                                scratch: PeripheryScratch) {
        var unused = ReadStatistics()
        multiply(weights: weights, rows: rows, cols: cols, transposed: transposed, input: input, inputStride: inputStride,
                 batch: batch, output: output, io: io, noise: noise, scratch: scratch, statistics: &unused)
    }

    /// `multiply`, adding its reads, bound-management repeats and clipped converter values to `statistics` (an
    /// ideal periphery counts reads and conversions, none clipped; an all-zero input under abs-max noise management
    /// is a read without conversions).
    public static func multiply(weights: UnsafePointer<Float>, rows: Int, cols: Int, transposed: Bool,
                                input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                                output: UnsafeMutablePointer<Float>, io: IOConfig, noise: NoiseSource,
                                scratch: PeripheryScratch, statistics: inout ReadStatistics) {
        let nIn = transposed ? rows : cols
        let nOut = transposed ? cols : rows
        guard batch > 0, nOut > 0 else { return }
        statistics.reads &+= UInt64(batch)
        if io.isPerfect {
            statistics.inputs &+= UInt64(batch * nIn)
            statistics.outputs &+= UInt64(batch * nOut)
            Linear.batchedMatVec(transW: transposed, rows: rows, cols: cols, w: weights, ldw: cols, batch: batch,
                                 x: input, ldx: inputStride, y: output, ldy: nOut)
            return
        }
        let inLevels = io.inpRes > 0 ? Float(1 / (io.inpRes * 2 * io.inpBound)) : 0
        let outLevels = io.outRes > 0 ? Float(1 / (io.outRes * 2 * io.outBound)) : 0
        let inBound = Float(io.inpBound), outBound = Float(io.outBound), sigma = Float(io.outNoise)
        let managed = io.noiseManagement == .absMax
        let rounds = io.boundManagement == .iterative ? 5 : 1
        var stats = ReadStatistics()

        PeripheryScratch.ensure(&scratch.quantised, batch * nIn)
        PeripheryScratch.ensure(&scratch.raw, batch * nOut)
        PeripheryScratch.ensure(&scratch.row, nIn)
        scratch.quantised.withUnsafeMutableBufferPointer { qb in
            scratch.raw.withUnsafeMutableBufferPointer { rb in
                scratch.row.withUnsafeMutableBufferPointer { rowb in
                    let q = qb.baseAddress!, raw = rb.baseAddress!, rowBuf = rowb.baseAddress!
                    // Scales and first-round DAC for the whole batch, then the products.
                    var scales = [Float](repeating: 1, count: batch)
                    for b in 0..<batch {
                        let x = input + b * inputStride
                        var s: Float = 1
                        if managed {
                            var m: Float = 0
                            for j in 0..<nIn { m = max(m, abs(x[j])) }
                            s = m
                        }
                        scales[b] = s
                        let inClipped = dac(x, count: nIn, scale: s, levels: inLevels, bound: inBound, into: q + b * nIn, counting: !managed)
                        // An all-zero input under noise management is answered with zeros (below): no conversion.
                        if managed && s == 0 { continue }
                        stats.inputs &+= UInt64(nIn)
                        stats.inputsClipped &+= UInt64(inClipped)
                    }
                    Linear.batchedMatVec(transW: transposed, rows: rows, cols: cols, w: weights, ldw: cols,
                                         batch: batch, x: q, ldx: nIn, y: raw, ldy: nOut)
                    for b in 0..<batch {
                        let y = output + b * nOut
                        let s = scales[b]
                        if managed && s == 0 {
                            for i in 0..<nOut { y[i] = 0 }
                            continue
                        }
                        var reduction: Float = 1
                        var stream = noise.stream(sample: b, round: 0)
                        var clipped = adc(raw + b * nOut, count: nOut, sigma: sigma, levels: outLevels,
                                          bound: outBound, stream: &stream, into: y)
                        stats.outputs &+= UInt64(nOut)
                        stats.outputsClipped &+= UInt64(clipped)
                        var round = 1
                        while clipped > 0 && round < rounds {
                            reduction *= 2
                            let inClipped = dac(input + b * inputStride, count: nIn, scale: s * reduction, levels: inLevels,
                                                bound: inBound, into: rowBuf, counting: !managed)
                            Linear.batchedMatVec(transW: transposed, rows: rows, cols: cols, w: weights,
                                                 ldw: cols, batch: 1, x: rowBuf, ldx: nIn, y: y, ldy: nOut)
                            var s2 = noise.stream(sample: b, round: round)
                            clipped = adc(y, count: nOut, sigma: sigma, levels: outLevels, bound: outBound,
                                          stream: &s2, into: y)
                            stats.repeats &+= 1
                            stats.inputs &+= UInt64(nIn)
                            stats.inputsClipped &+= UInt64(inClipped)
                            stats.outputs &+= UInt64(nOut)
                            stats.outputsClipped &+= UInt64(clipped)
                            round += 1
                        }
                        let rescale = s * reduction
                        if rescale != 1 { for i in 0..<nOut { y[i] *= rescale } }
                    }
                }
            }
        }
        statistics += stats
    }

    /// A read of analog values with a one-hot input (a transfer read: "one column of P, read by a noisy MVM with
    /// one-hot input", paper Section 4): the values get the output noise and the ADC in place. Noise management and
    /// bound management do not act on a one-hot read. Noise comes from the stream of sample `index`, round 0.
    ///
    /// - Parameters:
    ///   - values: the column's weights (rows entries), replaced by what the periphery reads.
    public static func readOneHot(_ values: UnsafeMutablePointer<Float>, count: Int, index: Int, io: IOConfig,
                                  noise: NoiseSource) {
        var unused = ReadStatistics()
        readOneHot(values, count: count, index: index, io: io, noise: noise, statistics: &unused)
    }

    /// `readOneHot`, adding the read (one vector, `count` outputs, one input) and its clipped outputs to `statistics`.
    public static func readOneHot(_ values: UnsafeMutablePointer<Float>, count: Int, index: Int, io: IOConfig,
                                  noise: NoiseSource, statistics: inout ReadStatistics) {
        statistics.reads &+= 1
        statistics.inputs &+= 1
        statistics.outputs &+= UInt64(count)
        if io.isPerfect { return }
        let outLevels = io.outRes > 0 ? Float(1 / (io.outRes * 2 * io.outBound)) : 0
        var stream = noise.stream(sample: index, round: 0)
        statistics.outputsClipped &+= UInt64(adc(values, count: count, sigma: Float(io.outNoise), levels: outLevels,
                                                 bound: Float(io.outBound), stream: &stream, into: values))
    }

    /// DAC: x / scale, quantised to 1/levels (round half to even), clipped to +-bound. Returns how many inputs the
    /// bound clipped (|x / scale| > bound after quantisation) when `counting`, else 0: under abs-max noise management
    /// (which requires inp_bound 1) |x / scale| <= 1 up to rounding and nothing is clipped: the loop stays as fast as without.
    @inline(__always) @discardableResult
    static func dac(_ x: UnsafePointer<Float>, count: Int, scale: Float, levels: Float, bound: Float,
                    into v: UnsafeMutablePointer<Float>, counting: Bool = true) -> Int {
        let inv: Float = scale > 0 ? 1 / scale : 0
        var clipped = 0
        if counting {
            for j in 0..<count {
                var u = x[j] * inv
                if levels > 0 { u = (u * levels).rounded(.toNearestOrEven) / levels }
                clipped &+= abs(u) > bound ? 1 : 0
                v[j] = min(max(u, -bound), bound)
            }
        } else {
            for j in 0..<count {
                var u = x[j] * inv
                if levels > 0 { u = (u * levels).rounded(.toNearestOrEven) / levels }
                v[j] = min(max(u, -bound), bound)
            }
        }
        return clipped
    }

    /// Output noise, ADC quantisation and clipping. Returns how many outputs saturated (|y| > bound after
    /// quantisation, before clipping).
    @inline(__always)
    static func adc(_ y: UnsafePointer<Float>, count: Int, sigma: Float, levels: Float, bound: Float,
                    stream: inout RandomStream, into out: UnsafeMutablePointer<Float>) -> Int {
        var clipped = 0
        for i in 0..<count {
            var u = y[i]
            if sigma > 0 { u += sigma * stream.nextNormal() }
            if levels > 0 { u = (u * levels).rounded(.toNearestOrEven) / levels }
            if abs(u) > bound { clipped &+= 1; u = min(max(u, -bound), bound) }
            out[i] = u
        }
        return clipped
    }
}
