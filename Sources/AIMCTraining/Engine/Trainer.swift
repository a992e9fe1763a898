import AIMCCore
import Crypto
import Foundation

/// Metrics of one epoch. Every field except `seconds` is bitwise reproducible (same seed and config, any rank
/// count, placement or replica count). Valid on world rank 0 (the coordinator), which broadcasts them.
public struct EpochMetrics: Sendable, Equatable, BitwiseCopyable {
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

/// Where an epoch stands: the steps of it done and its running sums of per-sample loss and correct answers (valid on
/// world rank 0, which gathers them). Checkpoint state: with the global step it is all the schedule a resume needs,
/// since the data order and every random stream derive from (seed, epoch, step).
public struct EpochProgress: Sendable, Equatable {
    public var epoch: Int
    public var stepsDone = 0
    public var lossSum = 0.0
    public var correct = 0.0
    public var seen = 0

    public init(epoch: Int, stepsDone: Int = 0, lossSum: Double = 0, correct: Double = 0, seen: Int = 0) {
        self.epoch = epoch
        self.stepsDone = stepsDone
        self.lossSum = lossSum
        self.correct = correct
        self.seen = seen
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
}

/// The distributed training of a fully connected network whose layers are split into weight blocks spread over
/// MPI ranks (design.md, "One training step, distributed"), optionally replicated for data parallelism.
///
/// Groups (sub-communicators of one replica): layer l's forward exchange involves the owners of layer l (which
/// send partial outputs) and the ranks that need its output: the owners of layer l + 1, and for the last layer the
/// coordinator; every member receives every partial and adds them in block order (never in MPI's order), so all
/// hold identical activations. Layer l's backward exchange involves its owners and the owners of layer l - 1.
/// Ranks outside a group never see its data. Each bias slice lives with the block of its row at column 0, which
/// adds it to its partial and updates it.
///
/// One step: forward layer by layer; softmax cross-entropy on the last layer's group; backward from the last layer,
/// where each layer's exchange is started, then the layer's blocks are updated (gradient pulses, transfers, biases)
/// while it travels; every owner updates only its own arrays. With replicas, each replica computes its share of the
/// mini-batch and the owners of a block in all replicas gather the block's inputs and errors in global sample order,
/// so all apply the one-replica update and stay bitwise identical.
public final class Trainer {
    public let config: ExperimentConfig
    public let layout: NetworkLayout
    /// Placement of blocks on the ranks of one replica (model ranks).
    public let placement: Placement
    public let world: any Collective
    public let train: Dataset
    public let test: Dataset
    public let replicas: Int
    public let replica: Int
    /// This rank within its replica.
    public let modelRank: Int
    public let modelSize: Int

    /// This rank's blocks, in global block order.
    public private(set) var blocks: [WeightBlock] = []
    public private(set) var timing = RankTiming()
    public internal(set) var step: Int64 = 0
    /// The epoch in progress and its running sums (the sums are the coordinator's).
    public internal(set) var epochProgress = EpochProgress(epoch: 1)
    /// Total pulses fired on this rank's blocks (gradient and transfer).
    public var pulseStatistics: (gradient: PulseStatistics, transfer: PulseStatistics) {
        var g = PulseStatistics(), t = PulseStatistics()
        for b in blocks { g += b.gradientPulses; t += b.transferPulses }
        return (g, t)
    }
    /// What the periphery did in the reads of this rank's blocks (forward, backward, transfer), summed over its blocks;
    /// per block: `WeightBlock.forwardReads` and its siblings.
    public var readStatistics: (forward: ReadStatistics, backward: ReadStatistics, transfer: ReadStatistics) {
        var f = ReadStatistics(), b = ReadStatistics(), t = ReadStatistics()
        for block in blocks { f += block.forwardReads; b += block.backwardReads; t += block.transferReads }
        return (f, b, t)
    }
    /// Pulses this rank spent zero-shifting its arrays.
    public var zeroShiftPulses: UInt64 { blocks.reduce(0) { $0 + $1.zeroShiftPulses } }
    /// Payload bytes this rank sent and received in all its groups.
    public var bytes: (sent: UInt64, received: UInt64) {
        let all: [any Collective] = [world, model] + forwardGroups.compactMap { $0 } + backwardGroups.compactMap { $0 } + (cross.map { [$0] } ?? [])
        var seen = Set<ObjectIdentifier>(), s: UInt64 = 0, r: UInt64 = 0
        for c in all where seen.insert(ObjectIdentifier(c)).inserted { s &+= c.bytesSent; r &+= c.bytesReceived }
        return (s, r)
    }

    let activation: Activation
    let model: any Collective
    /// Ranks of the same model rank in every replica (nil without replicas).
    let cross: (any Collective)?
    var forwardGroups: [(any Collective)?] = []
    var backwardGroups: [(any Collective)?] = []
    /// Model ranks of each group's members, in group rank order, and this rank's reduce plans (nil outside).
    var forwardMembers: [[Int]] = []
    var backwardMembers: [[Int]] = []
    var forwardPlans: [ReducePlan?] = []
    var backwardPlans: [ReducePlan?] = []
    var ownedByLayer: [[WeightBlock]] = []
    /// Bias slices of the blocks at column 0 that this rank owns: [block index: bias].
    var biases: [Int: DigitalArray] = [:]
    /// Per-tile telemetry of this rank's blocks (static draws, symmetric points), made at the first record.
    var tileMonitors: [BlockMonitor]? = nil
    /// Seconds this rank spent measuring its tiles for telemetry records (`gatherTiles`).
    public internal(set) var tileMeasureSeconds = 0.0
    /// Seconds this rank spent in the gathers of telemetry records (MPI_Gatherv, waiting for the slowest rank included).
    public internal(set) var tileGatherSeconds = 0.0

    // Buffers, sized for the largest batch.
    var capacity = 0
    /// The activations along the network: [0] the input, [k + 1] the output of network layer k (batch x its size;
    /// an analog layer's output post-activation); and their gradients (an analog layer's output: before the
    /// activation's derivative is applied, then after).
    var activations: [[Float]] = []
    var deltas: [[Float]] = []
    /// Per analog layer that unrolls (convolutions): its matrix inputs (batch x positions rows of `inputs`) and their
    /// gradients; empty for dense layers, whose input is their matrix input.
    var unrolled: [[Float]] = []
    var unrolledDeltas: [[Float]] = []
    /// Per network layer: what a digital layer's backward pass needs (max-pooling's argmax indices).
    var layerMemory: [[Int32]] = []
    var sendBuffer: [Float] = []
    var receiveBuffer: [Float] = []
    var reducedBuffer: [Float] = []
    var gatherBuffer: [Float] = []
    var labelsBuffer: [Int32] = []
    var sampleLoss: [Double] = []
    var sampleCorrect: [Double] = []

    /// Wall seconds of each training step on this rank, and the compute and communication time inside training
    /// steps only (evaluation excluded).
    public private(set) var stepSeconds: [Double] = []
    public private(set) var stepTiming = RankTiming()
    /// CPU seconds (user plus system, `ProcessClock`) this process spent in training steps: the forward and backward
    /// passes, updates, transfers and exchanges of every step; start-up, reading the data, evaluation and what runs
    /// between steps (progress lines, telemetry records, checkpoints) excluded.
    public private(set) var stepCPUSeconds = 0.0

    /// Payload bytes this rank moved in the first training step of this trainer (sent, received), for comparison
    /// with `CommunicationModel`.
    public private(set) var firstStepBytes: (sent: UInt64, received: UInt64)? = nil


    /// - Parameters:
    ///   - config: a validated experiment; `config.replicas` must divide the world size.
    ///   - comm: the world (every rank of the job).
    ///   - train, test: the data, identical on every rank.
    public init(config: ExperimentConfig, comm: any Collective, train: Dataset, test: Dataset) throws(CommunicationError) {
        precondition(comm.size % config.replicas == 0, "replicas must divide the world size")
        self.config = config
        world = comm
        self.train = train
        self.test = test
        activation = config.model.activation
        replicas = config.replicas
        modelSize = comm.size / replicas
        replica = comm.rank / modelSize
        modelRank = comm.rank % modelSize
        do {
            layout = NetworkLayout(network: try config.model.network(input: train.shape, classes: train.classes), tileSize: config.model.tileSize)
        } catch {
            preconditionFailure("the model was checked against the data before training: \(error)")
        }
        placement = Placement(layout: layout, ranks: modelSize, policy: config.placement)
        model = try comm.split(color: replica, key: modelRank)!
        cross = replicas > 1 ? try comm.split(color: modelRank, key: replica) : nil

        let L = layout.layers.count
        (forwardMembers, backwardMembers) = Trainer.groupMembers(layout: layout, placement: placement)
        for l in 0..<L {
            let f = forwardMembers[l], b = backwardMembers[l]
            forwardGroups.append(try model.split(color: f.contains(modelRank) ? 1 : nil, key: modelRank))
            backwardGroups.append(l >= 1 ? try model.split(color: b.contains(modelRank) ? 1 : nil, key: modelRank) : nil)
        }
        (forwardPlans, backwardPlans) = Trainer.reducePlans(layout: layout, placement: placement, rank: modelRank)
        ownedByLayer = Array(repeating: [], count: L)
        let deviceModel = DeviceModel(validated: config.device)
        let workspace = BlockWorkspace()
        for bi in placement.blocks(of: modelRank) {
            let info = layout.blocks[bi]
            let w = Trainer.initialValues(seed: config.seed, layer: info.layer, rowStart: info.rowStart, rows: info.rows,
                                          colStart: info.colStart, cols: info.cols, fanIn: layout.layers[info.layer].inputs, bias: false)
            let block = WeightBlock(info: info, config: config, model: deviceModel, initialWeights: w, workspace: workspace)
            blocks.append(block)
            ownedByLayer[info.layer].append(block)
            if info.colBlock == 0 {
                biases[bi] = DigitalArray(name: "bias", count: info.rows, initial: Trainer.initialValues(seed: config.seed, layer: info.layer, rowStart: 0, rows: 1, colStart: info.rowStart,
                                                   cols: info.rows, fanIn: layout.layers[info.layer].inputs, bias: true))
            }
        }
    }

    /// Model ranks (sorted) of each layer's groups: forward, the owners of layer l and of layer l + 1 (the coordinator
    /// for the last layer); backward (l >= 1), the owners of layers l and l - 1 (empty for l = 0).
    static func groupMembers(layout: NetworkLayout, placement: Placement) -> (forward: [[Int]], backward: [[Int]]) {
        let L = layout.layers.count
        let owners = (0..<L).map { l -> Set<Int> in
            let layer = layout.layers[l]
            return Set((layer.firstBlock..<(layer.firstBlock + layer.blockCount)).map { placement.owner[$0] })
        }
        var forward = [[Int]](), backward = [[Int]]()
        for l in 0..<L {
            var f = owners[l].union(l + 1 < L ? owners[l + 1] : [])
            if l == L - 1 { f.insert(0) }
            forward.append(f.sorted())
            backward.append(l >= 1 ? owners[l].union(owners[l - 1]).sorted() : [])
        }
        return (forward, backward)
    }

    /// Model rank `rank`'s two-phase reduce plans of every layer (nil where it is not a member).
    static func reducePlans(layout: NetworkLayout, placement: Placement, rank: Int) -> (forward: [ReducePlan?], backward: [ReducePlan?]) {
        let (f, b) = groupMembers(layout: layout, placement: placement)
        let forward = (0..<layout.layers.count).map { l in
            f[l].contains(rank) ? ReducePlan(layout: layout, placement: placement, layer: l, members: f[l], rank: rank, transposed: false) : nil
        }
        let backward = (0..<layout.layers.count).map { l in
            l >= 1 && b[l].contains(rank)
                ? ReducePlan(layout: layout, placement: placement, layer: l, members: b[l], rank: rank, transposed: true) : nil
        }
        return (forward, backward)
    }

    /// Floats per sample of the exchange buffers of a rank with these plans: (send, receive, reduced, gathered); a
    /// layer's counts are per matrix row, so times its positions.
    static func exchangeUnits(_ plans: [ReducePlan?]) -> (send: Int, receive: Int, reduced: Int, gathered: Int) {
        var u = (send: 0, receive: 0, reduced: 0, gathered: 0)
        for case let p? in plans {
            u.send = max(u.send, p.positions * p.sendCounts.reduce(0, +))
            u.receive = max(u.receive, p.positions * p.receiveCounts.reduce(0, +))
            u.reduced = max(u.reduced, p.positions * p.gatherCounts[p.me])
            u.gathered = max(u.gathered, p.positions * p.gatherCounts.reduce(0, +))
        }
        return u
    }

    /// Values per sample of each activation along `layout`'s network (the input, then every layer's output).
    static func tensorSizes(_ layout: NetworkLayout) -> [Int] { [layout.network[0].input.size] + layout.network.map(\.output.size) }

    /// Bytes of working memory of model rank `rank` besides its blocks and the data: activations and errors of the
    /// largest batch (training or evaluation), the exchange buffers of its reduce plans, the replica gathers of its
    /// blocks' inputs and errors, and a fixed allowance per block (objects, column buffers).
    public static func workingBytes(config: ExperimentConfig, layout: NetworkLayout, placement: Placement, rank: Int) -> Int {
        let t = config.training
        let batch = max(t.batchSize, t.evalBatchSize)
        let (f, b) = reducePlans(layout: layout, placement: placement, rank: rank)
        let u = exchangeUnits(f + b)
        var floats = 2 * batch * tensorSizes(layout).reduce(0, +) + batch * (u.send + u.receive + u.reduced + u.gathered)
        let mine = placement.blocks(of: rank).map { layout.blocks[$0] }
        // The unrolled inputs of convolutions (kept from forward to update) and their gradients, on their owners.
        for l in Set(mine.map(\.layer)) where layout.layer(l).unrolls {
            floats += 2 * batch * layout.layers[l].positions * layout.layers[l].inputs
        }
        floats += batch * layout.network.map(\.memoryPerSample).reduce(0, +)
        if config.replicas > 1 {
            let perSample = mine.reduce(0) { $0 + ($1.rows + $1.cols) * layout.layers[$1.layer].positions }
            let widest = layout.layers.map { ($0.inputs + $0.outputs) * $0.positions }.max() ?? 0
            floats += t.batchSize * (perSample * 2 + widest)
        }
        // Per block: the transfer column and one-hot input; shared by the blocks: the periphery's buffers and dW.
        floats += mine.reduce(0) { $0 + $1.rows + $1.cols }
        let widestIn = mine.map { max($0.rows, $0.cols) }.max() ?? 0
        floats += (batch + 1) * 2 * widestIn
        if config.algorithm.updateMode == .expected || !config.algorithm.perSample {
            floats += mine.map(\.devices).max() ?? 0
        }
        // Each analog array's scratch for its pulsed updates (trains, a line's positions), and the kernel's (one).
        let arrays = config.algorithm.arrayCount
        var scratch = mine.reduce(0) { $0 + arrays * AnalogArray.scratchBytes(rows: $1.rows, cols: $1.cols) }
        if arrays > 0 { scratch += AnalogArray.kernelScratchBytes(width: widestIn) }
        return 4 * floats + scratch + mine.count * blockOverheadBytes
    }

    /// Bytes of objects and bookkeeping per weight block, beyond its per-device state (an upper estimate).
    public static let blockOverheadBytes = 2048

    /// Bytes of weight-block state on model rank `rank` (arrays, per-device parameters, references, effective weights,
    /// update buffers): the memory model of design.md, "memory per rank ~ (its blocks' devices) x (bytes per device)".
    public static func blockBytes(config: ExperimentConfig, layout: NetworkLayout, placement: Placement, rank: Int) -> Int {
        let devices = placement.blocks(of: rank).reduce(0) { $0 + layout.blocks[$1].devices }
        return devices * bytesPerDevice(config)
    }

    /// Bytes per weight of one weight block: per analog array 4 of state and the device's stored draws
    /// (`AnalogArray.bytesPerDevice`: at most 16 in all); 4 for the reference of a zero-shifted array; 4 for the
    /// weights the reads see when they are not W itself (`WeightBlock.readsOwnCopy`); 4 per digital value the algorithm
    /// keeps (digital weights, H, Q); 4 per array for per-tile telemetry's cached symmetric points when the family has
    /// no closed form (`TileTelemetry`). (The update buffer of expected or per-batch updates is one per rank: see
    /// `workingBytes`.)
    public static func bytesPerDevice(_ c: ExperimentConfig) -> Int {
        let a = c.algorithm
        let arrays = a.arrayCount
        var bytes = arrays * AnalogArray.bytesPerDevice(c.device) + 4 * a.type.digitalFloatsPerWeight(a)
        if arrays > 0 && a.zeroShift != .none { bytes += 4 }
        if WeightBlock.readsOwnCopy(c) { bytes += 4 }
        return bytes + TileTelemetry.bytesPerDevice(c)
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
        let sizes = Trainer.tensorSizes(layout)
        activations = sizes.map { [Float](repeating: 0, count: batch * $0) }
        deltas = sizes.map { [Float](repeating: 0, count: batch * $0) }
        unrolled = layout.layers.indices.map { l in
            layout.layer(l).unrolls && !ownedByLayer[l].isEmpty ? [Float](repeating: 0, count: batch * layout.layers[l].positions * layout.layers[l].inputs) : []
        }
        unrolledDeltas = layout.layers.indices.map { l in
            layout.layer(l).unrolls ? [Float](repeating: 0, count: batch * layout.layers[l].positions * layout.layers[l].inputs) : []
        }
        layerMemory = layout.network.map { [Int32](repeating: 0, count: max(1, batch * $0.memoryPerSample)) }
        let u = Trainer.exchangeUnits(forwardPlans + backwardPlans)
        sendBuffer = [Float](repeating: 0, count: max(batch * u.send, 1))
        receiveBuffer = [Float](repeating: 0, count: max(batch * u.receive, 1))
        reducedBuffer = [Float](repeating: 0, count: max(batch * u.reduced, 1))
        gatherBuffer = [Float](repeating: 0, count: max(batch * u.gathered, 1))
        labelsBuffer = [Int32](repeating: 0, count: batch)
        sampleLoss = [Double](repeating: 0, count: batch)
        sampleCorrect = [Double](repeating: 0, count: batch)
    }

    @inline(__always)
    func timed<T, E: Error>(_ communication: Bool, _ body: () throws(E) -> T) throws(E) -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer {
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if communication { timing.communicationSeconds += dt } else { timing.computeSeconds += dt }
        }
        return try body()
    }

    // MARK: Exchanges

    /// Phase 1 of a two-phase sum: each partial to its slice's reducer (MPI_Ialltoallv), timed as communication
    /// until `wait`.
    func startReduce(_ group: any Collective, _ plan: ReducePlan, batch: Int) throws(CommunicationError) -> TimedExchange {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let pending = try sendBuffer.withUnsafeBufferPointer { (s) throws(CommunicationError) in
            try receiveBuffer.withUnsafeMutableBufferPointer { (r) throws(CommunicationError) in
                try group.startAlltoall(s.baseAddress!, sendCounts: plan.sendCounts.map { $0 * batch }, into: r.baseAddress!,
                                        receiveCounts: plan.receiveCounts.map { $0 * batch })
            }
        }
        timing.communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        return TimedExchange(trainer: self, pending: pending)
    }

    /// Phase 2 of a two-phase sum: this rank adds the partials of the slices it reduces in block order (the first
    /// copied, the rest added: the same bits on any ranks), then every member gathers every slice's sum and lays it
    /// out in `out` (batch x width of the layer's output, or input when transposed).
    func finishReduce(_ group: any Collective, _ plan: ReducePlan, layer l: Int, batch: Int,
                      into out: UnsafeMutablePointer<Float>) throws(CommunicationError) {
        let layer = layout.layers[l]
        let inner = plan.transposed ? layer.rowBlocks : layer.colBlocks
        func block(_ slice: Int, _ k: Int) -> Int {
            plan.transposed ? layer.blockIndex(row: k, col: slice) : layer.blockIndex(row: slice, col: k)
        }
        func range(_ slice: Int) -> Range<Int> { plan.transposed ? layer.colRanges[slice] : layer.rowRanges[slice] }
        timed(false) {
            receiveBuffer.withUnsafeBufferPointer { recv in
                reducedBuffer.withUnsafeMutableBufferPointer { red in
                    var offset = 0
                    for slice in plan.mySlices {
                        let n = batch * range(slice).count
                        let dst = red.baseAddress! + offset
                        for k in 0..<inner {
                            let src = recv.baseAddress! + batch * plan.receiveOffset[block(slice, k)]!
                            if k == 0 {
                                dst.update(from: src, count: n)
                            } else {
                                for i in 0..<n { dst[i] += src[i] }
                            }
                        }
                        offset += n
                    }
                }
            }
        }
        try timed(true) { () throws(CommunicationError) in
            try reducedBuffer.withUnsafeBufferPointer { (red) throws(CommunicationError) in
                try gatherBuffer.withUnsafeMutableBufferPointer { (g) throws(CommunicationError) in
                    try group.allgather(red.baseAddress!, counts: plan.gatherCounts.map { $0 * batch }, into: g.baseAddress!)
                }
            }
        }
        timed(false) {
            let width = plan.transposed ? layer.inputs : layer.outputs
            let slices = plan.transposed ? layer.colBlocks : layer.rowBlocks
            gatherBuffer.withUnsafeBufferPointer { g in
                for slice in 0..<slices {
                    let r = range(slice)
                    let src = g.baseAddress! + batch * plan.sliceOffset[slice]
                    if r.count == width {
                        out.update(from: src, count: batch * width)
                        continue
                    }
                    for b in 0..<batch { (out + b * width + r.lowerBound).update(from: src + b * r.count, count: r.count) }
                }
            }
        }
    }

    // MARK: Forward

    /// Analog layer l on this replica, on the members of its forward group: its input (activations at the layer's
    /// index in the network; unrolled into matrix rows first by the owners of a convolution) -> the reads of its
    /// blocks (batch x positions rows) -> the two-phase sum -> its output, then the activation (not after the last
    /// layer, which leaves logits) and the digital layers that follow it (max-pooling, flatten). `noise` gives a
    /// block's read noise for a layer of `positions` rows per sample; `evaluation` counts the reads as evaluation
    /// reads in the tiles' telemetry.
    func forwardLayer(_ l: Int, batch: Int, noise: (BlockInfo, Int) -> NoiseSource, evaluation: Bool = false) throws(CommunicationError) {
        guard let group = forwardGroups[l], let plan = forwardPlans[l] else { return }
        CollectiveActivity.current.layer = l
        CollectiveActivity.current.exchange = .forward
        let layer = layout.layers[l], net = layout.layer(l), n = layout.analog[l]
        let rows = batch * layer.positions
        timed(false) {
            if net.unrolls && !ownedByLayer[l].isEmpty {
                activations[n].withUnsafeBufferPointer { x in
                    unrolled[l].withUnsafeMutableBufferPointer { u in net.unroll(x.baseAddress!, batch: batch, into: u.baseAddress!) }
                }
            }
            (net.unrolls ? unrolled[l] : activations[n]).withUnsafeBufferPointer { x in
                sendBuffer.withUnsafeMutableBufferPointer { s in
                    for block in ownedByLayer[l] {
                        let out = s.baseAddress! + rows * plan.sendOffset[block.info.index]!
                        block.forward(input: x.baseAddress!, inputStride: layer.inputs, batch: rows, output: out,
                                      noise: noise(block.info, layer.positions), evaluation: evaluation)
                        if let bias = biases[block.info.index] {
                            for r in 0..<rows { for i in 0..<block.info.rows { out[r * block.info.rows + i] += bias[i] } }
                        }
                    }
                }
            }
        }
        try startReduce(group, plan, batch: rows).wait()
        try activations[n + 1].withUnsafeMutableBufferPointer { (y) throws(CommunicationError) in
            try finishReduce(group, plan, layer: l, batch: rows, into: y.baseAddress!)
        }
        guard l < layout.layers.count - 1 else { return }
        timed(false) {
            activations[n + 1].withUnsafeMutableBufferPointer { y in
                Trainer.activate(y.baseAddress!, count: rows * layer.outputs, activation)
            }
            for k in (n + 1)..<layout.analog[l + 1] {
                activations[k].withUnsafeBufferPointer { x in
                    activations[k + 1].withUnsafeMutableBufferPointer { y in
                        layerMemory[k].withUnsafeMutableBufferPointer { m in
                            layout.network[k].forward(x.baseAddress!, batch: batch, into: y.baseAddress!, memory: m.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    struct TimedExchange {
        let trainer: Trainer
        let pending: PendingExchange
        func wait() throws(CommunicationError) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try pending.wait()
            trainer.timing.communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
    }

    /// The activation of a hidden layer, in place on `count` values, computed by `Elementary` (the same bits on every
    /// machine, unlike libm's).
    static func activate(_ z: UnsafeMutablePointer<Float>, count: Int, _ a: Activation) {
        switch a {
        case .sigmoid: Elementary.sigmoid(z, count: count)
        case .tanh: Elementary.tanh(z, count: count)
        case .relu: for k in 0..<count { z[k] = max(z[k], 0) }
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

    /// Softmax cross-entropy of the logits (the last activation) for `batch` samples: per-sample loss and correctness
    /// into sampleLoss / sampleCorrect, and (when `scale` is given) the error (softmax - onehot) * scale into the last
    /// deltas. In Double, with `Elementary`'s exp and log (the same bits on every machine).
    func lossAndError(batch: Int, scale: Float?) {
        let nOut = layout.network.last!.output.size
        let L = layout.network.count
        activations[L].withUnsafeBufferPointer { z in
            deltas[L].withUnsafeMutableBufferPointer { d in
                for b in 0..<batch {
                    let row = z.baseAddress! + b * nOut
                    var m = row[0], arg = 0
                    for i in 1..<nOut where row[i] > m { m = row[i]; arg = i }
                    var sum = 0.0
                    for i in 0..<nOut { sum += Elementary.exp(Double(row[i] - m)) }
                    let y = Int(labelsBuffer[b])
                    sampleLoss[b] = Elementary.log(sum) - Double(row[y] - m)
                    sampleCorrect[b] = arg == y ? 1 : 0
                    if let scale {
                        for i in 0..<nOut {
                            let p = Float(Elementary.exp(Double(row[i] - m)) / sum)
                            d[b * nOut + i] = (p - (i == y ? 1 : 0)) * scale
                        }
                    }
                }
            }
        }
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

    /// The share of `count` samples of replica r: consecutive, sizes differing by at most one.
    func share(_ count: Int, replica r: Int) -> Range<Int> { Trainer.evenSplit(count, replicas)[r] }

    static func evenSplit(_ n: Int, _ parts: Int) -> [Range<Int>] {
        var out = [Range<Int>](), start = 0
        for k in 0..<parts {
            let size = n / parts + (k < n % parts ? 1 : 0)
            out.append(start..<(start + size))
            start += size
        }
        return out
    }

    // MARK: Backward and updates

    /// Layer l's backward partials (z = W^T d per matrix row) go to their reducers while layer l's blocks update;
    /// then the sums are gathered (the gradient of the layer's matrix inputs; a convolution folds them back onto its
    /// input map), and the owners of layer l - 1 carry it back through the digital layers between (max-pooling routes
    /// it to each window's maximum) and through the activation of layer l - 1's output.
    func backwardAndUpdateLayer(_ l: Int, batch: Int, globalBatch: Int, sampleOffset: Int, step: Int64) throws(CommunicationError) {
        let layer = layout.layers[l], net = layout.layer(l), n = layout.analog[l]
        let rows = batch * layer.positions
        CollectiveActivity.current.layer = l
        CollectiveActivity.current.exchange = .backward
        var pending: TimedExchange? = nil
        if l >= 1, let group = backwardGroups[l], let plan = backwardPlans[l] {
            let seed = config.seed, t = UInt64(step)
            timed(false) {
                deltas[n + 1].withUnsafeBufferPointer { d in
                    sendBuffer.withUnsafeMutableBufferPointer { s in
                        for block in ownedByLayer[l] {
                            let noise = NoiseSource(key: StreamKey(seed: seed, purpose: .backwardNoise, UInt64(block.info.index)),
                                                    step: UInt32(truncatingIfNeeded: t), firstSample: UInt32(sampleOffset * layer.positions))
                            block.backward(delta: d.baseAddress!, deltaStride: layer.outputs, batch: rows,
                                           output: s.baseAddress! + rows * plan.sendOffset[block.info.index]!, noise: noise)
                        }
                    }
                }
            }
            pending = try startReduce(group, plan, batch: rows)
        }
        try updateLayer(l, batch: batch, globalBatch: globalBatch, step: step)
        guard let pending, let group = backwardGroups[l], let plan = backwardPlans[l] else { return }
        try pending.wait()
        if net.unrolls {
            try unrolledDeltas[l].withUnsafeMutableBufferPointer { (g) throws(CommunicationError) in
                try finishReduce(group, plan, layer: l, batch: rows, into: g.baseAddress!)
            }
        } else {
            try deltas[n].withUnsafeMutableBufferPointer { (g) throws(CommunicationError) in
                try finishReduce(group, plan, layer: l, batch: rows, into: g.baseAddress!)
            }
        }
        guard !ownedByLayer[l - 1].isEmpty else { return }
        timed(false) {
            if net.unrolls {
                unrolledDeltas[l].withUnsafeBufferPointer { u in
                    deltas[n].withUnsafeMutableBufferPointer { g in net.fold(u.baseAddress!, batch: batch, into: g.baseAddress!) }
                }
            }
            let previous = layout.analog[l - 1] + 1
            for k in stride(from: n - 1, through: previous, by: -1) {
                deltas[k + 1].withUnsafeBufferPointer { dy in
                    deltas[k].withUnsafeMutableBufferPointer { dx in
                        layerMemory[k].withUnsafeBufferPointer { m in
                            layout.network[k].backward(dy.baseAddress!, batch: batch, into: dx.baseAddress!, memory: m.baseAddress!)
                        }
                    }
                }
            }
            deltas[previous].withUnsafeMutableBufferPointer { g in
                activations[previous].withUnsafeBufferPointer { a in
                    for k in 0..<(batch * layout.network[previous - 1].output.size) {
                        g[k] *= Trainer.derivative(activationValue: a[k], activation)
                    }
                }
            }
        }
    }

    /// Gradient updates, transfers and bias updates of this rank's blocks of layer l, on the layer's matrix rows
    /// (batch x positions: a convolution updates with every output position of every sample in turn). With replicas,
    /// the block inputs and errors of all replicas are gathered first (global sample order).
    func updateLayer(_ l: Int, batch: Int, globalBatch: Int, step: Int64) throws(CommunicationError) {
        let owned = ownedByLayer[l]
        guard !owned.isEmpty else { return }
        let layer = layout.layers[l], n = layout.analog[l], p = layer.positions
        let nIn = layer.inputs, nOut = layer.outputs
        var x = layout.layer(l).unrolls ? unrolled[l] : activations[n], d = deltas[n + 1]
        var stride = (x: nIn, d: nOut)
        if let cross {
            // Compact this replica's slices of the owned blocks, gather them over replicas, then lay them out as a
            // global batch per block (x: rows x cols, d: rows x rows of the block) in the order of the blocks.
            var mine = [Float]()
            for block in owned {
                let info = block.info
                for r in 0..<(batch * p) { mine.append(contentsOf: x[(r * nIn + info.colStart)..<(r * nIn + info.colStart + info.cols)]) }
                for r in 0..<(batch * p) { mine.append(contentsOf: d[(r * nOut + info.rowStart)..<(r * nOut + info.rowStart + info.rows)]) }
            }
            let perRow = owned.reduce(0) { $0 + $1.info.cols + $1.info.rows }
            let counts = (0..<replicas).map { share(globalBatch, replica: $0).count * p * perRow }
            var all = [Float](repeating: 0, count: counts.reduce(0, +))
            try timed(true) { () throws(CommunicationError) in
                try mine.withUnsafeBufferPointer { (m) throws(CommunicationError) in
                    try all.withUnsafeMutableBufferPointer { (a) throws(CommunicationError) in
                        try cross.allgather(m.baseAddress!, counts: counts, into: a.baseAddress!)
                    }
                }
            }
            timed(false) {
                // Rebuild global x and d matrices laid out like activations (rows x width): only owned slices are filled.
                x = [Float](repeating: 0, count: globalBatch * p * nIn)
                d = [Float](repeating: 0, count: globalBatch * p * nOut)
                var offset = 0
                for r in 0..<replicas {
                    let range = share(globalBatch, replica: r)
                    let rowRange = (range.lowerBound * p)..<(range.upperBound * p)
                    for block in owned {
                        let info = block.info
                        for row in rowRange {
                            for j in 0..<info.cols { x[row * nIn + info.colStart + j] = all[offset + j] }
                            offset += info.cols
                        }
                        for row in rowRange {
                            for i in 0..<info.rows { d[row * nOut + info.rowStart + i] = all[offset + i] }
                            offset += info.rows
                        }
                    }
                }
                stride = (nIn, nOut)
            }
        }
        let total = (cross == nil ? batch : globalBatch) * p
        timed(false) {
            let lr = Float(config.algorithm.lr)
            x.withUnsafeBufferPointer { xb in
                d.withUnsafeBufferPointer { db in
                    for block in owned {
                        block.gradientUpdate(input: xb.baseAddress!, inputStride: stride.x, delta: db.baseAddress!,
                                             deltaStride: stride.d, batch: total, step: UInt64(step))
                        block.transfer(after: step)
                        block.stepEnded(step: step)
                        if let bias = biases[block.info.index] {
                            // Digital bias: b -= alpha * sum over the rows (samples, positions) of the error, in order.
                            for i in 0..<block.info.rows {
                                var g: Float = 0
                                for r in 0..<total { g += db[r * stride.d + block.info.rowStart + i] }
                                bias[i] -= lr * g
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Training

    /// One training step (collective) on the training samples `indices` (the global mini-batch): forward, loss,
    /// backward, gradient updates, transfers when scheduled. Returns per-sample (loss, correct) in global sample
    /// order on world rank 0, empty elsewhere.
    func trainStep(indices: ArraySlice<Int>) throws(CommunicationError) -> [(Double, Double)] {
        let globalBatch = indices.count
        let mine = share(globalBatch, replica: replica)
        let batch = mine.count
        ensureCapacity(max(batch, globalBatch))
        let t = UInt64(step)
        let seed = config.seed
        let first = UInt32(mine.lowerBound)
        timed(false) { loadBatch(train, indices: indices[(indices.startIndex + mine.lowerBound)..<(indices.startIndex + mine.upperBound)]) }
        // Row r of a layer with p positions per sample is the layer's read (sample first + r / p, position r % p).
        let fwd: (BlockInfo, Int) -> NoiseSource = { info, p in
            NoiseSource(key: StreamKey(seed: seed, purpose: .forwardNoise, UInt64(info.index)), step: UInt32(truncatingIfNeeded: t),
                        firstSample: first &* UInt32(p))
        }
        let L = layout.layers.count
        for l in 0..<L { try forwardLayer(l, batch: batch, noise: fwd) }
        if forwardGroups[L - 1] != nil { timed(false) { lossAndError(batch: batch, scale: 1 / Float(globalBatch)) } }
        for l in stride(from: L - 1, through: 0, by: -1) {
            try backwardAndUpdateLayer(l, batch: batch, globalBatch: globalBatch, sampleOffset: mine.lowerBound, step: step)
        }
        step += 1
        return try coordinatorSamples(batch: batch, globalBatch: globalBatch)
    }

    /// Per-sample (loss, correct) of the last forward pass, gathered on world rank 0 in global sample order.
    func coordinatorSamples(batch: Int, globalBatch: Int) throws(CommunicationError) -> [(Double, Double)] {
        guard modelRank == 0 else { return [] }
        var mine = [UInt8]()
        for b in 0..<batch {
            withUnsafeBytes(of: sampleLoss[b].bitPattern.littleEndian) { mine.append(contentsOf: $0) }
            withUnsafeBytes(of: sampleCorrect[b].bitPattern.littleEndian) { mine.append(contentsOf: $0) }
        }
        var all = mine
        if let cross {
            let counts = (0..<replicas).map { share(globalBatch, replica: $0).count * 16 }
            all = try timed(true) { () throws(CommunicationError) in try cross.allgatherBytes(mine, counts: counts) }
        }
        guard replica == 0 else { return [] }
        return (0..<(all.count / 16)).map { k in
            func value(_ o: Int) -> Double {
                Double(bitPattern: UInt64(littleEndian: all[o..<(o + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
            }
            return (value(16 * k), value(16 * k + 8))
        }
    }

    /// One training step (collective) on the training samples `indices`; the mean loss of the batch (before the
    /// update) on world rank 0, NaN elsewhere.
    public func trainOnBatch(_ indices: [Int]) throws(CommunicationError) -> Double {
        let samples = try trainStep(indices: indices[...])
        return samples.isEmpty ? .nan : samples.reduce(0) { $0 + $1.0 } / Double(samples.count)
    }

    /// Forward-only evaluation on `data` (first `limit` samples; 0 = all), split over replicas, with the evaluation
    /// noise keys of `epoch` (keyed by the global sample index). Returns (mean loss, accuracy) on world rank 0.
    public func evaluate(_ data: Dataset, limit: Int, epoch: Int) throws(CommunicationError) -> (Double, Double) {
        let n = limit > 0 ? min(limit, data.count) : data.count
        let eb = config.training.evalBatchSize
        ensureCapacity(min(eb, max(n, 1)))
        var lossSum = 0.0, correct = 0.0
        let seed = config.seed
        var start = 0
        while start < n {
            let global = min(eb, n - start)
            let mine = share(global, replica: replica)
            let batch = mine.count
            timed(false) { loadBatch(data, indices: Array((start + mine.lowerBound)..<(start + mine.upperBound))[...]) }
            let first = UInt32(start + mine.lowerBound)
            let noise: (BlockInfo, Int) -> NoiseSource = { info, p in
                NoiseSource(key: StreamKey(seed: seed, purpose: .evaluationNoise, UInt64(info.index)), step: UInt32(epoch), firstSample: first &* UInt32(p))
            }
            for l in 0..<layout.layers.count { try forwardLayer(l, batch: batch, noise: noise, evaluation: true) }
            if forwardGroups[layout.layers.count - 1] != nil { timed(false) { lossAndError(batch: batch, scale: nil) } }
            for (l, c) in try coordinatorSamples(batch: batch, globalBatch: global) {
                lossSum += l
                correct += c
            }
            start += global
        }
        return (lossSum / Double(max(n, 1)), correct / Double(max(n, 1)))
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

    /// Runs one epoch (training then evaluation); the coordinator computes the metrics and broadcasts them to every
    /// rank. `progress` is called on the coordinator with (steps done, steps, running mean loss).
    public func runEpoch(_ epoch: Int, progress: ((Int, Int, Double) -> Void)? = nil) throws(CommunicationError) -> EpochMetrics {
        do {
            return try runEpoch(epoch, progress: progress, afterStep: nil)!
        } catch let e as CommunicationError {
            throw e
        } catch {
            fatalError("no step hook, no other error: \(error)")
        }
    }

    /// Runs epoch `epoch` from where `epochProgress` stands (its first step, or the step after a checkpoint taken
    /// within it), then evaluates; the coordinator computes the metrics and broadcasts them to every rank.
    /// - Parameters:
    ///   - progress: called on the coordinator after each step with (steps done, steps, running mean loss).
    ///   - afterStep: called on every rank after each step with (steps done, steps) (collective: it may checkpoint);
    ///     returning true stops the epoch there.
    /// - Returns: the epoch's metrics, or nil when `afterStep` stopped it (`epochProgress` then says where).
    public func runEpoch(_ epoch: Int, progress: ((Int, Int, Double) -> Void)?,
                         afterStep: ((Int, Int) throws -> Bool)?) throws -> EpochMetrics? {
        let start = DispatchTime.now().uptimeNanoseconds
        let batchSize = config.training.batchSize
        var steps = (train.count + batchSize - 1) / batchSize
        if config.training.stepsPerEpoch > 0 { steps = min(steps, config.training.stepsPerEpoch) }
        if epochProgress.epoch != epoch { epochProgress = EpochProgress(epoch: epoch) }
        var plan = EpochPlan(epoch: Int64(epoch), firstStep: step, steps: Int64(steps), batchSize: Int64(batchSize))
        plan = try world.broadcast(plan)
        step = plan.firstStep
        let order = Trainer.permutation(count: train.count, seed: config.seed, epoch: Int(plan.epoch))
        let bs = Int(plan.batchSize)
        while epochProgress.stepsDone < Int(plan.steps) {
            let s = epochProgress.stepsDone
            CollectiveActivity.current = CollectiveActivity(phase: "", epoch: epoch, step: s + 1)
            let lo = s * bs, hi = min(lo + bs, train.count)
            let before: (sent: UInt64, received: UInt64) = firstStepBytes == nil ? bytes : (0, 0)
            let timingBefore = timing
            let cpu0 = ProcessClock.cpuSeconds()
            let t0 = DispatchTime.now().uptimeNanoseconds
            let samples = try trainStep(indices: order[lo..<hi])
            stepSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            stepCPUSeconds += ProcessClock.cpuSeconds() - cpu0
            stepTiming.computeSeconds += timing.computeSeconds - timingBefore.computeSeconds
            stepTiming.communicationSeconds += timing.communicationSeconds - timingBefore.communicationSeconds
            if firstStepBytes == nil {
                let after = bytes
                firstStepBytes = (after.sent - before.sent, after.received - before.received)
            }
            for (l, c) in samples {
                epochProgress.lossSum += l
                epochProgress.correct += c
            }
            epochProgress.seen += hi - lo
            epochProgress.stepsDone += 1
            progress?(s + 1, Int(plan.steps), epochProgress.lossSum / Double(epochProgress.seen))
            if let afterStep, try afterStep(s + 1, Int(plan.steps)) { return nil }
        }
        let p = epochProgress
        let trainLoss = p.lossSum / Double(max(p.seen, 1))
        CollectiveActivity.current = CollectiveActivity(phase: "", epoch: epoch, evaluating: true)
        let (testLoss, testAccuracy) = try evaluate(test, limit: config.training.testLimit, epoch: epoch)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        var metrics = EpochMetrics(epoch: epoch, trainLoss: trainLoss, trainAccuracy: p.correct / Double(max(p.seen, 1)),
                                   testLoss: testLoss, testAccuracy: testAccuracy, seconds: seconds)
        metrics = try world.broadcast(metrics)
        for b in blocks { b.epochEnded(trainLoss: metrics.trainLoss) }
        epochProgress = EpochProgress(epoch: epoch + 1)
        return metrics
    }

    /// SHA-256 over every block's digest (its arrays, buffers and, for blocks at column 0, its bias slice) in
    /// global block order. Collective over the world; replicas hold identical blocks, so replica 0's are used.
    public func weightsDigest() throws(CommunicationError) -> String {
        var mine = [UInt8]()
        if replica == 0 {
            for b in blocks {
                var h = SHA256()
                h.update(data: b.digest())
                if let bias = biases[b.info.index] { h.update(bufferPointer: UnsafeRawBufferPointer(start: bias.values, count: 4 * bias.count)) }
                mine += Array(h.finalize())
            }
        }
        let counts = (0..<world.size).map { r in r < modelSize ? placement.blocks(of: r).count * 32 : 0 }
        let all = try world.allgatherBytes(mine, counts: counts)
        var perBlock = [[UInt8]](repeating: [], count: layout.blocks.count)
        var offset = 0
        for r in 0..<modelSize {
            for bi in placement.blocks(of: r) {
                perBlock[bi] = Array(all[offset..<(offset + 32)])
                offset += 32
            }
        }
        var h = SHA256()
        for d in perBlock { h.update(data: d) }
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
