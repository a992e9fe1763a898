import AIMCCore
import Crypto
import Foundation

/// Linux's syncfs(2) (not in Swift's Glibc module): flushes the file system holding `fd` to its device.
@_silgen_name("syncfs") func linuxSyncfs(_ fd: Int32) -> Int32

/// A checkpoint that cannot be written or read: one line, naming the file or the configuration key.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Checkpoints of a training run: everything the rest of the run depends on, so that a run stopped at any step
/// boundary continues bitwise identically, on any rank count, placement or replica count.
///
/// Layout: `RUN/checkpoints/step-NNNNNNNNNNNN/` holds one NumPy `.npy` file per state array of each block
/// (`b000017-W.npy`, `b000017-P.ref.npy`, `b000017-H.npy`, `b000017-bias.npy`, ...: `WeightBlock.stateArrays` and the
/// bias slice of a block at column 0), the resolved configuration (`config.json`) and `manifest.json`: the
/// configuration's SHA-256, the step and epoch position with its running sums, the metrics so far, and per block its
/// place in the layer, its files with their SHA-256, how its read weights are formed from them, and its scalar state
/// (column pointers, counters). What is not in a checkpoint is derived from (seed, configuration, step): the
/// devices' drawn parameters, the data order, every random stream.
///
/// Writing (collective): each rank writes the blocks it owns (replica 0's; replicas are identical) and reports their
/// checksums; rank 0 writes the manifest last, after every rank has reported, and only then removes the previous
/// checkpoint, so a checkpoint without its manifest does not exist and a failure while writing leaves the previous
/// one valid. A rank that cannot see the run folder (no shared file system) sends its arrays to rank 0, which writes
/// them; no rank ever holds more than its own blocks and one array in transit.
public enum Checkpoint {
    /// The folder of a run's checkpoints.
    public static let folder = "checkpoints"
    public static let manifestName = "manifest.json"
    public static let format = "aimc-dist checkpoint 1"
    /// Bytes per message when arrays travel through rank 0.
    static let relayChunk = 1 << 26

    /// The manifest: what `manifest.json` holds. Doubles that must come back exactly are kept as bit patterns
    /// (16 hex digits) next to their readable values.
    public struct Manifest: Codable, Sendable {
        public var format: String
        public var configSHA256: String
        /// Global step of the next training step.
        public var step: Int64
        /// The epoch in progress (1-based) and its steps done: 0 at an epoch boundary.
        public var epoch: Int
        public var stepsDone: Int
        public var epochSums: [String]
        public var seen: Int
        public var metrics: [MetricsRecord]
        /// Each analog layer's weight matrix (rows, cols) and the network ("784-256-128-10", or its layers).
        public var matrices: [[Int]]
        public var network: String
        public var tileSize: Int
        public var ranks: Int
        public var blocks: [BlockRecord]

        enum CodingKeys: String, CodingKey {
            case format, configSHA256 = "config_sha256", step, epoch, stepsDone = "steps_done", epochSums = "epoch_sums_bits", seen
            case metrics, matrices, network, tileSize = "tile_size", ranks, blocks
        }
    }

    /// One epoch's metrics, exactly (bits) and readably.
    public struct MetricsRecord: Codable, Sendable {
        public var epoch: Int
        public var bits: [String]
        public var trainLoss: Double, trainAccuracy: Double, testLoss: Double, testAccuracy: Double, seconds: Double

        enum CodingKeys: String, CodingKey {
            case epoch, bits, trainLoss = "train_loss", trainAccuracy = "train_accuracy", testLoss = "test_loss"
            case testAccuracy = "test_accuracy", seconds
        }

        init(_ m: EpochMetrics) {
            epoch = m.epoch
            bits = [m.trainLoss, m.trainAccuracy, m.testLoss, m.testAccuracy, m.seconds].map(Checkpoint.bits)
            (trainLoss, trainAccuracy, testLoss, testAccuracy, seconds) = (m.trainLoss, m.trainAccuracy, m.testLoss, m.testAccuracy, m.seconds)
        }

        func metrics() throws(CheckpointError) -> EpochMetrics {
            guard bits.count == 5 else { throw CheckpointError("a metrics record of epoch \(epoch) has \(bits.count) values; expected 5") }
            let v = try bits.map { (b) throws(CheckpointError) in try Checkpoint.double(b) }
            return EpochMetrics(epoch: epoch, trainLoss: v[0], trainAccuracy: v[1], testLoss: v[2], testAccuracy: v[3], seconds: v[4])
        }
    }

    /// One block: its place, its files, how the weights its reads see are formed, its scalar state.
    public struct BlockRecord: Codable, Sendable {
        public var index: Int
        public var layer: Int
        public var rowStart: Int, rows: Int, colStart: Int, cols: Int
        public var files: [FileRecord]
        /// effective = sum of coefficient x array (array names as in `files`), with chopper signs where named.
        public var read: [ReadTerm]
        public var scalars: [String: ScalarRecord]

        enum CodingKeys: String, CodingKey {
            case index, layer, rowStart = "row_start", rows, colStart = "col_start", cols, files, read, scalars
        }
    }

    public struct FileRecord: Codable, Sendable, Equatable {
        /// The state array's name ("W", "P.ref", "H", "bias", ...).
        public var name: String
        public var file: String
        public var sha256: String
        public var bytes: Int
    }

    /// coefficient x array, times row_signs[i] x col_signs[j] when they are named (integer scalars of the block).
    public struct ReadTerm: Codable, Sendable {
        public var array: String
        public var coefficient: Double
        public var rowSigns: String?
        public var colSigns: String?

        enum CodingKeys: String, CodingKey { case array, coefficient, rowSigns = "row_signs", colSigns = "col_signs" }
    }

    /// A `ScalarState`: integers as they are, reals as bit patterns.
    public struct ScalarRecord: Codable, Sendable {
        public var integers: [Int64]?
        public var realsBits: [String]?

        enum CodingKeys: String, CodingKey { case integers, realsBits = "reals_bits" }

        init(_ s: ScalarState) {
            switch s {
            case .integers(let v): integers = v
            case .reals(let v): realsBits = v.map(Checkpoint.bits)
            }
        }

        func state() throws(CheckpointError) -> ScalarState {
            if let integers { return .integers(integers) }
            if let realsBits { return .reals(try realsBits.map { (b) throws(CheckpointError) in try Checkpoint.double(b) }) }
            throw CheckpointError("a scalar record holds neither integers nor reals")
        }
    }

    static func bits(_ v: Double) -> String { String(format: "%016llx", v.bitPattern) }

    static func double(_ text: String) throws(CheckpointError) -> Double {
        guard text.count == 16, let b = UInt64(text, radix: 16) else { throw CheckpointError("\(text) is not a 16-digit bit pattern") }
        return Double(bitPattern: b)
    }

    /// The name of the checkpoint folder of global step `step`.
    public static func name(step: Int64) -> String { String(format: "step-%012lld", step) }

    /// The file of state array `name` of block `index`.
    static func fileName(block index: Int, _ name: String) -> String { String(format: "b%06d-", index) + name + ".npy" }

    /// The configuration as it identifies a run for resuming: every key but those a resume may change (the placement
    /// and replica count, the number of epochs, how often progress is printed, the stall timeout, where the data folder
    /// is).
    public static func identity(_ config: ExperimentConfig) -> ExperimentConfig {
        var c = config
        let d = ExperimentConfig.default
        c.placement = d.placement
        c.replicas = d.replicas
        c.training.epochs = d.training.epochs
        c.training.progressSeconds = d.training.progressSeconds
        c.training.stallTimeout = d.training.stallTimeout
        c.data.dir = ""
        return c
    }

    /// The SHA-256 (hex) of `identity(config)` in its canonical JSON form, of the keys the experiment uses (as a run's
    /// config.json records them: a key the experiment does not use cannot change what a resume continues).
    public static func configHash(_ config: ExperimentConfig) -> String {
        NPY.hex(SHA256.hash(data: ConfigLoader.recordedJSON(identity(config))))
    }

    /// The newest complete checkpoint (a folder with its manifest) in `runFolder`, or nil.
    public static func latest(in runFolder: String) -> String? {
        let dir = (runFolder as NSString).appendingPathComponent(folder)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("step-") }.sorted()
        for name in names.reversed() {
            let path = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(manifestName)) { return path }
        }
        return nil
    }

    // MARK: Writing

    /// Writes a checkpoint of `trainer` at its current step into `runFolder`/checkpoints (collective over the
    /// trainer's world; `runFolder` and `metrics` are read on world rank 0 only), then removes older checkpoints.
    /// - Returns: the checkpoint's folder (on every rank, as rank 0 names it).
    /// - Throws: `CheckpointError` (the same on every rank) if any rank failed; the previous checkpoint stays.
    @discardableResult
    public static func write(_ trainer: Trainer, runFolder: String, metrics: [EpochMetrics]) throws -> String {
        let world = trainer.world
        let isRoot = world.rank == 0
        writes += 1
        // Rank 0 makes the folder and a marker with a token; every rank learns the absolute path and the token.
        var failure: String? = nil
        var announce = [UInt8]()
        let token = UUID().uuidString
        if isRoot {
            do {
                let parent = (absolute(runFolder) as NSString).appendingPathComponent(folder)
                let path = (parent as NSString).appendingPathComponent(name(step: trainer.step))
                let fm = FileManager.default
                if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }  // a half-written one of an earlier attempt
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
                try Data(token.utf8).write(to: URL(fileURLWithPath: (path as NSString).appendingPathComponent(".token")))
                announce = Array((path + "\n" + token).utf8)
            } catch {
                failure = "cannot create the checkpoint folder in \(runFolder) (\(RunDirectory.reason(error)))"
            }
        }
        try agree(world, failure)
        let text = String(decoding: try broadcastBytes(world, announce), as: UTF8.self).split(separator: "\n").map(String.init)
        let path = text[0], rootToken = text[1]
        let seen = (try? String(contentsOfFile: (path as NSString).appendingPathComponent(".token"), encoding: .utf8)) == rootToken
        let visible = try world.allgatherBytes([seen ? 1 : 0], counts: Array(repeating: 1, count: world.size)).map { $0 == 1 }

        // Each rank (of replica 0) writes its blocks, or hands them to rank 0.
        var records = [BlockRecord]()
        var localFailure: String? = nil
        let writer = trainer.replica == 0
        if writer {
            for block in trainer.blocks {
                var record = blockRecord(trainer, block)
                if visible[world.rank] {
                    do {
                        for (name, pointer, count) in arrays(trainer, block) {
                            let file = fileName(block: block.info.index, name)
                            let (sha, bytes) = try NPY.write(pointer, shape: shape(block, name, count), to: (path as NSString).appendingPathComponent(file),
                                                             sync: false)
                            record.files.append(FileRecord(name: name, file: file, sha256: sha, bytes: bytes))
                            killedForTest(rank: world.rank)
                        }
                    } catch {
                        localFailure = localFailure ?? "rank \(world.rank): \(error)"
                    }
                }
                records.append(record)
            }
        }
        // Relay for ranks that cannot see the folder: arrays travel to rank 0 one at a time.
        let relayed = try relay(trainer, visible: visible, path: path, failure: &localFailure)
        // Each rank's files reach the device before it reports them (one flush of the file system, not one per file).
        if visible[world.rank] && localFailure == nil && !(trainer.blocks.isEmpty || !writer) || (isRoot && !relayed.isEmpty) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 || linuxSyncfs(fd) != 0 { localFailure = "rank \(world.rank): cannot flush \(path) (\(String(cString: strerror(errno))))" }
            if fd >= 0 { close(fd) }
        }
        try agreeAll(world, localFailure)
        // The records reach rank 0 (with the files rank 0 wrote for others filled in), which writes the manifest.
        let mine = writer ? Array(try JSONEncoder().encode(records)) : []
        let counts = try world.allgatherBytes(withUnsafeBytes(of: Int64(mine.count).littleEndian) { Array($0) },
                                              counts: Array(repeating: 8, count: world.size))
        let sizes = (0..<world.size).map { r in Int(counts[(8 * r)..<(8 * r + 8)].withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }) }
        let all = try world.allgatherBytes(mine, counts: sizes)
        failure = nil
        if isRoot {
            do {
                var blocks = [BlockRecord]()
                var offset = 0
                for size in sizes {
                    if size > 0 { blocks += try JSONDecoder().decode([BlockRecord].self, from: Data(all[offset..<(offset + size)])) }
                    offset += size
                }
                for i in blocks.indices where blocks[i].files.isEmpty { blocks[i].files = relayed[blocks[i].index] ?? [] }
                blocks.sort { $0.index < $1.index }
                guard blocks.map(\.index) == Array(0..<trainer.layout.blocks.count) else {
                    throw CheckpointError("the ranks reported blocks \(blocks.map(\.index)); expected 0..<\(trainer.layout.blocks.count)")
                }
                let p = trainer.epochProgress
                let manifest = Manifest(format: format, configSHA256: configHash(trainer.config), step: trainer.step, epoch: p.epoch,
                                        stepsDone: p.stepsDone, epochSums: [bits(p.lossSum), bits(p.correct)], seen: p.seen,
                                        metrics: metrics.map(MetricsRecord.init), matrices: trainer.layout.layers.map { [$0.outputs, $0.inputs] },
                                        network: trainer.layout.description, tileSize: trainer.config.model.tileSize,
                                        ranks: world.size, blocks: blocks)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try RunDirectory.writeAtomically(ConfigLoader.json(trainer.config), to: (path as NSString).appendingPathComponent("config.json"))
                try syncedWrite(try encoder.encode(manifest), to: (path as NSString).appendingPathComponent(manifestName))
                unlink((path as NSString).appendingPathComponent(".token"))
                // Only now the older checkpoints go.
                let parent = RunDirectory.parent(of: path)
                for old in ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []) where old.hasPrefix("step-") && old != (path as NSString).lastPathComponent {
                    try? FileManager.default.removeItem(atPath: (parent as NSString).appendingPathComponent(old))
                }
            } catch {
                failure = "cannot complete the checkpoint \(path) (\(error))"
            }
        }
        try agree(world, failure)
        return path
    }

    /// The arrays of a block's state, with the bias slice of a block at column 0: (name, values, count).
    static func arrays(_ trainer: Trainer, _ block: WeightBlock) -> [(String, UnsafeMutablePointer<Float>, Int)] {
        var out = block.stateArrays.map { ($0.name, $0.values, $0.count) }
        if let bias = trainer.biases[block.info.index] { out.append(("bias", bias.values, bias.count)) }
        return out
    }

    static func shape(_ block: WeightBlock, _ name: String, _ count: Int) -> [Int] {
        name == "bias" ? [count] : [block.info.rows, block.info.cols]
    }

    static func blockRecord(_ trainer: Trainer, _ block: WeightBlock) -> BlockRecord {
        let i = block.info
        return BlockRecord(index: i.index, layer: i.layer, rowStart: i.rowStart, rows: i.rows, colStart: i.colStart, cols: i.cols,
                           files: [], read: block.readTerms.map { ReadTerm(array: $0.array, coefficient: $0.coefficient, rowSigns: $0.rowSigns, colSigns: $0.colSigns) },
                           scalars: block.scalars.mapValues(ScalarRecord.init))
    }

    /// Ranks of replica 0 that cannot see the folder send their arrays to rank 0, which writes them. Returns, on rank
    /// 0, the file records it wrote, by block index.
    static func relay(_ trainer: Trainer, visible: [Bool], path: String, failure: inout String?) throws -> [Int: [FileRecord]] {
        let world = trainer.world
        var written = [Int: [FileRecord]]()
        let modelSize = trainer.modelSize
        for r in 1..<max(modelSize, 1) where !visible[r] {
            let me = world.rank
            guard let pair = try world.split(color: me == 0 || me == r ? 1 : nil, key: me == r ? 1 : 0) else { continue }
            let owned = trainer.placement.blocks(of: r)
            for index in owned {
                let info = trainer.layout.blocks[index]
                // The sender lists its arrays (name and count), then sends each in chunks.
                var listing = [UInt8]()
                var local: [(String, UnsafeMutablePointer<Float>, Int)] = []
                if me == r, let block = trainer.blocks.first(where: { $0.info.index == index }) {
                    local = arrays(trainer, block)
                    listing = Array(local.map { "\($0.0):\($0.2)" }.joined(separator: ",").utf8)
                }
                let names = String(decoding: try broadcastBytes(pair, listing, root: 1), as: UTF8.self).split(separator: ",").map { part -> (String, Int) in
                    let p = part.split(separator: ":")
                    return (String(p[0]), Int(p[1]) ?? 0)
                }
                for (k, (name, count)) in names.enumerated() {
                    let buffer = me == r ? local[k].1 : UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
                    defer { if me != r { buffer.deallocate() } }
                    let raw = UnsafeMutableRawBufferPointer(start: buffer, count: count * 4)
                    var offset = 0
                    while offset < raw.count {
                        let chunk = UnsafeMutableRawBufferPointer(rebasing: raw[offset..<min(offset + relayChunk, raw.count)])
                        try pair.broadcast(chunk, root: 1)
                        offset += chunk.count
                    }
                    if me == 0 {
                        let file = fileName(block: index, name)
                        do {
                            let shape = name == "bias" ? [count] : [info.rows, info.cols]
                            let (sha, bytes) = try NPY.write(buffer, shape: shape, to: (path as NSString).appendingPathComponent(file), sync: false)
                            written[index, default: []].append(FileRecord(name: name, file: file, sha256: sha, bytes: bytes))
                        } catch {
                            failure = failure ?? "rank 0 (for rank \(r)): \(error)"
                        }
                    }
                }
            }
        }
        return written
    }

    static func syncedWrite(_ data: Data, to final: String) throws {
        try RunDirectory.writeAtomically(data, to: final)
        let fd = open(final, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
        let dir = open(RunDirectory.parent(of: final), O_RDONLY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    // MARK: Reading

    /// Restores `trainer` (built for `trainer.config`, on any rank count, placement or replica count) from the
    /// checkpoint folder `path` (read on world rank 0; collective). Checks, before changing anything: the format,
    /// that the checkpoint's configuration is this run's (`configHash`), the block grid, each file's shape and
    /// SHA-256. Every rank loads the blocks its placement gives it; a rank that cannot see the folder receives its
    /// arrays from rank 0.
    /// - Returns: the metrics of the epochs before the checkpoint (on every rank).
    /// - Throws: `CheckpointError`, the same on every rank.
    public static func restore(_ trainer: Trainer, from path: String) throws -> [EpochMetrics] {
        let world = trainer.world
        var failure: String? = nil
        var manifestBytes = [UInt8]()
        var configText = [UInt8]()
        if world.rank == 0 {
            do {
                manifestBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: (path as NSString).appendingPathComponent(manifestName))))
                configText = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: (path as NSString).appendingPathComponent("config.json")))) ?? Data())
            } catch {
                failure = "cannot read the checkpoint \(path) (\(RunDirectory.reason(error)))"
            }
        }
        try agree(world, failure)
        manifestBytes = try broadcastBytes(world, manifestBytes)
        configText = try broadcastBytes(world, configText)
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(manifestBytes))
        } catch {
            throw CheckpointError("\(path)/\(manifestName) is not a checkpoint manifest (\(error))")
        }
        guard manifest.format == format else { throw CheckpointError("\(path) is a checkpoint of format '\(manifest.format)'; this build reads '\(format)'") }
        if manifest.configSHA256 != configHash(trainer.config) {
            throw CheckpointError("\(path) was written by another configuration" + differences(configText, trainer.config)
                + "; resume with the configuration the run was started with (its config.json)")
        }
        let matrices = trainer.layout.layers.map { [$0.outputs, $0.inputs] }
        guard manifest.blocks.count == trainer.layout.blocks.count, manifest.matrices == matrices else {
            throw CheckpointError("\(path) holds \(manifest.blocks.count) blocks of the network \(manifest.network); this run has \(trainer.layout.blocks.count) of \(trainer.layout.description)")
        }
        let manifestHash = NPY.hex(SHA256.hash(data: manifestBytes))
        let mine = (try? Data(contentsOf: URL(fileURLWithPath: (path as NSString).appendingPathComponent(manifestName)))).map { NPY.hex(SHA256.hash(data: $0)) }
        let visible = try world.allgatherBytes([mine == manifestHash ? 1 : 0], counts: Array(repeating: 1, count: world.size)).map { $0 == 1 }

        var localFailure: String? = nil
        for block in trainer.blocks where visible[world.rank] {
            do {
                try load(trainer, block, manifest.blocks[block.info.index], from: path)
            } catch {
                localFailure = localFailure ?? "\(error)"
            }
        }
        try feed(trainer, manifest: manifest, visible: visible, path: path, failure: &localFailure)
        try agreeAll(world, localFailure)
        trainer.step = manifest.step
        let sums = try manifest.epochSums.map { (b) throws(CheckpointError) in try double(b) }
        guard sums.count == 2 else { throw CheckpointError("\(path): epoch_sums_bits holds \(sums.count) values; expected 2") }
        trainer.epochProgress = EpochProgress(epoch: manifest.epoch, stepsDone: manifest.stepsDone, lossSum: sums[0], correct: sums[1], seen: manifest.seen)
        return try manifest.metrics.map { (r) throws(CheckpointError) in try r.metrics() }
    }

    /// Reads one block's files (checked) and scalars into `block`.
    static func load(_ trainer: Trainer, _ block: WeightBlock, _ record: BlockRecord, from path: String) throws {
        let targets = arrays(trainer, block)
        try check(record, block, targets, path)
        for (name, pointer, count) in targets {
            let file = record.files.first { $0.name == name }!
            let sha = try NPY.read((path as NSString).appendingPathComponent(file.file), expecting: NPY.Header(dtype: .float32, shape: shape(block, name, count)),
                                   into: UnsafeMutableRawBufferPointer(start: pointer, count: count * 4))
            guard sha == file.sha256 else { throw CheckpointError("\(path)/\(file.file) does not match its checksum in the manifest (corrupt or replaced)") }
        }
        try restoreScalars(block, record, path)
    }

    static func check(_ record: BlockRecord, _ block: WeightBlock, _ targets: [(String, UnsafeMutablePointer<Float>, Int)], _ path: String) throws {
        let i = block.info
        guard record.index == i.index, record.rowStart == i.rowStart, record.rows == i.rows, record.colStart == i.colStart, record.cols == i.cols else {
            throw CheckpointError("\(path): block \(i.index) of the manifest does not have this run's shape")
        }
        let want = Set(targets.map(\.0)), have = Set(record.files.map(\.name))
        guard want == have else {
            throw CheckpointError("\(path): block \(i.index) has the arrays \(have.sorted().joined(separator: ", ")); this run needs \(want.sorted().joined(separator: ", "))")
        }
    }

    static func restoreScalars(_ block: WeightBlock, _ record: BlockRecord, _ path: String) throws {
        var scalars = [String: ScalarState]()
        for (k, v) in record.scalars { scalars[k] = try v.state() }
        do {
            try block.restore(scalars: scalars)
        } catch {
            throw CheckpointError("\(path): block \(block.info.index): \(error)")
        }
    }

    /// Rank 0 reads the blocks of each rank that cannot see the folder and sends them (every replica's owner of
    /// such a block receives it).
    static func feed(_ trainer: Trainer, manifest: Manifest, visible: [Bool], path: String, failure: inout String?) throws {
        let world = trainer.world
        let me = world.rank
        for r in 1..<max(world.size, 1) where !visible[r] {
            guard let pair = try world.split(color: me == 0 || me == r ? 1 : nil, key: me == r ? 1 : 0) else { continue }
            let modelRank = r % trainer.modelSize
            for index in trainer.placement.blocks(of: modelRank) {
                let record = manifest.blocks[index]
                let info = trainer.layout.blocks[index]
                let block = me == r ? trainer.blocks.first { $0.info.index == index } : nil
                let targets = block.map { arrays(trainer, $0) } ?? []
                if let block {
                    do { try check(record, block, targets, path) } catch { failure = failure ?? "rank \(r): \(error)" }
                }
                // Rank 0 sends the files in the manifest's order; the receiver keeps those it needs.
                for file in record.files {
                    let count = file.name == "bias" ? info.rows : info.devices
                    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
                    defer { buffer.deallocate() }
                    var ok: UInt8 = 1
                    if me == 0 {
                        do {
                            let shape = file.name == "bias" ? [count] : [info.rows, info.cols]
                            let sha = try NPY.read((path as NSString).appendingPathComponent(file.file), expecting: NPY.Header(dtype: .float32, shape: shape),
                                                   into: UnsafeMutableRawBufferPointer(start: buffer, count: count * 4))
                            if sha != file.sha256 { throw CheckpointError("\(path)/\(file.file) does not match its checksum in the manifest (corrupt or replaced)") }
                        } catch {
                            ok = 0
                            failure = failure ?? "\(error)"
                        }
                    }
                    let raw = UnsafeMutableRawBufferPointer(start: buffer, count: count * 4)
                    var offset = 0
                    while offset < raw.count {
                        let chunk = UnsafeMutableRawBufferPointer(rebasing: raw[offset..<min(offset + relayChunk, raw.count)])
                        try pair.broadcast(chunk, root: 0)
                        offset += chunk.count
                    }
                    ok = try pair.broadcast(ok, root: 0)
                    if me == r, ok == 1, let target = targets.first(where: { $0.0 == file.name }), target.2 == count {
                        target.1.update(from: buffer, count: count)
                    }
                }
                if let block, failure == nil {
                    do { try restoreScalars(block, record, path) } catch { failure = failure ?? "rank \(r): \(error)" }
                }
            }
        }
    }

    /// ": KEY is A in the checkpoint, B now; ..." from the checkpoint's config.json (read exactly), or "".
    static func differences(_ stored: [UInt8], _ config: ExperimentConfig) -> String {
        guard let table = (try? JSONDecoder().decode(ConfigLoader.ExactJSON.self, from: Data(stored)))?.value as? [String: Any],
              let decoded = try? ConfigLoader.overlay(table, over: .default, source: "checkpoint"),
              let ours = (try? ConfigLoader.encodedTable(identity(decoded))).map({ ConfigLoader.pruned($0, prefix: "", identity(decoded)) }),
              let theirs = (try? ConfigLoader.encodedTable(identity(config))).map({ ConfigLoader.pruned($0, prefix: "", identity(config)) })
        else { return "" }
        let keys = differingKeys(ours, theirs, prefix: "")
        guard !keys.isEmpty else { return "" }
        func value(_ table: [String: Any], _ key: String) -> String {
            var current: Any? = table
            for part in key.split(separator: ".") { current = (current as? [String: Any])?[String(part)] }
            return current.flatMap { ConfigLoader.jsonText($0) } ?? "nothing"
        }
        return ": " + keys.prefix(4).map { "\($0) is \(value(ours, $0)) in the checkpoint, \(value(theirs, $0)) now" }.joined(separator: "; ")
    }

    static func differingKeys(_ a: Any, _ b: Any, prefix: String) -> [String] {
        if let ta = a as? [String: Any], let tb = b as? [String: Any] {
            return Set(ta.keys).union(tb.keys).sorted().flatMap { k -> [String] in
                let key = prefix.isEmpty ? k : prefix + "." + k
                guard let va = ta[k], let vb = tb[k] else { return [key] }
                return differingKeys(va, vb, prefix: key)
            }
        }
        return "\(a)" == "\(b)" ? [] : [prefix]
    }

    /// Fault injection for the test of a rank killed while it writes a checkpoint: with the environment variable
    /// `AIMC_DIST_TEST_KILL_WRITING_CHECKPOINT=R:K`, world rank R kills itself (SIGKILL) after writing its first file of
    /// the K-th checkpoint this process writes. Unset, this does nothing.
    static func killedForTest(rank: Int) {
        guard let spec = ProcessInfo.processInfo.environment["AIMC_DIST_TEST_KILL_WRITING_CHECKPOINT"] else { return }
        let parts = spec.split(separator: ":").compactMap { Int($0) }
        if parts.count == 2, parts[0] == rank, parts[1] == writes { kill(getpid(), SIGKILL) }
    }
    /// Checkpoints this process has started to write.
    nonisolated(unsafe) static var writes = 0

    // MARK: Agreement

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }

    /// Rank 0's failure reaches every rank, which throws it.
    static func agree(_ world: any Collective, _ failure: String?) throws {
        let bytes = try broadcastBytes(world, Array((failure ?? "").utf8))
        if !bytes.isEmpty { throw CheckpointError(String(decoding: bytes, as: UTF8.self)) }
    }

    /// Any rank's failure reaches every rank (the first, in rank order), which throws it.
    static func agreeAll(_ world: any Collective, _ failure: String?) throws {
        let mine = Array((failure ?? "").utf8)
        let lengths = try world.allgatherBytes(withUnsafeBytes(of: Int64(mine.count).littleEndian) { Array($0) },
                                               counts: Array(repeating: 8, count: world.size))
        let sizes = (0..<world.size).map { r in Int(lengths[(8 * r)..<(8 * r + 8)].withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }) }
        guard sizes.contains(where: { $0 > 0 }) else { return }
        let all = try world.allgatherBytes(mine, counts: sizes)
        var offset = 0
        for size in sizes {
            if size > 0 { throw CheckpointError(String(decoding: all[offset..<(offset + size)], as: UTF8.self)) }
            offset += size
        }
    }

    static func broadcastBytes(_ comm: any Collective, _ bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        let n = try comm.broadcast(Int64(bytes.count), root: root)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(n), alignment: 8)
        defer { out.deallocate() }
        if comm.rank == root { out.copyBytes(from: bytes) }
        if n > 0 { try comm.broadcast(out, root: root) }
        return Array(out)
    }
}
