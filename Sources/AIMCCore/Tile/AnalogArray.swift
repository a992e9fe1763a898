/// Counts of pulsed updates, for benchmarks, per-tile telemetry and the cost estimate.
public struct PulseStatistics: Sendable, Equatable {
    /// Device pulses fired (= coincidences of an x-pulse and a d-pulse in the same slot, or binomial draws).
    public var coincidences: UInt64 = 0
    /// Devices visited (both trains non-zero).
    public var visited: UInt64 = 0
    /// Updates requested (rank-one updates of samples, or whole mini-batches).
    public var updates: UInt64 = 0
    /// Pulses that a device bound cut short: the step would have taken the device beyond w_max or w_min, and the
    /// clipping after every pulse stopped it at the bound (counted in the pulse loops; a subset of `coincidences`).
    public var clipped: UInt64 = 0
    /// Pulse slots the update drove: BL of each update whose trains were formed (per sample: after update-BL
    /// management; per mini-batch: the BL of the binomial counts). The time of an update is slots x the slot time.
    public var slots: UInt64 = 0
    public init() {}
    public static func += (a: inout PulseStatistics, b: PulseStatistics) {
        a.coincidences &+= b.coincidences
        a.visited &+= b.visited
        a.updates &+= b.updates
        a.clipped &+= b.clipped
        a.slots &+= b.slots
    }
}

/// How zero-shifting programs an array's reference (paper Assumption 4; arXiv 2602.21321 Section 2).
public enum ZeroShift: String, Codable, Sendable, CaseIterable {
    /// No reference: the weight is the device state.
    case none
    /// Each device is set to its exact symmetric point, which becomes its reference.
    case ideal
    /// Each device receives K alternating up/down pulses (with cycle-to-cycle noise), converging near its
    /// symmetric point; the reference is programmed to where it ends.
    case pulsed
}

/// One crossbar array of rows x cols resistive devices: the device states (conductance units, row-major: row i
/// is output i, column j is input j), each device's parameters, and optionally a reference per device (zero-shifting):
/// the weight a read sees is w - reference. Updates follow the paper's pulse model (Eq. 26) and its expected form
/// (Eq. 2).
public final class AnalogArray {
    public let rows: Int
    public let cols: Int
    public let model: DeviceModel
    public var device: DeviceConfig { model.config }
    /// Device states w, rows x cols, row-major.
    public let weights: UnsafeMutablePointer<Float>
    public let cells: UnsafeMutablePointer<DeviceCell>
    /// Reference conductances (zero-shifting), or nil.
    public private(set) var reference: UnsafeMutablePointer<Float>?
    public let tile: TileDraw
    let nominalDw: Float

    // Scratch for the pulse trains of one update.
    let xIndex: UnsafeMutablePointer<Int32>, xBits: UnsafeMutablePointer<UInt32>, xNegative: UnsafeMutablePointer<Bool>
    let dIndex: UnsafeMutablePointer<Int32>, dBits: UnsafeMutablePointer<UInt32>, dNegative: UnsafeMutablePointer<Bool>

    /// Creates the array with every state 0 and draws every device's parameters.
    ///
    /// - Parameters:
    ///   - rows, cols: array size (> 0).
    ///   - model: the device family and its nominal parameters and spreads.
    ///   - key: device-to-device stream: device i = row * cols + col uses its normals 8i ..< 8i + 8.
    ///   - tileKey: tile-to-tile stream of this array (three normals).
    public init(rows: Int, cols: Int, model: DeviceModel, key: StreamKey, tileKey: StreamKey? = nil) {
        precondition(rows > 0 && cols > 0, "array size must be positive")
        self.rows = rows
        self.cols = cols
        self.model = model
        nominalDw = model.dwMin
        tile = tileKey.map { TileDraw(device: model.config, key: $0) } ?? TileDraw()
        let n = rows * cols
        weights = .allocate(capacity: n)
        weights.initialize(repeating: 0, count: n)
        let cells = UnsafeMutablePointer<DeviceCell>.allocate(capacity: n)
        let k = DeviceModel.normalsPerDevice
        let xi = UnsafeMutablePointer<Float>.allocate(capacity: k)
        xi.initialize(repeating: 0, count: k)
        let tile = self.tile
        if model.config.hasDeviceToDevice {
            var stream = RandomStream(key: key)
            for i in 0..<n {
                for j in 0..<k { xi[j] = stream.nextNormal() }
                (cells + i).initialize(to: model.cell(xi, tile: tile))
            }
        } else {
            cells.initialize(repeating: model.cell(xi, tile: tile), count: n)
        }
        xi.deallocate()
        self.cells = cells
        xIndex = .allocate(capacity: cols); xBits = .allocate(capacity: cols); xNegative = .allocate(capacity: cols)
        dIndex = .allocate(capacity: rows); dBits = .allocate(capacity: rows); dNegative = .allocate(capacity: rows)
    }

    /// A soft-bounds (or other) array from a configuration that is already validated.
    public convenience init(rows: Int, cols: Int, device: DeviceConfig, key: StreamKey, tileKey: StreamKey? = nil) {
        self.init(rows: rows, cols: cols, model: DeviceModel(validated: device), key: key, tileKey: tileKey)
    }

    deinit {
        weights.deallocate(); cells.deallocate(); reference?.deallocate()
        xIndex.deallocate(); xBits.deallocate(); xNegative.deallocate()
        dIndex.deallocate(); dBits.deallocate(); dNegative.deallocate()
    }

    public var count: Int { rows * cols }

    // MARK: Weights

    /// Programs the weights directly (aihwkit `set_weights`): w = value + reference, clipped to the bounds.
    /// - Parameter values: rows x cols, row-major.
    public func setWeights(_ values: UnsafePointer<Float>) {
        for i in 0..<count {
            let r = reference?[i] ?? 0
            weights[i] = min(max(values[i] + r, cells[i].wMin), cells[i].wMax)
        }
    }

    public func setWeights(_ values: [Float]) {
        precondition(values.count == count, "expected \(count) weights, got \(values.count)")
        values.withUnsafeBufferPointer { setWeights($0.baseAddress!) }
    }

    /// The weight of element i as a read sees it: w - reference.
    @inline(__always) public func weight(_ i: Int) -> Float { weights[i] - (reference?[i] ?? 0) }

    /// A copy of the weights (w - reference), row-major.
    public func weightsArray() -> [Float] { (0..<count).map { weight($0) } }

    /// dst[i] = scale * (w_i - reference_i) (accumulate: dst[i] += ...).
    public func readWeights(into dst: UnsafeMutablePointer<Float>, scale: Float = 1, accumulate: Bool = false) {
        if let r = reference {
            if accumulate { for i in 0..<count { dst[i] += scale * (weights[i] - r[i]) } } else { for i in 0..<count { dst[i] = scale * (weights[i] - r[i]) } }
        } else {
            if accumulate { for i in 0..<count { dst[i] += scale * weights[i] } } else { for i in 0..<count { dst[i] = scale * weights[i] } }
        }
    }

    /// Column k's weights (w - reference), rows entries.
    public func readColumn(_ k: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<rows { out[i] = weight(i * cols + k) }
    }

    // MARK: Zero-shifting

    /// Sets each device's reference to (about) its symmetric point, so that the weight w - reference is 0 where
    /// G = 0 (paper Assumption 4). `ideal`: exact symmetric point (closed form or bisection; for a piecewise response the
    /// stable one that alternating pulses from the current state reach); `pulsed`: K alternating
    /// up/down pulses from the current state, with cycle-to-cycle noise from `stream`, then the reference takes the
    /// final state. Devices without a symmetric point in range keep reference 0 and are counted.
    ///
    /// - Returns: pulses spent and devices without a symmetric point.
    @discardableResult
    public func zeroShift(_ mode: ZeroShift, pulses k: Int, stream: inout RandomStream) -> (pulses: UInt64, withoutPoint: Int) {
        guard mode != .none else { return (0, 0) }
        if reference == nil {
            reference = .allocate(capacity: count)
            reference!.initialize(repeating: 0, count: count)
        }
        let r = reference!
        var without = 0
        switch mode {
        case .none:
            break
        case .ideal:
            for i in 0..<count {
                if let w = model.symmetricPoint(cells[i], from: weights[i]).value {
                    weights[i] = w
                    r[i] = w
                } else {
                    r[i] = 0
                    without += 1
                }
            }
            return (0, without)
        case .pulsed:
            withUnsafeMutablePointer(to: &stream) { p in
                var v = AlternatingVisitor(array: self, pulses: k, stream: p)
                model.visit(&v)
            }
            for i in 0..<count {
                if model.symmetricPoint(cells[i], from: weights[i]).value == nil { without += 1 }
                r[i] = weights[i]
            }
            return (UInt64(k) * UInt64(count), without)
        }
        return (0, without)
    }

    struct AlternatingVisitor: ResponseVisitor {
        let array: AnalogArray, pulses: Int, stream: UnsafeMutablePointer<RandomStream>
        mutating func visit<R: Response>(_ response: R) {
            let noisy = array.device.dwMinStd > 0
            let additive = array.device.c2cMode == .additive
            for i in 0..<array.count {
                let c = array.cells[i]
                var w = array.weights[i]
                for p in 0..<pulses {
                    if noisy {
                        w = additive ? AdditiveNoise.pulse(response, c, w, down: p & 1 == 1, &stream.pointee)
                            : MultiplicativeNoise.pulse(response, c, w, down: p & 1 == 1, &stream.pointee)
                    } else {
                        w = NoNoise.pulse(response, c, w, down: p & 1 == 1, &stream.pointee)
                    }
                }
                array.weights[i] = w
            }
        }
    }

    // MARK: Expected update (paper Eq. 2)

    struct ExpectedVisitor: ResponseVisitor {
        let array: AnalogArray, delta: UnsafePointer<Float>, column: Int?
        let granularityBL: Int, noise: UnsafeMutablePointer<RandomStream>?
        mutating func visit<R: Response>(_ r: R) {
            let a = array
            let inv = 1 / a.nominalDw
            let dw = a.nominalDw
            let n = column == nil ? a.count : a.rows
            for k in 0..<n {
                let d = delta[k]
                if d == 0 { continue }
                let i = column.map { k * a.cols + $0 } ?? k
                let c = a.cells[i]
                var w = a.weights[i]
                w += d > 0 ? d * inv * r.up(c, w) : d * inv * r.down(c, w)
                if let noise {
                    // Lemma 1 of arXiv 2510.02516: Var = |dW| dw_min (1 - |dW|/(BL dw_min)).
                    let m = abs(d)
                    let variance = max(m * dw * (1 - m / (Float(granularityBL) * dw)), 0)
                    w += variance.squareRoot() * noise.pointee.nextNormal()
                }
                a.weights[i] = min(max(w, c.wMin), c.wMax)
            }
        }
    }

    /// Applies the mean update of the pulse model: W <- W + dW .* F(W) - |dW| .* G(W) (paper Eq. 2), i.e.
    /// w += dW q_+(w) for dW > 0 and w += dW q_-(w) for dW < 0, with each device's q in units of the nominal
    /// dw_min; then clips to the device's bounds. The variant with `bl` adds the zero-mean quantisation noise of
    /// Lemma 1 (arXiv 2510.02516): N(0, |dW| dw_min (1 - |dW|/(BL dw_min))).
    ///
    /// - Parameter delta: the requested change dW, rows x cols, row-major.
    public func expectedUpdate(delta: UnsafePointer<Float>) {
        var v = ExpectedVisitor(array: self, delta: delta, column: nil, granularityBL: 1, noise: nil)
        model.visit(&v)
    }

    /// Eq. 2 plus the granularity noise of Lemma 1 with BL slots, drawn from `noise` (one normal per device with
    /// dW != 0, row-major).
    public func expectedUpdate(delta: UnsafePointer<Float>, bl: Int, noise: inout RandomStream) {
        withUnsafeMutablePointer(to: &noise) { p in
            var v = ExpectedVisitor(array: self, delta: delta, column: nil, granularityBL: bl, noise: p)
            model.visit(&v)
        }
    }

    /// Eq. 2 on one column only: `delta` holds the requested change of column `column` (rows entries).
    public func expectedUpdate(column: Int, delta: UnsafePointer<Float>) {
        precondition(column >= 0 && column < cols)
        var v = ExpectedVisitor(array: self, delta: delta, column: column, granularityBL: 1, noise: nil)
        model.visit(&v)
    }

    // MARK: Pulsed update, one sample (rank one)

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
        guard xMax > 0, dMax > 0, xMax.isFinite, dMax.isFinite else { return stats }

        // In Double: k can exceed Float's range for extreme (valid) inputs.
        let desired = update.desiredBL
        let k = Double(lr) * Double(xMax) * Double(dMax) / Double(nominalDw)
        var bl = desired
        if update.updateBLManagement { bl = k >= Double(desired) ? desired : max(Int(k.rounded(.up)), 1) }
        var a = (Double(lr) / (Double(nominalDw) * Double(bl))).squareRoot()
        var b = a
        if update.updateManagement || update.updateBLManagement {
            var dVal = Double(dMax)
            if k > Double(desired) { dVal *= Double(desired) / k }
            a *= (Double(xMax) / dVal).squareRoot()
            b = (Double(lr) / (Double(nominalDw) * Double(bl))) / a
        }
        let scaleX = Float(min(b, 1e30)), scaleD = Float(min(a, 1e30))
        stats.slots = UInt64(bl)
        let nx = Self.makeTrains(values: x, count: cols, scale: scaleX, length: bl, stream: &trains,
                                 index: xIndex, bits: xBits, negative: xNegative)
        guard nx > 0 else { return stats }
        let nd = Self.makeTrains(values: d, count: rows, scale: scaleD, length: bl, stream: &trains,
                                 index: dIndex, bits: dBits, negative: dNegative)
        guard nd > 0 else { return stats }
        stats.visited = UInt64(nx * nd)
        (stats.coincidences, stats.clipped) = withUnsafeMutablePointer(to: &noise) { p in
            if device.dwMinStd == 0 {
                var v = CoincidenceVisitor<NoNoise>(array: self, nx: nx, nd: nd, noise: p)
                return model.visit(&v)
            } else if device.c2cMode == .additive {
                var v = CoincidenceVisitor<AdditiveNoise>(array: self, nx: nx, nd: nd, noise: p)
                return model.visit(&v)
            } else {
                var v = CoincidenceVisitor<MultiplicativeNoise>(array: self, nx: nx, nd: nd, noise: p)
                return model.visit(&v)
            }
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
            if v == 0 || !v.isFinite { continue }
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

    struct CoincidenceVisitor<N: PulseNoise>: ResponseVisitor {
        let array: AnalogArray, nx: Int, nd: Int, noise: UnsafeMutablePointer<RandomStream>
        mutating func visit<R: Response>(_ r: R) -> (fired: UInt64, clipped: UInt64) {
            let a = array
            var coincidences: UInt64 = 0, clipped: UInt64 = 0
            for p in 0..<nd {
                let i = Int(a.dIndex[p])
                let rowBits = a.dBits[p]
                let rowNegative = a.dNegative[p]
                let wRow = a.weights + i &* a.cols
                let cRow = a.cells + i &* a.cols
                for q in 0..<nx {
                    let n = (rowBits & a.xBits[q]).nonzeroBitCount
                    if n == 0 { continue }
                    let j = Int(a.xIndex[q])
                    // dW = -lr d x^T: sign(d) sign(x) > 0 asks for a decrease (down pulses).
                    let down = rowNegative == a.xNegative[q]
                    let c = cRow[j]
                    var w = wRow[j]
                    for _ in 0..<n { w = N.pulse(r, c, w, down: down, &noise.pointee, clipped: &clipped) }
                    wRow[j] = w
                    coincidences &+= UInt64(n)
                }
            }
            return (coincidences, clipped)
        }
    }

    // MARK: Single-device pulses (threshold transfers)

    struct FireVisitor<N: PulseNoise>: ResponseVisitor {
        let array: AnalogArray, element: Int, count: Int, down: Bool, noise: UnsafeMutablePointer<RandomStream>
        mutating func visit<R: Response>(_ r: R) -> UInt64 {
            let c = array.cells[element]
            var w = array.weights[element]
            var clipped: UInt64 = 0
            for _ in 0..<count { w = N.pulse(r, c, w, down: down, &noise.pointee, clipped: &clipped) }
            array.weights[element] = w
            return clipped
        }
    }

    /// Fires `count` pulses of one sign on element i, one by one (the threshold transfers of Tiki-Taka v2 and
    /// Residual Learning v2): with the device's cycle-to-cycle noise from `noise` when `noisy`, else the mean pulse.
    /// - Returns: how many of the pulses a device bound cut short.
    @discardableResult
    public func firePulses(element i: Int, count: Int, down: Bool, noisy: Bool, noise: inout RandomStream) -> UInt64 {
        guard count > 0 else { return 0 }
        return withUnsafeMutablePointer(to: &noise) { p in
            if !noisy || device.dwMinStd == 0 {
                var v = FireVisitor<NoNoise>(array: self, element: i, count: count, down: down, noise: p)
                return model.visit(&v)
            } else if device.c2cMode == .additive {
                var v = FireVisitor<AdditiveNoise>(array: self, element: i, count: count, down: down, noise: p)
                return model.visit(&v)
            } else {
                var v = FireVisitor<MultiplicativeNoise>(array: self, element: i, count: count, down: down, noise: p)
                return model.visit(&v)
            }
        }
    }

    // MARK: Pulsed update, one mini-batch (the paper's model)

    /// One pulsed update of a whole mini-batch (the model behind the paper's analysis and Lemma 1 of
    /// arXiv 2510.02516): for the requested dW (rows x cols), device (i, j) receives n ~ Binomial(BL, p) pulses
    /// of sign(dW_ij), p = min(|dW_ij| / (BL dw_min), 1), applied one by one with fresh c2c noise, so that
    /// E[n dw_min] = |dW_ij| (below saturation) and Var[n dw_min] = |dW| dw_min (1 - |dW|/(BL dw_min)).
    ///
    /// - Parameters:
    ///   - delta: requested change dW, rows x cols, row-major.
    ///   - bl: pulse slots BL (1...32).
    ///   - counts: the stream for the binomial draws (one uniform per device with dW != 0);
    ///   - noise: the stream for cycle-to-cycle noise.
    @discardableResult
    public func pulsedUpdate(delta: UnsafePointer<Float>, bl: Int, counts: inout RandomStream,
                             noise: inout RandomStream) -> PulseStatistics {
        var stats = PulseStatistics()
        stats.updates = 1
        stats.slots = UInt64(bl)
        (stats.coincidences, stats.clipped) = withUnsafeMutablePointer(to: &counts) { pCounts in
            withUnsafeMutablePointer(to: &noise) { p in
                if device.dwMinStd == 0 {
                    var v = BinomialVisitor<NoNoise>(array: self, delta: delta, bl: bl, counts: pCounts, noise: p)
                    return model.visit(&v)
                } else if device.c2cMode == .additive {
                    var v = BinomialVisitor<AdditiveNoise>(array: self, delta: delta, bl: bl, counts: pCounts, noise: p)
                    return model.visit(&v)
                } else {
                    var v = BinomialVisitor<MultiplicativeNoise>(array: self, delta: delta, bl: bl, counts: pCounts, noise: p)
                    return model.visit(&v)
                }
            }
        }
        return stats
    }

    struct BinomialVisitor<N: PulseNoise>: ResponseVisitor {
        let array: AnalogArray, delta: UnsafePointer<Float>, bl: Int
        let counts: UnsafeMutablePointer<RandomStream>, noise: UnsafeMutablePointer<RandomStream>
        mutating func visit<R: Response>(_ r: R) -> (fired: UInt64, clipped: UInt64) {
            let a = array
            let inv = 1 / (Float(bl) * a.nominalDw)
            var total: UInt64 = 0, clipped: UInt64 = 0
            for i in 0..<a.count {
                let d = delta[i]
                if d == 0 || !d.isFinite { continue }
                let n = Binomial.sample(trials: bl, p: Double(min(abs(d) * inv, 1)), &counts.pointee)
                if n == 0 { continue }
                let c = a.cells[i]
                var w = a.weights[i]
                for _ in 0..<n { w = N.pulse(r, c, w, down: d < 0, &noise.pointee, clipped: &clipped) }
                a.weights[i] = w
                total &+= UInt64(n)
            }
            return (total, clipped)
        }
    }
}

/// Binomial draws by inversion (one uniform, O(n p + 1) steps): exact for the small trial counts of pulse trains.
public enum Binomial {
    public static func sample(trials n: Int, p: Double, _ s: inout RandomStream) -> Int {
        if p <= 0 { return 0 }
        if p >= 1 { return n }
        let u = Double(s.nextUInt32()) * 0x1p-32
        let q = 1 - p
        var pmf = Foundation_pow(q, n)
        var cdf = pmf
        var k = 0
        while u >= cdf && k < n {
            pmf *= Double(n - k) / Double(k + 1) * p / q
            k += 1
            cdf += pmf
        }
        return k
    }

    @inline(__always) static func Foundation_pow(_ x: Double, _ n: Int) -> Double {
        var r = 1.0, b = x, e = n
        while e > 0 {
            if e & 1 == 1 { r *= b }
            b *= b
            e >>= 1
        }
        return r
    }
}

/// One pulse with a cycle-to-cycle noise form: w +- step, clipped to the bounds after every pulse (aihwkit).
protocol PulseNoise {
    /// The state after one pulse, before the bounds clip it.
    static func move<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ s: inout RandomStream) -> Float
}

extension PulseNoise {
    /// One pulse: `move`, then clipped to [w_min, w_max].
    @inline(__always)
    static func pulse<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ s: inout RandomStream) -> Float {
        let v = move(r, c, w, down: down, &s)
        return min(max(v, c.wMin), c.wMax)
    }

    /// One pulse, adding 1 to `clipped` when a bound cut it short (the same state and draws as `pulse`).
    @inline(__always)
    static func pulse<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ s: inout RandomStream,
                                   clipped: inout UInt64) -> Float {
        let v = move(r, c, w, down: down, &s)
        let bounded = min(max(v, c.wMin), c.wMax)
        clipped &+= bounded == v ? 0 : 1
        return bounded
    }
}

struct NoNoise: PulseNoise {
    @inline(__always)
    static func move<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ s: inout RandomStream) -> Float {
        down ? w - r.down(c, w) : w + r.up(c, w)
    }
}

/// The paper's Eq. 26: w +- dw_i (q(w) + sigma xi).
struct AdditiveNoise: PulseNoise {
    @inline(__always)
    static func move<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ s: inout RandomStream) -> Float {
        down ? w - (r.down(c, w) + c.noise * s.nextNormal()) : w + (r.up(c, w) + c.noise * s.nextNormal())
    }
}

/// aihwkit's mult_noise: w +- dw_i q(w) (1 + sigma xi).
struct MultiplicativeNoise: PulseNoise {
    @inline(__always)
    static func move<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ s: inout RandomStream) -> Float {
        down ? w - r.down(c, w) * (1 + c.noise * s.nextNormal()) : w + r.up(c, w) * (1 + c.noise * s.nextNormal())
    }
}
