import AIMCCore
import Crypto
import Foundation

/// One weight block with the arrays its algorithm needs, on its owner rank. Arrays follow arXiv 2510.02516's
/// indexing: W(0) is the most significant (the main array W), W(N) receives the gradient pulses:
/// - digital SGD: a floating-point matrix, no arrays;
/// - Analog SGD: [W] (N = 0);
/// - Tiki-Taka v1/v2, Residual Learning v1/v2, RIDER: [W, P] (N = 1), plus a digital buffer H (v2) or the moving
///   average Q (RIDER);
/// - multi-tile residual learning: [W(0), ..., W(N)].
///
/// It reads (forward, backward) through its own periphery and updates only its own arrays, so no weight data
/// ever leaves the owner. Every random draw is keyed by (seed, purpose, global block index, array index) and
/// counted by (step, sample), never by rank.
public final class WeightBlock {
    public let info: BlockInfo
    public let algorithm: Algorithm
    let seed: UInt64
    let alpha: Float
    let mode: UpdateMode
    let perSample: Bool
    let expectedNoise: Bool
    let forwardIO: IOConfig, backwardIO: IOConfig, transferIO: IOConfig
    let update: UpdateConfig
    let gamma: Float
    let riderEta: Float
    let columnsPerTransfer: Int

    /// Analog arrays W(0), ..., W(N).
    public let arrays: [AnalogArray]
    /// Coefficient of each array in the weight the reads see (1, gamma, gamma^2, ...; 0 for Tiki-Taka's P).
    public let coefficients: [Float]
    /// Digital SGD weights (rows x cols) or nil.
    let digital: UnsafeMutablePointer<Float>?
    /// Digital buffer: H (Tiki-Taka v2, Residual Learning v2) or Q (RIDER), rows x cols; nil otherwise.
    public let buffer: UnsafeMutablePointer<Float>?
    /// The weights the forward and backward passes read: sum_n c_n (W(n) - ref_n) - gamma Q, or W's own storage when
    /// that is the same thing.
    public let effective: UnsafeMutablePointer<Float>
    let ownsEffective: Bool

    /// Transfer schedule: for source array s (1...N), its period in steps, its rate, and its next column.
    public let periods: [Int]
    public let rates: [Float]
    public private(set) var columns: [Int]
    /// Multi-tile warm start (Algorithm 1): while `warmTarget < N`, the gradient tile transfers into W(warmTarget).
    public private(set) var warmTarget: Int

    /// What the periphery did in this block's forward, backward and transfer reads (telemetry).
    public private(set) var forwardReads = ReadStatistics()
    public private(set) var backwardReads = ReadStatistics()
    public private(set) var transferReads = ReadStatistics()
    public private(set) var gradientPulses = PulseStatistics()
    public private(set) var transferPulses = PulseStatistics()
    public private(set) var transfers = 0
    /// Pulses spent zero-shifting, and devices without a symmetric point in range.
    public private(set) var zeroShiftPulses: UInt64 = 0
    public private(set) var devicesWithoutSymmetricPoint = 0

    /// Scratch space shared by the blocks of a rank (they run one at a time).
    let workspace: BlockWorkspace
    var column: [Float]
    var oneHot: [Float]

    /// Index N of the array that receives gradient pulses.
    public var gradientArray: Int { arrays.count - 1 }
    /// Next column of P to transfer (source array 1).
    public var transferColumn: Int { columns.count > 1 ? columns[1] : 0 }

    /// - Parameters:
    ///   - info: the block's place in the layer.
    ///   - config: the experiment (algorithm, device, periphery, seed).
    ///   - model: the device family of `config.device` (shared by the blocks of a rank).
    ///   - initialWeights: rows x cols, row-major: programmed into W(0) (analog) or the digital matrix; the other
    ///     arrays start at weight 0.
    ///   - workspace: scratch space; blocks that never run concurrently may share one.
    public init(info: BlockInfo, config: ExperimentConfig, model: DeviceModel, initialWeights: [Float],
                workspace: BlockWorkspace = BlockWorkspace()) {
        precondition(initialWeights.count == info.devices)
        let a = config.algorithm
        self.info = info
        self.workspace = workspace
        algorithm = a.name
        seed = config.seed
        alpha = Float(a.lr)
        mode = a.updateMode
        perSample = a.perSample
        expectedNoise = a.expectedNoise
        forwardIO = algorithm == .digitalSGD ? .perfect : config.forward
        backwardIO = algorithm == .digitalSGD ? .perfect : config.backward
        transferIO = config.transfer
        update = config.update
        gamma = Float(a.effectiveGamma)
        riderEta = Float(a.riderEta)
        columnsPerTransfer = min(a.transferColumns, info.cols)
        let n = info.devices
        let count = a.arrayCount
        var arrays = [AnalogArray]()
        for k in 0..<count {
            let id = UInt64(info.index), ai = UInt64(k)
            arrays.append(AnalogArray(rows: info.rows, cols: info.cols, model: model,
                                      key: StreamKey(seed: config.seed, purpose: .deviceToDevice, id, ai),
                                      tileKey: StreamKey(seed: config.seed, purpose: .tileToTile, id, ai)))
        }
        self.arrays = arrays
        coefficients = (0..<count).map { k in
            k == 0 ? 1 : (a.name.mixes ? Float(Elementary.power(a.effectiveGamma, k)) : 0)
        }
        // Schedule: source s transfers every periods[s] steps at rate rates[s] (validated: periods <= 1e12).
        let N = max(count - 1, 0)
        let schedule = a.transferSchedule
        periods = schedule.periods.map { Int($0) }
        rates = schedule.rates.map { Float($0) }
        columns = Array(repeating: 0, count: N + 1)
        warmTarget = algorithm == .multiTileResidual && a.warmStart ? 0 : N
        column = [Float](repeating: 0, count: info.rows)
        oneHot = [Float](repeating: 0, count: info.cols)
        if [.tikiTakaV2, .residualV2, .rider].contains(algorithm) {
            let b = UnsafeMutablePointer<Float>.allocate(capacity: n)
            b.initialize(repeating: 0, count: n)
            buffer = b
        } else {
            buffer = nil
        }
        if algorithm == .digitalSGD {
            let d = UnsafeMutablePointer<Float>.allocate(capacity: n)
            initialWeights.withUnsafeBufferPointer { d.initialize(from: $0.baseAddress!, count: n) }
            digital = d
            effective = d
            ownsEffective = false
        } else {
            digital = nil
            var pulses: UInt64 = 0, without = 0
            if a.zeroShift != .none {
                let target = count - 1
                var s = RandomStream(key: StreamKey(seed: config.seed, purpose: .zeroShift, UInt64(info.index), UInt64(target)))
                (pulses, without) = arrays[target].zeroShift(a.zeroShift, pulses: a.zeroShiftPulses, stream: &s)
            }
            arrays[0].setWeights(initialWeights)
            let aliasable = arrays[0].reference == nil && coefficients.dropFirst().allSatisfy { $0 == 0 }
                && !(algorithm == .rider && gamma != 0)
            if aliasable {
                effective = arrays[0].weights
                ownsEffective = false
            } else {
                effective = .allocate(capacity: n)
                effective.initialize(repeating: 0, count: n)
                ownsEffective = true
            }
            zeroShiftPulses = pulses
            devicesWithoutSymmetricPoint = without
        }
        refreshEffective()
    }

    deinit {
        digital?.deallocate()
        buffer?.deallocate()
        if ownsEffective { effective.deallocate() }
    }

    /// Recomputes the weights the reads see after an update: sum_n c_n (W(n) - ref_n), minus gamma Q for RIDER.
    func refreshEffective() {
        guard ownsEffective else { return }
        arrays[0].readWeights(into: effective)
        for k in 1..<arrays.count where coefficients[k] != 0 {
            arrays[k].readWeights(into: effective, scale: coefficients[k], accumulate: true)
        }
        if algorithm == .rider, let q = buffer, gamma != 0 {
            for i in 0..<info.devices { effective[i] -= gamma * q[i] }
        }
    }

    // MARK: Reads

    /// Partial forward output y = W_eff x_slice for a batch, through the forward periphery.
    /// - Parameters:
    ///   - input: the layer input; sample b's slice starts at input[b * inputStride + colStart].
    ///   - output: batch x rows, row-major.
    public func forward(input: UnsafePointer<Float>, inputStride: Int, batch: Int, output: UnsafeMutablePointer<Float>,
                        noise: NoiseSource) {
        Periphery.multiply(weights: effective, rows: info.rows, cols: info.cols, transposed: false,
                           input: input + info.colStart, inputStride: inputStride, batch: batch, output: output,
                           io: forwardIO, noise: noise, scratch: workspace.periphery, statistics: &forwardReads)
    }

    /// Partial backward output z = W_eff^T d_slice for a batch, through the backward periphery.
    /// - Parameters:
    ///   - delta: the layer's output error; sample b's slice starts at delta[b * deltaStride + rowStart].
    ///   - output: batch x cols, row-major.
    public func backward(delta: UnsafePointer<Float>, deltaStride: Int, batch: Int, output: UnsafeMutablePointer<Float>,
                         noise: NoiseSource) {
        Periphery.multiply(weights: effective, rows: info.rows, cols: info.cols, transposed: true,
                           input: delta + info.rowStart, inputStride: deltaStride, batch: batch, output: output,
                           io: backwardIO, noise: noise, scratch: workspace.periphery, statistics: &backwardReads)
    }

    // MARK: Gradient update

    func withDeltaBuffer<T>(_ body: (UnsafeMutablePointer<Float>) -> T) -> T {
        let n = info.devices
        if workspace.delta.count < n { workspace.delta = [Float](repeating: 0, count: n) }
        return workspace.delta.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    /// The gradient update of one mini-batch, requesting dW = -alpha sum_b d_b x_b^T: digital SGD applies it
    /// exactly; the analog algorithms pulse it into W(N) (W for Analog SGD, P for the residual ones; Eq. 10).
    /// Pulsed per sample: one rank-one pulsed update per sample (aihwkit); pulsed per batch: binomial pulse counts
    /// of the summed dW (Lemma 1's model); expected: Eq. 2 per sample or per batch, optionally with Lemma 1's noise.
    public func gradientUpdate(input: UnsafePointer<Float>, inputStride: Int, delta: UnsafePointer<Float>,
                               deltaStride: Int, batch: Int, step: UInt64) {
        let x = input + info.colStart, d = delta + info.rowStart
        let rows = info.rows, cols = info.cols
        if let w = digital {
            Linear.gemm(transA: true, transB: false, m: rows, n: cols, k: batch, alpha: -alpha, a: d, lda: deltaStride,
                        b: x, ldb: inputStride, beta: 1, c: w, ldc: cols)
            return
        }
        let target = arrays[gradientArray]
        let trainKey = StreamKey(seed: seed, purpose: .pulseTrains, UInt64(info.index), UInt64(gradientArray))
        let noiseKey = StreamKey(seed: seed, purpose: .cycleToCycle, UInt64(info.index), UInt64(gradientArray))
        switch (mode, perSample) {
        case (.pulsed, true):
            for b in 0..<batch {
                var trains = RandomStream(key: trainKey, step: step, sub: UInt32(b))
                var noise = RandomStream(key: noiseKey, step: step, sub: UInt32(b))
                gradientPulses += target.pulsedUpdate(x: x + b * inputStride, d: d + b * deltaStride, lr: alpha,
                                                      update: update, trains: &trains, noise: &noise)
            }
        case (.pulsed, false):
            withDeltaBuffer { buf in
                Linear.gemm(transA: true, transB: false, m: rows, n: cols, k: batch, alpha: -alpha, a: d, lda: deltaStride,
                            b: x, ldb: inputStride, beta: 0, c: buf, ldc: cols)
                var counts = RandomStream(key: trainKey, step: step, sub: 0x4000_0000)
                var noise = RandomStream(key: noiseKey, step: step, sub: 0x4000_0000)
                gradientPulses += target.pulsedUpdate(delta: buf, bl: update.desiredBL, counts: &counts, noise: &noise)
            }
        case (.expected, _):
            withDeltaBuffer { buf in
                let groups = perSample ? batch : 1
                for g in 0..<groups {
                    let k = perSample ? 1 : batch
                    Linear.gemm(transA: true, transB: false, m: rows, n: cols, k: k, alpha: -alpha, a: d + g * deltaStride,
                                lda: deltaStride, b: x + g * inputStride, ldb: inputStride, beta: 0, c: buf, ldc: cols)
                    if expectedNoise {
                        var noise = RandomStream(key: noiseKey, step: step, sub: UInt32(g))
                        target.expectedUpdate(delta: buf, bl: update.desiredBL, noise: &noise)
                    } else {
                        target.expectedUpdate(delta: buf)
                    }
                }
            }
        }
        refreshEffective()
    }

    // MARK: Transfers

    /// The transfers due after training step `step` (0-based), by the algorithm's schedule (each moving
    /// `transfer_columns` consecutive columns): Tiki-Taka, Residual Learning (v1, v2) and RIDER move P into W
    /// every `transfer_every` steps;
    /// multi-tile residual learning moves one column of W(s) into W(s-1) every period_s steps, from the gradient
    /// tile down (Algorithm 1), or, during its warm start, from W(N) into W(warmTarget).
    public func transfer(after step: Int64) {
        guard algorithm.transfers else { return }
        let next = step + 1
        let N = gradientArray
        if algorithm == .multiTileResidual && warmTarget < N {
            if next % Int64(periods[N]) == 0 {
                for _ in 0..<columnsPerTransfer { transferColumn(from: N, into: warmTarget, step: step) }
            }
        } else {
            for s in stride(from: N, through: 1, by: -1) where next % Int64(periods[s]) == 0 {
                for _ in 0..<columnsPerTransfer { transferColumn(from: s, into: s - 1, step: step) }
            }
        }
        refreshEffective()
    }

    /// Moves multi-tile residual learning's warm start to the next target tile (on a loss plateau).
    public func advanceWarmStart() {
        if warmTarget < gradientArray { warmTarget += 1 }
    }

    /// One column transfer from array `source` into array `target` (Eq. 11 and its variants): read column k of the
    /// source through the transfer periphery (one-hot input: output noise and ADC), then
    /// - v1 (Tiki-Taka, Residual Learning, multi-tile): pulse rate * column into the target's column k;
    /// - Tiki-Taka v2: H_k += rate * column, fire n = min(floor(|H|/dw_min), BL) pulses of sign(H), H -= n sign dw_min;
    /// - Residual Learning v2: H_k = (1 - rate) H_k + rate * column, fire one pulse of sign(H) where |H| >= dw_min;
    /// - RIDER: d = column - Q_k; Q_k = (1 - eta) Q_k + eta column; pulse rate * d into the target's column k.
    /// Pulses are stochastic trains (pulsed mode) or Eq. 2 (expected mode).
    func transferColumn(from source: Int, into target: Int, step: Int64) {
        let k = columns[source]
        let src = arrays[source], dst = arrays[target]
        let rate = rates[source]
        let rows = info.rows, cols = info.cols
        let t = UInt64(step)
        let noise = NoiseSource(key: StreamKey(seed: seed, purpose: .transferReadNoise, UInt64(info.index), UInt64(source)),
                                step: UInt32(truncatingIfNeeded: step))
        let trainKey = StreamKey(seed: seed, purpose: .pulseTrains, UInt64(info.index), UInt64(target))
        let noiseKey = StreamKey(seed: seed, purpose: .cycleToCycle, UInt64(info.index), UInt64(target))
        let sub = 0x8000_0000 | UInt32(source) << 24 | UInt32(k)
        var c2c = RandomStream(key: noiseKey, step: t, sub: sub)
        column.withUnsafeMutableBufferPointer { colBuffer in
            let col = colBuffer.baseAddress!
            src.readColumn(k, into: col)
            Periphery.readOneHot(col, count: rows, index: k, io: transferIO, noise: noise, statistics: &transferReads)
            switch algorithm {
            case .tikiTakaV2, .residualV2:
                let h = buffer!
                let dw = dst.model.dwMin
                let decay: Float = algorithm == .residualV2 ? 1 - rate : 1
                let maxPulses = algorithm == .residualV2 ? 1 : update.desiredBL
                var fired: UInt64 = 0
                for i in 0..<rows {
                    let e = i * cols + k
                    h[e] = decay * h[e] + rate * col[i]
                    let steps = (abs(h[e]) / dw).rounded(.down)
                    let n = steps < Float(maxPulses) ? Int(steps) : maxPulses  // NaN or huge: the cap
                    if n > 0 {
                        dst.firePulses(element: e, count: n, down: h[e] < 0, noisy: mode == .pulsed, noise: &c2c)
                        h[e] -= (h[e] < 0 ? -1 : 1) * Float(n) * dw
                        fired &+= UInt64(n)
                    }
                }
                transferPulses.coincidences &+= fired
                transferPulses.updates &+= 1
                return
            case .rider:
                let q = buffer!
                for i in 0..<rows {
                    let e = i * cols + k
                    let read = col[i]
                    col[i] = read - q[e]
                    q[e] = (1 - riderEta) * q[e] + riderEta * read
                }
            default:
                break
            }
            switch mode {
            case .pulsed:
                for i in 0..<rows { col[i] = -col[i] }
                oneHot[k] = 1
                var trains = RandomStream(key: trainKey, step: t, sub: sub)
                transferPulses += oneHot.withUnsafeBufferPointer { x in
                    dst.pulsedUpdate(x: x.baseAddress!, d: col, lr: rate, update: update, trains: &trains, noise: &c2c)
                }
                oneHot[k] = 0
            case .expected:
                for i in 0..<rows { col[i] *= rate }
                dst.expectedUpdate(column: k, delta: col)
            }
        }
        columns[source] = (k + 1) % cols
        transfers += 1
    }

    // MARK: Digest

    /// SHA-256 over the block's state in order: the digital matrix, or each array (then its reference, if any),
    /// then the digital buffer H or Q, as little-endian Float32 bytes.
    public func digest() -> [UInt8] {
        var h = SHA256()
        let n = info.devices * MemoryLayout<Float>.size
        if let d = digital { h.update(bufferPointer: UnsafeRawBufferPointer(start: d, count: n)) }
        for a in arrays {
            h.update(bufferPointer: UnsafeRawBufferPointer(start: a.weights, count: n))
            if let r = a.reference { h.update(bufferPointer: UnsafeRawBufferPointer(start: r, count: n)) }
        }
        if let b = buffer { h.update(bufferPointer: UnsafeRawBufferPointer(start: b, count: n)) }
        return Array(h.finalize())
    }
}

/// Scratch space of weight blocks: the periphery's buffers (batch x fan-in and batch x fan-out floats) and the
/// summed update dW of expected and per-batch updates (rows x cols floats). One per rank: its blocks run in turn.
public final class BlockWorkspace {
    let periphery = PeripheryScratch()
    var delta: [Float] = []
    public init() {}
}
