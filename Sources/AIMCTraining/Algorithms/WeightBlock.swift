import AIMCCore
import Crypto

/// One weight block with the arrays its algorithm needs, on its owner rank:
/// - digital SGD: a floating-point matrix;
/// - Analog SGD: the array W;
/// - Tiki-Taka / Residual Learning: arrays W (index 0) and P (index 1).
///
/// It reads (forward, backward) through its own periphery and updates only its own arrays, so no weight data
/// ever leaves the owner. Every random draw is keyed by (seed, purpose, global block index, array index) and
/// counted by (step, sample), never by rank.
public final class WeightBlock {
    public let info: BlockInfo
    public let algorithm: Algorithm
    let seed: UInt64
    let gamma: Float
    let alpha: Float
    let beta: Float
    let mode: UpdateMode
    let perSample: Bool
    let expectedNoise: Bool
    let forwardIO: IOConfig, backwardIO: IOConfig, transferIO: IOConfig
    let update: UpdateConfig

    /// Analog arrays: [W] (Analog SGD) or [W, P] (Tiki-Taka, Residual Learning).
    public let arrays: [AnalogArray]
    /// Digital SGD weights (rows x cols) or nil.
    let digital: UnsafeMutablePointer<Float>?
    /// The weights the forward and backward passes read: (W - ref) + gamma (P - ref), or W's own storage when that
    /// is the same thing (Analog SGD and Tiki-Taka without a reference on W).
    public let effective: UnsafeMutablePointer<Float>
    let ownsEffective: Bool

    /// Next column of P to transfer (columns cycle within the block).
    public private(set) var transferColumn = 0
    public private(set) var gradientPulses = PulseStatistics()
    public private(set) var transferPulses = PulseStatistics()
    public private(set) var transfers = 0
    /// Pulses spent zero-shifting, and devices without a symmetric point in range.
    public private(set) var zeroShiftPulses: UInt64 = 0
    public private(set) var devicesWithoutSymmetricPoint = 0

    let scratch = PeripheryScratch()
    var deltaBuffer: [Float] = []
    var column: [Float]
    var oneHot: [Float]

    /// Index of the array that receives gradient pulses.
    var gradientArray: Int { algorithm.transfers ? 1 : 0 }

    /// - Parameters:
    ///   - info: the block's place in the layer.
    ///   - config: the experiment (algorithm, device, periphery, seed).
    ///   - model: the device family of `config.device` (shared by the blocks of a rank).
    ///   - initialWeights: rows x cols, row-major: programmed into W (analog) or the digital matrix; P starts at 0.
    public init(info: BlockInfo, config: ExperimentConfig, model: DeviceModel, initialWeights: [Float]) {
        precondition(initialWeights.count == info.devices)
        self.info = info
        algorithm = config.algorithm.name
        seed = config.seed
        gamma = Float(config.algorithm.effectiveGamma)
        alpha = Float(config.algorithm.lr)
        beta = Float(config.algorithm.transferLR)
        mode = config.algorithm.updateMode
        perSample = config.algorithm.perSample
        expectedNoise = config.algorithm.expectedNoise
        forwardIO = algorithm == .digitalSGD ? .perfect : config.forward
        backwardIO = algorithm == .digitalSGD ? .perfect : config.backward
        transferIO = config.transfer
        update = config.update
        let n = info.devices
        var arrays = [AnalogArray]()
        for a in 0..<algorithm.arrayCount {
            let id = UInt64(info.index), ai = UInt64(a)
            arrays.append(AnalogArray(rows: info.rows, cols: info.cols, model: model,
                                      key: StreamKey(seed: config.seed, purpose: .deviceToDevice, id, ai),
                                      tileKey: StreamKey(seed: config.seed, purpose: .tileToTile, id, ai)))
        }
        self.arrays = arrays
        column = [Float](repeating: 0, count: info.rows)
        oneHot = [Float](repeating: 0, count: info.cols)
        if algorithm == .digitalSGD {
            let d = UnsafeMutablePointer<Float>.allocate(capacity: n)
            initialWeights.withUnsafeBufferPointer { d.initialize(from: $0.baseAddress!, count: n) }
            digital = d
            effective = d
            ownsEffective = false
        } else {
            digital = nil
            let target = algorithm.transfers ? 1 : 0
            var pulses: UInt64 = 0, without = 0
            if config.algorithm.zeroShift != .none {
                var s = RandomStream(key: StreamKey(seed: config.seed, purpose: .zeroShift, UInt64(info.index), UInt64(target)))
                (pulses, without) = arrays[target].zeroShift(config.algorithm.zeroShift, pulses: config.algorithm.zeroShiftPulses,
                                                             stream: &s)
            }
            arrays[0].setWeights(initialWeights)
            if (algorithm == .residual && gamma != 0) || arrays[0].reference != nil {
                effective = .allocate(capacity: n)
                effective.initialize(repeating: 0, count: n)
                ownsEffective = true
            } else {
                effective = arrays[0].weights
                ownsEffective = false
            }
            zeroShiftPulses = pulses
            devicesWithoutSymmetricPoint = without
        }
        refreshEffective()
    }

    deinit {
        digital?.deallocate()
        if ownsEffective { effective.deallocate() }
    }

    /// Recomputes the weights the reads see after an update: (W - ref) + gamma (P - ref).
    func refreshEffective() {
        guard ownsEffective else { return }
        arrays[0].readWeights(into: effective)
        if algorithm == .residual && gamma != 0 { arrays[1].readWeights(into: effective, scale: gamma, accumulate: true) }
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
                           io: forwardIO, noise: noise, scratch: scratch)
    }

    /// Partial backward output z = W_eff^T d_slice for a batch, through the backward periphery.
    /// - Parameters:
    ///   - delta: the layer's output error; sample b's slice starts at delta[b * deltaStride + rowStart].
    ///   - output: batch x cols, row-major.
    public func backward(delta: UnsafePointer<Float>, deltaStride: Int, batch: Int, output: UnsafeMutablePointer<Float>,
                         noise: NoiseSource) {
        Periphery.multiply(weights: effective, rows: info.rows, cols: info.cols, transposed: true,
                           input: delta + info.rowStart, inputStride: deltaStride, batch: batch, output: output,
                           io: backwardIO, noise: noise, scratch: scratch)
    }

    // MARK: Updates

    func withDeltaBuffer<T>(_ body: (UnsafeMutablePointer<Float>) -> T) -> T {
        let n = info.devices
        if deltaBuffer.count < n { deltaBuffer = [Float](repeating: 0, count: n) }
        return deltaBuffer.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    /// The gradient update of one mini-batch, requesting dW = -alpha sum_b d_b x_b^T:
    /// digital SGD applies it exactly; Analog SGD pulses it into W; Tiki-Taka and Residual Learning into P
    /// (Eq. 10). Pulsed per sample: one rank-one pulsed update per sample (aihwkit); pulsed per batch: binomial
    /// pulse counts of the summed dW (Lemma 1's model); expected: Eq. 2 per sample or per batch, optionally with
    /// Lemma 1's granularity noise.
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

    /// The transfer of Eq. 11 for one column: read column k of P through the transfer periphery (one-hot input,
    /// output noise, ADC) and update W's column k by +beta * (read column): pulsed (x = e_k, d = -column,
    /// lr = beta) or expected (Eq. 2). Columns cycle 0, 1, ..., cols - 1, 0, ...
    public func transfer(step: UInt64) {
        guard algorithm.transfers else { return }
        let k = transferColumn
        let p = arrays[1], w = arrays[0]
        let noise = NoiseSource(key: StreamKey(seed: seed, purpose: .transferReadNoise, UInt64(info.index)),
                                step: UInt32(truncatingIfNeeded: step))
        column.withUnsafeMutableBufferPointer { col in
            p.readColumn(k, into: col.baseAddress!)
            Periphery.readOneHot(col.baseAddress!, count: info.rows, index: k, io: transferIO, noise: noise)
            switch mode {
            case .pulsed:
                for i in 0..<info.rows { col[i] = -col[i] }
                oneHot[k] = 1
                let trainKey = StreamKey(seed: seed, purpose: .pulseTrains, UInt64(info.index), 0)
                let noiseKey = StreamKey(seed: seed, purpose: .cycleToCycle, UInt64(info.index), 0)
                var trains = RandomStream(key: trainKey, step: step, sub: 0x8000_0000 | UInt32(k))
                var c2c = RandomStream(key: noiseKey, step: step, sub: 0x8000_0000 | UInt32(k))
                transferPulses += oneHot.withUnsafeBufferPointer { x in
                    w.pulsedUpdate(x: x.baseAddress!, d: col.baseAddress!, lr: beta, update: update,
                                   trains: &trains, noise: &c2c)
                }
                oneHot[k] = 0
            case .expected:
                for i in 0..<info.rows { col[i] *= beta }
                w.expectedUpdate(column: k, delta: col.baseAddress!)
            }
        }
        transferColumn = (k + 1) % info.cols
        transfers += 1
        refreshEffective()
    }

    // MARK: Digest

    /// SHA-256 over the block's arrays in order (digital matrix, or W then P, each followed by its reference if it
    /// has one), as little-endian Float32 bytes.
    public func digest() -> [UInt8] {
        var h = SHA256()
        let n = info.devices * MemoryLayout<Float>.size
        if let d = digital { h.update(bufferPointer: UnsafeRawBufferPointer(start: d, count: n)) }
        for a in arrays {
            h.update(bufferPointer: UnsafeRawBufferPointer(start: a.weights, count: n))
            if let r = a.reference { h.update(bufferPointer: UnsafeRawBufferPointer(start: r, count: n)) }
        }
        return Array(h.finalize())
    }
}
