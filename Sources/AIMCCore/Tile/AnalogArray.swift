/// Per-device parameters of one generalized-linear (soft-bounds) device, after device-to-device draws.
/// One up pulse at state w changes it by scaleUp + slopeUp * w = dw_min_i (1 + c_i)(1 - w/b_max_i); one down
/// pulse by -(scaleDown + slopeDown * w) = -dw_min_i (1 - c_i)(1 - w/b_min_i). Kept together (32 bytes)
/// so a pulse touches one cache line.
public struct SoftBoundsCell: Sendable, Equatable {
    public var scaleUp: Float
    public var slopeUp: Float
    public var scaleDown: Float
    public var slopeDown: Float
    public var wMax: Float
    public var wMin: Float
    /// dw_min_i: the scale of additive cycle-to-cycle noise.
    public var dw: Float
    var reserved: Float = 0

    /// Draws one device's parameters (aihwkit's PulsedRPUDevice::populate with enforce_consistency):
    /// gain = |1 + dw_min_dtod xi1|, b_max = |w_max (1 + w_max_dtod xi2)|, b_min = -|w_min (1 + w_min_dtod xi3)|,
    /// c_i = clip(c + asymmetry_dtod xi4, -0.95, 0.95).
    public init(device d: DeviceConfig, normals xi: (Float, Float, Float, Float)) {
        let gain = abs(1 + Float(d.dwMinDtod) * xi.0)
        let bMax = abs(Float(d.wMax) * (1 + Float(d.wMaxDtod) * xi.1))
        let bMin = -abs(Float(d.wMin) * (1 + Float(d.wMinDtod) * xi.2))
        let c = min(max(Float(d.asymmetry) + Float(d.asymmetryDtod) * xi.3, -0.95), 0.95)
        let dw = Float(d.dwMin) * gain
        self.init(dw: dw, asymmetry: c, wMax: bMax, wMin: bMin)
    }

    /// A device with given dw_min_i, asymmetry c_i and bounds.
    public init(dw: Float, asymmetry c: Float, wMax: Float, wMin: Float) {
        self.dw = dw
        self.wMax = wMax
        self.wMin = wMin
        scaleUp = dw * (1 + c)
        scaleDown = dw * (1 - c)
        slopeUp = wMax > 0 ? -scaleUp / wMax : 0
        slopeDown = wMin < 0 ? -scaleDown / wMin : 0
    }

    /// q_+(w) of this device, normalised by the nominal dw_min: (dw_min_i/dw_min) (1 + c_i)(1 - w/b_max).
    @inlinable public func qPlus(_ w: Float, nominalDw: Float) -> Float { (scaleUp + slopeUp * w) / nominalDw }
    /// q_-(w) of this device, normalised by the nominal dw_min.
    @inlinable public func qMinus(_ w: Float, nominalDw: Float) -> Float { (scaleDown + slopeDown * w) / nominalDw }
}

/// Counts of one pulsed update, for benchmarks and telemetry.
public struct PulseStatistics: Sendable, Equatable {
    /// Device pulses fired (= coincidences of an x-pulse and a d-pulse in the same slot).
    public var coincidences: UInt64 = 0
    /// Devices visited (both trains non-zero).
    public var visited: UInt64 = 0
    /// Rank-one updates requested (samples).
    public var updates: UInt64 = 0
    public init() {}
    public static func += (a: inout PulseStatistics, b: PulseStatistics) {
        a.coincidences += b.coincidences
        a.visited += b.visited
        a.updates += b.updates
    }
}

/// One crossbar array of rows x cols resistive devices: the weights (conductance units, row-major: row i is
/// output i, column j is input j) and each device's parameters. Updates follow the paper's pulse model
/// (Eq. 26) and its expected form (Eq. 2).
public final class AnalogArray {
    public let rows: Int
    public let cols: Int
    public let device: DeviceConfig
    /// W, rows x cols, row-major.
    public let weights: UnsafeMutablePointer<Float>
    public let cells: UnsafeMutablePointer<SoftBoundsCell>
    let nominalDw: Float

    // Scratch for the pulse trains of one update.
    let xIndex: UnsafeMutablePointer<Int32>, xBits: UnsafeMutablePointer<UInt32>, xNegative: UnsafeMutablePointer<Bool>
    let dIndex: UnsafeMutablePointer<Int32>, dBits: UnsafeMutablePointer<UInt32>, dNegative: UnsafeMutablePointer<Bool>

    /// Creates the array with all weights 0 and draws every device's parameters from `key`
    /// (device i = row * cols + col uses the four normals at positions 4i...4i+3 of the stream).
    ///
    /// - Parameters:
    ///   - rows, cols: array size (> 0).
    ///   - device: nominal parameters and spreads (validated).
    ///   - key: the device-to-device stream key, e.g. StreamKey(seed:, purpose: .deviceToDevice, layer, block, array).
    public init(rows: Int, cols: Int, device: DeviceConfig, key: StreamKey) {
        precondition(rows > 0 && cols > 0, "array size must be positive")
        self.rows = rows
        self.cols = cols
        self.device = device
        nominalDw = Float(device.dwMin)
        let n = rows * cols
        weights = .allocate(capacity: n)
        weights.initialize(repeating: 0, count: n)
        cells = .allocate(capacity: n)
        let varies = device.dwMinDtod > 0 || device.wMaxDtod > 0 || device.wMinDtod > 0 || device.asymmetryDtod > 0
        if varies {
            var stream = RandomStream(key: key)
            for i in 0..<n {
                let a = stream.nextNormal(), b = stream.nextNormal(), c = stream.nextNormal(), d = stream.nextNormal()
                (cells + i).initialize(to: SoftBoundsCell(device: device, normals: (a, b, c, d)))
            }
        } else {
            cells.initialize(repeating: SoftBoundsCell(device: device, normals: (0, 0, 0, 0)), count: n)
        }
        xIndex = .allocate(capacity: cols); xBits = .allocate(capacity: cols); xNegative = .allocate(capacity: cols)
        dIndex = .allocate(capacity: rows); dBits = .allocate(capacity: rows); dNegative = .allocate(capacity: rows)
    }

    deinit {
        weights.deallocate(); cells.deallocate()
        xIndex.deallocate(); xBits.deallocate(); xNegative.deallocate()
        dIndex.deallocate(); dBits.deallocate(); dNegative.deallocate()
    }

    public var count: Int { rows * cols }

    /// Programs the weights directly (aihwkit `set_weights`), clipping each to its device's bounds.
    /// - Parameter values: rows x cols, row-major.
    public func setWeights(_ values: UnsafePointer<Float>) {
        for i in 0..<count { weights[i] = min(max(values[i], cells[i].wMin), cells[i].wMax) }
    }

    public func setWeights(_ values: [Float]) {
        precondition(values.count == count, "expected \(count) weights, got \(values.count)")
        values.withUnsafeBufferPointer { setWeights($0.baseAddress!) }
    }

    /// A copy of the weights, row-major.
    public func weightsArray() -> [Float] { Array(UnsafeBufferPointer(start: weights, count: count)) }

    // MARK: Expected update (paper Eq. 2)

    /// Applies the mean update of the pulse model: W <- W + dW .* F(W) - |dW| .* G(W) (paper Eq. 2), i.e.
    /// w += dW q_+(w) for dW > 0 and w += dW q_-(w) for dW < 0, with this device's q normalised by the
    /// nominal dw_min; then clips to the device's bounds.
    /// - Parameter delta: the requested change dW, rows x cols, row-major.
    public func expectedUpdate(delta: UnsafePointer<Float>) {
        let inv = 1 / nominalDw
        for i in 0..<count {
            let d = delta[i]
            if d == 0 { continue }
            let c = cells[i]
            var w = weights[i]
            if d > 0 { w += d * inv * (c.scaleUp + c.slopeUp * w) } else { w += d * inv * (c.scaleDown + c.slopeDown * w) }
            weights[i] = min(max(w, c.wMin), c.wMax)
        }
    }

    /// Eq. 2 on one column only: delta holds the requested change of column `column` (rows entries).
    public func expectedUpdate(column: Int, delta: UnsafePointer<Float>) {
        precondition(column >= 0 && column < cols)
        let inv = 1 / nominalDw
        for r in 0..<rows {
            let d = delta[r]
            if d == 0 { continue }
            let i = r * cols + column
            let c = cells[i]
            var w = weights[i]
            if d > 0 { w += d * inv * (c.scaleUp + c.slopeUp * w) } else { w += d * inv * (c.scaleDown + c.slopeDown * w) }
            weights[i] = min(max(w, c.wMin), c.wMax)
        }
    }

    // MARK: Pulsed update

    /// One stochastic pulsed rank-one update requesting dW = -lr * d x^T (one sample; aihwkit's pulsed update
    /// with update BL management and update management; paper Section 2):
    ///
    /// BL = min(ceil(k), desired_bl) with k = lr max|x| max|d| / dw_min (or desired_bl without BL management);
    /// x_j fires in each of BL slots with probability B|x_j|, d_i with probability A|d_i|, where
    /// A = B = sqrt(lr/(dw_min BL)), rebalanced by sqrt(max|x|/max|d|) under update management so that the
    /// expected number of coincidences of (i, j) is lr |x_j d_i| / dw_min. Each coincidence fires one pulse on
    /// device (i, j), down if sign(d_i x_j) > 0 and up otherwise, applied one by one with fresh c2c noise.
    ///
    /// - Parameters:
    ///   - x: `cols` inputs; d: `rows` errors; lr: learning rate (>= 0).
    ///   - trains: the stream for the Bernoulli slots (x trains first, then d trains);
    ///   - noise: the stream for cycle-to-cycle noise (one normal per pulse, in row-major device order).
    /// - Returns: coincidence and visit counts.
    @discardableResult
    public func pulsedUpdate(x: UnsafePointer<Float>, d: UnsafePointer<Float>, lr: Float, update: UpdateConfig,
                             trains: inout RandomStream, noise: inout RandomStream) -> PulseStatistics {
        var stats = PulseStatistics()
        stats.updates = 1
        guard lr > 0 else { return stats }
        var xMax: Float = 0, dMax: Float = 0
        for j in 0..<cols { xMax = max(xMax, abs(x[j])) }
        for i in 0..<rows { dMax = max(dMax, abs(d[i])) }
        guard xMax > 0, dMax > 0 else { return stats }

        let dw = nominalDw
        let desired = update.desiredBL
        let k = lr * xMax * dMax / dw
        var bl = desired
        if update.updateBLManagement { bl = min(max(Int(k.rounded(.up)), 1), desired) }
        var a = (lr / (dw * Float(bl))).squareRoot()
        var b = a
        if update.updateManagement || update.updateBLManagement {
            var dVal = dMax
            if k > Float(desired) { dVal *= Float(desired) / k }
            a *= (xMax / dVal).squareRoot()
            b *= (dVal / xMax).squareRoot()
        }
        let nx = Self.makeTrains(values: x, count: cols, scale: b, length: bl, stream: &trains,
                                 index: xIndex, bits: xBits, negative: xNegative)
        guard nx > 0 else { return stats }
        let nd = Self.makeTrains(values: d, count: rows, scale: a, length: bl, stream: &trains,
                                 index: dIndex, bits: dBits, negative: dNegative)
        guard nd > 0 else { return stats }

        let sigma = Float(device.dwMinStd)
        if sigma == 0 {
            pulseLoop(nx: nx, nd: nd, noise: &noise, stats: &stats, rule: NoiselessPulse())
        } else if device.c2cMode == .additive {
            pulseLoop(nx: nx, nd: nd, noise: &noise, stats: &stats, rule: AdditivePulse(sigma: sigma))
        } else {
            pulseLoop(nx: nx, nd: nd, noise: &noise, stats: &stats, rule: MultiplicativePulse(sigma: sigma))
        }
        return stats
    }

    /// Bernoulli trains of `length` slots for every non-zero value; returns how many trains are non-zero and
    /// lists them (index, bits, sign). A probability >= 1 fires in every slot.
    @inline(__always)
    static func makeTrains(values: UnsafePointer<Float>, count: Int, scale: Float, length: Int,
                           stream: inout RandomStream, index: UnsafeMutablePointer<Int32>,
                           bits: UnsafeMutablePointer<UInt32>, negative: UnsafeMutablePointer<Bool>) -> Int {
        var n = 0
        let full: UInt32 = length >= 32 ? ~0 : (UInt32(1) << UInt32(length)) &- 1
        for j in 0..<count {
            let v = values[j]
            if v == 0 { continue }
            let p = abs(v) * scale
            var word: UInt32 = 0
            if p >= 1 {
                word = full
            } else {
                let threshold = UInt64(Double(p) * 4_294_967_296.0)
                for slot in 0..<length where UInt64(stream.nextUInt32()) < threshold {
                    word |= UInt32(1) << UInt32(slot)
                }
            }
            if word != 0 {
                index[n] = Int32(j)
                bits[n] = word
                negative[n] = v < 0
                n += 1
            }
        }
        return n
    }

    @inline(__always)
    func pulseLoop<Rule: PulseRule>(nx: Int, nd: Int, noise: inout RandomStream, stats: inout PulseStatistics,
                                    rule: Rule) {
        var coincidences: UInt64 = 0
        for a in 0..<nd {
            let i = Int(dIndex[a])
            let rowBits = dBits[a]
            let rowNegative = dNegative[a]
            let wRow = weights + i &* cols
            let cRow = cells + i &* cols
            for b in 0..<nx {
                let n = (rowBits & xBits[b]).nonzeroBitCount
                if n == 0 { continue }
                let j = Int(xIndex[b])
                // dW = -lr d x^T: sign(d) sign(x) > 0 asks for a decrease (down pulses).
                let down = rowNegative == xNegative[b]
                wRow[j] = rule.apply(n, down: down, to: wRow[j], cell: cRow[j], noise: &noise)
                coincidences &+= UInt64(n)
            }
        }
        stats.coincidences &+= coincidences
        stats.visited &+= UInt64(nx &* nd)
    }
}

/// One device's response to n pulses of one sign, applied pulse by pulse with clipping after each
/// (paper Eq. 26; aihwkit clips after every pulse).
protocol PulseRule {
    func apply(_ n: Int, down: Bool, to w: Float, cell: SoftBoundsCell, noise: inout RandomStream) -> Float
}

struct NoiselessPulse: PulseRule {
    @inline(__always)
    func apply(_ n: Int, down: Bool, to w0: Float, cell c: SoftBoundsCell, noise: inout RandomStream) -> Float {
        var w = w0
        if down {
            for _ in 0..<n { w -= c.scaleDown + c.slopeDown * w; w = max(w, c.wMin) }
        } else {
            for _ in 0..<n { w += c.scaleUp + c.slopeUp * w; w = min(w, c.wMax) }
        }
        return w
    }
}

/// Eq. 26: w <- w + dw_i (q_+(w) + sigma xi) (up), w <- w - dw_i (q_-(w) + sigma xi) (down).
struct AdditivePulse: PulseRule {
    let sigma: Float
    @inline(__always)
    func apply(_ n: Int, down: Bool, to w0: Float, cell c: SoftBoundsCell, noise: inout RandomStream) -> Float {
        var w = w0
        let s = sigma * c.dw
        if down {
            for _ in 0..<n { w -= c.scaleDown + c.slopeDown * w + s * noise.nextNormal(); w = min(max(w, c.wMin), c.wMax) }
        } else {
            for _ in 0..<n { w += c.scaleUp + c.slopeUp * w + s * noise.nextNormal(); w = min(max(w, c.wMin), c.wMax) }
        }
        return w
    }
}

/// aihwkit SoftBounds (mult_noise): w <- w + dw_i q_+(w)(1 + sigma xi) (up), w <- w - dw_i q_-(w)(1 + sigma xi) (down).
struct MultiplicativePulse: PulseRule {
    let sigma: Float
    @inline(__always)
    func apply(_ n: Int, down: Bool, to w0: Float, cell c: SoftBoundsCell, noise: inout RandomStream) -> Float {
        var w = w0
        if down {
            for _ in 0..<n {
                w -= (c.scaleDown + c.slopeDown * w) * (1 + sigma * noise.nextNormal()); w = min(max(w, c.wMin), c.wMax)
            }
        } else {
            for _ in 0..<n {
                w += (c.scaleUp + c.slopeUp * w) * (1 + sigma * noise.nextNormal()); w = min(max(w, c.wMin), c.wMax)
            }
        }
        return w
    }
}
