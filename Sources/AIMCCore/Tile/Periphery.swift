import CPulseKernels

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

/// What the periphery did during reads: telemetry a caller accumulates per tile and direction. Observing it changes no
/// result and no random stream (the counts are taken from values the read computes anyway).
public struct ReadStatistics: Sendable, Equatable {
    /// Vectors read (samples; a bound-management repeat is not a new read).
    public var reads: UInt64 = 0
    /// Inputs converted by the DAC, bound-management repeats included (one-hot transfer reads convert none).
    public var inputs: UInt64 = 0
    /// DAC inputs clipped at +-inp_bound (|x / (s r)| quantised beyond the bound), repeats included.
    public var clippedInputs: UInt64 = 0
    /// Outputs delivered.
    public var outputs: UInt64 = 0
    /// Delivered outputs the ADC clipped at +-out_bound (in the round that was accepted).
    public var clippedOutputs: UInt64 = 0
    /// Bound-management repeats: analog MVMs rerun with the input halved again (paper Table 4, aihwkit ITERATIVE).
    public var boundManagementRepeats: UInt64 = 0

    public init() {}

    public static func += (a: inout ReadStatistics, b: ReadStatistics) {
        a.reads &+= b.reads
        a.inputs &+= b.inputs
        a.clippedInputs &+= b.clippedInputs
        a.outputs &+= b.outputs
        a.clippedOutputs &+= b.clippedOutputs
        a.boundManagementRepeats &+= b.boundManagementRepeats
    }
}

/// Reusable buffers for the periphery, so a step allocates nothing.
public final class PeripheryScratch {
    var quantised: [Float] = []
    var raw: [Float] = []
    var row: [Float] = []
    var scales: [Float] = []
    var normals: [Float] = []
    /// Outputs the ADC saturated in round 0, per vector of a batch (the C kernels' output stage).
    var clipped: [Int32] = []
    public init() {}

    @inline(__always)
    static func ensure(_ a: inout [Float], _ n: Int) {
        if a.count < n { a = [Float](repeating: 0, count: n) }
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
///
/// The MVM is `Linear.batchedMatVec` (a fixed summation order) and every other step is elementwise, so a read gives the
/// same bits on every machine, for any batch size.
public enum Periphery {
    /// y = W x for every sample of a batch, through the periphery.
    ///
    /// - Parameters:
    ///   - weights: W, `rows` x `cols`, row-major (the tile's effective weights, conductance units).
    ///   - input: x of sample b at `input[b * inputStride + j]`, j in 0..<cols.
    ///   - output: y of sample b at `output[b * rows + i]` (overwritten).
    ///   - transposed: false for forward (y = W x, x has `cols` entries); true for backward (z = W^T d,
    ///     d has `rows` entries, z has `cols`): then input rows have `rows` entries and outputs `cols`.
    ///   - statistics: counts of this read are added to it.
    public static func multiply(weights: UnsafePointer<Float>, rows: Int, cols: Int, transposed: Bool,
                                input: UnsafePointer<Float>, inputStride: Int, batch: Int,
                                output: UnsafeMutablePointer<Float>, io: IOConfig, noise: NoiseSource,
                                scratch: PeripheryScratch, statistics: inout ReadStatistics) {
        let nIn = transposed ? rows : cols
        let nOut = transposed ? cols : rows
        guard batch > 0, nOut > 0 else { return }
        statistics.reads &+= UInt64(batch)
        statistics.outputs &+= UInt64(batch * nOut)
        if io.isPerfect {
            Linear.batchedMatVec(transW: transposed, rows: rows, cols: cols, w: weights, ldw: cols, batch: batch,
                                 x: input, ldx: inputStride, y: output, ldy: nOut)
            return
        }
        let dacQ = Quantiser(resolution: io.inpRes, bound: io.inpBound)
        let adcQ = Quantiser(resolution: io.outRes, bound: io.outBound)
        let sigma = Float(io.outNoise)
        let managed = io.noiseManagement == .absMax
        let rounds = io.boundManagement == .iterative ? 5 : 1

        PeripheryScratch.ensure(&scratch.quantised, batch * nIn)
        PeripheryScratch.ensure(&scratch.raw, batch * nOut)
        PeripheryScratch.ensure(&scratch.row, nIn)
        PeripheryScratch.ensure(&scratch.scales, batch)
        PeripheryScratch.ensure(&scratch.normals, nOut)
        if scratch.clipped.count < batch { scratch.clipped = [Int32](repeating: 0, count: batch) }
        var clippedInputs = 0, clippedOutputs = 0, repeats = 0, converted = batch * nIn
        scratch.quantised.withUnsafeMutableBufferPointer { qb in
            scratch.raw.withUnsafeMutableBufferPointer { rb in
                scratch.row.withUnsafeMutableBufferPointer { rowb in
                    scratch.scales.withUnsafeMutableBufferPointer { sb in
                        scratch.normals.withUnsafeMutableBufferPointer { nb in
                            scratch.clipped.withUnsafeMutableBufferPointer { cb in
                                let q = qb.baseAddress!, raw = rb.baseAddress!, rowBuf = rowb.baseAddress!, scales = sb.baseAddress!
                                let z = nb.baseAddress!, roundClipped = cb.baseAddress!
                                // Scales and first-round DAC for the whole batch, then the products.
                                clippedInputs = dacQ.dacBatch(input, stride: inputStride, count: nIn, batch: batch, managed: managed,
                                                              scales: scales, into: q)
                                Linear.batchedMatVec(transW: transposed, rows: rows, cols: cols, w: weights, ldw: cols,
                                                     batch: batch, x: q, ldx: nIn, y: raw, ldy: nOut)
                                // Round 0 of every vector: the C kernels' output stage (the streams' normals side by side) when
                                // they handle the ADC, else the loop below.
                                let stage = adcQ.kernel.map { k in
                                    var k = k
                                    var tables = Ziggurat.shared.tables
                                    aimc_read_outputs(raw, Int32(batch), Int32(nOut), scales, managed ? 1 : 0, Int32(rounds), sigma,
                                                      noise.stream(sample: 0, round: 0).cStream, &tables, &k, output, roundClipped)
                                    return true
                                } ?? false
                                for b in 0..<batch {
                                    let y = output + b &* nOut
                                    let s = scales[b]
                                    if managed && s == 0 {
                                        if !stage { y.update(repeating: 0, count: nOut) }
                                        continue
                                    }
                                    var reduction: Float = 1
                                    var clipped: Int
                                    if stage {
                                        clipped = Int(roundClipped[b])
                                        if clipped == 0 || rounds == 1 {
                                            clippedOutputs &+= clipped
                                            continue
                                        }
                                    } else {
                                        var stream = noise.stream(sample: b, round: 0)
                                        if sigma > 0 { stream.fill(normals: z, count: nOut) }
                                        clipped = adcQ.adc(raw + b &* nOut, normals: sigma > 0 ? z : nil, sigma: sigma, count: nOut, into: y)
                                    }
                                    var round = 1
                                    while clipped > 0 && round < rounds {
                                        reduction *= 2
                                        clippedInputs &+= dacQ.dac(input + b &* inputStride, count: nIn, scale: s * reduction,
                                                                   into: rowBuf)
                                        converted &+= nIn
                                        Linear.batchedMatVec(transW: transposed, rows: rows, cols: cols, w: weights,
                                                             ldw: cols, batch: 1, x: rowBuf, ldx: nIn, y: y, ldy: nOut)
                                        var s2 = noise.stream(sample: b, round: round)
                                        if sigma > 0 { s2.fill(normals: z, count: nOut) }
                                        clipped = adcQ.adc(y, normals: sigma > 0 ? z : nil, sigma: sigma, count: nOut, into: y)
                                        round += 1
                                        repeats &+= 1
                                    }
                                    clippedOutputs &+= clipped
                                    let rescale = s * reduction
                                    if rescale != 1 { for i in 0..<nOut { y[i] *= rescale } }
                                }
                            }
                        }
                    }
                }
            }
        }
        statistics.inputs &+= UInt64(converted)
        statistics.clippedInputs &+= UInt64(clippedInputs)
        statistics.clippedOutputs &+= UInt64(clippedOutputs)
        statistics.boundManagementRepeats &+= UInt64(repeats)
    }

    /// A read of analog values with a one-hot input (a transfer read: "one column of P, read by a noisy MVM with
    /// one-hot input", paper Section 4): the values get the output noise and the ADC in place. Noise management and
    /// bound management do not act on a one-hot read. Noise comes from the stream of sample `index`, round 0.
    ///
    /// - Parameters:
    ///   - values: the column's weights (rows entries), replaced by what the periphery reads.
    ///   - statistics: counts of this read are added to it.
    public static func readOneHot(_ values: UnsafeMutablePointer<Float>, count: Int, index: Int, io: IOConfig,
                                  noise: NoiseSource, statistics: inout ReadStatistics) {
        statistics.reads &+= 1
        statistics.outputs &+= UInt64(count)
        if io.isPerfect { return }
        var stream = noise.stream(sample: index, round: 0)
        let clipped = Quantiser(resolution: io.outRes, bound: io.outBound)
            .adc(values, count: count, sigma: Float(io.outNoise), stream: &stream, into: values)
        statistics.clippedOutputs &+= UInt64(clipped)
    }

    /// max_j |x_j| (0 for an all-zero vector, NaN never wins; the maximum does not depend on the order it is taken
    /// in), by the C kernels.
    @inline(__always)
    static func absMax(_ x: UnsafePointer<Float>, count: Int) -> Float { aimc_abs_max(x, Int32(truncatingIfNeeded: count)) }
}

/// A converter (DAC or ADC): quantisation to `1 / levels` steps, round half to even, and clipping to +-bound.
/// levels = 1 / (2 bound resolution); resolution 0 means no quantisation. The loops run in the C kernels
/// (`aimc_dac`, `aimc_adc`: the same operations, element by element, vectorised) unless the float-add rounding does
/// not cover the range (`fast` false with quantisation: a resolution finer than 2^-20 of the range), where the Swift
/// loop rounds with `rounded(.toNearestOrEven)`.
struct Quantiser {
    let levels: Float
    let bound: Float
    /// Round with the float-add trick (exact round half to even for |t| < 2^22) instead of a libm call: true when
    /// every value that can escape clipping lies far inside that range (values beyond it are clamped first).
    let fast: Bool
    /// The converter as the C kernels take it, or nil when they do not handle it.
    let kernel: aimc_quantiser?

    init(resolution: Double, bound: Double) {
        levels = resolution > 0 ? Float(1 / (resolution * 2 * bound)) : 0
        self.bound = Float(bound)
        fast = levels > 0 && self.bound * levels < 0x1p20
        kernel = fast || levels == 0 ? aimc_quantiser(levels: levels, bound: self.bound, fast: fast ? 1 : 0) : nil
    }

    /// round(t) half to even: t + 1.5 2^23 rounds to an integer when |t| < 2^22, and subtracting it back is exact.
    /// Values beyond +-2^21 are clamped first; they quantise beyond the bound (< 2^20 levels) either way.
    @inline(__always)
    func quantise(_ u: Float) -> Float {
        if levels == 0 { return u }
        if fast {
            let t = min(max(u * levels, -0x1p21), 0x1p21)
            return ((t + 0x1.8p23) - 0x1.8p23) / levels
        }
        return (u * levels).rounded(.toNearestOrEven) / levels
    }

    /// `quantise`, then clipping to +-bound, and whether the value was beyond the bound.
    @inline(__always)
    func convert(_ u: Float) -> (value: Float, clipped: Int) {
        let q = quantise(u)
        return (min(max(q, -bound), bound), q > bound || q < -bound ? 1 : 0)
    }

    /// DAC: v_j = clip(quantise(x_j / scale)) (x_j times 1 / scale); returns how many inputs were clipped.
    @inline(__always)
    func dac(_ x: UnsafePointer<Float>, count: Int, scale: Float, into v: UnsafeMutablePointer<Float>) -> Int {
        let inv: Float = scale > 0 ? 1 / scale : 0
        if var k = kernel { return Int(aimc_dac(x, Int32(truncatingIfNeeded: count), inv, &k, v)) }
        var clipped = 0
        for j in 0..<count {
            let c = convert(x[j] * inv)
            v[j] = c.value
            clipped &+= c.clipped
        }
        return clipped
    }

    /// Noise management and DAC of a batch: scales[b] = max_j |x_bj| (managed) or 1, then the DAC of vector b (at
    /// x + b stride) into v + b count; returns how many inputs were clipped.
    @inline(__always)
    func dacBatch(_ x: UnsafePointer<Float>, stride: Int, count: Int, batch: Int, managed: Bool,
                  scales: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>) -> Int {
        if var k = kernel {
            return Int(aimc_dac_batch(x, Int32(truncatingIfNeeded: stride), Int32(truncatingIfNeeded: count),
                                      Int32(truncatingIfNeeded: batch), managed ? 1 : 0, &k, scales, v))
        }
        var clipped = 0
        for b in 0..<batch {
            let xb = x + b &* stride
            let s: Float = managed ? Periphery.absMax(xb, count: count) : 1
            scales[b] = s
            clipped &+= dac(xb, count: count, scale: s, into: v + b &* count)
        }
        return clipped
    }

    /// ADC: out_i = clip(quantise(y_i + sigma z_i)) with the given normals z (nil: no output noise). Returns how many
    /// outputs saturated (|y| > bound after quantisation, before clipping). `out` may be `y`.
    @inline(__always)
    func adc(_ y: UnsafePointer<Float>, normals z: UnsafePointer<Float>?, sigma: Float, count: Int,
             into out: UnsafeMutablePointer<Float>) -> Int {
        if var k = kernel { return Int(aimc_adc(y, z, sigma, Int32(truncatingIfNeeded: count), &k, out)) }
        var clipped = 0
        for i in 0..<count {
            var u = y[i]
            if let z { u += sigma * z[i] }
            let c = convert(u)
            out[i] = c.value
            clipped &+= c.clipped
        }
        return clipped
    }

    /// ADC with output noise from `stream` (sigma > 0: one normal per output, in order).
    func adc(_ y: UnsafePointer<Float>, count: Int, sigma: Float, stream: inout RandomStream,
             into out: UnsafeMutablePointer<Float>) -> Int {
        guard sigma > 0 else { return adc(y, normals: nil, sigma: sigma, count: count, into: out) }
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { z in
            stream.fill(normals: z.baseAddress!, count: count)
            return adc(y, normals: z.baseAddress!, sigma: sigma, count: count, into: out)
        }
    }
}
