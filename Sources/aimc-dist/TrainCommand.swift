import AIMCCluster
import AIMCCore
import AIMCTraining
import ArgumentParser
import Foundation

extension Algorithm: ExpressibleByArgument {}
extension UpdateMode: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}
extension PlacementPolicy: ExpressibleByArgument {}
extension DeviceConfig.CycleToCycleMode: ExpressibleByArgument {}

/// `aimc-dist train` (the default command): one training job over MPI.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network on simulated analog tiles spread over MPI ranks (the default command).",
        discussion: """
        Without options this runs the embedded default experiment: the paper's FCN 784-256-128-10 (sigmoid) on \
        Fashion-MNIST with Residual Learning on a soft-bounds device behind the Table 4 periphery, seed 0.

        Examples:
          mpirun -n 8 aimc-dist
          mpirun -n 2 aimc-dist --algorithm analog-sgd --epochs 1 --train-limit 2000
          aimc-dist --algorithm digital-sgd --epochs 3 --output runs/dsgd
          aimc-dist --update-mode expected --ideal-io --tile-size 1024
          aimc-dist --config runs/dsgd/config.json --seed 1 --output runs/dsgd-seed1
        Options override a --config file, which overrides the defaults.
        """)

    @Option(help: ArgumentHelp("Experiment configuration (JSON or YAML); options below override it.", valueName: "file"))
    var config: String?

    @Option(help: "Training algorithm.") var algorithm: Algorithm?
    @Option(help: ArgumentHelp("Training epochs (1...100000; default 3).", valueName: "n")) var epochs: Int?
    @Option(help: ArgumentHelp("Mini-batch size (default 10).", valueName: "n")) var batchSize: Int?
    @Option(help: ArgumentHelp("alpha: gradient learning rate (default 0.1).", valueName: "alpha")) var lr: Double?
    @Option(help: ArgumentHelp("beta: transfer learning rate of Eq. 11 (default 0.4).", valueName: "beta")) var transferLr: Double?
    @Option(help: ArgumentHelp("gamma: mixing coefficient of W + gamma P (default 0.4; Tiki-Taka uses 0).", valueName: "gamma")) var gamma: Double?
    @Option(help: ArgumentHelp("Transfer one column of P every n mini-batches (default 1).", valueName: "n")) var transferEvery: Int?
    @Option(help: "pulsed (stochastic pulse trains per sample) or expected (Eq. 2 per mini-batch).") var updateMode: UpdateMode?
    @Option(help: ArgumentHelp("Largest tile edge: layers split into blocks of at most n x n devices (default 128).", valueName: "n")) var tileSize: Int?
    @Option(help: ArgumentHelp("Hidden layer widths, comma separated (default 256,128).", valueName: "widths")) var hidden: String?
    @Option(help: "Hidden activation.") var activation: Activation?
    @Option(help: ArgumentHelp("Use the first n training images (0 = all 60000).", valueName: "n")) var trainLimit: Int?
    @Option(help: ArgumentHelp("Evaluate on the first n test images (0 = all 10000).", valueName: "n")) var testLimit: Int?
    @Option(help: ArgumentHelp("Random seed (default 0).", valueName: "n")) var seed: UInt64?
    @Option(help: ArgumentHelp("Folder of MNIST-format IDX files (.gz or plain).", valueName: "dir")) var dataDir: String?
    @Option(help: ArgumentHelp("Run folder: config.json, metrics.csv, summary.json.", valueName: "dir")) var output: String?
    @Flag(help: "Replace the run in --output if there is one.") var overwrite = false
    @Option(help: "How weight blocks are assigned to ranks.") var placement: PlacementPolicy?
    @Option(help: ArgumentHelp("Seconds between progress lines within an epoch (0 = none; default 15).", valueName: "s")) var progressSeconds: Double?

    // Device.
    @Option(help: ArgumentHelp("Response granularity dw_min (default 0.001).", valueName: "x")) var dwMin: Double?
    @Option(help: ArgumentHelp("Symmetric bounds w in [-tau, tau] (default 0.6).", valueName: "x")) var tau: Double?
    @Option(help: ArgumentHelp("Upper bound w_max (overrides --tau).", valueName: "x")) var wMax: Double?
    @Option(help: ArgumentHelp("Lower bound w_min (overrides --tau).", valueName: "x")) var wMin: Double?
    @Option(help: ArgumentHelp("Asymmetry c of the generalized linear response, in (-1, 1) (default 0).", valueName: "c")) var asymmetry: Double?
    @Option(help: ArgumentHelp("Cycle-to-cycle noise, relative to dw_min (default 0.3).", valueName: "x")) var dwMinStd: Double?
    @Option(help: "Cycle-to-cycle noise form: additive (paper Eq. 26) or multiplicative (aihwkit).") var c2cMode: DeviceConfig.CycleToCycleMode?
    @Option(help: ArgumentHelp("Device-to-device spread of dw_min (default 0.3).", valueName: "x")) var dwMinDtod: Double?
    @Option(help: ArgumentHelp("Device-to-device spread of w_max, relative (default 0.3).", valueName: "x")) var wMaxDtod: Double?
    @Option(help: ArgumentHelp("Device-to-device spread of w_min, relative (default 0.3).", valueName: "x")) var wMinDtod: Double?
    @Option(help: ArgumentHelp("Device-to-device spread of the asymmetry c (default 0).", valueName: "x")) var asymmetryDtod: Double?

    // Periphery and update.
    @Flag(help: "Ideal periphery: exact products in forward, backward and transfer reads.") var idealIo = false
    @Option(help: ArgumentHelp("DAC bits (default 7; 0 = unquantised).", valueName: "n")) var dacBits: Int?
    @Option(help: ArgumentHelp("ADC bits (default 9; 0 = unquantised).", valueName: "n")) var adcBits: Int?
    @Option(help: ArgumentHelp("Output noise standard deviation (default 0.06).", valueName: "x")) var outNoise: Double?
    @Option(help: ArgumentHelp("ADC output bound (default 12).", valueName: "x")) var outBound: Double?
    @Option(help: ArgumentHelp("Longest pulse train BL (1...32; default 31).", valueName: "n")) var desiredBl: Int?

    /// The configuration these options describe (defaults, then --config, then options).
    func experiment() throws -> ExperimentConfig {
        var c = ExperimentConfig.default
        if let config { c = try ConfigLoader.load(path: config, over: c) }
        if let algorithm { c.algorithm.name = algorithm }
        if let epochs { c.training.epochs = epochs }
        if let batchSize { c.training.batchSize = batchSize }
        if let lr { c.algorithm.lr = lr }
        if let transferLr { c.algorithm.transferLR = transferLr }
        if let gamma { c.algorithm.gamma = gamma }
        if let transferEvery { c.algorithm.transferEvery = transferEvery }
        if let updateMode { c.algorithm.updateMode = updateMode }
        if let tileSize { c.model.tileSize = tileSize }
        if let hidden {
            let parts = hidden.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
                throw ConfigError(key: "model.hidden", option: "--hidden", message: "must be comma-separated integers such as 256,128; got \(hidden)")
            }
            c.model.hidden = parts.map { $0! }
        }
        if let activation { c.model.activation = activation }
        if let trainLimit { c.training.trainLimit = trainLimit }
        if let testLimit { c.training.testLimit = testLimit }
        if let seed { c.seed = seed }
        if let dataDir { c.data.dir = dataDir }
        if let placement { c.placement = placement }
        if let progressSeconds { c.training.progressSeconds = progressSeconds }
        if let dwMin { c.device.dwMin = dwMin }
        if let tau { c.device.wMax = tau; c.device.wMin = -tau }
        if let wMax { c.device.wMax = wMax }
        if let wMin { c.device.wMin = wMin }
        if let asymmetry { c.device.asymmetry = asymmetry }
        if let dwMinStd { c.device.dwMinStd = dwMinStd }
        if let c2cMode { c.device.c2cMode = c2cMode }
        if let dwMinDtod { c.device.dwMinDtod = dwMinDtod }
        if let wMaxDtod { c.device.wMaxDtod = wMaxDtod }
        if let wMinDtod { c.device.wMinDtod = wMinDtod }
        if let asymmetryDtod { c.device.asymmetryDtod = asymmetryDtod }
        if idealIo { c.forward = .perfect; c.backward = .perfect; c.transfer = .perfect }
        for (bits, option) in [(dacBits, "--dac-bits"), (adcBits, "--adc-bits")] {
            if let bits, bits < 0 || bits > 24 {
                throw ConfigError(key: option == "--dac-bits" ? "forward.inp_res" : "forward.out_res", option: option,
                                  message: "must be an integer in 0...24 (0 = unquantised); got \(bits)")
            }
        }
        for keyPath in [\ExperimentConfig.forward, \ExperimentConfig.backward, \ExperimentConfig.transfer] {
            if let dacBits { c[keyPath: keyPath].inpRes = IOConfig.resolution(bits: dacBits) }
            if let adcBits { c[keyPath: keyPath].outRes = IOConfig.resolution(bits: adcBits) }
            if let outNoise { c[keyPath: keyPath].outNoise = outNoise }
            if let outBound { c[keyPath: keyPath].outBound = outBound }
        }
        if let desiredBl { c.update.desiredBL = desiredBl }
        try c.validate()
        return c
    }

    func run() throws {
        let c = try experiment()
        var options = TrainingRun.Options()
        options.output = output
        options.overwrite = overwrite
        let status = TrainingRun.main(config: c, options: options)
        if status != 0 { throw ExitCode(status) }
    }
}
