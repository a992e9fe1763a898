import AIMCCore
import AIMCTraining
import Foundation
import Testing

/// A tiny data set: n samples of `features` pixels, labels cycling over `classes`.
func tinyData(_ n: Int, features: Int = 6, classes: Int = 3, seed: UInt64 = 1) -> Dataset {
    var s = RandomStream(key: StreamKey(seed: seed, purpose: .syntheticData))
    let pixels = (0..<(n * features)).map { _ in UInt8(s.nextInt(below: 256)) }
    let labels = (0..<n).map { Int32($0 % classes) }
    return Dataset(count: n, features: features, classes: classes, pixels: pixels, labels: labels)
}

/// An experiment on the tiny data: hidden layer 5, tile size `tile`.
func tinyConfig(_ algorithm: Algorithm, tile: Int = 2, mode: UpdateMode = .expected) -> ExperimentConfig {
    var c = ExperimentConfig.default
    c.algorithm.name = algorithm
    c.algorithm.updateMode = mode
    c.model.hidden = [5]
    c.model.tileSize = tile
    c.training.batchSize = 8
    c.training.evalBatchSize = 8
    return c
}

@Suite("Layout and placement")
struct LayoutTests {
    @Test("Layers split into near-equal blocks in global order")
    func blocks() {
        #expect(NetworkLayout.split(784, 128).map(\.count) == [112, 112, 112, 112, 112, 112, 112])
        #expect(NetworkLayout.split(10, 4).map(\.count) == [4, 3, 3])
        #expect(NetworkLayout.split(5, 100).map(\.count) == [5])
        let l = NetworkLayout(widths: [784, 256, 128, 10], tileSize: 128)
        #expect(l.layers.map(\.blockCount) == [14, 2, 1])
        #expect(l.blocks.count == 17 && l.deviceCount == 784 * 256 + 256 * 128 + 128 * 10)
        for layer in l.layers {
            var covered = [[Int]](repeating: [Int](repeating: 0, count: layer.inputs), count: layer.outputs)
            for r in 0..<layer.rowBlocks {
                for c in 0..<layer.colBlocks {
                    let b = l.blocks[layer.blockIndex(row: r, col: c)]
                    #expect(b.layer == layer.index && b.rowBlock == r && b.colBlock == c)
                    for i in b.rowStart..<(b.rowStart + b.rows) { for j in b.colStart..<(b.colStart + b.cols) { covered[i][j] += 1 } }
                }
            }
            #expect(covered.allSatisfy { $0.allSatisfy { $0 == 1 } })
        }
    }

    @Test("Placements give every block one owner; balanced evens out devices", arguments: [1, 2, 3, 5, 8, 40])
    func placement(ranks: Int) {
        let l = NetworkLayout(widths: [784, 256, 128, 10], tileSize: 128)
        for policy in PlacementPolicy.allCases {
            let p = Placement(layout: l, ranks: ranks, policy: policy)
            #expect(p.owner.count == l.blocks.count && p.owner.allSatisfy { $0 >= 0 && $0 < ranks })
            #expect((0..<ranks).flatMap { p.blocks(of: $0) }.sorted() == Array(0..<l.blocks.count))
        }
        let rr = Placement(layout: l, ranks: ranks, policy: .roundRobin)
        #expect(rr.owner == (0..<17).map { $0 % ranks })
        let balanced = Placement(layout: l, ranks: ranks, policy: .balanced).devices(layout: l)
        // Greedy largest-first: the spread is at most the largest block.
        #expect(balanced.max()! - balanced.min()! <= 128 * 128)
    }
}

@Suite("Memory model")
struct MemoryModelTests {
    /// Working memory by hand for widths 4-3, tiles of 2 (blocks 2x2, 2x2, 1x2, 1x2), one rank, batch 8 (training
    /// and evaluation), pulsed per-sample Residual Learning: activations and errors 2 x 8 x (4 + 3) = 112 floats;
    /// the forward reduce sends and receives each block's rows (6), reduces and gathers the 3 outputs: 8 x 18 = 144;
    /// per block a transfer column and a one-hot input (14); the shared periphery buffers (8 + 1) x 2 x 2 = 36;
    /// no update buffer. (112 + 144 + 14 + 36) x 4 bytes + 4 blocks x the per-block allowance; plus the pulse
    /// scratch of the 2 arrays of each block, 9 (rows + cols) + 10 max(rows, cols) bytes (2 x (56 + 56 + 47 + 47) =
    /// 412), and the line kernel's scratch for lines of 2 (one per rank).
    @Test("Working memory: known answer for a small layout, and linear in the rank's blocks for a wide one")
    func working() throws {
        var c = ExperimentConfig.default
        c.training.batchSize = 8
        c.training.evalBatchSize = 8
        let small = NetworkLayout(widths: [4, 3], tileSize: 2)
        let one = Placement(layout: small, ranks: 1, policy: .roundRobin)
        let scratch = 412 + AnalogArray.kernelScratchBytes(width: 2)
        #expect(Trainer.workingBytes(config: c, layout: small, placement: one, rank: 0) == 306 * 4 + 4 * Trainer.blockOverheadBytes + scratch)
        c.algorithm.updateMode = .expected  // adds one update buffer of the largest block (4 devices)
        #expect(Trainer.workingBytes(config: c, layout: small, placement: one, rank: 0) == 310 * 4 + 4 * Trainer.blockOverheadBytes + scratch)

        // 16-8192-10 in tiles of 1 on 2 ranks: 106496 blocks per rank. Each rank sends each of its blocks' partials
        // once (at most 65536 + 40960 rows or columns per sample), so the buffers are O(batch x its blocks), far
        // below batch x width x blocks per row (500 x 8192 x 8192 floats = 128 GiB).
        c = ExperimentConfig.default
        let wide = NetworkLayout(widths: [16, 8192, 10], tileSize: 1)
        let two = Placement(layout: wide, ranks: 2, policy: .roundRobin)
        let bound = 4 * (2 * 500 * (16 + 8192 + 10) + 4 * 500 * 106496 + 3 * 106496 + 501 * 2 + 2) + 106496 * Trainer.blockOverheadBytes
            + 106496 * 2 * AnalogArray.scratchBytes(rows: 1, cols: 1) + AnalogArray.kernelScratchBytes(width: 1)
        for rank in 0..<2 { #expect(Trainer.workingBytes(config: c, layout: wide, placement: two, rank: rank) <= bound) }
    }

    @Test("A network cut into more than 2^20 blocks is an error naming --tile-size")
    func blockLimit() throws {
        #expect(NetworkLayout.blockCount(widths: [784, 256, 128, 10], tileSize: 128) == 17)
        #expect(NetworkLayout.blockCount(widths: [784, 1 << 20, 1 << 20, 10], tileSize: 1) == 784 << 20 + 1 << 40 + 10 << 20)
        #expect(throws: ConfigError.self) { try NetworkLayout.check(widths: [784, 1 << 20, 1 << 20, 10], tileSize: 1) }
        do {
            try NetworkLayout.check(widths: [784, 4096, 4096, 10], tileSize: 2)
            Issue.record("expected an error")
        } catch {
            #expect(error.option == "--tile-size" && error.description.contains("use a larger --tile-size"))
        }
        try NetworkLayout.check(widths: [784, 4096, 4096, 10], tileSize: 8)
    }
}

@Suite("Training")
struct TrainingTests {
    /// One digital-SGD step on the full batch moves W by -lr * dL/dW, with L the mean cross-entropy. Central
    /// differences with eps = 1e-3 in Float32 have truncation error O(eps^2) ~ 1e-6 and rounding error
    /// ~ 1e-7 * |L| / eps ~ 1e-4 per entry; the bound is 5e-3 absolute on gradients of order 0.01-0.5.
    @Test("Backpropagation through blocks: the digital-SGD update is -lr times the finite-difference gradient")
    func gradientCheck() throws {
        let data = tinyData(8)
        var c = tinyConfig(.digitalSGD, tile: 2)
        c.algorithm.lr = 1
        let probe = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        var numeric = [[Float]]()
        for block in probe.blocks {
            var g = [Float]()
            for i in 0..<block.info.devices {
                let saved = block.effective[i]
                block.effective[i] = saved + 1e-3
                let up = try probe.evaluate(data, limit: 8, epoch: 0).0
                block.effective[i] = saved - 1e-3
                let down = try probe.evaluate(data, limit: 8, epoch: 0).0
                block.effective[i] = saved
                g.append(Float((up - down) / 2e-3))
            }
            numeric.append(g)
        }
        let before = probe.blocks.map { b in (0..<b.info.devices).map { b.effective[$0] } }
        _ = try probe.trainOnBatch(Array(0..<8))
        var checked = 0
        for (k, block) in probe.blocks.enumerated() {
            for i in 0..<block.info.devices {
                let analytic = before[k][i] - block.effective[i]  // lr = 1
                #expect(abs(analytic - numeric[k][i]) < 5e-3, "block \(k) entry \(i): \(analytic) vs \(numeric[k][i])")
                checked += 1
            }
        }
        #expect(checked == 6 * 5 + 5 * 3)
        #expect(probe.blocks.count == 3 * 3 + 2 * 3)
    }

    @Test("Digital SGD does not depend on the tile size beyond rounding")
    func tileSizeIndependence() throws {
        let data = tinyData(32)
        var losses = [[Double]]()
        for tile in [2, 3, 100] {
            let t = try Trainer(config: tinyConfig(.digitalSGD, tile: tile), comm: SingleProcess(), train: data, test: data)
            losses.append(try (0..<4).map { s in try t.trainOnBatch(Array((8 * s)..<(8 * s + 8))) })
        }
        for l in losses.dropFirst() { #expect(zip(l, losses[0]).allSatisfy { abs($0 - $1) < 1e-5 }) }
    }

    /// Every read through a block's periphery is counted where it happens: forward (training and evaluation samples),
    /// backward (blocks of layers after the first), transfer (one column per step); outputs are reads times the block's
    /// outputs.
    @Test("Read statistics: forward, backward and transfer reads of every block are counted")
    func readStatistics() throws {
        let data = tinyData(40)
        let t = try Trainer(config: tinyConfig(.tikiTaka, tile: 3, mode: .pulsed), comm: SingleProcess(), train: data, test: data)
        _ = try t.runEpoch(1)
        for b in t.blocks {
            #expect(b.forwardReads.reads == 80 && b.forwardReads.outputs == UInt64(80 * b.info.rows))
            #expect(b.forwardReads.inputs >= UInt64(80 * b.info.cols))
            #expect(b.backwardReads.reads == (b.info.layer == 0 ? 0 : 40))
            #expect(b.transferReads.reads == 5 && b.transferReads.outputs == UInt64(5 * b.info.rows))
        }
        let total = t.readStatistics
        #expect(total.forward.reads == UInt64(80 * t.blocks.count) && total.transfer.reads == UInt64(5 * t.blocks.count))
    }

    @Test("Same seed and config: identical digest; another seed: another digest", arguments: Algorithm.allCases)
    func repeatable(algorithm: Algorithm) throws {
        let data = tinyData(40)
        func digest(seed: UInt64) throws -> (String, Double) {
            var c = tinyConfig(algorithm, tile: 3, mode: .pulsed)
            c.seed = seed
            let t = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
            let m = try t.runEpoch(1)
            return (try t.weightsDigest(), m.trainLoss)
        }
        let a = try digest(seed: 1), b = try digest(seed: 1), c = try digest(seed: 2)
        #expect(a.0 == b.0 && a.1 == b.1)
        #expect(a.0 != c.0)
    }

    /// Residual Learning on one block, expected mode, ideal periphery, noise-free device: the gradient update goes
    /// to P only (Eq. 10), a transfer adds beta * P[:, k] to W's column k through Eq. 2 (Eq. 11), columns
    /// cycle, and the forward pass reads W + gamma P (Eq. 9).
    @Test("Residual Learning block: Eq. 10 on P, Eq. 11 transfer of one column into W, reads of W + gamma P")
    func residualBlock() throws {
        var c = ExperimentConfig.default
        c.algorithm.name = .residual
        c.algorithm.updateMode = .expected
        c.algorithm.lr = 0.5
        c.algorithm.transferLR = 0.25
        c.algorithm.gamma = 0.4
        c.device = DeviceConfig()
        c.device.asymmetry = 0.1
        c.forward = .perfect; c.backward = .perfect; c.transfer = .perfect
        let info = BlockInfo(index: 0, layer: 0, rowBlock: 0, colBlock: 0, rowStart: 0, rows: 2, colStart: 0, cols: 3)
        let w0: [Float] = [0.1, -0.2, 0.05, 0.3, 0.0, -0.1]
        let block = WeightBlock(info: info, config: c, model: DeviceModel(validated: c.device), initialWeights: w0)
        let x: [Float] = [1, 0.5, -0.5], d: [Float] = [0.2, -0.1]
        block.gradientUpdate(input: x, inputStride: 3, delta: d, deltaStride: 2, batch: 1, step: 0)
        let dev = c.device
        let m = DeviceModel(validated: dev)
        func eq2(_ w: Double, _ dW: Double) -> Double { dW > 0 ? w + dW * m.qPlus(w) : w + dW * m.qMinus(w) }
        var p = [Double](repeating: 0, count: 6)
        for i in 0..<2 { for j in 0..<3 { p[i * 3 + j] = eq2(0, -0.5 * Double(d[i] * x[j])) } }
        for k in 0..<6 {
            #expect(abs(Double(block.arrays[1].weights[k]) - p[k]) < 1e-6)
            #expect(block.arrays[0].weights[k] == w0[k])
            #expect(abs(Double(block.effective[k]) - (Double(w0[k]) + 0.4 * p[k])) < 1e-6)
        }
        block.transfer(after: 0)
        block.transfer(after: 1)
        #expect(try #require(block.algorithm as? ResidualLearning).cycle.columns[1] == 2)
        for i in 0..<2 {
            for j in 0..<3 {
                let k = i * 3 + j
                let expected = j < 2 ? eq2(Double(w0[k]), 0.25 * p[k]) : Double(w0[k])
                #expect(abs(Double(block.arrays[0].weights[k]) - expected) < 1e-6, "W[\(i),\(j)]")
            }
        }
        var y = [Float](repeating: 0, count: 2)
        block.forward(input: x, inputStride: 3, batch: 1, output: &y,
                      noise: NoiseSource(key: StreamKey(seed: 0, purpose: .forwardNoise), step: 0))
        for i in 0..<2 {
            let exact = (0..<3).reduce(0.0) { $0 + Double(block.effective[i * 3 + $1] * x[$1]) }
            #expect(abs(Double(y[i]) - exact) < 1e-6)
        }
    }

    @Test("Tiki-Taka reads W alone; Analog SGD pulses W; digital SGD is exact")
    func otherAlgorithms() {
        var c = ExperimentConfig.default
        c.algorithm.updateMode = .expected
        c.algorithm.lr = 0.5
        c.device = DeviceConfig()
        let info = BlockInfo(index: 0, layer: 0, rowBlock: 0, colBlock: 0, rowStart: 0, rows: 1, colStart: 0, cols: 2)
        let x: [Float] = [1, -1], d: [Float] = [0.2]
        c.algorithm.name = .tikiTaka
        let tt = WeightBlock(info: info, config: c, model: DeviceModel(validated: c.device), initialWeights: [0.1, 0.2])
        tt.gradientUpdate(input: x, inputStride: 2, delta: d, deltaStride: 1, batch: 1, step: 0)
        #expect(tt.effective[0] == 0.1 && tt.effective[1] == 0.2 && tt.arrays[1].weights[0] != 0)
        c.algorithm.name = .analogSGD
        let asgd = WeightBlock(info: info, config: c, model: DeviceModel(validated: c.device), initialWeights: [0.1, 0.2])
        asgd.gradientUpdate(input: x, inputStride: 2, delta: d, deltaStride: 1, batch: 1, step: 0)
        let expectedW: Double = 0.1 - 0.1 * (1 + 0.1 / 0.6)  // down pulse: q_-(0.1) = 1 + 0.1/0.6
        #expect(abs(Double(asgd.effective[0]) - expectedW) < 1e-6)
        c.algorithm.name = .digitalSGD
        let sgd = WeightBlock(info: info, config: c, model: DeviceModel(validated: c.device), initialWeights: [0.1, 0.2])
        sgd.gradientUpdate(input: x, inputStride: 2, delta: d, deltaStride: 1, batch: 1, step: 0)
        #expect(abs(sgd.effective[0] - 0.0) < 1e-7 && abs(sgd.effective[1] - 0.3) < 1e-7)
    }

    @Test("The epoch order is a permutation fixed by seed and epoch")
    func permutation() {
        let a = Trainer.permutation(count: 1000, seed: 3, epoch: 1)
        #expect(a.sorted() == Array(0..<1000))
        #expect(a == Trainer.permutation(count: 1000, seed: 3, epoch: 1))
        #expect(a != Trainer.permutation(count: 1000, seed: 3, epoch: 2))
    }
}

@Suite("Communication model")
struct CommunicationModelTests {
    /// One rank owns everything: it talks to nobody (6 collective calls: two per two-phase sum, three sums). Two ranks,
    /// round-robin on one layer of 2 x 2 blocks: rank 0 owns both row slices' first blocks, so rank 1 sends its two
    /// partials (batch 4 x 5 floats each) to rank 0, and rank 0 sends both sums (4 x 10 floats) back.
    @Test("Closed-form traffic for small layouts")
    func closedForm() {
        let one = NetworkLayout(widths: [6, 10, 4], tileSize: 100)
        let single = CommunicationModel.perStep(layout: one, placement: Placement(layout: one, ranks: 1, policy: .roundRobin),
                                                replicas: 1, batch: 8)
        #expect(single == [CommunicationModel.Traffic(sent: 0, received: 0, messages: 6)])
        let l = NetworkLayout(widths: [6, 10], tileSize: 5)  // one layer, rows split 5 + 5, cols 3 + 3: 4 blocks
        let p = Placement(layout: l, ranks: 2, policy: .roundRobin)  // blocks 0, 2 -> rank 0; 1, 3 -> rank 1
        let t = CommunicationModel.perStep(layout: l, placement: p, replicas: 1, batch: 4)
        #expect(t[1] == CommunicationModel.Traffic(sent: 160, received: 160, messages: 2))
        #expect(t[0] == CommunicationModel.Traffic(sent: 160, received: 160, messages: 2))
    }
}
