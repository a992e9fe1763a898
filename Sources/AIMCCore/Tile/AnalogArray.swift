import CPulseKernels

/// Counts of pulsed updates, for benchmarks, per-tile telemetry and the cost estimate.
public struct PulseStatistics: Sendable, Equatable {
    /// Device pulses fired (= coincidences of an x-pulse and a d-pulse in the same slot, or binomial draws).
    public var coincidences: UInt64 = 0
    /// Devices visited (both trains non-zero).
    public var visited: UInt64 = 0
    /// Updates requested (rank-one updates of samples, or whole mini-batches).
    public var updates: UInt64 = 0
    /// Pulses whose step was cut by a device bound (the state would have passed w_min or w_max and was clipped to it);
    /// for expected updates (no pulses), devices whose update was cut by a bound.
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

/// Read-only view of an array's devices: element i is device i's parameters, computed from its stored draws.
public struct DeviceCells {
    let array: AnalogArray
    public subscript(i: Int) -> DeviceCell { array.cell(at: i) }
}

/// One crossbar array of rows x cols resistive devices: the device states (conductance units, row-major: row i
/// is output i, column j is input j), each device's stored device-to-device draws (`DrawLayout`: at most 12 bytes
/// per device, the parameters are computed from them when needed), and optionally a reference per device
/// (zero-shifting): the weight a read sees is w - reference. Updates follow the paper's pulse model (Eq. 26) and
/// its expected form (Eq. 2).
///
/// Pulsed updates apply every pulse in turn to its device, each with its own cycle-to-cycle normal, and clip to the
/// device's bounds after every pulse. The normals of one update come from one Philox4x32-10 stream
/// (`RandomStream.pulseStream`) addressed by global ids and the update's data only, never by rank: the update is
/// organised in lines (the rows, or the columns when fewer inputs than errors fire, as in one-hot transfers); the
/// devices of a line that receive pulses are ordered by decreasing pulse count (ties by index) and taken in chunks
/// of 32; pulse k of the device at place t of line L uses the normal of word (t mod 32) / 8 of block
/// 256 (t / 32) + 8k + (t mod 8) of the line's range of blocks (Box-Muller on the block's word pairs; see
/// `aimc_normals`). The same bits come out of every kernel that runs it: the C kernel of the affine families on
/// SSE2, AVX2 or AVX-512, and the Swift loop of the other families (`KernelInstructionSet`, tests).
public final class AnalogArray {
    public let rows: Int
    public let cols: Int
    public let model: DeviceModel
    public var device: DeviceConfig { model.config }
    /// The weights reads see, rows x cols, row-major: the device states, or with write noise the states plus their
    /// write noise (`DeviceEffects`).
    public let weights: UnsafeMutablePointer<Float>
    /// The device states pulses act on: `weights` itself, or with write noise the hidden persistent states (aihwkit's
    /// `w_persistent_`).
    public let state: UnsafeMutablePointer<Float>
    /// The device effects (write noise, decay, diffusion, reset bias, corrupt devices), or nil when all are off.
    public private(set) var effects: DeviceEffects?
    /// How each device's draws are stored.
    public let layout: DrawLayout
    /// The stored draws, `layout.recordBytes` bytes per device (row-major), or nil when no spread is set.
    public let records: UnsafeMutableRawPointer?
    /// Each device's parameters (computed from its draws; `cell(at:)`).
    public var cells: DeviceCells { DeviceCells(array: self) }
    /// Reference conductances (zero-shifting), or nil.
    public private(set) var reference: UnsafeMutablePointer<Float>?
    public let tile: TileDraw
    let nominalDw: Float
    /// The cell of a device whose draws are all 0 (every device when no spread is set).
    let nominal: DeviceCell
    /// Parameters of the C kernels for the affine families (constant step, soft bounds, linear step), else nil.
    let affine: aimc_affine_device?

    // Scratch for the pulse trains of one update.
    let xIndex: UnsafeMutablePointer<Int32>, xBits: UnsafeMutablePointer<UInt32>, xNegative: UnsafeMutablePointer<UInt8>
    let dIndex: UnsafeMutablePointer<Int32>, dBits: UnsafeMutablePointer<UInt32>, dNegative: UnsafeMutablePointer<UInt8>
    /// Scratch of the line kernels, allocated at the first pulsed update.
    var lineScratch: LineScratch?

    /// Creates the array with every state 0 and draws every device's parameters.
    ///
    /// - Parameters:
    ///   - rows, cols: array size (> 0).
    ///   - model: the device family and its nominal parameters and spreads.
    ///   - key: device-to-device stream: device i = row * cols + col uses its normals 8i ..< 8i + 8 (those whose
    ///     spread is not 0 are stored, rounded as `DrawLayout` states).
    ///   - tileKey: tile-to-tile stream of this array (three normals).
    ///   - effectsKey: the run-time stream of the device effects (seed, deviceEffects, block, array); nil: derived
    ///     from `key`. Unused while every effect is off.
    public init(rows: Int, cols: Int, model: DeviceModel, key: StreamKey, tileKey: StreamKey? = nil, effectsKey: StreamKey? = nil) {
        precondition(rows > 0 && cols > 0, "array size must be positive")
        self.rows = rows
        self.cols = cols
        self.model = model
        nominalDw = model.dwMin
        let tile = tileKey.map { TileDraw(device: model.config, key: $0) } ?? TileDraw()
        self.tile = tile
        let n = rows * cols
        weights = .allocate(capacity: n)
        weights.initialize(repeating: 0, count: n)
        let writeNoise = model.config.hasEffects ? WriteNoise(model.config, count: n) : nil
        state = writeNoise?.persistent ?? weights
        let layout = DrawLayout(device: model.config)
        self.layout = layout
        let k = DeviceModel.normalsPerDevice
        nominal = [Float](repeating: 0, count: k).withUnsafeBufferPointer { model.cell($0.baseAddress!, tile: tile) }
        if layout.stored > 0 {
            // 16 bytes of padding: the kernels read whole 8-byte words.
            let bytes = layout.recordBytes
            let r = UnsafeMutableRawPointer.allocate(byteCount: n * bytes + 16, alignment: 16)
            r.initializeMemory(as: UInt8.self, repeating: 0, count: n * bytes + 16)
            // Device i takes normals i k ..< (i + 1) k of the stream, drawn a block of devices at a time (`fill`: the
            // same normals as drawing them one by one).
            var stream = RandomStream(key: key)
            let block = 1024
            withUnsafeTemporaryAllocation(of: Float.self, capacity: block * k) { xi in
                var first = 0
                while first < n {
                    let m = min(block, n - first)
                    stream.fill(normals: xi.baseAddress!, count: m * k)
                    for i in 0..<m { layout.encode(xi.baseAddress! + i * k, into: r + (first + i) * bytes) }
                    first += m
                }
            }
            records = r
        } else {
            records = nil
        }
        affine = AnalogArray.affineParameters(model: model, tile: tile, layout: layout)
        // The C kernels write cells as 12 floats in declaration order.
        precondition(MemoryLayout<DeviceCell>.stride == 48 && MemoryLayout<DeviceCell>.offset(of: \.dw) == 44)
        xIndex = .allocate(capacity: cols); xBits = .allocate(capacity: cols); xNegative = .allocate(capacity: cols)
        dIndex = .allocate(capacity: rows); dBits = .allocate(capacity: rows); dNegative = .allocate(capacity: rows)
        if model.config.hasEffects {
            effects = DeviceEffects(model.config, count: n, writeNoise: writeNoise, key: key,
                                    runtimeKey: effectsKey ?? StreamKey(seed: UInt64(key.words.x) | UInt64(key.words.y) << 32, purpose: .deviceEffects),
                                    bounds: { i in let c = self.cell(at: i); return (c.wMin, c.wMax) })
            // Stuck devices start at their values; the reads see the states (no write noise before the first write).
            effects!.corrupt?.hold(state)
            if state != weights { weights.update(from: state, count: n) }
        }
    }

    /// A soft-bounds (or other) array from a configuration that is already validated.
    public convenience init(rows: Int, cols: Int, device: DeviceConfig, key: StreamKey, tileKey: StreamKey? = nil, effectsKey: StreamKey? = nil) {
        self.init(rows: rows, cols: cols, model: DeviceModel(validated: device), key: key, tileKey: tileKey, effectsKey: effectsKey)
    }

    deinit {
        weights.deallocate(); records?.deallocate(); reference?.deallocate()
        xIndex.deallocate(); xBits.deallocate(); xNegative.deallocate()
        dIndex.deallocate(); dBits.deallocate(); dNegative.deallocate()
    }

    public var count: Int { rows * cols }

    /// Bytes per device of an array of `device`: 4 of state, `DrawLayout.recordBytes` of stored draws and
    /// `DeviceEffects.bytesPerDevice` of device effects (0 when they are off).
    public static func bytesPerDevice(_ device: DeviceConfig) -> Int {
        4 + DrawLayout(device: device).recordBytes + DeviceEffects.bytesPerDevice(device)
    }

    /// Bytes of the scratch an array of rows x cols allocates for its pulsed updates (trains, a line's positions).
    public static func scratchBytes(rows: Int, cols: Int) -> Int {
        9 * (rows + cols) + LineScratch.bytes(width: max(rows, cols))
    }

    /// Bytes of the C kernel's scratch (one per thread) for arrays of at most `width` rows and columns.
    public static func kernelScratchBytes(width: Int) -> Int { Int(aimc_affine_row_scratch(Int32(width), Int32(width), 12)) }

    /// Device i's parameters: `DeviceModel.cell` of its stored draws and the array's tile draws.
    @inline(__always) public func cell(at i: Int) -> DeviceCell {
        guard let r = records else { return nominal }
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: DeviceModel.normalsPerDevice) { xi in
            layout.decode(r + i * layout.recordBytes, into: xi.baseAddress!)
            return model.cell(xi.baseAddress!, tile: tile)
        }
    }

    /// Calls `body` with the cells of devices start ..< start + n (n <= 256), computed by the C kernel for the affine
    /// families (the same bits as `cell(at:)`, which the tests check) and by `cell(at:)` otherwise.
    func withCells<T>(_ start: Int, _ n: Int, _ body: (UnsafePointer<DeviceCell>) -> T) -> T {
        precondition(n <= 256)
        return withUnsafeTemporaryAllocation(of: DeviceCell.self, capacity: 256) { buffer in
            let p = buffer.baseAddress!
            if var a = affine {
                UnsafeMutableRawPointer(p).withMemoryRebound(to: Float.self, capacity: 12 * n) { f in
                    aimc_affine_cells(&a, records?.assumingMemoryBound(to: UInt8.self), Int32(layout.recordBytes), start, Int32(n), f)
                }
            } else {
                for k in 0..<n { (p + k).initialize(to: cell(at: start + k)) }
            }
            return body(p)
        }
    }

    /// Calls `body(start, count, cells)` for consecutive runs of devices covering 0 ..< count (at most 256 cells per
    /// call, the same bits as `cell(at:)`; the fast way to visit every device's parameters).
    public func forEachCells(_ body: (Int, Int, UnsafePointer<DeviceCell>) -> Void) {
        var start = 0
        while start < count {
            let n = min(256, count - start)
            withCells(start, n) { body(start, n, $0) }
            start += n
        }
    }

    // MARK: Weights

    /// Programs the weights directly (aihwkit `set_weights`): w = value + reference, clipped to the bounds; stuck
    /// devices keep their values, and with write noise the reads see w plus a fresh draw (`apply_write_noise_on_set`).
    /// - Parameter values: rows x cols, row-major.
    public func setWeights(_ values: UnsafePointer<Float>) {
        forEachCells { start, n, c in
            for k in 0..<n {
                let i = start + k
                let r = reference?[i] ?? 0
                state[i] = min(max(values[i] + r, c[k].wMin), c[k].wMax)
            }
        }
        effects?.programmed(self)
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

    // MARK: Resets and per-mini-batch effects

    /// Resets devices to their reset bias (aihwkit `PulsedRPUDevice::resetCols`, used by its transfer compound's
    /// `with_reset_prob`, AIMCTraining's `TransferReset`): each device of columns `columns` (every row), with
    /// probability `probability`, is programmed to b_i + reset_std xi (`ResetBias`: b_i = reset + reset_dtod xi, drawn
    /// with the array's device effects, which exist whenever reset_dtod > 0; otherwise b_i = reset), clipped to its bounds.
    /// Stuck devices keep their values; the reset devices' write noise is drawn anew.
    ///
    /// Draws from `stream`, device by device in row-major order: a uniform (when probability < 1), then a normal for a
    /// reset device (when reset_std > 0).
    /// - Returns: the number of devices reset.
    @discardableResult
    public func resetDevices(columns: Range<Int>, probability: Double = 1, stream: inout RandomStream) -> Int {
        precondition(columns.lowerBound >= 0 && columns.upperBound <= cols, "columns out of range")
        var none = RandomStream(key: StreamKey(seed: 0, purpose: .deviceEffects))
        let bias = effects?.resetBias ?? ResetBias(device, count: 0, stream: &none)
        var reset = [Int]()
        for i in 0..<rows {
            for j in columns {
                if probability < 1 && !(Double(stream.nextUInt32()) * 0x1p-32 < probability) { continue }
                let e = i * cols + j, c = cell(at: e)
                state[e] = min(max(bias.value(e, &stream), c.wMin), c.wMax)
                reset.append(e)
            }
        }
        effects?.updated(self) { body in for e in reset { body(e) } }
        return reset.count
    }

    /// The per-mini-batch device effects (aihwkit `AnalogTile.post_update_step`): diffusion, then decay towards the
    /// reset bias (`DeviceEffects.stepEnded`). Nothing when neither is on.
    public func stepEnded() { effects?.stepEnded(self) }

    /// The counter of the device effects' run-time streams (checkpoint state; 0 without effects).
    public var effectsClock: UInt64 {
        get { effects?.clock ?? 0 }
        set { effects?.clock = newValue }
    }

    /// With write noise, the hidden persistent device states (checkpoint state), else nil.
    public var persistentStates: UnsafeMutablePointer<Float>? { effects?.writeNoise?.persistent }

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
                if let w = model.symmetricPoint(cell(at: i), from: state[i]).value {
                    state[i] = w
                    r[i] = w
                } else {
                    r[i] = 0
                    without += 1
                }
            }
            effects?.updatedAll(self)
            return (0, without)
        case .pulsed:
            withUnsafeMutablePointer(to: &stream) { p in
                var v = AlternatingVisitor(array: self, pulses: k, stream: p)
                model.visit(&v)
            }
            for i in 0..<count {
                if model.symmetricPoint(cell(at: i), from: state[i]).value == nil { without += 1 }
                r[i] = state[i]
            }
            effects?.updatedAll(self)
            return (UInt64(k) * UInt64(count), without)
        }
        return (0, without)
    }

    struct AlternatingVisitor: ResponseVisitor {
        let array: AnalogArray, pulses: Int, stream: UnsafeMutablePointer<RandomStream>
        mutating func visit<R: Response>(_ response: R) {
            let noisy = array.device.dwMinStd > 0
            let additive = array.device.c2cMode == .additive
            var clipped: UInt64 = 0
            for i in 0..<array.count {
                let c = array.cell(at: i)
                var w = array.state[i]
                for p in 0..<pulses {
                    if noisy {
                        w = additive ? AdditiveNoise.pulse(response, c, w, down: p & 1 == 1, &stream.pointee, &clipped)
                            : MultiplicativeNoise.pulse(response, c, w, down: p & 1 == 1, &stream.pointee, &clipped)
                    } else {
                        w = NoNoise.pulse(response, c, w, down: p & 1 == 1, &stream.pointee, &clipped)
                    }
                }
                array.state[i] = w
            }
        }
    }

    // MARK: Expected update (paper Eq. 2)

    struct ExpectedVisitor: ResponseVisitor {
        let array: AnalogArray, delta: UnsafePointer<Float>, column: Int?
        let granularityBL: Int, noise: UnsafeMutablePointer<RandomStream>?
        mutating func visit<R: Response>(_ r: R) -> UInt64 {
            let a = array
            let inv = 1 / a.nominalDw
            let dw = a.nominalDw
            var clipped: UInt64 = 0
            @inline(__always) func one(_ d: Float, _ i: Int, _ c: DeviceCell) {
                var w = a.state[i]
                w += d > 0 ? d * inv * r.up(c, w) : d * inv * r.down(c, w)
                if let noise {
                    // Lemma 1 of arXiv 2510.02516: Var = |dW| dw_min (1 - |dW|/(BL dw_min)).
                    let m = abs(d)
                    let variance = max(m * dw * (1 - m / (Float(granularityBL) * dw)), 0)
                    w += variance.squareRoot() * noise.pointee.nextNormal()
                }
                let y = min(max(w, c.wMin), c.wMax)
                clipped &+= y != w ? 1 : 0
                a.state[i] = y
            }
            if let column {
                for k in 0..<a.rows where delta[k] != 0 {
                    let i = k * a.cols + column
                    one(delta[k], i, a.cell(at: i))
                }
            } else {
                a.forEachCells { start, n, c in
                    for k in 0..<n where delta[start + k] != 0 { one(delta[start + k], start + k, c[k]) }
                }
            }
            return clipped
        }
    }

    /// Applies the mean update of the pulse model: W <- W + dW .* F(W) - |dW| .* G(W) (paper Eq. 2), i.e.
    /// w += dW q_+(w) for dW > 0 and w += dW q_-(w) for dW < 0, with each device's q in units of the nominal
    /// dw_min; then clips to the device's bounds. The variant with `bl` adds the zero-mean quantisation noise of
    /// Lemma 1 (arXiv 2510.02516): N(0, |dW| dw_min (1 - |dW|/(BL dw_min))).
    ///
    /// - Parameter delta: the requested change dW, rows x cols, row-major.
    /// - Returns: `clipped` counts the devices whose update was cut by a bound; `updates` is 1.
    @discardableResult
    public func expectedUpdate(delta: UnsafePointer<Float>) -> PulseStatistics {
        var v = ExpectedVisitor(array: self, delta: delta, column: nil, granularityBL: 1, noise: nil)
        return expectedStatistics(model.visit(&v), delta: delta)
    }

    /// Eq. 2 plus the granularity noise of Lemma 1 with BL slots, drawn from `noise` (one normal per device with
    /// dW != 0, row-major).
    @discardableResult
    public func expectedUpdate(delta: UnsafePointer<Float>, bl: Int, noise: inout RandomStream) -> PulseStatistics {
        withUnsafeMutablePointer(to: &noise) { p in
            var v = ExpectedVisitor(array: self, delta: delta, column: nil, granularityBL: bl, noise: p)
            return expectedStatistics(model.visit(&v), delta: delta)
        }
    }

    /// Eq. 2 on one column only: `delta` holds the requested change of column `column` (rows entries).
    @discardableResult
    public func expectedUpdate(column: Int, delta: UnsafePointer<Float>) -> PulseStatistics {
        precondition(column >= 0 && column < cols)
        var v = ExpectedVisitor(array: self, delta: delta, column: column, granularityBL: 1, noise: nil)
        let clipped = model.visit(&v)
        effects?.updated(self) { body in for k in 0..<rows where delta[k] != 0 { body(k * cols + column) } }
        return expectedStatistics(clipped)
    }

    /// The statistics of an expected update; after a whole-array update (`delta` given), the device effects of the
    /// devices it changed (dW != 0).
    func expectedStatistics(_ clipped: UInt64, delta: UnsafePointer<Float>? = nil) -> PulseStatistics {
        if let delta { effects?.updated(self) { body in for i in 0..<count where delta[i] != 0 { body(i) } } }
        var s = PulseStatistics()
        s.updates = 1
        s.clipped = clipped
        return s
    }

    // MARK: Pulsed update, one sample (rank one)

    /// One stochastic pulsed rank-one update requesting dW = -lr * d x^T (one sample; aihwkit's pulsed update
    /// with update BL management and update management; paper Section 2):
    ///
    /// BL = min(ceil(k), desired_bl) with k = lr max|x| max|d| / dw_min (or desired_bl without BL management);
    /// x_j fires in each of BL slots with probability B|x_j|, d_i with probability A|d_i|, where
    /// A = B = sqrt(lr/(dw_min BL)), rebalanced by sqrt(max|x|/max|d|) under update management so that the
    /// expected number of coincidences of (i, j) is lr |x_j d_i| / dw_min. Each coincidence fires one pulse on
    /// device (i, j), down if sign(d_i x_j) > 0 and up otherwise, applied one by one with its own c2c normal and
    /// clipping to the device's bounds.
    ///
    /// - Parameters:
    ///   - x: `cols` inputs; d: `rows` errors; lr: learning rate (>= 0).
    ///   - trains: the stream for the Bernoulli slots (x trains first, then d trains);
    ///   - noise: the stream of the cycle-to-cycle normals (`pulseStream`: keyed by the stream's key, counter words
    ///     and position, then by line, chunk, pulse and position as the class documentation states); it is advanced,
    ///     so a second update on the same stream draws other normals.
    /// - Returns: coincidence, visit and clipped-pulse counts.
    @discardableResult
    public func pulsedUpdate(x: UnsafePointer<Float>, d: UnsafePointer<Float>, lr: Float, update: UpdateConfig,
                             trains: inout RandomStream, noise: inout RandomStream) -> PulseStatistics {
        var stats = PulseStatistics()
        stats.updates = 1
        guard lr > 0 else { return stats }
        var xMax: Float = 0, dMax: Float = 0
        // The largest |x_j| and |d_i| (NaN never wins; the maximum does not depend on the order it is taken in).
        xMax = Periphery.absMax(x, count: cols)
        dMax = Periphery.absMax(d, count: rows)
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
        let counts = applyTrains(nx: nx, nd: nd, noise: noise)
        if let effects {
            // The devices that fired (a slot where both trains fire), row by row.
            effects.updated(self) { body in
                for p in 0..<nd {
                    let row = Int(dIndex[p]) * cols, bits = dBits[p]
                    for q in 0..<nx where bits & xBits[q] != 0 { body(row + Int(xIndex[q])) }
                }
            }
        }
        noise.advanceForPulses()
        stats.coincidences = counts.coincidences
        stats.clipped = counts.clipped
        return stats
    }

    /// `count` rank-one pulsed updates in turn, update u as `pulsedUpdate(x: x + u xStride, d: d + u dStride, ...)`
    /// with the trains stream `trains` at counter (step, sub + u) and the noise stream `noise` at counter
    /// (step, sub + u) (a convolution's output positions, or a layer's samples, one after the other). The same bits as
    /// those calls: for the affine families without device effects one call of the C kernels (`aimc_affine_updates`,
    /// which repeats `pulsedUpdate` operation for operation), else those calls.
    ///
    /// - Parameters:
    ///   - x: update u's `cols` inputs at x + u xStride; d: its `rows` errors at d + u dStride.
    ///   - trains, noise: the keys of the streams; step: their counter's step (c1, c2); sub: update 0's counter word c3.
    /// - Returns: the updates' counts, summed.
    public func pulsedUpdates(x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int, count: Int,
                              lr: Float, update: UpdateConfig, trains: StreamKey, noise: StreamKey, step: UInt64,
                              sub: UInt32) -> PulseStatistics {
        guard count > 0 else { return PulseStatistics() }
        if var a = affine, effects == nil, !LineScratch.forceSwiftLoop, self.count <= Int(Int32.max) {
            var rule = aimc_update_rule(lr: lr, dwMin: nominalDw, desiredBL: Int32(update.desiredBL),
                                        blManagement: update.updateBLManagement ? 1 : 0, updateManagement: update.updateManagement ? 1 : 0)
            var out = aimc_update_counts()
            let t = RandomStream(key: trains, step: step, sub: sub).cStream, n = RandomStream(key: noise, step: step, sub: sub).cStream
            aimc_affine_updates(&a, state, records.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) }, Int32(layout.recordBytes),
                                Int32(rows), Int32(cols), x, xStride, d, dStride, Int32(count), &rule, t, n, &out)
            var stats = PulseStatistics()
            stats.updates = out.updates
            stats.slots = out.slots
            stats.visited = out.visited
            stats.coincidences = out.coincidences
            stats.clipped = out.clipped
            return stats
        }
        var stats = PulseStatistics()
        for u in 0..<count {
            var t = RandomStream(key: trains, step: step, sub: sub &+ UInt32(truncatingIfNeeded: u))
            var n = RandomStream(key: noise, step: step, sub: sub &+ UInt32(truncatingIfNeeded: u))
            stats += pulsedUpdate(x: x + u * xStride, d: d + u * dStride, lr: lr, update: update, trains: &t, noise: &n)
        }
        return stats
    }

    /// Bernoulli trains of `length` slots for every non-zero value; returns how many trains are non-zero and
    /// lists them (index, bits, sign). A probability >= 1 fires in every slot.
    ///
    /// Value j's train takes the next `length` words of `stream` when 0 < p_j < 1 (slot s fires when word s is below
    /// `slotThreshold(p_j)`), none otherwise. Formed by the C kernels (`aimc_trains`, vectorised), which take the
    /// words from the stream's position on, in the same order as drawing them slot by slot; the stream then continues
    /// after them.
    @inline(__always)
    static func makeTrains(values: UnsafePointer<Float>, count: Int, scale: Float, length: Int,
                           stream: inout RandomStream, index: UnsafeMutablePointer<Int32>,
                           bits: UnsafeMutablePointer<UInt32>, negative: UnsafeMutablePointer<UInt8>) -> Int {
        var consumed: UInt64 = 0
        let start = stream.position
        let n = aimc_trains(values, Int32(count), scale, Int32(length), stream.cStream, start, index, bits, negative, &consumed)
        if consumed > 0 { stream.resume(at: start &+ consumed) }
        return Int(n)
    }

    /// floor(p 2^32) for 0 <= p < 1, exactly (the value of UInt64(Double(p) * 2^32)), from the bits of p: p = m 2^(e - 150)
    /// with m the 24-bit significand and e the biased exponent, so p 2^32 = m 2^(e - 118). A slot fires when its word is
    /// below this.
    @inline(__always)
    public static func slotThreshold(_ p: Float) -> UInt32 {
        let bits = p.bitPattern
        let e = Int(bits >> 23)
        if e == 0 { return 0 }                              // subnormal: p 2^32 < 1
        let m = (bits & 0x7F_FFFF) | 0x80_0000
        let s = e &- 118                                    // <= 8 since p < 1
        if s >= 0 { return m << UInt32(s) }
        return s <= -24 ? 0 : m >> UInt32(-s)
    }

    /// The coincidences of the trains in xIndex/xBits/xNegative (nx) and dIndex/dBits/dNegative (nd), line by line.
    /// Lines are the rows (d trains), or the columns when fewer x trains fire than d trains (one-hot transfers), so a
    /// line holds many positions; its positions are the other side's trains in index order (the kernels process the
    /// devices with pulses by decreasing count).
    func applyTrains(nx: Int, nd: Int, noise: RandomStream) -> (coincidences: UInt64, clipped: UInt64) {
        let byRows = nd <= nx || count > Int(Int32.max)
        let scratch = lineScratchFor()
        let (lines, positions) = byRows ? (nd, nx) : (nx, nd)
        let lineIndex = byRows ? dIndex : xIndex, lineBits = byRows ? dBits : xBits, lineNegative = byRows ? dNegative : xNegative
        let posIndex = byRows ? xIndex : dIndex, posBits = byRows ? xBits : dBits, posNegative = byRows ? xNegative : dNegative
        for q in 0..<positions {
            scratch.offsets[q] = byRows ? posIndex[q] : posIndex[q] * Int32(cols)
            scratch.bits[q] = posBits[q]
            scratch.negative[q] = posNegative[q]
        }
        let plan = LinePlan(width: byRows ? cols : rows, orientation: byRows ? 0 : 1, noise: noise)
        var total = (coincidences: UInt64(0), clipped: UInt64(0))
        for p in 0..<lines {
            let line = Int(lineIndex[p])
            let base = byRows ? line * cols : line
            if byRows && p + 1 < lines { prefetchRow(Int(lineIndex[p + 1])) }
            let r = applyLine(base: base, plan: plan, line: line, positions: positions, lineBits: lineBits[p],
                              flip: lineNegative[p] != 0 ? 0 : 1, counts: nil, contiguous: byRows ? cols : 0, scratch: scratch)
            total.coincidences &+= r.coincidences
            total.clipped &+= r.clipped
        }
        return total
    }

    func prefetchRow(_ i: Int) {
        aimc_prefetch(state + i * cols, 4 * cols)
        if let r = records { aimc_prefetch(r + i * cols * layout.recordBytes, cols * layout.recordBytes) }
    }

    func lineScratchFor() -> LineScratch {
        if let s = lineScratch { return s }
        let s = LineScratch(width: max(rows, cols))
        lineScratch = s
        return s
    }

    /// Pulses of one line: the positions in `scratch` (offsets from `base`, trains or counts, signs); a device at a
    /// position goes down when its sign differs from `flip`. `contiguous`: the line's devices are base ..< base +
    /// contiguous (a row), or 0.
    func applyLine(base: Int, plan: LinePlan, line: Int, positions: Int, lineBits: UInt32, flip: UInt8,
                   counts: UnsafePointer<UInt8>?, contiguous: Int, scratch: LineScratch) -> (coincidences: UInt64, clipped: UInt64) {
        let (stream, firstBlock) = plan.stream(line: line)
        let bits: UnsafePointer<UInt32>? = counts == nil ? UnsafePointer(scratch.bits) : nil
        if var a = affine, !LineScratch.forceSwiftLoop {
            var out = aimc_pulse_counts(coincidences: 0, clipped: 0)
            let recordBytes = Int32(layout.recordBytes)
            aimc_affine_row(&a, state + base, records.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self) + base * layout.recordBytes) },
                            recordBytes, Int32(contiguous), scratch.offsets, bits, counts, lineBits, scratch.negative, flip,
                            Int32(positions), stream, firstBlock, &out)
            return (out.coincidences, out.clipped)
        }
        let noisy = device.dwMinStd > 0
        let job = LineJob(array: self, base: base, positions: positions, bits: bits, counts: counts, lineBits: lineBits,
                          flip: flip, stream: stream, firstBlock: firstBlock, scratch: scratch)
        if !noisy {
            var v = LineVisitor<NoNoise>(job: job)
            return model.visit(&v)
        } else if device.c2cMode == .additive {
            var v = LineVisitor<AdditiveNoise>(job: job)
            return model.visit(&v)
        } else {
            var v = LineVisitor<MultiplicativeNoise>(job: job)
            return model.visit(&v)
        }
    }

    // MARK: Single-device pulses (threshold transfers)

    struct FireVisitor<N: PulseNoise>: ResponseVisitor {
        let array: AnalogArray, element: Int, count: Int, down: Bool, noise: UnsafeMutablePointer<RandomStream>
        mutating func visit<R: Response>(_ r: R) -> UInt64 {
            let c = array.cell(at: element)
            var w = array.state[element]
            var clipped: UInt64 = 0
            for _ in 0..<count { w = N.pulse(r, c, w, down: down, &noise.pointee, &clipped) }
            array.state[element] = w
            return clipped
        }
    }

    /// Fires `count` pulses of one sign on element i, one by one (the threshold transfers of Tiki-Taka v2 and
    /// Residual Learning v2): with the device's cycle-to-cycle noise from `noise` (one normal per pulse, in order)
    /// when `noisy`, else the mean pulse.
    /// - Returns: `coincidences` = count, and the pulses cut by a bound.
    @discardableResult
    public func firePulses(element i: Int, count: Int, down: Bool, noisy: Bool, noise: inout RandomStream) -> PulseStatistics {
        var stats = PulseStatistics()
        guard count > 0 else { return stats }
        stats.coincidences = UInt64(count)
        stats.clipped = withUnsafeMutablePointer(to: &noise) { p in
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
        effects?.updated(self) { $0(i) }
        return stats
    }

    // MARK: Pulsed update, one mini-batch (the paper's model)

    /// One pulsed update of a whole mini-batch (the model behind the paper's analysis and Lemma 1 of
    /// arXiv 2510.02516): for the requested dW (rows x cols), device (i, j) receives n ~ Binomial(BL, p) pulses
    /// of sign(dW_ij), p = min(|dW_ij| / (BL dw_min), 1), applied one by one with their own c2c normals and clipping,
    /// so that E[n dw_min] = |dW_ij| (below saturation) and Var[n dw_min] = |dW| dw_min (1 - |dW|/(BL dw_min)).
    ///
    /// - Parameters:
    ///   - delta: requested change dW, rows x cols, row-major.
    ///   - bl: pulse slots BL (1...32).
    ///   - counts: the stream for the binomial draws (one uniform per device with dW != 0, row-major);
    ///   - noise: the stream of the cycle-to-cycle normals (rows are the lines, the devices of a row with pulses its
    ///     positions).
    @discardableResult
    public func pulsedUpdate(delta: UnsafePointer<Float>, bl: Int, counts: inout RandomStream,
                             noise: inout RandomStream) -> PulseStatistics {
        precondition(bl >= 1 && bl <= 32, "BL must lie in 1...32")
        var stats = PulseStatistics()
        stats.updates = 1
        stats.slots = UInt64(bl)
        let scratch = lineScratchFor()
        let plan = LinePlan(width: cols, orientation: 2, noise: noise)
        let inv = 1 / (Float(bl) * nominalDw)
        var touched = [Int]()
        for i in 0..<rows {
            // The counts in column order (the kernels take the devices with pulses by decreasing count).
            var n = 0
            for j in 0..<cols {
                let d = delta[i * cols + j]
                if d == 0 || !d.isFinite { continue }
                let k = Binomial.sample(trials: bl, p: Double(min(abs(d) * inv, 1)), &counts)
                if k == 0 { continue }
                scratch.offsets[n] = Int32(j)
                scratch.counts[n] = UInt8(k)
                scratch.negative[n] = d < 0 ? 1 : 0
                n += 1
                if effects != nil { touched.append(i * cols + j) }
            }
            guard n > 0 else { continue }
            if i + 1 < rows { prefetchRow(i + 1) }
            let r = applyLine(base: i * cols, plan: plan, line: i, positions: n, lineBits: 0, flip: 0,
                              counts: UnsafePointer(scratch.counts), contiguous: cols, scratch: scratch)
            stats.coincidences &+= r.coincidences
            stats.clipped &+= r.clipped
            stats.visited &+= UInt64(n)
        }
        effects?.updated(self) { body in for i in touched { body(i) } }
        noise.advanceForPulses()
        return stats
    }
}

/// The stream and block numbering of the lines of one update: a line of width W (positions) owns
/// 256 ceil(W/32) blocks; lines are grouped in bands of 2^24 / ceil(W/32) lines, each band with its own key, so block
/// numbers stay below 2^32 for any array size.
struct LinePlan {
    let chunks: Int, linesPerBand: Int, orientation: UInt64
    let noise: RandomStream

    init(width: Int, orientation: UInt64, noise: RandomStream) {
        chunks = (width + 31) / 32
        linesPerBand = max(1, (1 << 24) / chunks)
        self.orientation = orientation
        self.noise = noise
    }

    func stream(line: Int) -> (aimc_stream, UInt32) {
        let band = line / linesPerBand
        let s = noise.pulseStream(orientation: orientation, band: UInt64(band))
        return (s, UInt32((line % linesPerBand) * chunks * 256))
    }
}

/// Scratch of the line kernels of one array: the positions of a line (offsets, trains or counts, signs). (The C
/// kernel keeps its own scratch per thread; the Swift loop's lives on the stack.)
final class LineScratch {
    let width: Int
    let offsets: UnsafeMutablePointer<Int32>, bits: UnsafeMutablePointer<UInt32>, negative: UnsafeMutablePointer<UInt8>
    let counts: UnsafeMutablePointer<UInt8>
    /// Tests set this to run the affine families through the Swift loop, to compare it with the C kernel.
    nonisolated(unsafe) static var forceSwiftLoop = false

    static func bytes(width: Int) -> Int { 10 * width }

    init(width: Int) {
        self.width = width
        offsets = .allocate(capacity: width); bits = .allocate(capacity: width); negative = .allocate(capacity: width)
        counts = .allocate(capacity: width)
    }

    deinit {
        offsets.deallocate(); bits.deallocate(); negative.deallocate(); counts.deallocate()
    }
}

/// One line for the Swift loop.
struct LineJob {
    let array: AnalogArray, base: Int, positions: Int
    let bits: UnsafePointer<UInt32>?, counts: UnsafePointer<UInt8>?, lineBits: UInt32, flip: UInt8
    let stream: aimc_stream, firstBlock: UInt32
    let scratch: LineScratch
}

/// The line kernel in Swift, for every family: the same order, chunks and normals as the C kernel (the devices with
/// pulses by decreasing count, ties in the given order; chunks of 32 of them), one device at a time. (For the affine families its results are
/// the C kernel's bits; the tests compare them.)
struct LineVisitor<N: PulseNoise>: ResponseVisitor {
    let job: LineJob
    mutating func visit<R: Response>(_ r: R) -> (coincidences: UInt64, clipped: UInt64) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 * 32) { z in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: max(job.positions, 1)) { order in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(job.positions, 1)) { counts in
                    run(r, z.baseAddress!, order.baseAddress!, counts.baseAddress!)
                }
            }
        }
    }

    func run<R: Response>(_ r: R, _ z: UnsafeMutablePointer<Float>, _ order: UnsafeMutablePointer<Int32>,
                          _ counts: UnsafeMutablePointer<UInt8>) -> (coincidences: UInt64, clipped: UInt64) {
        let a = job.array, s = job.scratch
        var coincidences: UInt64 = 0, clipped: UInt64 = 0
        // The devices with pulses, by decreasing count, ties in the given order (a stable counting sort).
        var first = [Int](repeating: 0, count: 34)
        for q in 0..<job.positions {
            let n = job.bits.map { ($0[q] & job.lineBits).nonzeroBitCount } ?? Int(job.counts![q])
            coincidences &+= UInt64(n)
            if n > 0 { first[33 - n] += 1 }
        }
        for v in 1..<34 { first[v] += first[v - 1] }
        let active = first[32]
        for q in 0..<job.positions {
            let n = job.bits.map { ($0[q] & job.lineBits).nonzeroBitCount } ?? Int(job.counts![q])
            guard n > 0 else { continue }
            let t = first[32 - n]
            first[32 - n] += 1
            order[t] = Int32(q)
            counts[t] = UInt8(n)
        }
        var start = 0, chunk = 0
        while start < active {
            let m = min(32, active - start)
            var maxN = 0
            for t in 0..<m { maxN = max(maxN, Int(counts[start + t])) }
            if N.noisy { aimc_normals(job.stream, job.firstBlock + 256 * UInt32(chunk), Int32(maxN), z) }
            for t in 0..<m {
                let q = Int(order[start + t]), n = Int(counts[start + t])
                let e = job.base + Int(s.offsets[q])
                let c = a.cell(at: e)
                let down = s.negative[q] != job.flip
                var w = a.state[e]
                for k in 0..<n {
                    let v = N.unclipped(r, c, w, down: down, N.noisy ? z[32 * k + t] : 0)
                    let y = min(max(v, c.wMin), c.wMax)
                    clipped &+= y != v ? 1 : 0
                    w = y
                }
                a.state[e] = w
            }
            start += 32
            chunk += 1
        }
        return (coincidences, clipped)
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

/// One pulse with a cycle-to-cycle noise form: w +- step (before clipping), given the pulse's standard normal z.
protocol PulseNoise {
    /// Whether the form uses a normal per pulse.
    static var noisy: Bool { get }
    static func unclipped<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ z: Float) -> Float
}

extension PulseNoise {
    /// One pulse clipped to the device's bounds (aihwkit clips after every pulse), drawing its normal from `s`;
    /// counts the pulse in `clipped` when the bound cut it.
    @inline(__always)
    static func pulse<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ s: inout RandomStream,
                                   _ clipped: inout UInt64) -> Float {
        let v = unclipped(r, c, w, down: down, noisy ? s.nextNormal() : 0)
        let y = min(max(v, c.wMin), c.wMax)
        clipped &+= y != v ? 1 : 0
        return y
    }
}

struct NoNoise: PulseNoise {
    static var noisy: Bool { false }
    @inline(__always)
    static func unclipped<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ z: Float) -> Float {
        down ? w - r.down(c, w) : w + r.up(c, w)
    }
}

/// The paper's Eq. 26: w +- dw_i (q(w) + sigma xi).
struct AdditiveNoise: PulseNoise {
    static var noisy: Bool { true }
    @inline(__always)
    static func unclipped<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ z: Float) -> Float {
        down ? w - (r.down(c, w) + c.noise * z) : w + (r.up(c, w) + c.noise * z)
    }
}

/// aihwkit's mult_noise: w +- dw_i q(w) (1 + sigma xi).
struct MultiplicativeNoise: PulseNoise {
    static var noisy: Bool { true }
    @inline(__always)
    static func unclipped<R: Response>(_ r: R, _ c: DeviceCell, _ w: Float, down: Bool, _ z: Float) -> Float {
        down ? w - r.down(c, w) * (1 + c.noise * z) : w + r.up(c, w) * (1 + c.noise * z)
    }
}

extension AnalogArray {
    /// The C kernel's parameters of an affine family (constant step, soft bounds, linear step) with 16-bit draws and
    /// a linear dw_min spread; nil for the other families, which run in Swift.
    static func affineParameters(model: DeviceModel, tile: TileDraw, layout: DrawLayout) -> aimc_affine_device? {
        let d = model.config
        let family: Int32
        switch d.family {
        case .constantStep: family = 0
        case .softBounds: family = 1
        case .linearStep: family = 2
        default: return nil
        }
        guard !d.dwMinDtodLogNormal, !layout.packed else { return nil }
        var a = aimc_affine_device()
        a.base = model.dwMin * tile.gain
        a.dwDtod = Float(d.dwMinDtod)
        a.wMax = Float(d.wMax)
        a.wMin = Float(d.wMin)
        a.wMaxDtod = Float(d.wMaxDtod)
        a.wMinDtod = Float(d.wMinDtod)
        a.rangeScale = tile.rangeScale
        a.asymmetry = Float(d.asymmetry)
        a.asymmetryDtod = Float(d.asymmetryDtod)
        a.upDown = Float(d.upDown)
        a.upDownDtod = Float(d.upDownDtod)
        a.gammaUp = Float(d.gammaUp)
        a.gammaDown = Float(d.gammaDown)
        a.gammaDtod = Float(d.gammaDtod)
        a.symmetricPointDtod = Float(d.symmetricPointDtod)
        a.tileShift = tile.shift
        a.sigma = Float(d.dwMinStd)
        a.family = family
        a.additive = d.c2cMode == .additive ? 1 : 0
        a.meanBoundReference = d.meanBoundReference ? 1 : 0
        a.noisy = d.dwMinStd > 0 ? 1 : 0
        let s = layout.slots.map { Int32($0) }
        a.slot = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        return a
    }
}
