import AIMCCluster
import AIMCCore
import AIMCTraining
import ArgumentParser
import Foundation

extension Algorithm: ExpressibleByArgument {}
extension UpdateMode: ExpressibleByArgument {}
extension UpdateGranularity: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}
extension PlacementPolicy: ExpressibleByArgument {}
extension DataConfig.Source: ExpressibleByArgument {}

/// `aimc-dist train` (the default command): one training job over MPI.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network on simulated analog tiles spread over MPI ranks (the default command).",
        discussion: """
        Without options this runs the embedded default experiment: the paper's FCN 784-256-128-10 (sigmoid) on \
        Fashion-MNIST with Residual Learning on a soft-bounds device behind the Table 4 periphery, seed 0.

        Examples (from the source folder; scripts/run.sh wraps mpirun and adds --allow-run-as-root and \
        --oversubscribe when they are needed):
          scripts/run.sh -n 8
          scripts/run.sh -n 2 --algorithm analog-sgd --epochs 1 --train-limit 2000
          scripts/run.sh -n 4 --device-preset paper-power --zero-shift ideal
          scripts/run.sh -n 2 --preset aihwkit-tiki-taka --lr 0.1 --batch-size 8
          .build/release/aimc-dist --algorithm digital-sgd --epochs 3 --output runs/dsgd
          .build/release/aimc-dist --update-mode expected --ideal-io --asymmetry -0.2
          .build/release/aimc-dist --config runs/dsgd/config.json --seed 1 --output runs/dsgd-seed1
        Small limits such as --epochs 1 --train-limit 2000 are smoke tests: at 200 steps of batch 10 every \
        algorithm is still near chance (digital SGD too); the README's results train whole epochs.
        Options override a --config file (JSON or YAML), which overrides the defaults. Negative values work as \
        --asymmetry -0.2 or --asymmetry=-0.2. Each option may be given once.

        Exit status: 0 done; 1 a problem found at run time (data, output folder, memory, standard output); 2 bad \
        input; 3 the run diverged (an epoch's training or test loss is not finite, or its mean training loss exceeds \
        1000 ln(classes), 2303 for ten classes: the run stops after that epoch, summary.json says diverged: true); \
        4 the job stalled (a rank waited --stall-timeout seconds at one collective; the line names the ranks that do \
        not answer).
        """)

    @Option(help: ArgumentHelp("Experiment configuration (JSON or YAML); options override it.", valueName: "file"))
    var config: String?
    @Option(help: ArgumentHelp("Start from a named experiment (see `aimc-dist sweep --list`); --config and options override it.", valueName: "name"))
    var experiment: String?
    @Option(help: ArgumentHelp("Run folder: config.json, metrics.csv, tiles.csv (per-tile telemetry), summary.json, checkpoints/ (the newest checkpoint: the final weights, or where to resume).", valueName: "dir")) var output: String?
    @Flag(help: "Replace the run in --output if there is one.") var overwrite = false
    @Option(help: ArgumentHelp("Continue the run in this folder from its newest checkpoint (its config.json is the configuration; options may change only --epochs, --placement, --replicas, --progress-seconds, --stall-timeout and --data-dir). Works at any rank count.", valueName: "dir"))
    var resume: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("With --output: also write a checkpoint every n training steps (0 = at epoch ends only; default 0). SIGUSR1 or SIGTERM to the ranks writes one and stops the run (exit status 75).", valueName: "n"))
    var checkpointEvery: Int = 0
    @Flag(help: "With --output: write checkpoints only after the last epoch (the final weights) and on SIGUSR1/SIGTERM, not at every epoch's end.")
    var lastCheckpointOnly = false
    @Option(help: ArgumentHelp("Also write the starting point into this folder: the step-0 checkpoint (scripts/weights.py reads it) and order.npy, each epoch's order of the training samples (for paired comparisons, e.g. scripts/aihwkit_conformance.py).", valueName: "dir"))
    var saveInitial: String?
    @Flag(help: "Print each rank's bytes of the first training step and the communication model's prediction.") var reportComm = false
    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Set any configuration key (repeatable), e.g. --set algorithm.rider_eta=0.2 or --set 'model.hidden=[512,256]'; applied after the other options.",
        valueName: "key=value")) var assignments: [String] = []
    @OptionGroup(title: "Training") var options: TrainOptions

    /// Defaults, then --experiment, then --config, then options; validated. With --resume: the run folder's
    /// config.json, then options.
    func resolved() throws -> ExperimentConfig {
        if output?.isEmpty == true {
            throw ConfigError(key: "", option: "--output", message: "must name a folder; got an empty path")
        }
        if saveInitial?.isEmpty == true {
            throw ConfigError(key: "", option: "--save-initial", message: "must name a folder; got an empty path")
        }
        if overwrite && output == nil {
            throw ConfigError(key: "", option: "--overwrite", message: "needs --output (the run folder to replace)")
        }
        guard checkpointEvery >= 0 && checkpointEvery <= 1_000_000_000 else {
            throw ConfigError(key: "", option: "--checkpoint-every", message: "must be an integer in 0...1000000000 (0 = at epoch ends only); got \(checkpointEvery)")
        }
        if let resume {
            if resume.isEmpty { throw ConfigError(key: "", option: "--resume", message: "must name a run folder; got an empty path") }
            for (given, option) in [(config != nil, "--config"), (experiment != nil, "--experiment"), (overwrite, "--overwrite"),
                                    (saveInitial != nil, "--save-initial")] where given {
                throw ConfigError(key: "", option: "--resume", message: "continues the run with its own config.json; it cannot be combined with \(option)")
            }
            if let output, output != resume {
                throw ConfigError(key: "", option: "--resume", message: "writes into the folder it continues; drop --output \(output) (or give the same folder)")
            }
            let stored = (resume as NSString).appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: stored) else {
                throw ConfigError(key: "", option: "--resume", message: "\(resume) holds no run (no config.json); name the --output folder of the run to continue")
            }
            return try Self.resolve(experiment: nil, config: stored, options: options, assignments: assignments)
        }
        return try Self.resolve(experiment: experiment, config: config, options: options, assignments: assignments)
    }

    /// The default experiment, then the named `experiment`, then the `config` file, then `options`, then the
    /// `--set` assignments; resolved and validated. Used by train and plan.
    /// - Throws: `ConfigError` or `ConfigFileError`; a bad value the file gave (and no option replaced) is named as
    ///   the file's.
    static func resolve(experiment: String?, config: String?, options: TrainOptions, assignments: [String] = []) throws -> ExperimentConfig {
        var c = ExperimentConfig.default
        if let experiment { c = try ExperimentPresets.named(experiment).config }
        var file: ConfigLoader.File?
        if let config { let f = try ConfigLoader.read(path: config, over: c); file = f; c = f.config }
        c = try options.apply(to: c)
        c = try Sweep.assign(assignments, in: c)
        let applied = c
        c.resolve()
        do {
            try c.validate()
        } catch {
            throw file?.attributing(error, final: applied) ?? error
        }
        return c
    }

    func run() throws {
        var runOptions = TrainingRun.Options()
        runOptions.output = resume ?? output
        runOptions.overwrite = overwrite
        runOptions.reportCommunication = reportComm
        runOptions.resume = resume != nil
        runOptions.checkpoints.everySteps = checkpointEvery
        runOptions.checkpoints.atEpochs = !lastCheckpointOnly
        runOptions.checkpoints.initial = saveInitial
        let status: Int32
        do {
            let config = try resolved()
            if Launcher.current.isPrintingRank {
                var notes = options.unused(in: config)
                if let experiment, let preset = try? ExperimentPresets.named(experiment), !preset.axes.isEmpty {
                    let axes = preset.axes.map { "\($0.key) = \($0.values.joined(separator: ","))" }.joined(separator: "; ")
                    notes.append("--experiment \(experiment) is a grid (\(axes)); train runs only its base configuration, "
                        + "which need not be a point of it: run `aimc-dist sweep --experiment \(experiment) --output DIR` for the grid")
                }
                for note in notes {
                    FileHandle.standardError.write(Data("aimc-dist: note: \(note)\n".utf8))
                }
            }
            status = TrainingRun.main(config: config, options: runOptions)
        } catch let e as ConfigError {
            status = TrainingRun.argumentFailure(e.description)
        } catch let e as ConfigFileError {
            status = TrainingRun.argumentFailure(e.description)
        }
        if status != 0 { throw ExitCode(status) }
    }
}

/// Every option that changes an experiment, shared by `train` and `sweep`.
struct TrainOptions: ParsableArguments {
    @Option(help: "Training algorithm (default residual; tiki-taka and tiki-taka-v2 ignore --gamma).") var algorithm: Algorithm?
    @Option(parsing: .unconditional, help: ArgumentHelp("Training epochs (1...100000; default 3).", valueName: "n")) var epochs: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Mini-batch size (1...65536; default 10).", valueName: "n")) var batchSize: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("alpha: gradient learning rate (default 0.1).", valueName: "alpha")) var lr: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("beta: transfer learning rate of Eq. 11 (default 0.4).", valueName: "beta")) var transferLr: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("gamma: mixing coefficient of W + gamma P (default 0.4).", valueName: "gamma")) var gamma: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Transfer one column of P every n mini-batches (default 1).", valueName: "n")) var transferEvery: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Columns moved at each transfer (aihwkit n_reads_per_transfer; default 1).", valueName: "n")) var transferColumns: Int?
    @Option(help: "pulsed (stochastic pulse trains; default) or expected (Eq. 2).") var updateMode: UpdateMode?
    @Option(help: "Update per sample or per mini-batch (default auto: pulsed per sample, expected per batch).") var updatePer: UpdateGranularity?
    @Flag(help: "Expected mode: add the granularity noise of Lemma 1 (arXiv 2510.02516).") var expectedNoise = false
    @Option(help: "Zero-shift the arrays that receive gradient pulses: none (default), ideal or pulsed.") var zeroShift: ZeroShift?
    @Option(parsing: .unconditional, help: ArgumentHelp("Alternating pulses per device for pulsed zero-shifting (default 1000).", valueName: "k")) var zeroShiftPulses: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Multi-tile residual learning: tiles per block, N + 1 (2...12; default 3).", valueName: "n")) var tiles: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Multi-tile: period ratio between levels (default 2).", valueName: "x")) var transferEveryGrowth: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Multi-tile: transfer-rate ratio between levels (default 1.2).", valueName: "x")) var transferLrGrowth: Double?
    @Option(help: ArgumentHelp("Multi-tile: transfer periods per source tile, gradient tile first (N values).", valueName: "list")) var transferEveryPerTile: String?
    @Option(help: ArgumentHelp("Multi-tile: transfer rates per source tile, gradient tile first (N values).", valueName: "list")) var transferLrPerTile: String?
    @Flag(help: "Multi-tile: Algorithm 1's warm start (fill tiles in turn at loss plateaus).") var warmStart = false
    @Option(parsing: .unconditional, help: ArgumentHelp("RIDER: rate eta of the moving average Q (default 0.1).", valueName: "eta")) var riderEta: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Largest tile edge: blocks of at most n x n devices (1...65536; default 128).", valueName: "n")) var tileSize: Int?
    @Option(help: ArgumentHelp("A named model: fcn (default: 784-256-128-10, sigmoid; --hidden changes its widths) or cnn-paper (conv16k5,pool2,conv32k5,pool2,dense128, tanh); --layers replaces the layers, --activation the activation.", valueName: "name"))
    var model: String?
    @Option(help: ArgumentHelp("The layers of a network, e.g. conv16k5,pool2,conv32k5,pool2,dense128: conv<C>k<K>[s<S>][p<P>], pool<K>[s<S>], dense<N>, flatten; a dense layer of the classes ends it (default: the FCN of --hidden).", valueName: "spec"))
    var layers: String?
    @Option(help: ArgumentHelp("Hidden layer widths, comma separated or AxB (default 256,128).", valueName: "widths")) var hidden: String?
    @Option(help: "Hidden activation (default sigmoid).") var activation: Activation?
    @Option(parsing: .unconditional, help: ArgumentHelp("Use the first n training images (0 = all).", valueName: "n")) var trainLimit: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Evaluate on the first n test images (0 = all).", valueName: "n")) var testLimit: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Random seed, 0...2^64-1 (default 0): initial weights, data order, pulse trains, noise.", valueName: "n")) var seed: UInt64?
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Chip seed, 0...2^64-1: the device-to-device and tile-to-tile draws (config key device_seed; default: the --seed).",
        valueName: "n")) var deviceSeed: UInt64?
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Per-tile telemetry (tiles.csv): also record every n training steps (0 = at each epoch's start and end, the default).",
        valueName: "n")) var telemetryEvery: Int?
    @Option(help: ArgumentHelp("Folder of MNIST-format IDX files (.gz or plain).", valueName: "dir")) var dataDir: String?
    @Option(help: "How weight blocks are assigned to ranks (default round-robin).") var placement: PlacementPolicy?
    @Option(parsing: .unconditional, help: ArgumentHelp("Data-parallel replicas; the ranks must be a multiple (default 1).", valueName: "r")) var replicas: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Stop each epoch after n mini-batches (0 = whole epochs; for benchmarks).", valueName: "n")) var stepsPerEpoch: Int?
    @Option(help: "Data: idx (MNIST-format files, default) or teacher (synthetic teacher-student task).") var dataSource: DataConfig.Source?
    @Option(parsing: .unconditional, help: ArgumentHelp("Teacher data: input width (default 784).", valueName: "n")) var features: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Teacher data: training samples (default 60000).", valueName: "n")) var trainSamples: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Teacher data: test samples (default 10000).", valueName: "n")) var testSamples: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds between progress lines within an epoch, with the rate and time left (0 = none; default 15).", valueName: "s")) var progressSeconds: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Stall watchdog: a rank waiting this long at one collective ends the job, naming the ranks that did not arrive (exit status 4; 0 = wait forever; default 600).", valueName: "s")) var stallTimeout: Double?

    @OptionGroup(title: "Device") var device: DeviceOptions

    // Periphery and update.
    @Flag(help: "Ideal periphery: exact products in forward, backward and transfer reads.") var idealIo = false
    @Option(parsing: .unconditional, help: ArgumentHelp("DAC bits: 0 (unquantised) or 2...24 (default 7).", valueName: "n")) var dacBits: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("ADC bits: 0 (unquantised) or 2...24 (default 9).", valueName: "n")) var adcBits: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Output noise standard deviation (default 0.06).", valueName: "x")) var outNoise: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("ADC output bound (default 12).", valueName: "x")) var outBound: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Longest pulse train BL (1...32; default 31).", valueName: "n")) var desiredBl: Int?

    /// The configuration these options describe over `base`: the --preset first, then the options.
    func apply(to base: ExperimentConfig) throws -> ExperimentConfig {
        var c = base
        if let preset = device.preset { c = try ConfigPresets.require(preset).apply(to: c) }
        if let algorithm { c.algorithm.name = algorithm }
        if let epochs { c.training.epochs = epochs }
        if let batchSize { c.training.batchSize = batchSize }
        if let lr { c.algorithm.lr = lr }
        if let transferLr { c.algorithm.transferLR = transferLr }
        if let gamma { c.algorithm.gamma = gamma }
        if let transferEvery { c.algorithm.transferEvery = transferEvery }
        if let transferColumns { c.algorithm.transferColumns = transferColumns }
        if let updateMode { c.algorithm.updateMode = updateMode }
        if let updatePer { c.algorithm.updatePer = updatePer }
        if expectedNoise { c.algorithm.expectedNoise = true }
        if let zeroShift { c.algorithm.zeroShift = zeroShift }
        if let zeroShiftPulses { c.algorithm.zeroShiftPulses = zeroShiftPulses }
        if let tiles { c.algorithm[MultiTileResidual.tiles] = tiles }
        if let transferEveryGrowth { c.algorithm[MultiTileResidual.transferEveryGrowth] = transferEveryGrowth }
        if let transferLrGrowth { c.algorithm[MultiTileResidual.transferLRGrowth] = transferLrGrowth }
        if warmStart { c.algorithm[MultiTileResidual.warmStart] = true }
        if let transferEveryPerTile {
            c.algorithm[MultiTileResidual.transferEveryPerTile] = try TrainOptions.list(transferEveryPerTile, "--transfer-every-per-tile", "algorithm.transfer_every_per_tile")
        }
        if let transferLrPerTile {
            c.algorithm[MultiTileResidual.transferLRPerTile] = try TrainOptions.list(transferLrPerTile, "--transfer-lr-per-tile", "algorithm.transfer_lr_per_tile")
        }
        if let riderEta { c.algorithm[RIDER.eta] = riderEta }
        if let tileSize { c.model.tileSize = tileSize }
        if let model {
            guard let named = ModelConfig.named.first(where: { $0.name == model }) else {
                throw ConfigError(key: "", option: "--model", message: "must be one of \(ModelConfig.named.map(\.name).joined(separator: ", ")); got \(model)")
            }
            named.apply(&c.model)
        }
        if let layers { c.model.layers = layers }
        // Comma separated, or AxB as sweep axes write list values.
        if let hidden {
            let text = hidden.contains("x") && !hidden.contains(",") ? hidden.replacingOccurrences(of: "x", with: ",") : hidden
            do {
                c.model.hidden = try TrainOptions.list(text, "--hidden", "model.hidden")
            } catch {
                throw ConfigError(key: "model.hidden", option: "--hidden", message: "must be widths separated by commas or x (256,128 or 256x128); got \(hidden)")
            }
        }
        if let activation { c.model.activation = activation }
        if let trainLimit { c.training.trainLimit = trainLimit }
        if let testLimit { c.training.testLimit = testLimit }
        if let seed { c.seed = seed }
        if let deviceSeed { c.deviceSeed = .fixed(deviceSeed) }
        if let telemetryEvery { c.telemetry.every = telemetryEvery }
        if let dataDir { c.data.dir = dataDir }
        if let placement { c.placement = placement }
        if let replicas { c.replicas = replicas }
        if let stepsPerEpoch { c.training.stepsPerEpoch = stepsPerEpoch }
        if let dataSource { c.data.source = dataSource }
        if let features { c.data.features = features }
        if let trainSamples { c.data.trainSamples = trainSamples }
        if let testSamples { c.data.testSamples = testSamples }
        if let progressSeconds { c.training.progressSeconds = progressSeconds }
        if let stallTimeout { c.training.stallTimeout = stallTimeout }
        c.device = try device.apply(to: c.device)
        if idealIo {
            if dacBits != nil || adcBits != nil || outNoise != nil || outBound != nil {
                throw ConfigError(key: "forward", option: "--ideal-io", message: "cannot be combined with --dac-bits, --adc-bits, --out-noise or --out-bound")
            }
            c.forward = .perfect; c.backward = .perfect; c.transfer = .perfect
        }
        for (bits, option, key) in [(dacBits, "--dac-bits", "forward.inp_res"), (adcBits, "--adc-bits", "forward.out_res")] {
            if let bits, bits != 0 && !(2...24).contains(bits) {
                throw ConfigError(key: key, option: option, message: "must be 0 (unquantised) or an integer in 2...24; got \(bits)")
            }
        }
        for keyPath in [\ExperimentConfig.forward, \ExperimentConfig.backward, \ExperimentConfig.transfer] {
            if let dacBits { c[keyPath: keyPath].inpRes = IOConfig.resolution(bits: dacBits) }
            if let adcBits { c[keyPath: keyPath].outRes = IOConfig.resolution(bits: adcBits) }
            if let outNoise { c[keyPath: keyPath].outNoise = outNoise }
            if let outBound { c[keyPath: keyPath].outBound = outBound }
        }
        if let desiredBl { c.update.desiredBL = desiredBl }
        return c
    }

    /// Options given on the command line that the experiment `c` does not use. They are notes, not errors: a
    /// configuration file or a sweep over algorithms may carry them on purpose.
    func unused(in c: ExperimentConfig) -> [String] {
        // Each given option with the configuration key it sets; `ExperimentConfig.ineffective` says why a key has no
        // effect on `c` (the same rules name the sweep axes that change nothing).
        var given: [(option: String, key: String)] = [
            ("--tiles", tiles != nil, "algorithm.tiles"), ("--warm-start", warmStart, "algorithm.warm_start"),
            ("--hidden", hidden != nil, "model.hidden"),
            ("--transfer-every-growth", transferEveryGrowth != nil, "algorithm.transfer_every_growth"),
            ("--transfer-lr-growth", transferLrGrowth != nil, "algorithm.transfer_lr_growth"),
            ("--transfer-every-per-tile", transferEveryPerTile != nil, "algorithm.transfer_every_per_tile"),
            ("--transfer-lr-per-tile", transferLrPerTile != nil, "algorithm.transfer_lr_per_tile"),
            ("--rider-eta", riderEta != nil, "algorithm.rider_eta"), ("--gamma", gamma != nil, "algorithm.gamma"),
            ("--transfer-lr", transferLr != nil, "algorithm.transfer_lr"), ("--transfer-every", transferEvery != nil, "algorithm.transfer_every"),
            ("--transfer-columns", transferColumns != nil, "algorithm.transfer_columns"),
            ("--expected-noise", expectedNoise, "algorithm.expected_noise"), ("--zero-shift-pulses", zeroShiftPulses != nil, "algorithm.zero_shift_pulses"),
            ("--update-mode", updateMode != nil, "algorithm.update_mode"), ("--update-per", updatePer != nil, "algorithm.update_per"),
            ("--zero-shift", zeroShift != nil, "algorithm.zero_shift"), ("--desired-bl", desiredBl != nil, "update.desired_bl"),
            ("--features", features != nil, "data.features"), ("--train-samples", trainSamples != nil, "data.train_samples"),
            ("--test-samples", testSamples != nil, "data.test_samples"), ("--data-dir", dataDir != nil, "data.dir"),
            ("--ideal-io", idealIo, "forward.is_perfect"), ("--dac-bits", dacBits != nil, "forward.inp_res"),
            ("--adc-bits", adcBits != nil, "forward.out_res"), ("--out-noise", outNoise != nil, "forward.out_noise"),
            ("--out-bound", outBound != nil, "forward.out_bound"), ("--device-seed", deviceSeed != nil, "device_seed"),
        ].filter(\.1).map { ($0.0, $0.2) }
        // Device options: --gamma-res sets device.gamma; the others are named after their keys.
        given += device.given.map { ($0, "device." + ($0 == "--gamma-res" ? "gamma" : $0.dropFirst(2).replacingOccurrences(of: "-", with: "_"))) }
        var reasons = [String](), options = [String: [String]]()
        for g in given {
            guard let why = c.ineffective(g.key) else { continue }
            if options[why] == nil { reasons.append(why) }
            options[why, default: []].append(g.option)
        }
        let notes = reasons.map { why in
            let names = options[why]!
            return "\(names.joined(separator: "/")) \(names.count > 1 ? "have" : "has") no effect: \(why)"
        }
        return notes
    }

    /// A comma-separated list of numbers.
    static func list<T: LosslessStringConvertible>(_ text: String, _ option: String, _ key: String) throws -> [T] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { T(String($0).trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
            throw ConfigError(key: key, option: option, message: "must be a comma-separated list of numbers; got \(text)")
        }
        return parts.map { $0! }
    }
}
