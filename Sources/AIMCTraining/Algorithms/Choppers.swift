import AIMCCore
import Foundation

/// The parts the chopped algorithms share (c-TTv2, AGAD, E-RIDER), as `TransferCycle` is the part every transfer
/// shares: the choppers and their switching rules, aihwkit's auto-scaled gradient rate, the buffer's threshold rule
/// (also Tiki-Taka v2's) and the definitions of their configuration keys (aihwkit's names; each algorithm states its
/// own default, as each aihwkit class does).
///
/// Choppers (Rasch et al. 2023, "Fast offset corrected in-memory training", arXiv 2303.04721; aihwkit
/// `ChoppedTransferCompound`): a sign c_in[j] per column and c_out[i] per row multiplies the gradient written into P,
/// P_ij += -alpha (c_out[i] d_i)(c_in[j] x_j) in expectation, and is undone when column j of P is read: the buffer
/// receives c_in[j] c_out[i] read_i. A device's drift towards its symmetric point does not change sign with the
/// chopper, so it averages out of the buffer while the gradient does not.
public final class Choppers {
    /// c_in (cols values) and c_out (rows values), +1 or -1 (live storage: `pulseGradient` reads them per sample).
    public let input: DigitalArray
    public let output: DigitalArray
    /// Full passes over the columns (aihwkit `transfer_counter`): the clock of regular switching.
    public private(set) var passes: Int64 = 0
    let inProbability: Double
    let inRandom: Bool
    let outProbability: Double

    /// How a column's input chopper switches after the column is read.
    public enum Rule {
        /// aihwkit ChoppedTransferCompound: with probability p (`in_chop_random`), else regularly in every
        /// max(ceil(1/p), 2)-th pass; output choppers switch with probability `out_chop_prob` each after the last column.
        case chopped
        /// aihwkit DynamicTransferCompound: regularly in every max(ceil(1/p), 2)-th pass and, with `in_chop_random`,
        /// also with probability p; output choppers never switch.
        case dynamic
    }

    let rule: Rule

    public init(rows: Int, cols: Int, inProbability: Double, inRandom: Bool, outProbability: Double, rule: Rule) {
        input = DigitalArray(name: "in_chopper", count: cols, initial: [Float](repeating: 1, count: cols))
        output = DigitalArray(name: "out_chopper", count: rows, initial: [Float](repeating: 1, count: rows))
        self.inProbability = inProbability
        self.inRandom = inRandom
        self.outProbability = outProbability
        self.rule = rule
    }

    /// The chopper sign of element (i, k): c_out[i] c_in[k].
    @inline(__always) public func sign(row i: Int, column k: Int) -> Float { output[i] * input[k] }

    /// Passes between regular switches: max(ceil(1/p), 2) (aihwkit `getNumInChopSamples`).
    public var period: Int64 { Self.period(inProbability) }

    /// max(ceil(1/p), 2) for p > 0, else 2.
    public static func period(_ p: Double) -> Int64 { p > 0 ? max(Int64(min((1 / p).rounded(.up), 1e15)), 2) : 2 }

    /// After column k was read (transfer event at update count `step`): switches its input chopper by `rule`, the
    /// output choppers after the last column (`.chopped`), and counts a pass after the last column. Random draws:
    /// `block.algorithmStream(tag: 1, step, sub: k)` for the input chopper, tag 2 with sub i for output chopper i.
    /// Returns whether column k's input chopper switched.
    @discardableResult
    public func columnRead(_ k: Int, block: WeightBlock, step: Int64) -> Bool {
        let cols = input.count
        var switched = false
        if inProbability > 0 {
            let regular = passes % period + 1 == period
            switch rule {
            case .chopped:
                if inRandom {
                    var s = block.algorithmStream(tag: 1, step: UInt64(bitPattern: step), sub: UInt32(k))
                    switched = Double(s.nextUniform()) < inProbability
                } else {
                    switched = regular
                }
            case .dynamic:
                switched = regular
                if inRandom {
                    var s = block.algorithmStream(tag: 1, step: UInt64(bitPattern: step), sub: UInt32(k))
                    if Double(s.nextUniform()) < inProbability { switched = true }
                }
            }
            if switched { input[k] = -input[k] }
        }
        if k == cols - 1 {
            if rule == .chopped && outProbability > 0 {
                var s = block.algorithmStream(tag: 2, step: UInt64(bitPattern: step), sub: 0)
                for i in 0..<output.count where Double(s.nextUniform()) < outProbability { output[i] = -output[i] }
            }
            passes += 1
        }
        return switched
    }

    /// The choppers as checkpoint state: "in_chopper" and "out_chopper" (+1 or -1 each; the weight terms of a
    /// manifest name them as signs) and "chop_passes".
    public var scalars: [String: ScalarState] {
        ["in_chopper": .integers((0..<input.count).map { Int64(input[$0]) }),
         "out_chopper": .integers((0..<output.count).map { Int64(output[$0]) }),
         "chop_passes": .integers([passes])]
    }

    public func restore(_ scalars: [String: ScalarState]) throws(StateError) {
        let i = try StateError.integers(scalars, "in_chopper", count: input.count)
        let o = try StateError.integers(scalars, "out_chopper", count: output.count)
        guard (i + o).allSatisfy({ $0 == 1 || $0 == -1 }) else { throw StateError("a chopper sign is neither 1 nor -1") }
        for k in 0..<input.count { input[k] = Float(i[k]) }
        for k in 0..<output.count { output[k] = Float(o[k]) }
        passes = try StateError.integers(scalars, "chop_passes", count: 1)[0]
    }
}

/// aihwkit's `auto_scale` of the chopped compounds (`ChoppedTransferRPUDeviceMetaParameter::getPulseCountAutoLR`):
/// the gradient rate into P becomes fast_lr x BL x dw_min(P) / (m_x m_d), where m_x and m_d are running averages of
/// each sample's max|x| and max|d| (m <- (1 - tau) m + tau new, tau = (1 - auto_momentum) / batch; the first sample
/// sets m), so that a typical sample fires about fast_lr x BL pulses on its largest coincidence.
public struct AutoScale: Sendable, Equatable {
    public private(set) var mx: Double = 0
    public private(set) var md: Double = 0
    let momentum: Double

    public init(momentum: Double) { self.momentum = momentum }

    /// Records one sample's max|x| over `cols` values and max|d| over `rows` values.
    public mutating func observe(x: UnsafePointer<Float>, cols: Int, d: UnsafePointer<Float>, rows: Int, batch: Int) {
        var xm: Float = 0, dm: Float = 0
        for j in 0..<cols { xm = max(xm, abs(x[j])) }
        for i in 0..<rows { dm = max(dm, abs(d[i])) }
        Self.update(&mx, Double(xm), momentum: momentum, batch: batch)
        Self.update(&md, Double(dm), momentum: momentum, batch: batch)
    }

    static func update(_ m: inout Double, _ new: Double, momentum: Double, batch: Int) {
        if m <= 0 { m = new; return }
        if new <= 0 { return }
        let tau = (1 - momentum) / Double(batch)
        m = (1 - tau) * m + tau * new
    }

    /// fast_lr x BL x dw_min / (m_x m_d) (without the division while either average is 0).
    public func rate(fastLR: Double, bl: Int, dwMin: Double) -> Float {
        var r = fastLR * Double(bl) * dwMin
        if mx > 0 && md > 0 { r /= mx * md }
        return Float(r)
    }

    public var scalars: [String: ScalarState] { ["auto_scale": .reals([mx, md])] }

    public mutating func restore(_ scalars: [String: ScalarState]) throws(StateError) {
        let v = try StateError.reals(scalars, "auto_scale")
        guard v.count == 2 else { throw StateError("auto_scale holds \(v.count) values; expected 2") }
        (mx, md) = (v[0], v[1])
    }
}

/// The gradient update of the chopped algorithms (c-TTv2, AGAD): per sample, aihwkit's order (auto-scale's running
/// maxima see the sample, then its chopped pulses, then the transfers it completes); per batch, the maxima see every
/// sample, then one update of the summed, chopped gradient.
enum ChoppedGradient {
    static func update(_ block: WeightBlock, choppers: Choppers, scale: inout AutoScale, autoScaled: Bool, fastLR: Double,
                       x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int, batch: Int, step: UInt64) {
        let rows = block.info.rows, cols = block.info.cols
        let xs = UnsafePointer(choppers.input.values), ds = UnsafePointer(choppers.output.values)
        guard autoScaled else {
            return block.pulseGradient(x: x, xStride: xStride, d: d, dStride: dStride, batch: batch, step: step, xSigns: xs, dSigns: ds)
        }
        let bl = block.desiredBL, dw = Double(block.dwMin(1))
        if block.updatesPerSample {
            for b in 0..<batch {
                scale.observe(x: x + b * xStride, cols: cols, d: d + b * dStride, rows: rows, batch: batch)
                block.pulseSample(x: x + b * xStride, d: d + b * dStride, step: step, sample: b,
                                  lr: scale.rate(fastLR: fastLR, bl: bl, dwMin: dw), xSigns: xs, dSigns: ds)
                block.sampleDone()
            }
        } else {
            for b in 0..<batch { scale.observe(x: x + b * xStride, cols: cols, d: d + b * dStride, rows: rows, batch: batch) }
            block.pulseGradient(x: x, xStride: xStride, d: d, dStride: dStride, batch: batch, step: step,
                                lr: scale.rate(fastLR: fastLR, bl: bl, dwMin: dw), xSigns: xs, dSigns: ds)
        }
    }
}

/// The buffer's threshold rule of aihwkit's buffered transfers (`BufferedTransferRPUDevice::readAndUpdate`,
/// `ChoppedTransferRPUDevice::readAndUpdate`), with the buffer in units of the threshold: when |omega| >= 1,
/// n = trunc(omega) clipped to +-maxSteps pulses fire, and the buffer keeps momentum x omega (forget_buffer) or
/// omega - (1 - momentum) n.
enum BufferRule {
    @inline(__always)
    static func apply(_ omega: inout Float, maxSteps: Int, momentum: Float, forget: Bool) -> Int {
        guard abs(omega) >= 1 else { return 0 }  // NaN: no pulse
        let t = omega.rounded(.towardZero)
        let n = t >= Float(maxSteps) ? maxSteps : (t <= -Float(maxSteps) ? -maxSteps : Int(t))
        omega = forget ? omega * momentum : omega - (1 - momentum) * Float(n)
        return n
    }
}

/// The configuration keys of the buffered and chopped algorithms, defined once (rule, option, help); each algorithm
/// passes its own default (aihwkit's for its class).
public enum BufferedTransferKeys {
    public static func inChopProb(_ value: Double) -> Parameter<Double> {
        .number("in_chop_prob", option: nil, default: value, in: 0...1,
                help: "input chopper switching probability (or, regular, 1 / period in column reads) (aihwkit in_chop_prob)")
    }
    public static func inChopRandom(_ value: Bool) -> Parameter<Bool> {
        .flag("in_chop_random", option: nil, default: value, help: "input choppers switch at random (true) or regularly (aihwkit in_chop_random)")
    }
    public static func outChopProb(_ value: Double) -> Parameter<Double> {
        .number("out_chop_prob", option: nil, default: value, in: 0...1,
                help: "output chopper switching probability after each full pass over the columns (aihwkit out_chop_prob)")
    }
    public static func momentum(_ value: Double) -> Parameter<Double> {
        .number("momentum", option: nil, default: value, in: 0...1,
                help: "buffered transfers: the fraction of the buffer kept after a transfer fires (aihwkit momentum, of the buffer, not of SGD)")
    }
    public static func forgetBuffer(_ value: Bool) -> Parameter<Bool> {
        .flag("forget_buffer", option: nil, default: value,
              help: "buffered transfers: after a transfer the buffer becomes momentum x buffer (true) or loses (1 - momentum) x the pulses fired (false) (aihwkit forget_buffer)")
    }
    public static func transferBL(_ value: Int) -> Parameter<Int> {
        .integer("transfer_desired_bl", option: nil, default: value, in: 0...32,
                 help: "buffered transfers: most pulses one element receives per transfer, 0 = update.desired_bl (aihwkit transfer_update.desired_bl)")
    }
    public static func bufferGranularity(_ value: Double) -> Parameter<Double> {
        .number("buffer_granularity", option: nil, default: value, above: 0, atMost: 1e6,
                help: "chopped transfers: threshold of the buffer in units of dw_min of P (aihwkit buffer_granularity)")
    }
    public static func autoGranularity(_ value: Double) -> Parameter<Double> {
        .number("auto_granularity", option: nil, default: value, in: 0...1e9,
                help: "chopped transfers: when > 0, the threshold is scaled by auto_granularity / (columns x transfer_every) (aihwkit auto_granularity)")
    }
    public static func autoScale(_ value: Bool) -> Parameter<Bool> {
        .flag("auto_scale", option: nil, default: value,
              help: "chopped algorithms: gradient rate fast_lr x BL x dw_min / (running max|x| x running max|d|) (aihwkit auto_scale)")
    }
    public static func autoMomentum(_ value: Double) -> Parameter<Double> {
        .number("auto_momentum", option: nil, default: value, in: 0...1,
                help: "chopped algorithms: momentum of auto_scale's running maxima (aihwkit auto_momentum)")
    }
}
