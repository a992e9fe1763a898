import AIMCCore
import Crypto
import Foundation

/// One weight block on its owner rank: the analog arrays (tiles) its algorithm needs, the periphery its reads go
/// through, the weights those reads see, and the algorithm's state (`algorithm`, one block's instance of a
/// `TrainingAlgorithm`). Arrays follow arXiv 2510.02516's indexing: W(0) is the most significant (the main array W,
/// programmed with the initial weights), W(N) receives the gradient pulses; the algorithm's `roles` name them (W, P,
/// W1, ...).
///
/// The block reads (forward, backward) through its own periphery and updates only its own arrays, so no weight data
/// ever leaves the owner. Every random draw is keyed by (seed, purpose, global block index, array index) and counted
/// by (step, sample), never by rank. The operations algorithms share live here, so that every algorithm fires pulses
/// through the same physics: `pulseGradient` (or `pulseSample` and `sampleDone` for an algorithm that changes its
/// rates or signs between samples), `readTransferColumn`, `pulseColumn`, `pulseRow`, `transferNoise`, `firePulses`,
/// `algorithmStream`.
public final class WeightBlock {
    public let info: BlockInfo
    /// The algorithm's name and this block's algorithm state.
    public let name: Algorithm
    public let algorithm: any TrainingAlgorithm
    let seed: UInt64
    let alpha: Float
    let mode: UpdateMode
    let perSample: Bool
    let expectedNoise: Bool
    let forwardIO: IOConfig, backwardIO: IOConfig, transferIO: IOConfig
    let update: UpdateConfig

    /// The keys of each array's pulse-train and cycle-to-cycle streams (seed, purpose, block, array), computed once:
    /// a convolution's update builds streams for every output position.
    let trainKeys: [StreamKey], noiseKeys: [StreamKey]

    /// Analog arrays W(0), ..., W(N), and what each is for.
    public let arrays: [AnalogArray]
    public let roles: [ArrayRole]
    /// Coefficient of each array in the weight the reads see (1, gamma, gamma^2, ...; 0 for Tiki-Taka's P).
    public let coefficients: [Float]
    /// Index N of the array that receives gradient pulses.
    public let gradientArray: Int
    /// The weights the forward and backward passes read: sum_n c_n (W(n) - ref_n) plus the algorithm's digital term,
    /// the digital weights of a digital algorithm, or W's own storage when that is the same thing.
    public let effective: UnsafeMutablePointer<Float>
    let ownsEffective: Bool

    /// What each array (tile) counted since the run started: pulses fired and clipped, pulse slots, reads and
    /// their clipped converter values (indexed like `arrays`; see `TileCounters`, `counterState`).
    public private(set) var counters: [TileCounters]
    /// Arrays the forward and backward reads see (coefficient not 0): each counts those reads.
    let readArrays: [Int]
    /// The most pulses fired on one element since the last `countThresholdTransfer` (the slots of a threshold transfer).
    var thresholdSlots = 0
    /// Pulses fired into each array: by gradient updates and by transfers (indexed like `arrays`).
    public var gradientPulsesByArray: [PulseStatistics] { counters.map(\.gradient) }
    public var transferPulsesByArray: [PulseStatistics] { counters.map(\.transfer) }
    /// The block's reads through its periphery (one read feeds every tile it mixes, and each tile counts it):
    /// forward (training and evaluation samples), backward, and transfer (one-hot column reads of any tile).
    public var forwardReads: ReadStatistics {
        guard let k = readArrays.first else { return ReadStatistics() }
        var r = counters[k].forward
        r += counters[k].evaluation
        return r
    }
    public var backwardReads: ReadStatistics { readArrays.first.map { counters[$0].backward } ?? ReadStatistics() }
    public var transferReads: ReadStatistics {
        var r = ReadStatistics()
        for c in counters { r += c.transferRead }
        return r
    }
    /// Columns read through the transfer periphery so far.
    public private(set) var transfers = 0
    /// Whether the transfers count samples (aihwkit `units_in_mbatch` false): they then run after each sample's update
    /// (`sampleDone`), not after the step.
    public let transfersCountSamples: Bool
    /// Reads and writes of transfers so far (whether the weights the reads see may have changed; not state).
    var transferWrites = 0
    /// Samples of gradient updates so far, when the transfers count samples (their clock; checkpoint state).
    public private(set) var samplesSeen: Int64 = 0
    /// Pulses spent zero-shifting, and devices without a symmetric point in range.
    public private(set) var zeroShiftPulses: UInt64 = 0
    public private(set) var devicesWithoutSymmetricPoint = 0

    /// Scratch space shared by the blocks of a rank (they run one at a time).
    let workspace: BlockWorkspace
    /// A transfer's column (rows values) and one-hot input (cols values).
    var column: [Float]
    var oneHot: [Float]
    /// A one-hot d of `pulseRow` (rows values; allocated on first use).
    var oneHotRow: [Float] = []

    /// Pulses fired by gradient updates, over all arrays.
    public var gradientPulses: PulseStatistics { gradientPulsesByArray.reduce(into: PulseStatistics()) { $0 += $1 } }
    /// Pulses fired by transfers, over all arrays.
    public var transferPulses: PulseStatistics { transferPulsesByArray.reduce(into: PulseStatistics()) { $0 += $1 } }

    /// - Parameters:
    ///   - info: the block's place in the layer.
    ///   - config: the experiment (algorithm, device, periphery, seed); validated.
    ///   - model: the device family of `config.device` (shared by the blocks of a rank).
    ///   - initialWeights: rows x cols, row-major: programmed into W(0) (analog) or kept by a digital algorithm; the
    ///     other arrays start at weight 0 (or at their symmetric point, when zero-shifted).
    ///   - workspace: scratch space; blocks that never run concurrently may share one.
    public init(info: BlockInfo, config: ExperimentConfig, model: DeviceModel, initialWeights: [Float],
                workspace: BlockWorkspace = BlockWorkspace()) {
        precondition(initialWeights.count == info.devices)
        let a = config.algorithm
        let type = a.type
        self.info = info
        self.workspace = workspace
        name = a.name
        seed = config.seed
        alpha = Float(a.gradientRate)
        mode = a.updateMode
        perSample = a.perSample
        expectedNoise = a.expectedNoise
        let roles = type.roles(a)
        let digital = roles.isEmpty
        forwardIO = digital ? .perfect : config.forward
        backwardIO = digital ? .perfect : config.backward
        transferIO = config.transfer
        update = config.update
        transfersCountSamples = !a.unitsInMbatch && type.transfers && type.reads.contains("units_in_mbatch")
        self.roles = roles
        let id = UInt64(info.index)
        arrays = roles.indices.map { k in
            AnalogArray(rows: info.rows, cols: info.cols, model: model,
                        key: StreamKey(seed: config.chipSeed, purpose: .deviceToDevice, id, UInt64(k)),
                        tileKey: StreamKey(seed: config.chipSeed, purpose: .tileToTile, id, UInt64(k)),
                        effectsKey: StreamKey(seed: config.seed, purpose: .deviceEffects, id, UInt64(k)))
        }
        trainKeys = roles.indices.map { StreamKey(seed: config.seed, purpose: .pulseTrains, id, UInt64($0)) }
        noiseKeys = roles.indices.map { StreamKey(seed: config.seed, purpose: .cycleToCycle, id, UInt64($0)) }
        let coefficients = type.coefficients(a).map { Float($0) }
        self.coefficients = coefficients
        gradientArray = type.gradientArray(a)
        counters = Array(repeating: TileCounters(), count: roles.count)
        readArrays = coefficients.indices.filter { coefficients[$0] != 0 }
        column = [Float](repeating: 0, count: info.rows)
        oneHot = [Float](repeating: 0, count: info.cols)
        algorithm = type.init(block: info, config: config, initialWeights: initialWeights)
        if let weights = algorithm.digitalWeights {
            effective = weights
            ownsEffective = false
        } else {
            if a.zeroShift != .none {
                var s = RandomStream(key: StreamKey(seed: config.seed, purpose: .zeroShift, id, UInt64(gradientArray)))
                (zeroShiftPulses, devicesWithoutSymmetricPoint) = arrays[gradientArray].zeroShift(a.zeroShift, pulses: a.zeroShiftPulses, stream: &s)
                counters[gradientArray].zeroShiftPulses = zeroShiftPulses
            }
            arrays[0].setWeights(initialWeights)
            if WeightBlock.readsOwnCopy(config) {
                effective = .allocate(capacity: info.devices)
                effective.initialize(repeating: 0, count: info.devices)
                ownsEffective = true
            } else {
                effective = arrays[0].weights
                ownsEffective = false
            }
        }
        refreshEffective()
    }

    deinit {
        if ownsEffective { effective.deallocate() }
    }

    /// Whether the reads of `config`'s blocks need their own matrix (a mixture of arrays, a reference on W, a
    /// digital term), rather than W's own storage or the digital weights.
    public static func readsOwnCopy(_ config: ExperimentConfig) -> Bool {
        let a = config.algorithm, type = a.type
        if type.roles(a).isEmpty { return false }
        if a.zeroShift != .none && type.gradientArray(a) == 0 { return true }
        return type.coefficients(a).dropFirst().contains { $0 != 0 } || type.hasDigitalTerm(a)
    }

    /// Recomputes the weights the reads see after an update: sum_n c_n (W(n) - ref_n) plus the digital term.
    public func refreshEffective() {
        guard ownsEffective else { return }
        arrays[0].readWeights(into: effective)
        for k in 1..<arrays.count where coefficients[k] != 0 {
            arrays[k].readWeights(into: effective, scale: coefficients[k], accumulate: true)
        }
        _ = algorithm.addDigitalTerm(self, to: effective, count: info.devices)
    }

    // MARK: Reads

    /// Partial forward output y = W_eff x_slice for a batch, through the forward periphery.
    /// - Parameters:
    ///   - input: the layer input; sample b's slice starts at input[b * inputStride + colStart].
    ///   - output: batch x rows, row-major.
    ///   - evaluation: count the reads as evaluation reads (`TileCounters.evaluation`), not training reads.
    public func forward(input: UnsafePointer<Float>, inputStride: Int, batch: Int, output: UnsafeMutablePointer<Float>,
                        noise: NoiseSource, evaluation: Bool = false) {
        var stats = ReadStatistics()
        Periphery.multiply(weights: effective, rows: info.rows, cols: info.cols, transposed: false,
                           input: input + info.colStart, inputStride: inputStride, batch: batch, output: output,
                           io: forwardIO, noise: noise, scratch: workspace.periphery, statistics: &stats)
        for k in readArrays {
            if evaluation { counters[k].evaluation += stats } else { counters[k].forward += stats }
        }
    }

    /// Partial backward output z = W_eff^T d_slice for a batch, through the backward periphery.
    /// - Parameters:
    ///   - delta: the layer's output error; sample b's slice starts at delta[b * deltaStride + rowStart].
    ///   - output: batch x cols, row-major.
    public func backward(delta: UnsafePointer<Float>, deltaStride: Int, batch: Int, output: UnsafeMutablePointer<Float>,
                         noise: NoiseSource) {
        var stats = ReadStatistics()
        Periphery.multiply(weights: effective, rows: info.rows, cols: info.cols, transposed: true,
                           input: delta + info.rowStart, inputStride: deltaStride, batch: batch, output: output,
                           io: backwardIO, noise: noise, scratch: workspace.periphery, statistics: &stats)
        for k in readArrays { counters[k].backward += stats }
    }

    // MARK: The steps of training, delegated to the algorithm

    /// The gradient update of one mini-batch, requesting dW = -alpha sum_b d_b x_b^T (the algorithm decides where it
    /// goes: digital weights, W, P, W(N)).
    /// - Parameters:
    ///   - input: the layer input; sample b's slice starts at input[b * inputStride + colStart].
    ///   - delta: the layer's output error; sample b's slice starts at delta[b * deltaStride + rowStart].
    ///   - step: the training step (0-based), the counter of every stream the update draws from.
    public func gradientUpdate(input: UnsafePointer<Float>, inputStride: Int, delta: UnsafePointer<Float>,
                               deltaStride: Int, batch: Int, step: UInt64) {
        algorithm.gradientUpdate(self, x: input + info.colStart, xStride: inputStride, d: delta + info.rowStart,
                                 dStride: deltaStride, batch: batch, step: step)
        refreshEffective()
    }

    /// The transfers the algorithm's schedule has due after training step `step` (0-based). Nothing when the
    /// transfers count samples: they ran after each sample (`sampleDone`).
    public func transfer(after step: Int64) {
        guard !transfersCountSamples else { return }
        let before = transferWrites
        algorithm.transfer(self, after: step)
        if transferWrites != before { refreshEffective() }
    }

    /// The end of training step `step`'s updates and transfers: the per-mini-batch device effects of every array
    /// (diffusion, then decay towards the reset bias: aihwkit's `post_update_step`, which its analog optimizer runs
    /// after each step, on every device of a compound). Nothing when the device has neither.
    public func stepEnded(step: Int64) {
        guard device.lifetime > 0 || device.diffusion > 0 else { return }
        for a in arrays { a.stepEnded() }
        refreshEffective()
    }

    var device: DeviceConfig { arrays.first?.device ?? DeviceConfig() }

    /// The end of an epoch with its mean training loss (identical on every rank).
    public func epochEnded(trainLoss: Double) { algorithm.epochEnded(trainLoss: trainLoss) }

    // MARK: Operations the algorithms share

    func withDeltaBuffer<T>(_ body: (UnsafeMutablePointer<Float>) -> T) -> T {
        let n = info.devices
        if workspace.delta.count < n { workspace.delta = [Float](repeating: 0, count: n) }
        return workspace.delta.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    /// Pulses the requested gradient dW = -alpha sum_b d_b x_b^T into array `target` (default: the gradient array
    /// W(N); Eq. 2 for Analog SGD, Eq. 10 for the residual arrays). Pulsed per sample: one rank-one pulsed update per
    /// sample (aihwkit); pulsed per batch: binomial pulse counts of the summed dW (Lemma 1's model of arXiv
    /// 2510.02516); expected: Eq. 2 per sample or per batch, optionally with Lemma 1's noise. Streams: pulse trains
    /// (seed, pulseTrains, block, target) and cycle-to-cycle noise (seed, cycleToCycle, block, target) at counter
    /// (step, sample); the per-batch forms use sample 0x4000_0000. After each sample (per-sample updates) or after the
    /// batch (per-batch updates, once per sample), `sampleDone` runs the transfers that count samples.
    /// - Parameters:
    ///   - x: this block's input slice of sample b at x + b * xStride (cols values).
    ///   - d: this block's error slice of sample b at d + b * dStride (rows values).
    ///   - lr: the rate (default: alpha, `AlgorithmConfig.gradientRate`).
    ///   - xSigns, dSigns: chopper signs (+1 or -1; cols and rows values) multiplying x and d, read when each
    ///     sample is applied (an algorithm may flip them between samples, in `transfer`); nil: none.
    public func pulseGradient(x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int, batch: Int,
                              step: UInt64, into target: Int? = nil, lr: Float? = nil,
                              xSigns: UnsafePointer<Float>? = nil, dSigns: UnsafePointer<Float>? = nil) {
        if perSample && mode == .pulsed && xSigns == nil && dSigns == nil && !transfersCountSamples && batch <= Int(UInt32.max) {
            // The samples' (or positions') rank-one updates in one call: the same as pulseSample for each, in turn.
            let t = target ?? gradientArray
            counters[t].gradient += arrays[t].pulsedUpdates(x: x, xStride: xStride, d: d, dStride: dStride, count: batch,
                                                            lr: lr ?? alpha, update: update, trains: trainKeys[t], noise: noiseKeys[t],
                                                            step: step, sub: 0)
        } else if perSample {
            for b in 0..<batch {
                pulseSample(x: x + b * xStride, d: d + b * dStride, step: step, sample: b, into: target, lr: lr, xSigns: xSigns, dSigns: dSigns)
                sampleDone()
            }
        } else {
            pulseBatch(x: x, xStride: xStride, d: d, dStride: dStride, batch: batch, step: step, into: target, lr: lr,
                       xSigns: xSigns, dSigns: dSigns)
            for _ in 0..<batch { sampleDone() }
        }
    }

    /// Whether gradient updates are applied per sample (`pulseSample`) or per mini-batch (update_per, auto: pulsed
    /// per sample, expected per batch).
    public var updatesPerSample: Bool { perSample }

    /// One sample's gradient update (per-sample updates): a pulsed rank-one update (trains and c2c noise at counter
    /// (step, sample)) or Eq. 2 (with Lemma 1's noise at (step, sample) when asked), requesting
    /// dW = -lr (d .* dSigns)(x .* xSigns)^T on array `target`.
    public func pulseSample(x: UnsafePointer<Float>, d: UnsafePointer<Float>, step: UInt64, sample b: Int, into target: Int? = nil,
                            lr: Float? = nil, xSigns: UnsafePointer<Float>? = nil, dSigns: UnsafePointer<Float>? = nil) {
        let t = target ?? gradientArray
        let alpha = lr ?? self.alpha
        let rows = info.rows, cols = info.cols
        let array = arrays[t]
        withSigned(x, count: cols, signs: xSigns, scratch: \.chopX) { x in
            withSigned(d, count: rows, signs: dSigns, scratch: \.chopD) { d in
                switch mode {
                case .pulsed:
                    var trains = RandomStream(key: trainKeys[t], step: step, sub: UInt32(b))
                    var noise = RandomStream(key: noiseKeys[t], step: step, sub: UInt32(b))
                    counters[t].gradient += array.pulsedUpdate(x: x, d: d, lr: alpha, update: update, trains: &trains, noise: &noise)
                case .expected:
                    countExpectedUpdates(into: t, 1)
                    withDeltaBuffer { buf in
                        Linear.gemm(transA: true, transB: false, m: rows, n: cols, k: 1, alpha: -alpha, a: d, lda: rows,
                                    b: x, ldb: cols, beta: 0, c: buf, ldc: cols)
                        if expectedNoise {
                            var noise = RandomStream(key: StreamKey(seed: seed, purpose: .cycleToCycle, UInt64(info.index), UInt64(t)), step: step, sub: UInt32(b))
                            counters[t].gradient.clipped &+= array.expectedUpdate(delta: buf, bl: update.desiredBL, noise: &noise).clipped
                        } else {
                            counters[t].gradient.clipped &+= array.expectedUpdate(delta: buf).clipped
                        }
                    }
                }
            }
        }
    }

    /// Runs `body` with `v` (count values), or with v .* signs copied into the workspace buffer `scratch`.
    func withSigned<T>(_ v: UnsafePointer<Float>, count: Int, signs: UnsafePointer<Float>?, scratch: ReferenceWritableKeyPath<BlockWorkspace, [Float]>,
                       _ body: (UnsafePointer<Float>) -> T) -> T {
        guard let signs else { return body(v) }
        if workspace[keyPath: scratch].count < count { workspace[keyPath: scratch] = [Float](repeating: 0, count: count) }
        return workspace[keyPath: scratch].withUnsafeMutableBufferPointer { buf in
            for i in 0..<count { buf[i] = v[i] * signs[i] }
            return body(buf.baseAddress!)
        }
    }

    /// The whole mini-batch's update at once (per-batch updates): binomial pulse counts of the summed dW at counter
    /// (step, 0x4000_0000), or Eq. 2 of the summed dW (Lemma 1's noise at (step, 0)).
    func pulseBatch(x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int, batch: Int, step: UInt64,
                    into target: Int?, lr: Float?, xSigns: UnsafePointer<Float>?, dSigns: UnsafePointer<Float>?) {
        let t = target ?? gradientArray
        let alpha = lr ?? self.alpha
        let rows = info.rows, cols = info.cols
        let array = arrays[t]
        let trainKey = StreamKey(seed: seed, purpose: .pulseTrains, UInt64(info.index), UInt64(t))
        let noiseKey = StreamKey(seed: seed, purpose: .cycleToCycle, UInt64(info.index), UInt64(t))
        withSignedBatch(x, stride: xStride, count: cols, batch: batch, signs: xSigns, scratch: \.chopX) { x, xStride in
            withSignedBatch(d, stride: dStride, count: rows, batch: batch, signs: dSigns, scratch: \.chopD) { d, dStride in
                withDeltaBuffer { buf in
                    Linear.gemm(transA: true, transB: false, m: rows, n: cols, k: batch, alpha: -alpha, a: d, lda: dStride,
                                b: x, ldb: xStride, beta: 0, c: buf, ldc: cols)
                    switch mode {
                    case .pulsed:
                        var counts = RandomStream(key: trainKey, step: step, sub: 0x4000_0000)
                        var noise = RandomStream(key: noiseKey, step: step, sub: 0x4000_0000)
                        counters[t].gradient += array.pulsedUpdate(delta: buf, bl: update.desiredBL, counts: &counts, noise: &noise)
                    case .expected:
                        countExpectedUpdates(into: t, 1)
                        if expectedNoise {
                            var noise = RandomStream(key: noiseKey, step: step, sub: 0)
                            counters[t].gradient.clipped &+= array.expectedUpdate(delta: buf, bl: update.desiredBL, noise: &noise).clipped
                        } else {
                            counters[t].gradient.clipped &+= array.expectedUpdate(delta: buf).clipped
                        }
                    }
                }
            }
        }
    }

    /// Runs `body` with a batch of `count`-value vectors at v + b * stride, or with their copies times `signs`
    /// (contiguous, stride `count`) in the workspace buffer `scratch`.
    func withSignedBatch<T>(_ v: UnsafePointer<Float>, stride: Int, count: Int, batch: Int, signs: UnsafePointer<Float>?,
                            scratch: ReferenceWritableKeyPath<BlockWorkspace, [Float]>, _ body: (UnsafePointer<Float>, Int) -> T) -> T {
        guard let signs else { return body(v, stride) }
        let n = count * batch
        if workspace[keyPath: scratch].count < n { workspace[keyPath: scratch] = [Float](repeating: 0, count: n) }
        return workspace[keyPath: scratch].withUnsafeMutableBufferPointer { buf in
            for b in 0..<batch { for i in 0..<count { buf[b * count + i] = v[b * stride + i] * signs[i] } }
            return body(buf.baseAddress!, count)
        }
    }

    /// The end of one sample's gradient update: when the transfers count samples (aihwkit `units_in_mbatch` false),
    /// the sample clock advances and the algorithm runs the transfers due after sample `samplesSeen - 1` (its
    /// `transfer(_:after:)` receives the sample index as its update count). Else nothing.
    public func sampleDone() {
        guard transfersCountSamples else { return }
        let n = samplesSeen
        samplesSeen += 1
        algorithm.transfer(self, after: n)
    }

    /// Reads column k of array `source` through the transfer periphery (a one-hot input: output noise and ADC; the
    /// noise stream is (seed, transferReadNoise, block, source) at counter step), rows values into `out`.
    public func readTransferColumn(_ source: Int, column k: Int, step: Int64, into out: UnsafeMutablePointer<Float>) {
        transferWrites += 1
        let noise = NoiseSource(key: StreamKey(seed: seed, purpose: .transferReadNoise, UInt64(info.index), UInt64(source)),
                                step: UInt32(truncatingIfNeeded: step))
        arrays[source].readColumn(k, into: out)
        Periphery.readOneHot(out, count: info.rows, index: k, io: transferIO, noise: noise, statistics: &counters[source].transferRead)
        transfers += 1
    }

    /// The cycle-to-cycle stream of a transfer of column k from `source` into `target` after step `step`:
    /// (seed, cycleToCycle, block, target) at counter (step, 0x8000_0000 | source << 24 | k).
    public func transferNoise(into target: Int, from source: Int, column k: Int, step: Int64) -> RandomStream {
        RandomStream(key: StreamKey(seed: seed, purpose: .cycleToCycle, UInt64(info.index), UInt64(target)), step: UInt64(step),
                     sub: Self.transferSub(source: source, column: k))
    }

    static func transferSub(source: Int, column k: Int) -> UInt32 { 0x8000_0000 | UInt32(source) << 24 | UInt32(k) }

    /// Pulses `rate` x `values` (a column update, rows values) into column k of array `target` (Eq. 11): stochastic
    /// trains of a one-hot input (pulsed mode; trains (seed, pulseTrains, block, target), noise `c2c`, both at
    /// counter (step, transferSub)) or Eq. 2 (expected mode). `values` is used as scratch.
    public func pulseColumn(into target: Int, column k: Int, values: UnsafeMutablePointer<Float>, rate: Float, source: Int,
                            step: Int64, noise c2c: inout RandomStream) {
        let rows = info.rows
        transferWrites += 1
        let dst = arrays[target]
        switch mode {
        case .pulsed:
            for i in 0..<rows { values[i] = -values[i] }
            oneHot[k] = 1
            var trains = RandomStream(key: StreamKey(seed: seed, purpose: .pulseTrains, UInt64(info.index), UInt64(target)),
                                      step: UInt64(step), sub: Self.transferSub(source: source, column: k))
            counters[target].transfer += oneHot.withUnsafeBufferPointer { x in
                dst.pulsedUpdate(x: x.baseAddress!, d: values, lr: rate, update: update, trains: &trains, noise: &c2c)
            }
            oneHot[k] = 0
        case .expected:
            for i in 0..<rows { values[i] *= rate }
            let clipped = dst.expectedUpdate(column: k, delta: values).clipped
            countExpectedUpdates(into: target, 1, transfer: true)
            counters[target].transfer.clipped &+= clipped
        }
    }

    /// One column transfer of Eq. 11 (Tiki-Taka v1, Residual Learning, multi-tile): column k of array `source`, read
    /// through the transfer periphery, is pulsed times `rate` into column k of array `target`; after the read, the
    /// source's column is reset with probability `resetProbability` (aihwkit `with_reset_prob`, `TransferReset`).
    public func moveColumn(from source: Int, into target: Int, column k: Int, rate: Float, step: Int64, resetProbability: Double = 0) {
        var c2c = transferNoise(into: target, from: source, column: k, step: step)
        withColumn { col in
            readTransferColumn(source, column: k, step: step, into: col)
            resetTransferredColumn(source, column: k, probability: resetProbability, step: step)
            pulseColumn(into: target, column: k, values: col, rate: rate, source: source, step: step, noise: &c2c)
        }
    }

    /// The transfers of `cycle` due after `step`: from the gradient array down to W(1), each source s moving its next
    /// `transfer_columns` columns into s - 1 (`moveColumn`, each column reset after its read with probability
    /// `resetProbability`).
    public func moveColumns(_ cycle: inout TransferCycle, after step: Int64, resetProbability: Double = 0) {
        for s in stride(from: cycle.sources, through: 1, by: -1) where cycle.isDue(s, after: step) {
            for _ in 0..<cycle.columnsPerTransfer {
                moveColumn(from: s, into: s - 1, column: cycle.next(s), rate: cycle.rates[s], step: step, resetProbability: resetProbability)
            }
        }
    }

    /// Fires `count` pulses of one sign on element e of array `target`, one by one (threshold transfers): with the
    /// device's cycle-to-cycle noise from `noise` in pulsed mode, the mean pulse in expected mode.
    public func firePulses(into target: Int, element e: Int, count: Int, down: Bool, noise: inout RandomStream) {
        guard count > 0 else { return }
        transferWrites += 1
        let clipped = arrays[target].firePulses(element: e, count: count, down: down, noisy: mode == .pulsed, noise: &noise).clipped
        counters[target].transfer.coincidences &+= UInt64(count)
        counters[target].transfer.clipped &+= clipped
        thresholdSlots = max(thresholdSlots, count)
    }

    /// Pulses the update -rate x values (cols values) into row `row` of array `target` (mixed precision's transfer,
    /// aihwkit `MixedPrecRPUDeviceBase::forwardUpdate`): a pulsed rank-one update with x = values and a one-hot d,
    /// update management and update BL management on (as aihwkit forces them), so device (row, j) receives on average
    /// rate |values_j| / dw_min pulses (at most BL), down for values_j > 0. Trains (seed, pulseTrains, block, target)
    /// and the c2c stream `noise` at counter (step, 0xC000_0000 | row). Pulsed mode only (expected mode applies Eq. 2
    /// through `expectedUpdate(into:delta:)`).
    public func pulseRow(into target: Int, row: Int, values: UnsafePointer<Float>, rate: Float, step: Int64, noise c2c: inout RandomStream) {
        transferWrites += 1
        precondition(mode == .pulsed)
        var u = update
        u.updateManagement = true
        u.updateBLManagement = true
        if oneHotRow.count < info.rows { oneHotRow = [Float](repeating: 0, count: info.rows) }
        oneHotRow[row] = 1
        var trains = RandomStream(key: StreamKey(seed: seed, purpose: .pulseTrains, UInt64(info.index), UInt64(target)),
                                  step: UInt64(step), sub: 0xC000_0000 | UInt32(row))
        counters[target].transfer += oneHotRow.withUnsafeBufferPointer { d in
            arrays[target].pulsedUpdate(x: values, d: d.baseAddress!, lr: rate, update: u, trains: &trains, noise: &c2c)
        }
        oneHotRow[row] = 0
    }

    /// The cycle-to-cycle stream of `pulseRow` into `target`, row `row`, after step `step`: (seed, cycleToCycle,
    /// block, target) at counter (step, 0xC000_0000 | row).
    public func rowNoise(into target: Int, row: Int, step: Int64) -> RandomStream {
        RandomStream(key: StreamKey(seed: seed, purpose: .cycleToCycle, UInt64(info.index), UInt64(target)), step: UInt64(step),
                     sub: 0xC000_0000 | UInt32(row))
    }

    /// Applies Eq. 2 with the requested change `delta` (rows x cols) to array `target`, counted as a transfer
    /// (mixed precision's transfer in expected mode).
    public func expectedUpdate(into target: Int, delta: UnsafePointer<Float>) {
        transferWrites += 1
        let clipped = arrays[target].expectedUpdate(delta: delta).clipped
        countExpectedUpdates(into: target, 1, transfer: true)
        counters[target].transfer.clipped &+= clipped
    }

    /// A stream for an algorithm's own random decisions (chopper flips, stochastic rounding): key (seed, pulseTrains,
    /// block, 0x414C_47, tag), one id more than every array's stream and so independent of them, at counter
    /// (step, sub). `tag` tells an algorithm's purposes apart.
    public func algorithmStream(tag: UInt64, step: UInt64, sub: UInt32) -> RandomStream {
        RandomStream(key: StreamKey(seed: seed, purpose: .pulseTrains, UInt64(info.index), 0x414C_47, tag), step: step, sub: sub)
    }

    /// Counts one threshold transfer into `target` (one column's worth of `firePulses`): one update whose slots are
    /// the most pulses fired on one of its devices (the rows fire in parallel).
    public func countThresholdTransfer(into target: Int) {
        counters[target].transfer.updates &+= 1
        counters[target].transfer.slots &+= UInt64(thresholdSlots)
        thresholdSlots = 0
    }

    /// Counts `n` updates of expected mode into `target` (no pulse is simulated; each would drive `desired_bl` slots).
    func countExpectedUpdates(into target: Int, _ n: Int, transfer: Bool = false) {
        var s = PulseStatistics()
        s.updates = UInt64(n)
        s.slots = UInt64(n * update.desiredBL)
        if transfer { counters[target].transfer += s } else { counters[target].gradient += s }
    }

    // MARK: Counters (checkpoints)

    /// Every array's counters by name ("counters.W", "counters.P", ...: `TileCounters.values`), for a checkpoint.
    public var counterState: [String: ScalarState] {
        var out = [String: ScalarState]()
        for (k, role) in roles.enumerated() { out["counters." + role.label] = .integers(counters[k].values) }
        return out
    }

    /// Restores the counters `counterState` recorded.
    /// - Throws: `StateError` when an array's counters are missing or have the wrong length.
    public func restoreCounters(_ state: [String: ScalarState]) throws(StateError) {
        var restored = counters
        for (k, role) in roles.enumerated() {
            restored[k] = try TileCounters(values: try StateError.integers(state, "counters." + role.label, count: TileCounters.names.count))
        }
        counters = restored
    }

    /// Runs `body` with the block's column buffer (rows values).
    public func withColumn<T>(_ body: (UnsafeMutablePointer<Float>) -> T) -> T {
        column.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    /// The nominal device granularity dw_min of array `k`.
    public func dwMin(_ k: Int) -> Float { arrays[k].model.dwMin }

    /// The longest pulse train BL (update.desired_bl).
    public var desiredBL: Int { update.desiredBL }

    /// The update mode (pulsed trains or Eq. 2).
    public var updateMode: UpdateMode { mode }

    // MARK: State (checkpoints)

    /// A Float32 array of the block's state, by the name checkpoints give it (live storage: a checkpoint writes from
    /// it, a resume reads into it; rows x cols values).
    public struct StateArray {
        public let name: String
        public let values: UnsafeMutablePointer<Float>
        public let count: Int
    }

    /// Every array of state the rest of a run depends on: each tile's weights as reads see them ("W", "P", "W1", ...),
    /// references ("W.ref", ...) and, with write noise, hidden persistent device states ("W.persistent", ...), then the algorithm's digital arrays ("weights", "H", "Q"). The devices' own
    /// parameters (device-to-device and tile-to-tile draws) are not state: they are drawn again from the keyed streams
    /// when the block is built.
    public var stateArrays: [StateArray] {
        var out = [StateArray]()
        for (k, a) in arrays.enumerated() {
            out.append(StateArray(name: roles[k].label, values: a.weights, count: a.count))
            if let r = a.reference { out.append(StateArray(name: roles[k].label + ".ref", values: r, count: a.count)) }
            if let p = a.persistentStates { out.append(StateArray(name: roles[k].label + ".persistent", values: p, count: a.count)) }
        }
        for d in algorithm.digitalArrays { out.append(StateArray(name: d.name, values: d.values, count: d.count)) }
        return out
    }

    /// The weights the reads see as a sum of state arrays times coefficients (and chopper signs): sum_n c_n (W(n) -
    /// ref_n) plus the algorithm's own terms (for a reader of checkpoints; the block computes `effective` itself).
    public var readTerms: [WeightTerm] {
        var terms = [WeightTerm]()
        for (k, a) in arrays.enumerated() where coefficients[k] != 0 {
            terms.append(WeightTerm(roles[k].label, Double(coefficients[k])))
            if a.reference != nil { terms.append(WeightTerm(roles[k].label + ".ref", -Double(coefficients[k]))) }
        }
        return terms + algorithm.digitalReadTerms
    }

    /// Counters and algorithm state as scalars: the algorithm's `scalars`, every tile's counters (`counterState`:
    /// pulses, clipped pulses, slots and reads, so telemetry goes on exactly after a resume), the transfers and the
    /// sample clock of transfers that count samples ("samples").
    public var scalars: [String: ScalarState] {
        var s = algorithm.scalars
        s.merge(counterState) { a, _ in a }
        s["transfers"] = .integers([Int64(transfers)])
        s["samples"] = .integers([samplesSeen])
        for (k, a) in arrays.enumerated() where a.effects != nil {
            s["effects_clock." + roles[k].label] = .integers([Int64(bitPattern: a.effectsClock)])
        }
        return s
    }

    /// Restores `scalars` as a checkpoint recorded them (after the arrays were read into `stateArrays`), and
    /// recomputes the weights the reads see.
    /// - Throws: `StateError` if a value is missing or does not fit this block.
    public func restore(scalars: [String: ScalarState]) throws(StateError) {
        try algorithm.restore(scalars: scalars)
        try restoreCounters(scalars)
        transfers = Int(try StateError.integers(scalars, "transfers", count: 1)[0])
        samplesSeen = scalars["samples"] == nil ? 0 : try StateError.integers(scalars, "samples", count: 1)[0]
        for (k, a) in arrays.enumerated() where a.effects != nil {
            a.effectsClock = UInt64(bitPattern: try StateError.integers(scalars, "effects_clock." + roles[k].label, count: 1)[0])
        }
        refreshEffective()
    }

    // MARK: Digest

    /// SHA-256 over the block's state in order: the digital weights (if any), each array (then its reference, if
    /// any), then the algorithm's other digital arrays (H, Q, ...), as little-endian Float32 bytes.
    public func digest() -> [UInt8] {
        var h = SHA256()
        let n = info.devices * MemoryLayout<Float>.size
        let weights = algorithm.digitalWeights
        if let d = weights { h.update(bufferPointer: UnsafeRawBufferPointer(start: d, count: n)) }
        for a in arrays {
            h.update(bufferPointer: UnsafeRawBufferPointer(start: a.weights, count: n))
            if let r = a.reference { h.update(bufferPointer: UnsafeRawBufferPointer(start: r, count: n)) }
            if let p = a.persistentStates { h.update(bufferPointer: UnsafeRawBufferPointer(start: p, count: n)) }
        }
        for b in algorithm.digitalArrays where b.values != weights {
            h.update(bufferPointer: UnsafeRawBufferPointer(start: b.values, count: b.count * MemoryLayout<Float>.size))
        }
        return Array(h.finalize())
    }

    /// The algorithm's digital array named `name` (H, Q, weights), or nil.
    public func digitalArray(_ name: String) -> DigitalArray? { algorithm.digitalArrays.first { $0.name == name } }
}

/// Scratch space of weight blocks: the periphery's buffers (batch x fan-in and batch x fan-out floats) and the
/// summed update dW of expected and per-batch updates (rows x cols floats). One per rank: its blocks run in turn.
public final class BlockWorkspace {
    let periphery = PeripheryScratch()
    var delta: [Float] = []
    /// Chopped copies of inputs and errors (`pulseGradient` with signs).
    var chopX: [Float] = []
    var chopD: [Float] = []
    public init() {}
}
