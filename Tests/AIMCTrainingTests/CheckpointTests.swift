import AIMCCore
import AIMCTraining
import Foundation
import Testing

/// A fresh temporary folder.
func temporaryFolder(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "aimc-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Metrics without the wall time (the one field that is not reproducible).
func reproducible(_ rows: [EpochMetrics]) -> [[Double]] {
    rows.map { [Double($0.epoch), $0.trainLoss, $0.trainAccuracy, $0.testLoss, $0.testAccuracy] }
}

@Suite("Checkpoints")
struct CheckpointTests {
    /// An experiment with every kind of state: device-to-device and tile-to-tile variability, zero-shifting (references),
    /// digital buffers, column pointers, and multi-tile warm start (a loss-plateau history).
    static func config(_ algorithm: Algorithm, _ mode: UpdateMode) -> ExperimentConfig {
        var c = tinyConfig(algorithm, tile: 3, mode: mode)
        c.device.t2tDwMin = 0.2
        c.device.t2tSymmetricPoint = 0.05
        c.algorithm.zeroShift = algorithm == .digitalSGD ? .none : .pulsed
        c.algorithm.zeroShiftPulses = 20
        c.algorithm[MultiTileResidual.warmStart] = true
        c.algorithm.transferColumns = 2
        c.training.epochs = 3
        return c
    }

    static let cases: [(Algorithm, UpdateMode)] = Algorithm.allCases.flatMap { a in [(a, UpdateMode.pulsed), (a, .expected)] }

    /// Stopped after two steps of epoch 3 (mid-epoch: running sums, column pointers, warm-start history all in
    /// flight), checkpointed, restored into a new trainer, and run to the end: the same metrics and digest as without
    /// the stop.
    @Test("Resume mid-epoch equals the uninterrupted run: every algorithm, pulsed and expected", arguments: cases)
    func resumeMidEpoch(algorithm: Algorithm, mode: UpdateMode) throws {
        let data = tinyData(40)
        let c = Self.config(algorithm, mode)
        let reference = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        let rows = try (1...3).map { try reference.runEpoch($0) }
        let digest = try reference.weightsDigest()

        let folder = try temporaryFolder("ckpt")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        var done = try (1...2).map { try first.runEpoch($0) }
        #expect(try first.runEpoch(3, progress: nil, afterStep: { steps, _ in steps == 2 }) == nil)
        let path = try Checkpoint.write(first, runFolder: folder, metrics: done)
        #expect(Checkpoint.latest(in: folder) == path)

        let second = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        done = try Checkpoint.restore(second, from: path)
        #expect(second.step == first.step && second.epochProgress == first.epochProgress)
        done.append(try #require(try second.runEpoch(3, progress: nil, afterStep: nil)))
        #expect(reproducible(done) == reproducible(rows))
        #expect(try second.weightsDigest() == digest)
    }

    /// Epoch-end checkpoints replace each other; the newest is the one a resume takes, and resuming from it equals the
    /// uninterrupted run.
    @Test("Epoch-end checkpoints: only the newest stays, and it resumes exactly")
    func epochEnd() throws {
        let data = tinyData(40)
        let c = Self.config(.residual, .pulsed)
        let folder = try temporaryFolder("ckpt")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let t = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        var rows = [EpochMetrics]()
        for e in 1...2 {
            rows.append(try t.runEpoch(e))
            try Checkpoint.write(t, runFolder: folder, metrics: rows)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder + "/checkpoints")
        #expect(names == [Checkpoint.name(step: t.step)])
        let resumed = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        let restored = try Checkpoint.restore(resumed, from: try #require(Checkpoint.latest(in: folder)))
        #expect(reproducible(restored) == reproducible(rows))
        #expect(resumed.epochProgress == EpochProgress(epoch: 3))
        _ = try resumed.runEpoch(3)
        _ = try t.runEpoch(3)
        #expect(try resumed.weightsDigest() == t.weightsDigest())
    }

    /// The files are NumPy arrays numpy reads without our code; the manifest states how the read weights are formed.
    @Test("Block files are .npy arrays of the block's shape; read terms rebuild the weights the reads see")
    func files() throws {
        let data = tinyData(40)
        var c = Self.config(.rider, .pulsed)
        c.algorithm.zeroShift = .ideal
        let folder = try temporaryFolder("ckpt")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let t = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        _ = try t.runEpoch(1)
        let path = try Checkpoint.write(t, runFolder: folder, metrics: [])
        let manifest = try JSONDecoder().decode(Checkpoint.Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: path + "/manifest.json")))
        for block in t.blocks {
            let record = manifest.blocks[block.info.index]
            // effective = sum of coefficient x array, from the files alone (Double; the block sums in Float).
            var sum = [Double](repeating: 0, count: block.info.devices)
            for term in record.read {
                let file = try #require(record.files.first { $0.name == term.array })
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/" + file.file)))
                let array = try NPY.parse(bytes, name: file.file)
                #expect(array.header == NPY.Header(dtype: .float32, shape: [block.info.rows, block.info.cols]))
                for (i, v) in array.doubles.enumerated() { sum[i] += term.coefficient * v }
            }
            // Each term is a Float32 product rounded once and summed in up to 4 terms: |error| <= 4 eps max|term|.
            for i in 0..<block.info.devices {
                #expect(abs(sum[i] - Double(block.effective[i])) <= 4 * 1.2e-7 * max(1, abs(sum[i])) + 1e-7, "block \(block.info.index) [\(i)]")
            }
        }
    }

    @Test("A checkpoint of another configuration, a corrupt or truncated file, a missing manifest: one clear error each")
    func badCheckpoints() throws {
        let data = tinyData(40)
        let c = Self.config(.residual, .pulsed)
        let folder = try temporaryFolder("ckpt")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let t = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        _ = try t.runEpoch(1)
        let path = try Checkpoint.write(t, runFolder: folder, metrics: [])
        func message(_ config: ExperimentConfig) -> String {
            do {
                _ = try Checkpoint.restore(try Trainer(config: config, comm: SingleProcess(), train: data, test: data), from: path)
                return ""
            } catch { return "\(error)" }
        }
        var other = c
        other.algorithm.lr = 0.2
        #expect(message(other).contains("was written by another configuration: algorithm.lr is 0.1 in the checkpoint, 0.2 now"), "\(message(other))")
        var tiles = c
        tiles.model.tileSize = 2
        #expect(message(tiles).contains("model.tile_size"), "\(message(tiles))")
        // What a resume may change: placement, replicas, epochs.
        var allowed = c
        allowed.placement = .balanced
        allowed.training.epochs = 9
        #expect(message(allowed) == "")

        let manifest = try JSONDecoder().decode(Checkpoint.Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: path + "/manifest.json")))
        let file = path + "/" + manifest.blocks[1].files[0].file
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        var flipped = original
        flipped[flipped.count - 1] ^= 1
        try flipped.write(to: URL(fileURLWithPath: file))
        #expect(message(c).contains("does not match its checksum in the manifest"), "\(message(c))")
        try original.prefix(original.count - 4).write(to: URL(fileURLWithPath: file))
        #expect(message(c).contains("truncated or corrupt"), "\(message(c))")
        try FileManager.default.removeItem(atPath: file)
        #expect(message(c).contains("cannot read"), "\(message(c))")
        try FileManager.default.removeItem(atPath: path + "/manifest.json")
        #expect(Checkpoint.latest(in: folder) == nil, "a checkpoint without its manifest does not exist")
    }

    @Test("NPY: header layout numpy writes, round trip, and refusal of other types and orders")
    func npy() throws {
        let h = NPY.headerBytes(NPY.Header(dtype: .float32, shape: [2, 3]))
        #expect(h.count % 64 == 0 && h.last == 0x0A)
        #expect(String(decoding: h[10...], as: UTF8.self).hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
        let folder = try temporaryFolder("npy")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let values: [Float] = [1, -2, 3.5, 0, .leastNormalMagnitude, 7]
        let (sha, bytes) = try values.withUnsafeBufferPointer { try NPY.write($0.baseAddress!, shape: [2, 3], to: folder + "/a.npy") }
        #expect(bytes == h.count + 24)
        var back = [Float](repeating: 0, count: 6)
        let again = try back.withUnsafeMutableBytes { try NPY.read(folder + "/a.npy", expecting: NPY.Header(dtype: .float32, shape: [2, 3]), into: $0) }
        #expect(back == values && again == sha)
        #expect(throws: NPYError.self) {
            try back.withUnsafeMutableBytes { try NPY.read(folder + "/a.npy", expecting: NPY.Header(dtype: .float32, shape: [3, 2]), into: $0) }
        }
        let fortran = Array("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }".utf8)
        #expect(throws: NPYError.self) { _ = try NPY.parseHeader([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(fortran.count), 0] + fortran, path: "f") }
        let bigEndian = Array("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }".utf8)
        #expect(throws: NPYError.self) { _ = try NPY.parseHeader([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(bigEndian.count), 0] + bigEndian, path: "b") }
    }
}
