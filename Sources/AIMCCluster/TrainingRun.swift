import AIMCCore
import AIMCTraining
import CMPI
import Crypto
import Foundation

/// An error that ends the run with a message printed by the coordinator.
public struct RunError: Error, CustomStringConvertible {
    public let message: String
    public let exitCode: Int32
    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
    public var description: String { message }
}

/// What a finished run records in `summary.json`. The types are fixed: a number that is not finite (a diverged
/// run's loss) is written as null, never as text.
struct Summary: Encodable {
    let weightsDigest: String
    let epochs: Int
    let finalTestAccuracy: Double
    let finalTrainLoss: Double
    let diverged: Bool
    let seconds: Double
    let ranks: Int
    let devicePulses: UInt64
    let zeroShiftPulses: UInt64
    /// Wall seconds of the training steps alone on rank 0 (`Trainer.stepSeconds`: no start-up, data reading,
    /// evaluation, telemetry records or checkpoints).
    let trainingSeconds: Double
    /// CPU seconds (user plus system) of the training steps alone (`Trainer.stepCPUSeconds`), summed over ranks.
    let trainingCPUSeconds: Double
    /// CPU seconds (user plus system) of the whole processes, from their start (MPI, reading the data) to the end of
    /// the run's report (a sweep's later points: from the end of the point before), summed over ranks.
    let cpuSeconds: Double
    /// The hardware estimate (`CostModel`), nil for an algorithm without tiles.
    let hardwareEstimate: HardwareEstimate?
    /// Records of tiles.csv written, nil without per-tile telemetry.
    let tileRecords: Int?

    enum CodingKeys: String, CodingKey {
        case weightsDigest = "weights_digest", epochs, finalTestAccuracy = "final_test_accuracy"
        case finalTrainLoss = "final_train_loss", diverged, seconds, ranks, devicePulses = "device_pulses"
        case zeroShiftPulses = "zero_shift_pulses", hardwareEstimate = "hardware_estimate", tileRecords = "tile_records"
        case trainingSeconds = "training_seconds", trainingCPUSeconds = "training_cpu_seconds", cpuSeconds = "cpu_seconds"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func number(_ v: Double, _ key: CodingKeys) throws {
            if v.isFinite { try c.encode(v, forKey: key) } else { try c.encodeNil(forKey: key) }
        }
        try c.encode(weightsDigest, forKey: .weightsDigest)
        try c.encode(epochs, forKey: .epochs)
        try number(finalTestAccuracy, .finalTestAccuracy)
        try number(finalTrainLoss, .finalTrainLoss)
        try c.encode(diverged, forKey: .diverged)
        try number(seconds, .seconds)
        try c.encode(ranks, forKey: .ranks)
        try c.encode(devicePulses, forKey: .devicePulses)
        try c.encode(zeroShiftPulses, forKey: .zeroShiftPulses)
        try number(trainingSeconds, .trainingSeconds)
        try number(trainingCPUSeconds, .trainingCPUSeconds)
        try number(cpuSeconds, .cpuSeconds)
        try c.encodeIfPresent(hardwareEstimate, forKey: .hardwareEstimate)
        try c.encodeIfPresent(tileRecords, forKey: .tileRecords)
    }
}

/// `summary.json`'s hardware estimate: the run's cost (`CostModel.RunCost`) and the costs it used.
struct HardwareEstimate: Encodable {
    let cost: CostModel.RunCost
    let costs: CostConfig
    let replicas: Int

    enum CodingKeys: String, CodingKey {
        case latencyNs = "latency_ns", readLatencyNs = "read_latency_ns", updateLatencyNs = "update_latency_ns"
        case tileBusyNs = "tile_busy_ns", energyPj = "energy_pj", reads, pulseSlots = "pulse_slots", updates, pulses
        case costs, perReplica = "per_replica"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(cost.latencyNs, forKey: .latencyNs)
        try c.encode(cost.readLatencyNs, forKey: .readLatencyNs)
        try c.encode(cost.updateLatencyNs, forKey: .updateLatencyNs)
        try c.encode(cost.tileBusyNs, forKey: .tileBusyNs)
        try c.encode(cost.energyPj, forKey: .energyPj)
        try c.encode(cost.reads, forKey: .reads)
        try c.encode(cost.slots, forKey: .pulseSlots)
        try c.encode(cost.updates, forKey: .updates)
        try c.encode(cost.pulses, forKey: .pulses)
        try c.encode(costs, forKey: .costs)
        try c.encode(replicas > 1, forKey: .perReplica)
    }
}

/// One training job over MPI: every rank runs `TrainingRun.main`; rank 0 is the coordinator (it loads and
/// broadcasts the data, decides each epoch's plan, prints, writes the run directory).
///
/// Failure handling: every rank first agrees on its command-line result, so a bad option, or a config file that
/// one rank cannot read, ends every rank with status 2 and one message from rank 0 (naming the ranks that saw
/// it when not all did). Errors known to all ranks later (bad data, an unwritable output folder, a model too
/// large for the node's memory) end every rank with status 1 after rank 0 prints one line. An error on one rank
/// during training (an MPI failure, an output write on rank 0) prints on that rank and calls MPI_Abort, which
/// ends the whole job promptly.
public enum TrainingRun {
    /// The process's CPU seconds where the last run of this process ended (0 before the first): a run's `cpu_seconds`
    /// counts from here, so the first from the process's start and each of a sweep's later points from the end of
    /// the point before.
    nonisolated(unsafe) static var cpuMark = 0.0

    public struct Options: Sendable {
        public var output: String?
        public var overwrite = false
        public var dataName = "Fashion-MNIST"
        /// Print each rank's bytes of the first training step next to the communication model's prediction.
        public var reportCommunication = false
        public var checkpoints = CheckpointPolicy()
        /// Continue the run in `output` from its newest checkpoint.
        public var resume = false
        public init() {}
    }

    /// When a run with an output folder writes checkpoints (`Checkpoint`): at every epoch's end (and always after the
    /// last), every `everySteps` training steps if > 0, and on SIGUSR1 or SIGTERM at the next step boundary, after
    /// which the job stops with status `stoppedStatus`.
    public struct CheckpointPolicy: Sendable {
        /// Also every this many training steps within epochs (0: at epoch ends only).
        public var everySteps = 0
        /// Checkpoints at every epoch's end; false: only after the last epoch (the final weights) and on a signal.
        public var atEpochs = true
        /// A folder for the run's starting point (paired comparisons with other simulators): the step-0 checkpoint
        /// (`initial/checkpoints/step-000000000000`, readable with scripts/weights.py) and `order.npy`, each epoch's
        /// order of the training samples (int64, epochs x samples). Not with a resume.
        public var initial: String? = nil
        public init() {}
    }

    /// Exit status of a run stopped by SIGUSR1 or SIGTERM after writing its checkpoint (EX_TEMPFAIL: try again,
    /// with --resume).
    public static let stoppedStatus: Int32 = 75

    /// A run that stopped on request after its checkpoint: the line rank 0 prints (not an error).
    struct Stopped: Error {
        let message: String
    }

    /// Runs the experiment on MPI's world communicator. `argumentError` is this rank's command-line error, if
    /// any (then `config` is ignored). Returns the process exit status.
    public static func main(config: ExperimentConfig?, argumentError: String? = nil, options: Options) -> Int32 {
        if let config { Watchdog.timeout = config.training.stallTimeout }
        // A run with a folder takes SIGUSR1/SIGTERM as a request to checkpoint and stop from its start on (a signal that
        // comes before training is honoured at the first step).
        if options.output != nil { StopRequest.install() }
        return job(argumentError: argumentError) { comm in
            guard let config else { return 2 }
            try requireSameConfiguration(comm, [config])
            let data = try loadData(comm, config)
            let r = try train(config, data: data, comm: comm, output: options.output, overwrite: options.overwrite,
                              dataName: options.dataName, reportCommunication: options.reportCommunication,
                              checkpoints: options.checkpoints, resume: options.resume)
            if let why = r.diverged {
                if comm.rank == 0 {
                    printError("training diverged: \(why); stopped after epoch \(r.rows.count) of \(config.training.epochs) (exit status 3); "
                        + "lower the learning rates (--lr, --transfer-lr)")
                }
                return divergedStatus
            }
            return 0
        }
    }

    /// Runs every point of a sweep in one MPI job (the data is read once), each into `output`/run-NNN, and writes
    /// `output`/summary.csv with one row per run: its axis values, final and best test accuracy, final train
    /// loss, epochs, seconds and weights digest. Before the first run, every point passes the checks a training
    /// run makes at start (replicas dividing the ranks, weight blocks fitting the node's memory), so a sweep does
    /// not fail midway on a value it could have refused at once.
    ///
    /// With `resume`, the sweep in `output` goes on where it stopped: finished points (a run folder with summary.json)
    /// are kept, the point with a checkpoint continues from it, the others run; every run folder must have been run
    /// with its point's configuration, and summary.csv is rebuilt from the finished runs first.
    public static func sweep(points: [Sweep.Point]?, argumentError: String? = nil, output: String, overwrite: Bool, resume: Bool = false,
                             checkpoints: CheckpointPolicy = CheckpointPolicy()) -> Int32 {
        if let points { Watchdog.timeout = points.map(\.config.training.stallTimeout).max() ?? Watchdog.timeout }
        StopRequest.install()
        return job(argumentError: argumentError) { comm in
            guard let points, let first = points.first else { return 2 }
            try requireSameConfiguration(comm, points.map(\.config))
            if points.contains(where: { $0.config.data != first.config.data || $0.config.training.trainLimit != first.config.training.trainLimit
                || $0.config.training.testLimit != first.config.training.testLimit
                || ($0.config.data.source == .teacher && $0.config.seed != first.config.seed) }) {
                throw RunError("a sweep reads one data set: data keys, training.train_limit and training.test_limit (and the seed, for teacher data) cannot be swept", exitCode: 2)
            }
            for p in points where comm.size % p.config.replicas != 0 {
                throw RunError("\(p.option(for: "replicas") ?? "--replicas") (config key replicas) must divide the number of ranks \(comm.size) "
                    + "(ranks = replicas x ranks per model); got \(p.config.replicas) (\(p.context))", exitCode: 2)
            }
            let data = try loadData(comm, first.config)
            // Memory of every point: the first point too large on any rank, and its largest need.
            let available = availableMemory()
            var mine = points.count, mineNeed = 0.0
            for (i, p) in points.enumerated() {
                let need = try memoryShortfall(p.config, data: data, comm: comm, available: available)
                if need > 0 { mine = i; mineNeed = need; break }
            }
            let worst = points.count - Int(try comm.maximum(Double(points.count - mine)))
            if worst < points.count {
                let need = try comm.maximum(mine == worst ? mineNeed : 0)
                throw RunError("the weight blocks and the buffers of a batch need about \(gib(need)) on the busiest rank at \(points[worst].context), "
                    + "more than this node's available memory allows for its ranks; use more ranks or nodes, a smaller model or batch, "
                    + "a larger tile size, or another --placement")
            }
            var root: RunDirectory? = nil
            var failure: String? = nil
            let keys = first.labels.map(\.key)
            // Per point: 0 runs, 1 resumes from its checkpoint, 2 finished (kept).
            var states = [UInt8](repeating: 0, count: points.count)
            if comm.rank == 0 {
                do {
                    let d = resume ? try RunDirectory(resuming: output, sweep: true) : try RunDirectory(path: output, overwrite: overwrite)
                    let header = (["run"] + keys + ["final_test_accuracy", "best_test_accuracy", "final_train_loss", "epochs",
                                                     "seconds", "weights_digest", "diverged"]).map(csvCell).joined(separator: ",") + "\n"
                    var text = header
                    if resume {
                        // A grid of fewer points than the folder's sweep would drop the rows of the others.
                        let folders = RunDirectory.runFolders(in: output)
                        let beyond = folders.filter { Int($0.dropFirst(4)).map { $0 > points.count } ?? false }
                        if !beyond.isEmpty {
                            throw RunError("sweep --resume: \(output) holds \(folders.count) run folders (up to \(beyond.sorted().last!)), more than "
                                + "this grid's \(points.count) point(s); resume with the axes and seeds the sweep was started with")
                        }
                        for (i, p) in points.enumerated() {
                            let name = String(format: "run-%03d", i + 1)
                            let folder = (output as NSString).appendingPathComponent(name)
                            let (state, row) = try sweepPointState(p, name: name, folder: folder)
                            states[i] = state
                            if let row { text += ([name] + p.labels.map(\.value) + row).map(csvCell).joined(separator: ",") + "\n" }
                        }
                    }
                    try d.write("summary.csv", text: text)
                    root = d
                } catch {
                    failure = "\(error)"
                }
            }
            try agree(comm, failure)
            states = try broadcastBytes(comm, states)
            if resume {
                let kept = states.filter { $0 == 2 }.count, continued = states.filter { $0 == 1 }.count
                say(comm, "resuming the sweep in \(output): \(kept) of \(points.count) point(s) finished"
                    + (continued > 0 ? ", \(continued) continued from a checkpoint" : ""))
            }
            let started = MPI.wallTime
            var diverged = [String]()
            let toRun = states.filter { $0 != 2 }.count
            var ran = 0
            for (i, p) in points.enumerated() where states[i] != 2 {
                let name = String(format: "run-%03d", i + 1)
                // The sweep's own ETA: the mean time of the points run so far in this job, times the points left.
                let elapsed = MPI.wallTime - started
                let eta = ran == 0 ? "" : "; sweep: \(points.count - toRun + ran) of \(points.count) done, \(duration(elapsed)) elapsed, about "
                    + "\(duration(elapsed / Double(ran) * Double(toRun - ran))) left"
                say(comm, "== \(name) (\(i + 1)/\(points.count)): " + p.labels.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + eta)
                // A resumed sweep's unfinished run folder without a checkpoint holds the start of a run that stopped: replaced.
                let r = try train(p.config, data: data, comm: comm, output: (output as NSString).appendingPathComponent(name),
                                  overwrite: overwrite || resume, dataName: Options().dataName, quiet: true, checkpoints: checkpoints,
                                  resume: states[i] == 1, resumeHint: "the same aimc-dist sweep command with --resume")
                ran += 1
                if let why = r.diverged {
                    diverged.append(name)
                    say(comm, "\(name) diverged: \(why)")
                }
                if let root {
                    let best = r.rows.map(\.testAccuracy).max() ?? .nan
                    let last = r.rows.last
                    let cells = [name] + p.labels.map(\.value) + ["\(last?.testAccuracy ?? .nan)", "\(best)", "\(last?.trainLoss ?? .nan)",
                                                                   "\(r.rows.count)", String(format: "%.3f", r.seconds), r.digest,
                                                                   r.diverged == nil ? "false" : "true"]
                    try root.append("summary.csv", cells.map(csvCell).joined(separator: ",") + "\n")
                }
            }
            say(comm, "wrote \(output)/summary.csv (\(points.count) runs in \(duration(MPI.wallTime - started))"
                + (diverged.isEmpty ? ")" : "; \(diverged.count) diverged: \(diverged.prefix(8).joined(separator: ", "))\(diverged.count > 8 ? ", ..." : ""))"))
            return 0
        }
    }

    /// A resumed sweep's point in `folder`: 2 and its summary.csv cells when it finished, 1 when it has a checkpoint,
    /// else 0.
    /// - Throws: `RunError` when the folder holds a run of another configuration than its point's.
    static func sweepPointState(_ point: Sweep.Point, name: String, folder: String) throws -> (UInt8, [String]?) {
        let fm = FileManager.default
        let stored = (folder as NSString).appendingPathComponent("config.json")
        guard fm.fileExists(atPath: stored) else { return (0, nil) }
        let config = try ConfigLoader.load(path: stored, over: .default)
        if Checkpoint.configHash(config) != Checkpoint.configHash(point.config) {
            throw RunError("sweep --resume: \(name) was run with another configuration than its grid point (\(point.context)); "
                + "resume with the options the sweep was started with")
        }
        let summary = (folder as NSString).appendingPathComponent("summary.json")
        if let data = fm.contents(atPath: summary), let table = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let rows = (try? String(contentsOfFile: (folder as NSString).appendingPathComponent("metrics.csv"), encoding: .utf8))?
                .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
            guard let last = rows.last, last.count >= 6 else { return (Checkpoint.latest(in: folder) != nil ? 1 : 0, nil) }
            let best = rows.compactMap { Double($0[2]) }.max() ?? .nan
            let seconds = (table["seconds"] as? Double).map { String(format: "%.3f", $0) } ?? ""
            return (2, [last[2], "\(best)", last[1], "\(rows.count)", seconds, table["weights_digest"] as? String ?? "",
                        (table["diverged"] as? Bool) == true ? "true" : "false"])
        }
        return (Checkpoint.latest(in: folder) != nil ? 1 : 0, nil)
    }

    /// Every rank resolves its configuration itself (it reads `--config` and the options); a file that differs
    /// between nodes, or is edited during the launch, would make the ranks run different experiments and hang or
    /// mix settings. The ranks compare a SHA-256 of their resolved configurations (collective). On a difference the
    /// largest group of ranks that agree is the reference (ties: the group of the lowest rank), its configurations
    /// are broadcast, and each rank outside it names the first keys where it differs: the ranks blamed are the odd
    /// ones out, whichever rank numbers they have. The data folder is not compared: only rank 0 reads it.
    /// - Throws: `RunError` (status 2) naming the ranks and keys.
    static func requireSameConfiguration(_ comm: Communicator, _ configs: [ExperimentConfig]) throws {
        guard comm.size > 1 else { return }
        CollectiveActivity.begin("comparing the ranks' configurations")
        // data.dir is read by rank 0 alone (and made absolute from each rank's working directory): left out.
        let texts = configs.map { c -> Data in
            var c = c
            c.data.dir = ""
            return ConfigLoader.json(c)
        }
        var h = SHA256()
        for t in texts { h.update(data: t) }
        let mine = Array(h.finalize())
        let all = try comm.allgatherBytes(mine, counts: Array(repeating: mine.count, count: comm.size))
        let hashes = (0..<comm.size).map { Array(all[($0 * mine.count)..<(($0 + 1) * mine.count)]) }
        var groups = [(hash: [UInt8], ranks: [Int])]()
        for (r, hash) in hashes.enumerated() {
            if let i = groups.firstIndex(where: { $0.hash == hash }) { groups[i].ranks.append(r) } else { groups.append((hash, [r])) }
        }
        if groups.count == 1 { return }
        // Groups are in order of their lowest rank, so the first of the largest is the reference.
        let reference = groups.first { $0.ranks.count == groups.map(\.ranks.count).max()! }!
        let root = reference.ranks[0]
        // The reference's configurations as one JSON list; each rank outside it compares key by key.
        let list = "[" + texts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]"
        let theirs = try broadcastBytes(comm, Array(list.utf8), root: root)
        var message: String? = nil
        if !reference.ranks.contains(comm.rank) {
            let referenceConfigs = (try? JSONSerialization.jsonObject(with: Data(theirs))) as? [Any] ?? []
            let own = texts.map { try? JSONSerialization.jsonObject(with: $0) }
            var differing = [String]()
            if referenceConfigs.count != own.count {
                differing = ["the number of sweep points (\(own.count) here, \(referenceConfigs.count) there)"]
            } else {
                for (i, (a, b)) in zip(own, referenceConfigs).enumerated() where differing.isEmpty {
                    let keys = Self.differingKeys(a ?? [:], b, prefix: "")
                    if !keys.isEmpty { differing = keys.prefix(4).map { configs.count > 1 ? "\($0) (point \(i + 1))" : $0 } }
                }
            }
            if differing.isEmpty { differing = ["the encoded configuration"] }
            message = "its resolved configuration differs from that of \(Watchdog.ranks(reference.ranks)) at " + differing.joined(separator: ", ")
        }
        if let text = try agreeOnArguments(comm, message) {
            throw RunError(text + "; every rank must read the same --config file and options (a file that differs between nodes, "
                + "or was edited while the job started?)", exitCode: 2)
        }
    }

    /// Dotted keys whose values differ between two decoded JSON tables.
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

    /// A CSV cell: quoted when it holds a comma, a quote or a line break.
    static func csvCell(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// This rank's bytes of weight blocks and working buffers for `config` when they exceed its share of the node's
    /// available memory (with `available` bytes on the node), else 0.
    /// - Throws: `RunError` (status 2) if the network would split into more than `NetworkLayout.maxBlocks` blocks.
    static func memoryShortfall(_ config: ExperimentConfig, data: (train: Dataset, test: Dataset), comm: Communicator,
                                available: Int?) throws -> Double {
        let network: [any NetworkLayer]
        do { network = try NetworkLayout.network(config, input: data.train.shape, classes: data.train.classes) } catch {
            throw RunError(error.description, exitCode: 2)
        }
        // The tables of a network of a million blocks are large themselves: checked before they are built.
        let tables = Double(NetworkLayout.tableBytes(blocks: NetworkLayout.blockCount(network: network, tileSize: config.model.tileSize)))
        if let left = addressSpaceLeft(), tables > 0.9 * Double(left) { return tables }
        if let available, tables * localRanks > 0.9 * Double(available) { return tables }
        let layout = NetworkLayout(network: network, tileSize: config.model.tileSize)
        let modelSize = comm.size / config.replicas
        let placement = Placement(layout: layout, ranks: modelSize, policy: config.placement)
        let rank = comm.rank % modelSize
        let need = Double(Trainer.blockBytes(config: config, layout: layout, placement: placement, rank: rank)
            + Trainer.workingBytes(config: config, layout: layout, placement: placement, rank: rank))
        if let available, need * localRanks > 0.9 * Double(available) { return need }
        if let left = addressSpaceLeft(), need > 0.9 * Double(left) { return need }
        return 0
    }

    /// Bytes this process may still map under its address-space limit (`ulimit -v`, RLIMIT_AS): the limit less
    /// the current virtual size; nil without a limit.
    public static func addressSpaceLeft() -> Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmSize:") }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return max(0, Int(clamping: limit.rlim_cur) - kb * 1024)
    }

    /// Refuses (on every rank, with one message) a job whose data set cannot fit under a rank's address-space
    /// limit: every rank holds the data as Float and, while it travels, a serialised copy (collective).
    static func requireAddressSpaceForData(_ comm: Communicator, _ config: ExperimentConfig) throws {
        let d = config.data, t = config.training
        // IDX files: at most the Fashion-MNIST sizes are assumed when no limit is given (other sets are similar).
        let train = d.source == .teacher ? d.trainSamples : 60_000, test = d.source == .teacher ? d.testSamples : 10_000
        let samples = (t.trainLimit > 0 ? min(t.trainLimit, train) : train) + (t.testLimit > 0 ? min(t.testLimit, test) : test)
        var bytes = 2 * Double(samples) * Double((d.source == .teacher ? d.features : 784) + 1) * 4
        // The coordinator reads the samples it uses from the IDX files (the header is checked against the file first).
        if comm.rank == 0 && d.source == .idx { bytes += Double(samples) * 785 }
        let short = addressSpaceLeft().map { bytes > 0.9 * Double($0) } ?? false
        if try comm.maximum(short ? 1 : 0) > 0 {
            let mib = { (b: Double) in String(format: "%.0f MiB", b / 1_048_576) }
            throw RunError("the data set does not fit under the address-space limit (ulimit -v) of a rank: it takes about "
                + "\(mib(2 * Double(samples) * 785 * 4)) on every rank"
                + (d.source == .idx ? ", and rank 0 reads them from the files (\(mib(Double(samples) * 785)))" : "")
                + "; raise the limit, or use --train-limit / --test-limit")
        }
    }

    /// MPI start, launcher check, agreement on command-line errors, then `body` on the world communicator, with
    /// the error policy of this type. Returns the exit status.
    static func job(argumentError: String?, _ body: (Communicator) throws -> Int32) -> Int32 {
        aimc_line_buffered_stdout()
        do {
            try MPI.initialize()
        } catch {
            printError("cannot start MPI: \(error)")
            return 1
        }
        defer { MPI.finalize() }
        let comm = Communicator.world()
        let launcher = Launcher.current
        if let problem = launcher.mismatch(worldSize: comm.size) {
            if launcher.isPrintingRank { printError(problem) }
            return 1
        }
        do {
            CollectiveActivity.begin("checking every rank's command line")
            if let message = try agreeOnArguments(comm, argumentError) {
                if comm.rank == 0 { printError(message) }
                return 2
            }
        } catch {
            printError("rank \(comm.rank): \(error)")
            MPI.abort(code: 1)
        }
        do {
            return try body(comm)
        } catch let e as RunError {
            if comm.rank == 0 { printError(e.message) }
            return e.exitCode
        } catch let e as Stopped {
            if comm.rank == 0 { print(e.message) }
            return stoppedStatus
        } catch let e as CheckpointError {
            // Agreed by every rank (Checkpoint's collectives): one line, status 1.
            if comm.rank == 0 { printError(e.message) }
            return 1
        } catch {
            // Alone, a plain exit (no MPI_Abort banner); with other ranks, MPI_Abort ends them all.
            if comm.size == 1 {
                printError("\(error)")
                return 1
            }
            printError("rank \(comm.rank): \(error)")
            MPI.abort(code: 1)
        }
    }

    /// For a command line that failed to parse on this rank: when started by a launcher, joins the other ranks'
    /// agreement so that every rank exits 2 and rank 0 prints one message. Returns the exit status.
    public static func argumentFailure(_ message: String) -> Int32 {
        if Launcher.current.launcher == nil {
            printError(message)
            return 2
        }
        return main(config: nil, argumentError: message, options: Options())
    }

    /// Gathers every rank's command-line error; returns the message rank 0 prints, or nil if all succeeded.
    static func agreeOnArguments(_ comm: Communicator, _ mine: String?) throws -> String? {
        let bytes = Array((mine ?? "").utf8)
        let lengths = try comm.allgatherBytes(withUnsafeBytes(of: Int64(bytes.count).littleEndian) { Array($0) },
                                              counts: Array(repeating: 8, count: comm.size))
        let counts = (0..<comm.size).map { r in
            Int(lengths[(8 * r)..<(8 * r + 8)].withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) })
        }
        if counts.allSatisfy({ $0 == 0 }) { return nil }
        let all = try comm.allgatherBytes(bytes, counts: counts)
        var messages = [String](), offset = 0
        for c in counts {
            messages.append(String(decoding: all[offset..<(offset + c)], as: UTF8.self))
            offset += c
        }
        var distinct = [(String, [Int])]()
        for (r, m) in messages.enumerated() where !m.isEmpty {
            if let i = distinct.firstIndex(where: { $0.0 == m }) { distinct[i].1.append(r) } else { distinct.append((m, [r])) }
        }
        if distinct.count == 1 && distinct[0].1.count == comm.size { return distinct[0].0 }
        return distinct.map { m, ranks in
            let who = ranks.count == 1 ? "rank \(ranks[0])" : "ranks \(ranks.map(String.init).joined(separator: ","))"
            return "\(who): \(m)"
        }.joined(separator: "; ")
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("aimc-dist: error: \(message)\n".utf8))
    }

    static func say(_ comm: Communicator, _ line: String) {
        if comm.rank == 0 { print(line) }
    }

    /// Every rank learns whether the coordinator's step succeeded; on failure all ranks throw the same RunError
    /// (printed once, by rank 0).
    static func agree(_ comm: Communicator, _ failure: String?) throws {
        var bytes = Array((failure ?? "").utf8)
        var count = Int64(bytes.count)
        count = try comm.broadcast(count)
        if comm.rank != 0 { bytes = [UInt8](repeating: 0, count: Int(count)) }
        if count > 0 {
            try bytes.withUnsafeMutableBytes { try comm.broadcast($0, root: 0) }
            throw RunError(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// Ranks of this job on this node (OpenMPI's local size; 1 without a launcher).
    static var localRanks: Double {
        Double(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1)
    }

    /// Bytes of memory available to new allocations on this node (Linux MemAvailable), or nil.
    public static func availableMemory() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    public static func gib(_ b: Double) -> String { String(format: "%.2f GiB", b / 1_073_741_824) }

    /// The coordinator reads and checks the data files, then broadcasts them (collective).
    static func loadData(_ comm: Communicator, _ config: ExperimentConfig) throws -> (train: Dataset, test: Dataset) {
        CollectiveActivity.begin("reading and broadcasting the data")
        try requireAddressSpaceForData(comm, config)
        var trainBytes = [UInt8](), testBytes = [UInt8]()
        var failure: String? = nil
        if comm.rank == 0 {
            do {
                let d = config.data
                let train: Dataset, test: Dataset
                if d.source == .teacher {
                    let trainCount = config.training.trainLimit > 0 ? min(config.training.trainLimit, d.trainSamples) : d.trainSamples
                    let testCount = config.training.testLimit > 0 ? min(config.training.testLimit, d.testSamples) : d.testSamples
                    // Every rank holds the data set, and a serialised copy while it travels.
                    let bytes = 2 * Double(trainCount + testCount) * Double(d.features + 1) * 4
                    if let available = availableMemory(), bytes * localRanks > 0.9 * Double(available) {
                        throw RunError("teacher data of \(trainCount + testCount) samples x \(d.features) features needs about \(gib(bytes)) on "
                            + "every rank, more than this node's available memory allows for its \(Int(localRanks)) rank(s); use fewer "
                            + "--train-samples or --features, or a --train-limit")
                    }
                    train = Dataset.teacher(features: d.features, classes: d.classes, count: trainCount, seed: config.seed, part: 0)
                    test = Dataset.teacher(features: d.features, classes: d.classes, count: testCount, seed: config.seed, part: 1)
                } else {
                    train = try Dataset.loadMNISTFormat(directory: d.dir, prefix: "train", limit: config.training.trainLimit)
                    test = try Dataset.loadMNISTFormat(directory: d.dir, prefix: "t10k", limit: config.training.testLimit)
                }
                if train.features != test.features {
                    failure = "training images have \(train.features) pixels but test images \(test.features)"
                }
                trainBytes = train.serialized()
                testBytes = test.serialized()
            } catch {
                failure = "\(error)"
            }
        }
        try agree(comm, failure)
        let train = Dataset(serialized: try broadcastBytes(comm, trainBytes))
        let test = Dataset(serialized: try broadcastBytes(comm, testBytes))

        return (train, test)
    }

    struct Result {
        let rows: [EpochMetrics]
        let digest: String
        let seconds: Double
        /// Why the run diverged (`Divergence.reason`), if it did.
        let diverged: String?
    }

    /// The exit status of a training run that diverged (see `Divergence`).
    public static let divergedStatus: Int32 = 3

    /// "  epoch 1/3: step 1200/6000 (20%), train loss 0.8123, 310 steps/s; 4 s into the epoch, about 15 s left in it,
    /// about 1 min 02 s in the run": the rate is this epoch's; the run's remainder adds the later epochs' steps at that
    /// rate and their evaluations at the last one's duration.
    static func progressLine(epoch: Int, epochs: Int, done: Int, total: Int, loss: Double, epochSeconds: Double, runSeconds: Double,
                             evaluationSeconds: Double?) -> String {
        let rate = Double(done) / max(epochSeconds, 1e-9)
        let epochLeft = Double(total - done) / rate
        var text = String(format: "  epoch %ld/%ld: step %ld/%ld (%.0f%%), train loss %.4f, %.1f steps/s; ", epoch, epochs, done, total,
                          100 * Double(done) / Double(total), loss, rate) + "\(duration(runSeconds)) elapsed, about \(duration(epochLeft)) left in the epoch"
        if epoch < epochs {
            let later = Double(epochs - epoch)
            let runLeft = epochLeft + later * Double(total) / rate + (later + 1) * (evaluationSeconds ?? 0)
            text += ", about \(duration(runLeft)) in the run" + (evaluationSeconds == nil ? " (plus evaluations)" : "")
        }
        return text
    }

    /// "45 s", "3 min 20 s", "2 h 05 min".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return String(format: "%ld min %02ld s", s / 60, s % 60) }
        return String(format: "%ld h %02ld min", s / 3600, (s % 3600) / 60)
    }


    /// Writes the step-0 checkpoint of `trainer` into `folder` and, on rank 0, `folder/order.npy`: the order of the
    /// `samples` training samples in each epoch (`Trainer.permutation`), int64, epochs x samples. Collective.
    static func saveInitial(_ trainer: Trainer, config: ExperimentConfig, samples: Int, to folder: String, comm: Communicator) throws {
        let path = try Checkpoint.write(trainer, runFolder: folder, metrics: [])
        var failure: String? = nil
        if comm.rank == 0 {
            let epochs = config.training.epochs
            var order = [Int64]()
            order.reserveCapacity(epochs * samples)
            for e in 1...epochs { order += Trainer.permutation(count: samples, seed: config.seed, epoch: e).map { Int64($0) } }
            let file = (folder as NSString).appendingPathComponent("order.npy")
            let error = order.withUnsafeBytes { b -> NPYError? in
                do throws(NPYError) {
                    try NPY.write(NPY.Header(dtype: .int64, shape: [epochs, samples]), data: b, to: file)
                    return nil
                } catch { return error }
            }
            if let error { failure = "cannot write the sample order into \(folder) (\(error))" }
        }
        try agree(comm, failure)
        say(comm, "initial weights: \(path); sample order of \(config.training.epochs) epoch(s): \((folder as NSString).appendingPathComponent("order.npy"))")
    }

    /// One training run on data every rank holds: memory check, run folder, header, epochs (from the newest
    /// checkpoint when `resume`), checkpoints, digest, summary.
    static func train(_ config: ExperimentConfig, data: (train: Dataset, test: Dataset), comm: Communicator, output: String?,
                      overwrite: Bool, dataName: String, quiet: Bool = false, reportCommunication: Bool = false,
                      checkpoints: CheckpointPolicy = CheckpointPolicy(), resume: Bool = false,
                      resumeHint: String? = nil) throws -> Result {
        let (train, test) = data
        Watchdog.timeout = config.training.stallTimeout
        CollectiveActivity.begin("setting up the run (memory check, run folder, weight blocks)")
        // Memory: refuse a model that cannot fit before allocating it.
        if comm.size % config.replicas != 0 {
            throw RunError("--replicas \(config.replicas) must divide the number of ranks \(comm.size) (ranks = replicas x ranks per model)", exitCode: 2)
        }
        let largest = try comm.maximum(try memoryShortfall(config, data: data, comm: comm, available: availableMemory()))
        if largest > 0 {
            throw RunError("the weight blocks and the buffers of a batch need about \(gib(largest)) on the busiest rank, more than this "
                + "node's available memory allows for its \(Int(localRanks)) rank(s) (or the address-space limit, ulimit -v, allows a rank); use more ranks or nodes, a smaller --hidden or "
                + "--batch-size, a larger --tile-size, or another --placement")
        }


        // Per-tile telemetry: into the run folder only, and only for algorithms with tiles (known to every rank).
        let recordsTiles = output != nil && config.telemetry.tiles && config.algorithm.arrayCount > 0
        if recordsTiles {
            let network = try NetworkLayout.network(config, input: data.train.shape, classes: data.train.classes)
            let tiles = NetworkLayout.blockCount(network: network, tileSize: config.model.tileSize) * config.algorithm.arrayCount
            if TileTelemetry.recordBytes(tiles: tiles) > Int(Int32.max) {
                throw RunError("per-tile telemetry of \(tiles) tiles would gather \(gib(Double(TileTelemetry.recordBytes(tiles: tiles)))) per record, "
                    + "more than one MPI message holds (2 GiB); use a larger --tile-size or --set telemetry.tiles=false", exitCode: 2)
            }
        }

        // Output folder, on the coordinator; when resuming, its newest checkpoint.
        var directory: RunDirectory? = nil
        var failure: String? = nil
        var checkpointPath = ""
        if comm.rank == 0, let path = output {
            do {
                if resume {
                    let d = try RunDirectory(resuming: path)
                    guard let latest = Checkpoint.latest(in: path) else {
                        throw OutputError("--resume \(path) holds no complete checkpoint (a checkpoint is written at each epoch's end, every "
                            + "--checkpoint-every steps and on SIGUSR1/SIGTERM); start the run again without --resume (with --overwrite to replace what it holds)")
                    }
                    checkpointPath = latest
                    directory = d
                } else {
                    let d = try RunDirectory(path: path, overwrite: overwrite)
                    try d.write("config.json", ConfigLoader.recordedJSON(config))
                    try d.startMetrics()
                    if recordsTiles { try d.write("tiles.csv", text: TileTelemetry.header(config)) }
                    directory = d
                }
            } catch {
                failure = "\(error)"
            }
        }
        try agree(comm, failure)

        let trainer = try Trainer(config: config, comm: comm, train: train, test: test)
        var rows = [EpochMetrics]()
        var tilesKept = 0, tilesProblem: String? = nil
        if resume {
            checkpointPath = String(decoding: try broadcastBytes(comm, Array(checkpointPath.utf8)), as: UTF8.self)
            rows = try Checkpoint.restore(trainer, from: checkpointPath)
            // Nothing to continue (checked on every rank, before any file changes): a run that diverged, or one that
            // has already trained the epochs asked for.
            let done = trainer.epochProgress
            if let last = rows.last, let why = Divergence.reason(last, classes: train.classes) {
                throw RunError("--resume \(output ?? ""): the run diverged in epoch \(rows.count) (\(why)); there is nothing to continue; "
                    + "start it again with other settings (--output DIR --overwrite)")
            }
            if done.epoch > config.training.epochs {
                let have = done.stepsDone > 0 ? "is in epoch \(done.epoch) (\(done.stepsDone) step(s) of it done)" : "has finished \(rows.count) epoch(s)"
                throw RunError("--resume \(output ?? ""): the run \(have); give --epochs \(max(done.epoch, rows.count + 1)) or more to train on")
            }
            failure = nil
            if let directory {
                // The metrics of the epochs before the checkpoint (later rows of a run stopped after it are redone),
                // config.json with the epochs (and placement, replicas) of this run, and no summary.json until it ends.
                do {
                    // tiles.csv first: it keeps the records up to the checkpoint's step (later ones are recorded again),
                    // and a file that cannot be rewritten (a folder in its place) stops the resume before anything
                    // else changes.
                    if recordsTiles {
                        let kept = try TileTelemetry.truncate(in: directory, throughStep: trainer.step, config: config,
                                                              tilesPerRecord: trainer.layout.blocks.count * config.algorithm.arrayCount)
                        tilesKept = kept.records
                        tilesProblem = kept.problem
                    }
                    try directory.write("metrics.csv", text: RunDirectory.metricsCSV(rows))
                    try directory.write("config.json", ConfigLoader.recordedJSON(config))
                    try directory.remove("summary.json")
                } catch { failure = error.description }
            }
            try agree(comm, failure)
        }
        if let initial = checkpoints.initial, !resume { try saveInitial(trainer, config: config, samples: train.count, to: initial, comm: comm) }
        let shownData = config.data.source == .teacher ? "a teacher-student task (\(config.data.features) inputs, \(config.data.classes) classes)"
            : config.data.dir == DataConfig().dir ? dataName : config.data.dir
        for line in Report.header(config: config, layout: trainer.layout, placement: trainer.placement, train: train,
                                  test: test, dataName: shownData) where !quiet || line.hasPrefix("  algorithm") {
            say(comm, line)
        }
        let p = trainer.epochProgress
        if resume {
            say(comm, "resumed from \(checkpointPath): epoch \(p.epoch), \(p.stepsDone) step(s) of it done (global step \(trainer.step)); "
                + "\(rows.count) epoch(s) in metrics.csv")
            // Rank 0 read the file: it alone knows (the other ranks' copy is nil).
            if let tilesProblem { FileHandle.standardError.write(Data("aimc-dist: warning: \(tilesProblem)\n".utf8)) }
        }
        let started = MPI.wallTime
        let cpuAtStart = ProcessClock.cpuSeconds()
        // Tile records (collective): the tiles gathered to rank 0, which appends one record to tiles.csv.
        var tileRecords = tilesKept, gatherSeconds = [Double](), writeSeconds = [Double]()
        func recordTiles(epoch: Int, step: Int64) throws {
            guard recordsTiles else { return }
            let t0 = MPI.wallTime
            let gathered = try trainer.gatherTiles(measure: true)
            let t1 = MPI.wallTime
            if let gathered, let directory {
                try directory.append("tiles.csv", TileTelemetry.rows(gathered, record: tileRecords, epoch: epoch, step: step, config: config,
                                                                      layout: trainer.layout, placement: trainer.placement))
            }
            gatherSeconds.append(t1 - t0)
            writeSeconds.append(MPI.wallTime - t1)
            tileRecords += 1
        }
        if !resume { try recordTiles(epoch: 0, step: 0) }
        let tileEvery = Int64(config.telemetry.every)
        let epochs = config.training.epochs
        var diverged: String? = rows.last.flatMap { Divergence.reason($0, classes: train.classes) }
        var stepsDone = 0, evaluationSeconds: Double? = nil
        // Checkpoint and stop requests (only with a folder to write them to): checked every `checkEvery` steps, which
        // rank 0 sets so that checks come about ten times a second.
        if output != nil { StopRequest.install() }
        var sinceCheck = 0, checkEvery = 1, lastCheck = MPI.wallTime
        var checkpointCount = 0, checkpointSeconds = 0.0
        var lastCheckpoint = ""
        @discardableResult
        func checkpoint() throws -> String {
            guard let output else { return "" }
            let t0 = MPI.wallTime
            lastCheckpoint = try Checkpoint.write(trainer, runFolder: output, metrics: rows)
            checkpointSeconds += MPI.wallTime - t0
            checkpointCount += 1
            return lastCheckpoint
        }
        for epoch in p.epoch...max(epochs, p.epoch) where epoch <= epochs && diverged == nil {
            let epochStart = MPI.wallTime
            var lastPrint = epochStart
            let every = config.training.progressSeconds
            let progress: ((Int, Int, Double) -> Void)? = comm.rank == 0 && every > 0 ? { done, total, loss in
                let now = MPI.wallTime
                if now - lastPrint >= every && done < total {
                    lastPrint = now
                    say(comm, progressLine(epoch: epoch, epochs: epochs, done: done, total: total, loss: loss, epochSeconds: now - epochStart,
                                           runSeconds: now - started, evaluationSeconds: evaluationSeconds))
                }
            } : nil
            let afterStep: ((Int, Int) throws -> Bool)? = output == nil ? nil : { done, total in
                // A tile record before a checkpoint of the same step (a resume keeps the records up to its step).
                if tileEvery > 0 && trainer.step % tileEvery == 0 && done < total { try recordTiles(epoch: epoch, step: trainer.step) }
                if checkpoints.everySteps > 0 && done < total && trainer.step % Int64(checkpoints.everySteps) == 0 { try checkpoint() }
                sinceCheck += 1
                guard sinceCheck >= checkEvery else { return false }
                sinceCheck = 0
                let now = MPI.wallTime
                let proposal = Int64(max(1, min(1000, (0.1 / max((now - lastCheck) / Double(checkEvery), 1e-6)).rounded())))
                lastCheck = now
                var mine = [UInt8]()
                withUnsafeBytes(of: Int64(StopRequest.received).littleEndian) { mine += $0 }
                withUnsafeBytes(of: proposal.littleEndian) { mine += $0 }
                let all = try comm.allgatherBytes(mine, counts: Array(repeating: 16, count: comm.size))
                func value(_ o: Int) -> Int64 { all[o..<(o + 8)].withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) } }
                checkEvery = Int(value(8))
                let signals = (0..<comm.size).map { value(16 * $0) }
                guard let signal = signals.first(where: { $0 != 0 }) else { return false }
                let path = try checkpoint()
                let name = StopRequest.name(signal)
                throw Stopped(message: "stopped by \(name) after global step \(trainer.step) (epoch \(epoch), step \(done) of \(total)); "
                    + "checkpoint written to \(path); continue with: " + (resumeHint ?? "aimc-dist train --resume \(output!)"))
            }
            let stepsBefore = trainer.stepSeconds.count
            guard let m = try trainer.runEpoch(epoch, progress: progress, afterStep: afterStep) else { break }
            rows.append(m)
            stepsDone += trainer.stepSeconds.count - stepsBefore
            evaluationSeconds = max(0, m.seconds - trainer.stepSeconds[stepsBefore...].reduce(0, +))
            say(comm, Report.epochLine(m, epochs: epochs))
            try directory?.appendMetrics(m)
            try recordTiles(epoch: epoch, step: trainer.step)
            if let why = Divergence.reason(m, classes: train.classes) {
                diverged = why
                if epoch < epochs { say(comm, "stopping: training diverged (\(why))") }
            }
            if checkpoints.atEpochs || epoch == epochs || diverged != nil { try checkpoint() }
        }
        CollectiveActivity.begin("the end-of-run report and weights digest")
        let digest = try trainer.weightsDigest()
        let elapsed = MPI.wallTime - started
        // Time per rank, averaged over ranks: compute, and communication including waiting for other ranks.
        let compute = try comm.sum(trainer.timing.computeSeconds) / Double(comm.size)
        let communication = try comm.sum(trainer.timing.communicationSeconds) / Double(comm.size)
        let pulses = trainer.pulseStatistics
        let totalPulses = UInt64(try comm.sum(Double(pulses.gradient.coincidences &+ pulses.transfer.coincidences))) / UInt64(config.replicas)
        let zeroShift = UInt64(try comm.sum(Double(trainer.zeroShiftPulses))) / UInt64(config.replicas)
        // Ranks sharing cores: the busiest node, and how many cores the ranks kept busy (CPU time over wall time).
        let nodeRanks = try comm.allgather(Double(Watchdog.nodeRanks)), nodeCores = try comm.allgather(Double(Watchdog.nodeCores))
        let crowded = (0..<comm.size).max { nodeRanks[$0] / nodeCores[$0] < nodeRanks[$1] / nodeCores[$1] } ?? 0
        let oversubscribed = nodeRanks[crowded] > nodeCores[crowded]
        let cpu = try comm.allgather(ProcessClock.cpuSeconds() - cpuAtStart)
        let busy = (0..<comm.size).filter { nodeRanks[$0] == nodeRanks[crowded] && nodeCores[$0] == nodeCores[crowded] }.map { cpu[$0] }
        if oversubscribed {
            let ranksHere = Int(nodeRanks[crowded]), cores = Int(nodeCores[crowded])
            // On one node every rank of it is listed; over several such nodes, the cores busy per node on average.
            let nodes = max(1, busy.count / max(ranksHere, 1))
            let plural = cores == 1 ? "" : "s"
            say(comm, String(format: "time: %.1f s; ", elapsed) + "the ranks were oversubscribed: \(ranksHere) ranks shared \(cores) core\(plural) "
                + String(format: "per node and kept %.1f of them busy, ", busy.reduce(0, +) / Double(nodes) / max(elapsed, 1e-9))
                + "so a rank waited mostly for a core, not for communication (use at most \(cores) rank\(plural) per node for speed); "
                + "\(totalPulses) device pulses (per replica)" + (zeroShift > 0 ? "; \(zeroShift) zero-shift pulses" : ""))
        } else {
            say(comm, String(format: "time: %.1f s; per rank on average: compute %.1f s, communication and waiting %.1f s; %llu device pulses (per replica)",
                             elapsed, compute, communication, totalPulses)
                + (zeroShift > 0 ? "; \(zeroShift) zero-shift pulses" : ""))
        }
        // The training loop alone (the steps, as other simulators time their training loops) and the whole processes.
        let trainingSeconds = trainer.stepSeconds.reduce(0, +)
        let cpuNow = ProcessClock.cpuSeconds()
        let trainingCPU = try comm.sum(trainer.stepCPUSeconds), processCPU = try comm.sum(cpuNow - cpuMark)
        cpuMark = cpuNow
        if !trainer.stepSeconds.isEmpty {
            let steps = trainer.stepSeconds.sorted()
            let stepComm = try comm.sum(trainer.stepTiming.communicationSeconds) / Double(comm.size)
            let stepAll = try comm.sum(trainer.stepSeconds.reduce(0, +)) / Double(comm.size)
            let share = oversubscribed ? "waiting (for cores and for messages)" : "communication and waiting"
            say(comm, String(format: "training steps: %ld, median %.4f s per step on rank 0, ", steps.count, steps[steps.count / 2])
                + share + String(format: " %.1f%% of step time (mean over ranks)", 100 * stepComm / max(stepAll, 1e-12)))
            let ranks = comm.size > 1 ? " summed over \(comm.size) ranks" : ""
            say(comm, String(format: "training loop: %.3g s on rank 0, %.3g CPU s", trainingSeconds, trainingCPU) + ranks
                + " (the steps alone: no start-up, data reading or evaluation); "
                + String(format: "the whole process: %.3g CPU s", processCPU) + (comm.size > 1 ? " summed over ranks" : ""))
        }
        // The hardware estimate from every tile's counters (gathered to rank 0, O(tiles) bytes).
        var estimate: HardwareEstimate? = nil
        if config.algorithm.arrayCount > 0, let tiles = try trainer.gatherTiles(measure: false) {
            let model = CostModel(config.cost)
            let cost = model.run(tiles.tiles.map { ($0.block, $0.counters) }, layout: trainer.layout)
            estimate = HardwareEstimate(cost: cost, costs: config.cost, replicas: config.replicas)
            say(comm, model.describe(cost) + (config.replicas > 1 ? " (per replica)" : ""))
        }
        if recordsTiles {
            let records = Double(max(tileRecords, 1))
            let measure = try comm.maximum(trainer.tileMeasureSeconds) / records
            // The rank that arrives last at a gather waits for nobody: the least time in the gathers is the transfer's.
            let gather = -(try comm.maximum(-trainer.tileGatherSeconds)) / records
            let tiles = trainer.layout.blocks.count * config.algorithm.arrayCount
            func median(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.sorted()[v.count / 2] }
            // Every rank waits in the gather for the slowest measure, so rank 0's time in records is the job's.
            let recordSeconds = gatherSeconds.reduce(0, +) + writeSeconds.reduce(0, +)
            say(comm, String(format: "tile telemetry: %ld records of %ld tiles in tiles.csv, %ld bytes gathered per record; per record: "
                             + "measure %.1f ms (slowest rank), gather %.2f ms (least over ranks), write %.1f ms, all %.1f ms (rank 0, median); "
                             + "the %ld records written by this run took %.2f s, %.2f%% of its time",
                             tileRecords, tiles, TileTelemetry.recordBytes(tiles: tiles), 1e3 * measure, 1e3 * gather,
                             1e3 * median(writeSeconds), 1e3 * median(zip(gatherSeconds, writeSeconds).map { $0 + $1 }),
                             gatherSeconds.count, recordSeconds, 100 * recordSeconds / max(elapsed, 1e-12)))
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peaks = try comm.allgather(Double(usage.ru_maxrss) / 1024)
        let sortedPeaks = peaks.sorted()
        say(comm, String(format: "peak resident memory per rank: min %.0f MiB, median %.0f MiB, max %.0f MiB (rank %d)",
                         sortedPeaks.first!, sortedPeaks[sortedPeaks.count / 2], sortedPeaks.last!, peaks.firstIndex(of: sortedPeaks.last!)!))
        if checkpointCount > 0, comm.rank == 0 {
            let bytes = ((try? FileManager.default.contentsOfDirectory(atPath: lastCheckpoint)) ?? []).reduce(0) { sum, name in
                sum + (((try? FileManager.default.attributesOfItem(atPath: (lastCheckpoint as NSString).appendingPathComponent(name)))?[.size] as? Int) ?? 0)
            }
            print(String(format: "checkpoints: %d written, %.2f s in all; the last (%.1f MiB): ", checkpointCount, checkpointSeconds, Double(bytes) / 1_048_576)
                + lastCheckpoint)
        }
        if reportCommunication {
            let measured = trainer.firstStepBytes ?? (0, 0)
            let sent = try comm.allgather(Double(measured.sent)), received = try comm.allgather(Double(measured.received))
            let model = CommunicationModel.perStep(layout: trainer.layout, placement: trainer.placement, replicas: config.replicas,
                                                   batch: min(config.training.batchSize, trainer.train.count))
            say(comm, "communication of the first training step (payload bytes; model = CommunicationModel):")
            say(comm, "  rank        sent    received   model sent  model received  messages")
            for r in 0..<comm.size {
                say(comm, String(format: "  %4d  %10.0f  %10.0f  %11llu  %14llu  %8d", r, sent[r], received[r], model[r].sent,
                                 model[r].received, model[r].messages))
            }
        }
        say(comm, "weights digest: \(digest)")
        if let directory, let last = rows.last {
            let summary = Summary(weightsDigest: digest, epochs: rows.count, finalTestAccuracy: last.testAccuracy,
                                  finalTrainLoss: last.trainLoss, diverged: diverged != nil, seconds: elapsed, ranks: comm.size,
                                  devicePulses: totalPulses, zeroShiftPulses: zeroShift, trainingSeconds: trainingSeconds,
                                  trainingCPUSeconds: trainingCPU, cpuSeconds: processCPU, hardwareEstimate: estimate,
                                  tileRecords: recordsTiles ? tileRecords : nil)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try directory.write("summary.json", try encoder.encode(summary))
        }
        return Result(rows: rows, digest: digest, seconds: elapsed, diverged: diverged)
    }

    static func broadcastBytes(_ comm: Communicator, _ bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        var n = Int64(bytes.count)
        n = try comm.broadcast(n, root: root)
        var out = comm.rank == root ? bytes : [UInt8](repeating: 0, count: Int(n))
        try out.withUnsafeMutableBytes { try comm.broadcast($0, root: root) }
        return out
    }
}
