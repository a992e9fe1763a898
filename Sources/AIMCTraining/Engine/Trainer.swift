import AIMCCore
import Crypto
import Foundation

/// Metrics of one epoch. Every field except `seconds` is bitwise reproducible (same seed and config, any rank
/// count or placement).
public struct EpochMetrics: Sendable, Equatable {
    public var epoch: Int
    /// Mean softmax cross-entropy over the epoch's training samples (computed on the noisy forward pass).
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var testLoss: Double
    public var testAccuracy: Double
    /// Wall time of the epoch (training and evaluation), seconds on the coordinator.
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, testLoss: Double, testAccuracy: Double, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.seconds = seconds
    }
}

/// What the coordinator decides before each epoch and broadcasts to every rank.
struct EpochPlan: BitwiseCopyable {
    var epoch: Int64
    var firstStep: Int64
    var steps: Int64
    var batchSize: Int64
}

/// Time and traffic of one rank.
public struct RankTiming: Sendable {
    public var computeSeconds = 0.0
    public var communicationSeconds = 0.0
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
}

/// The distributed training of a fully connected network whose layers are split into weight blocks spread
/// over the members of a `Collective` (design.md, "One training step, distributed"):
///
/// 1. the coordinator (rank 0) fixes the epoch plan; every rank derives the mini-batches from the seed;
/// 2. forward, layer by layer: each owner computes its blocks' partial outputs through their own periphery;
///    the partials are gathered and summed digitally in block order (never in MPI's order); bias and
///    activation follow; every rank then holds the layer's output activations;
/// 3. softmax cross-entropy and its gradient at the output, on every rank (identical by construction);
/// 4. backward mirrors forward with transposed reads;
/// 5. each owner updates its own arrays with its input slice x and error slice delta; transfers (Eq. 11)
///    run on the owners at the steps of the schedule; biases (digital) are updated on every rank alike.
/// Only activations and errors travel; weights never leave their owner.
public final class Trainer {
    public let config: ExperimentConfig
    public let layout: NetworkLayout
    public let placement: Placement
    public let comm: any Collective
    public let train: Dataset
    public let test: Dataset

    /// This rank's blocks, in global block order.
    public private(set) var blocks: [WeightBlock] = []
    /// Digital biases of every layer (replicated on every rank, updated identically).
    public private(set) var biases: [[Float]]
    public private(set) var timing = RankTiming()
    public private(set) var step: Int64 = 0
    /// Total pulses fired on this rank's blocks (gradient and transfer).
    public var pulseStatistics: (gradient: PulseStatistics, transfer: PulseStatistics) {
        var g = PulseStatistics(), t = PulseStatistics()
        for b in blocks { g += b.gradientPulses; t += b.transferPulses }
        return (g, t)
    }

    /// Epoch training losses since the last warm-start move (multi-tile residual learning), and the moves so far.
    var plateauHistory: [Double] = []
    public private(set) var warmStartMoves = 0

    /// Algorithm 1's LossPlateau (arXiv 2510.02516, App. H): for the first four moves, the loss rose since the last
    /// epoch ("aggressive"); later, at least two rises among the last five epochs ("mild").
    static func plateau(_ history: [Double], moves: Int) -> Bool {
        if moves < 4 {
            guard history.count >= 2 else { return false }
            return history[history.count - 1] > history[history.count - 2]
        }
        guard history.count >= 6 else { return false }
        let last = history.suffix(6)
        return zip(last.dropFirst(), last).filter { $0 > $1 }.count >= 2
    }

    /// Pulses this rank spent zero-shifting its arrays.
    public var zeroShiftPulses: UInt64 { blocks.reduce(0) { $0 + $1.zeroShiftPulses } }

    let activation: Activation
    // Per-layer exchange plans.
    var forwardUnits: [[Int]] = []   // [layer][rank]: sum of rows of the rank's blocks in the layer
    var backwardUnits: [[Int]] = []  // [layer][rank]: sum of cols
    var unitOffset: [Int] = []       // [block]: offset (in units) of the block within its owner's send buffer
    var ownedByLayer: [[WeightBlock]] = []

    // Buffers, sized for the largest batch.
    var capacity = 0
    var activations: [[Float]] = []  // [l] batch x widths[l]
    var deltas: [[Float]] = []       // [l] batch x widths[l] (error w.r.t. the pre-activation of layer l's output)
    var sendBuffer: [Float] = []
    var receiveBuffer: [Float] = []
    var labelsBuffer: [Int32] = []

    /// - Parameters:
    ///   - config: a validated experiment.
    ///   - comm: the group of ranks (its size fixes the placement).
    ///   - train, test: the data, identical on every rank.
    public init(config: ExperimentConfig, comm: any Collective, train: Dataset, test: Dataset) {
        self.config = config
        self.comm = comm
        self.train = train
        self.test = test
        activation = config.model.activation
        layout = NetworkLayout(widths: [train.features] + config.model.hidden + [train.classes],
                               tileSize: config.model.tileSize)
        placement = Placement(layout: layout, ranks: comm.size, policy: config.placement)
        biases = []
        for (l, layer) in layout.layers.enumerated() {
            biases.append(Trainer.initialValues(seed: config.seed, layer: l, rowStart: 0, rows: 1, colStart: 0,
                                                cols: layer.outputs, fanIn: layer.inputs, bias: true))
        }
        var offsetsWithinRank = [Int](repeating: 0, count: layout.blocks.count)
        for layer in layout.layers {
            var f = [Int](repeating: 0, count: comm.size), b = [Int](repeating: 0, count: comm.size)
            for bi in layer.firstBlock..<(layer.firstBlock + layer.blockCount) {
                let info = layout.blocks[bi], r = placement.owner[bi]
                offsetsWithinRank[bi] = f[r]  // forward units; backward offsets computed on the fly
                f[r] += info.rows
                b[r] += info.cols
            }
            forwardUnits.append(f)
            backwardUnits.append(b)
        }
        unitOffset = offsetsWithinRank
        ownedByLayer = Array(repeating: [], count: layout.layers.count)
        let model = DeviceModel(validated: config.device)
        for bi in placement.blocks(of: comm.rank) {
            let info = layout.blocks[bi]
            let w = Trainer.initialValues(seed: config.seed, layer: info.layer, rowStart: info.rowStart, rows: info.rows,
                                          colStart: info.colStart, cols: info.cols, fanIn: layout.widths[info.layer],
                                          bias: false)
            let block = WeightBlock(info: info, config: config, model: model, initialWeights: w)
            blocks.append(block)
            ownedByLayer[info.layer].append(block)
        }
    }

    /// Bytes of weight-block state on `rank` (arrays, per-device parameters, references, effective weights, update
    /// buffers): the memory model of design.md, "memory per rank ~ (its blocks' devices) x (bytes per device)".
    public static func blockBytes(config: ExperimentConfig, layout: NetworkLayout, placement: Placement, rank: Int) -> Int {
        let devices = placement.blocks(of: rank).reduce(0) { $0 + layout.blocks[$1].devices }
        return devices * bytesPerDevice(config)
    }

    /// Bytes per device of one weight block: 4 (state) + 48 (parameters) per analog array, 4 per reference,
    /// 4 for the effective weights of Residual Learning or a referenced W, 4 for the update buffer.
    public static func bytesPerDevice(_ c: ExperimentConfig) -> Int {
        let a = c.algorithm
        let arrays = a.arrayCount
        if arrays == 0 { return 8 }
        var bytes = arrays * (4 + MemoryLayout<DeviceCell>.stride)
        if a.zeroShift != .none { bytes += 4 }
        if a.name.mixes || a.zeroShift != .none { bytes += 4 }
        if [.tikiTakaV2, .residualV2, .rider].contains(a.name) { bytes += 4 }
        if a.updateMode == .expected || !a.perSample { bytes += 4 }
        return bytes
    }

    /// Initial weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's nn.Linear default), element (i, j) of layer l
    /// taken from word j of the stream (seed, weightInit, l, bias) with counter (i, 0, 0): independent of the
    /// tile size and of the placement.
    static func initialValues(seed: UInt64, layer: Int, rowStart: Int, rows: Int, colStart: Int, cols: Int,
                              fanIn: Int, bias: Bool) -> [Float] {
        let bound = 1 / Float(fanIn).squareRoot()
        let key = StreamKey(seed: seed, purpose: .weightInit, UInt64(layer), bias ? 1 : 0)
        var out = [Float](repeating: 0, count: rows * cols)
        for i in 0..<rows {
            var s = RandomStream(key: key, counter: (UInt32(rowStart + i), 0, 0))
            s.seek(word: UInt64(colStart))
            for j in 0..<cols { out[i * cols + j] = (s.nextUniform() * 2 - 1) * bound }
        }
        return out
    }

    func ensureCapacity(_ batch: Int) {
        guard batch > capacity else { return }
        capacity = batch
        activations = layout.widths.map { [Float](repeating: 0, count: batch * $0) }
        deltas = layout.widths.map { [Float](repeating: 0, count: batch * $0) }
        let maxUnits = (forwardUnits + backwardUnits).flatMap { $0 }.max() ?? 0
        let maxTotal = zip(forwardUnits, backwardUnits).map { max($0.reduce(0, +), $1.reduce(0, +)) }.max() ?? 0
        sendBuffer = [Float](repeating: 0, count: batch * max(maxUnits, 1))
        receiveBuffer = [Float](repeating: 0, count: batch * max(maxTotal, 1))
        labelsBuffer = [Int32](repeating: 0, count: batch)
    }

    @inline(__always)
    func timed<T>(_ communication: Bool, _ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer {
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if communication { timing.communicationSeconds += dt } else { timing.computeSeconds += dt }
        }
        return try body()
    }

    // MARK: Forward and backward

    /// Layer l: activations[l] (batch x inputs) -> activations[l + 1] (batch x outputs); the last layer leaves logits.
    func forwardLayer(_ l: Int, batch: Int, noise: (BlockInfo) -> NoiseSource) throws(CommunicationError) {
        let layer = layout.layers[l]
        let units = forwardUnits[l]
        let nIn = layer.inputs, nOut = layer.outputs
        timed(false) {
            activations[l].withUnsafeBufferPointer { x in
                sendBuffer.withUnsafeMutableBufferPointer { s in
                    for block in ownedByLayer[l] {
                        block.forward(input: x.baseAddress!, inputStride: nIn, batch: batch,
                                      output: s.baseAddress! + batch * unitOffset[block.info.index], noise: noise(block.info))
                    }
                }
            }
        }
        try exchange(units: units, batch: batch)
        timed(false) {
            let rankOffsets = prefixSums(units.map { $0 * batch })
            receiveBuffer.withUnsafeBufferPointer { recv in
                activations[l + 1].withUnsafeMutableBufferPointer { y in
                    for r in 0..<layer.rowBlocks {
                        for c in 0..<layer.colBlocks {
                            let bi = layer.blockIndex(row: r, col: c)
                            let info = layout.blocks[bi]
                            let p = recv.baseAddress! + rankOffsets[placement.owner[bi]] + batch * unitOffset[bi]
                            for b in 0..<batch {
                                let dst = y.baseAddress! + b * nOut + info.rowStart
                                let src = p + b * info.rows
                                if c == 0 {
                                    for i in 0..<info.rows { dst[i] = src[i] }
                                } else {
                                    for i in 0..<info.rows { dst[i] += src[i] }
                                }
                            }
                        }
                    }
                    let bias = biases[l]
                    let last = l == layout.layers.count - 1
                    for b in 0..<batch {
                        let row = y.baseAddress! + b * nOut
                        for i in 0..<nOut {
                            let z = row[i] + bias[i]
                            row[i] = last ? z : Trainer.activate(z, activation)
                        }
                    }
                }
            }
        }
    }

    /// Layer l: deltas[l + 1] (batch x outputs) -> deltas[l] (batch x inputs), times the activation's derivative.
    func backwardLayer(_ l: Int, batch: Int, noise: (BlockInfo) -> NoiseSource) throws(CommunicationError) {
        let layer = layout.layers[l]
        let units = backwardUnits[l]
        let nIn = layer.inputs, nOut = layer.outputs
        // Offsets of each block within its owner's backward send buffer.
        var offset = [Int: Int]()
        var running = [Int](repeating: 0, count: comm.size)
        for bi in layer.firstBlock..<(layer.firstBlock + layer.blockCount) {
            let r = placement.owner[bi]
            offset[bi] = running[r]
            running[r] += layout.blocks[bi].cols
        }
        timed(false) {
            deltas[l + 1].withUnsafeBufferPointer { d in
                sendBuffer.withUnsafeMutableBufferPointer { s in
                    for block in ownedByLayer[l] {
                        block.backward(delta: d.baseAddress!, deltaStride: nOut, batch: batch,
                                       output: s.baseAddress! + batch * offset[block.info.index]!, noise: noise(block.info))
                    }
                }
            }
        }
        try exchange(units: units, batch: batch)
        timed(false) {
            let rankOffsets = prefixSums(units.map { $0 * batch })
            receiveBuffer.withUnsafeBufferPointer { recv in
                deltas[l].withUnsafeMutableBufferPointer { g in
                    for c in 0..<layer.colBlocks {
                        for r in 0..<layer.rowBlocks {
                            let bi = layer.blockIndex(row: r, col: c)
                            let info = layout.blocks[bi]
                            let p = recv.baseAddress! + rankOffsets[placement.owner[bi]] + batch * offset[bi]!
                            for b in 0..<batch {
                                let dst = g.baseAddress! + b * nIn + info.colStart
                                let src = p + b * info.cols
                                if r == 0 {
                                    for j in 0..<info.cols { dst[j] = src[j] }
                                } else {
                                    for j in 0..<info.cols { dst[j] += src[j] }
                                }
                            }
                        }
                    }
                    activations[l].withUnsafeBufferPointer { a in
                        for k in 0..<(batch * nIn) {
                            g[k] *= Trainer.derivative(activationValue: a[k], activation)
                        }
                    }
                }
            }
        }
    }

    func exchange(units: [Int], batch: Int) throws(CommunicationError) {
        let counts = units.map { $0 * batch }
        let t0 = DispatchTime.now().uptimeNanoseconds
        try sendBuffer.withUnsafeBufferPointer { (s) throws(CommunicationError) in
            try receiveBuffer.withUnsafeMutableBufferPointer { (r) throws(CommunicationError) in
                try comm.allgather(s.baseAddress!, counts: counts, into: r.baseAddress!)
            }
        }
        timing.communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }

    func prefixSums(_ v: [Int]) -> [Int] {
        var out = [Int](repeating: 0, count: v.count)
        var s = 0
        for i in 0..<v.count { out[i] = s; s += v[i] }
        return out
    }

    @inline(__always)
    static func activate(_ z: Float, _ a: Activation) -> Float {
        switch a {
        case .sigmoid: return 1 / (1 + Foundation.exp(-z))
        case .tanh: return Foundation.tanh(z)
        case .relu: return max(z, 0)
        }
    }

    /// Derivative expressed through the activation's value y.
    @inline(__always)
    static func derivative(activationValue y: Float, _ a: Activation) -> Float {
        switch a {
        case .sigmoid: return y * (1 - y)
        case .tanh: return 1 - y * y
        case .relu: return y > 0 ? 1 : 0
        }
    }

    /// Softmax cross-entropy of the logits in activations[L] for `batch` samples; writes the error
    /// (softmax - onehot)/batch into deltas[L]. Returns (sum of losses, number correct).
    func lossAndError(batch: Int, labels: UnsafePointer<Int32>, writeError: Bool) -> (Double, Int) {
        let nOut = layout.widths.last!
        let L = layout.widths.count - 1
        var lossSum = 0.0
        var correct = 0
        let scale = 1 / Float(batch)
        activations[L].withUnsafeBufferPointer { z in
            deltas[L].withUnsafeMutableBufferPointer { d in
                for b in 0..<batch {
                    let row = z.baseAddress! + b * nOut
                    var m = row[0], arg = 0
                    for i in 1..<nOut where row[i] > m { m = row[i]; arg = i }
                    var sum = 0.0
                    for i in 0..<nOut { sum += Foundation.exp(Double(row[i] - m)) }
                    let y = Int(labels[b])
                    lossSum += Foundation.log(sum) - Double(row[y] - m)
                    if arg == y { correct += 1 }
                    if writeError {
                        for i in 0..<nOut {
                            let p = Float(Foundation.exp(Double(row[i] - m)) / sum)
                            d[b * nOut + i] = (p - (i == y ? 1 : 0)) * scale
                        }
                    }
                }
            }
        }
        return (lossSum, correct)
    }

    func loadBatch(_ data: Dataset, indices: ArraySlice<Int>) {
        let f = data.features
        activations[0].withUnsafeMutableBufferPointer { x in
            for (b, i) in indices.enumerated() {
                data.image(i, into: x.baseAddress! + b * f)
                labelsBuffer[b] = data.labels[i]
            }
        }
    }

    // MARK: Training

    /// One training step (collective) on the training samples `indices`: forward, loss, backward, gradient
    /// updates, transfers when scheduled. Returns the mean loss of the batch (before the update).
    public func trainOnBatch(_ indices: [Int]) throws(CommunicationError) -> Double {
        let (loss, _) = try trainStep(indices: indices[...])
        return loss / Double(indices.count)
    }

    /// One training step on the samples `indices` (global step `step`): forward, loss, backward, updates,
    /// transfers. Returns (sum of losses, number correct).
    func trainStep(indices: ArraySlice<Int>) throws(CommunicationError) -> (Double, Int) {
        let batch = indices.count
        ensureCapacity(batch)
        let t = UInt64(step)
        let seed = config.seed
        timed(false) { loadBatch(train, indices: indices) }
        let fwd: (BlockInfo) -> NoiseSource = {
            NoiseSource(key: StreamKey(seed: seed, purpose: .forwardNoise, UInt64($0.index)), step: UInt32(truncatingIfNeeded: t))
        }
        let bwd: (BlockInfo) -> NoiseSource = {
            NoiseSource(key: StreamKey(seed: seed, purpose: .backwardNoise, UInt64($0.index)), step: UInt32(truncatingIfNeeded: t))
        }
        for l in 0..<layout.layers.count { try forwardLayer(l, batch: batch, noise: fwd) }
        let result = timed(false) {
            labelsBuffer.withUnsafeBufferPointer { lossAndError(batch: batch, labels: $0.baseAddress!, writeError: true) }
        }
        for l in stride(from: layout.layers.count - 1, through: 1, by: -1) { try backwardLayer(l, batch: batch, noise: bwd) }
        timed(false) {
            for block in blocks {
                let l = block.info.layer
                activations[l].withUnsafeBufferPointer { x in
                    deltas[l + 1].withUnsafeBufferPointer { d in
                        block.gradientUpdate(input: x.baseAddress!, inputStride: layout.widths[l], delta: d.baseAddress!,
                                             deltaStride: layout.widths[l + 1], batch: batch, step: t)
                    }
                }
                block.transfer(after: step)
            }
            // Digital biases: b -= alpha * sum_b delta_b.
            let lr = Float(config.algorithm.lr)
            for l in 0..<layout.layers.count {
                let n = layout.widths[l + 1]
                deltas[l + 1].withUnsafeBufferPointer { d in
                    for i in 0..<n {
                        var g: Float = 0
                        for b in 0..<batch { g += d[b * n + i] }
                        biases[l][i] -= lr * g
                    }
                }
            }
        }
        step += 1
        return result
    }

    /// Forward-only evaluation on `data` (first `limit` samples; 0 = all), with the evaluation noise keys of `epoch`.
    /// Returns (mean loss, accuracy).
    public func evaluate(_ data: Dataset, limit: Int, epoch: Int) throws(CommunicationError) -> (Double, Double) {
        let n = limit > 0 ? min(limit, data.count) : data.count
        let eb = config.training.evalBatchSize
        ensureCapacity(min(eb, max(n, 1)))
        var lossSum = 0.0, correct = 0
        let seed = config.seed
        var start = 0
        while start < n {
            let batch = min(eb, n - start)
            timed(false) { loadBatch(data, indices: Array(start..<(start + batch))[...]) }
            let first = UInt32(start)
            let noise: (BlockInfo) -> NoiseSource = {
                NoiseSource(key: StreamKey(seed: seed, purpose: .evaluationNoise, UInt64($0.index)),
                            step: UInt32(epoch), firstSample: first)
            }
            for l in 0..<layout.layers.count { try forwardLayer(l, batch: batch, noise: noise) }
            let (ls, c) = timed(false) {
                labelsBuffer.withUnsafeBufferPointer { lossAndError(batch: batch, labels: $0.baseAddress!, writeError: false) }
            }
            lossSum += ls
            correct += c
            start += batch
        }
        return (lossSum / Double(max(n, 1)), Double(correct) / Double(max(n, 1)))
    }

    /// The shuffled order of the training samples in `epoch` (Fisher-Yates, keyed by (seed, shuffle, epoch)).
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        var s = RandomStream(key: StreamKey(seed: seed, purpose: .shuffle, UInt64(epoch)))
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = s.nextInt(below: i + 1)
                order.swapAt(i, j)
            }
        }
        return order
    }

    /// Runs one epoch (training then evaluation). `progress` is called on the coordinator with
    /// (steps done, steps, running mean loss).
    public func runEpoch(_ epoch: Int, progress: ((Int, Int, Double) -> Void)? = nil) throws(CommunicationError) -> EpochMetrics {
        let start = DispatchTime.now().uptimeNanoseconds
        let batchSize = config.training.batchSize
        var plan = EpochPlan(epoch: Int64(epoch), firstStep: step,
                             steps: Int64((train.count + batchSize - 1) / batchSize), batchSize: Int64(batchSize))
        plan = try comm.broadcast(plan)
        step = plan.firstStep
        let order = Trainer.permutation(count: train.count, seed: config.seed, epoch: Int(plan.epoch))
        var lossSum = 0.0, correct = 0, seen = 0
        let steps = Int(plan.steps), bs = Int(plan.batchSize)
        for s in 0..<steps {
            let lo = s * bs, hi = min(lo + bs, train.count)
            let (l, c) = try trainStep(indices: order[lo..<hi])
            lossSum += l
            correct += c
            seen += hi - lo
            if !(lossSum.isFinite) { break }
            progress?(s + 1, steps, lossSum / Double(seen))
        }
        if config.algorithm.name == .multiTileResidual && config.algorithm.warmStart && seen > 0 {
            plateauHistory.append(lossSum / Double(seen))
            if Trainer.plateau(plateauHistory, moves: warmStartMoves) {
                warmStartMoves += 1
                plateauHistory.removeAll()
                for b in blocks { b.advanceWarmStart() }
            }
        }
        let (testLoss, testAccuracy) = try evaluate(test, limit: config.training.testLimit, epoch: epoch)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        timing.bytesSent = comm.bytesSent
        timing.bytesReceived = comm.bytesReceived
        return EpochMetrics(epoch: epoch, trainLoss: lossSum / Double(max(seen, 1)),
                            trainAccuracy: Double(correct) / Double(max(seen, 1)), testLoss: testLoss,
                            testAccuracy: testAccuracy, seconds: seconds)
    }

    /// SHA-256 over every block's digest in global block order, then every layer's bias. Collective.
    public func weightsDigest() throws(CommunicationError) -> String {
        var mine = [UInt8]()
        for b in blocks { mine += b.digest() }
        let counts = (0..<comm.size).map { placement.blocks(of: $0).count * 32 }
        let all = try comm.allgatherBytes(mine, counts: counts)
        // Rank r's digests arrive in its block order; reorder into global block order.
        var perBlock = [[UInt8]](repeating: [], count: layout.blocks.count)
        var offset = 0
        for r in 0..<comm.size {
            for bi in placement.blocks(of: r) {
                perBlock[bi] = Array(all[offset..<(offset + 32)])
                offset += 32
            }
        }
        var h = SHA256()
        for d in perBlock { h.update(data: d) }
        for b in biases { b.withUnsafeBytes { h.update(bufferPointer: $0) } }
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
