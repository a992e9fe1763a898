import AIMCCluster
import AIMCCore
import AIMCTraining
import ArgumentParser
import Foundation

/// `aimc-dist lsq`: the paper's least-squares experiment (Fig. 2) on one process.
struct LsqCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lsq",
        abstract: "The paper's least-squares experiment (Fig. 2): Analog SGD, Tiki-Taka and Residual Learning versus the asymmetry c.",
        discussion: """
        Trains one analog weight block on min 1/(2N) sum ||W a_i - b_i||^2 (a_i ~ N(0, I), W* ~ N(0, 0.5^2)) on the
        generalized linear device (tau 3.5, dw_min 1e-4, BL 8) for each asymmetry c and algorithm, with and without
        zero-shifted P, and prints the final relative error ||W - W*||^2 / ||W*||^2 of the weight the model reads
        (W + gamma P for Residual Learning). With --output it writes lsq.csv (every curve) and config.json;
        scripts/plot.py lsq DIR draws the figure.
          aimc-dist lsq --output runs/lsq
          aimc-dist lsq --asymmetries 0,0.3 --batch-size 10 --update-mode expected
        """)

    @Option(parsing: .unconditional, help: ArgumentHelp("Inputs D (default 50).", valueName: "n")) var inputs: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Outputs (default 1).", valueName: "n")) var outputs: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Samples N (default 100).", valueName: "n")) var samples: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Mini-batch size (0 = full batch, default).", valueName: "n")) var batchSize: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Label noise standard deviation (default 0).", valueName: "x")) var labelNoise: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Standard deviation of W*'s entries (default 0.5).", valueName: "x")) var targetStd: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Training steps per run (default 10000).", valueName: "n")) var steps: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Record the error every n steps (default 100).", valueName: "n")) var recordEvery: Int?
    @Option(help: ArgumentHelp("Asymmetries c, comma separated (default 0,0.1,0.2,0.3).", valueName: "list")) var asymmetries: String?
    @Option(help: ArgumentHelp("Algorithms, comma separated (default analog-sgd,tiki-taka,residual).", valueName: "list")) var algorithms: String?
    @Option(help: ArgumentHelp("Zero-shift variants for algorithms with P (default none,ideal).", valueName: "list")) var zeroShifts: String?
    @Option(help: ArgumentHelp("Tile counts for multi-tile-residual (default 3).", valueName: "list")) var tiles: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Multi-tile transfer-rate ratio between levels (default 1.2).", valueName: "x")) var transferLrGrowth: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Multi-tile period ratio between levels (default 2).", valueName: "x")) var transferEveryGrowth: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("alpha (default 0.1).", valueName: "x")) var lr: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("beta (default 0.1).", valueName: "x")) var transferLr: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("gamma (default 0.4).", valueName: "x")) var gamma: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Transfer every n steps (default 1).", valueName: "n")) var transferEvery: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Columns per transfer (default 50: all of them).", valueName: "n")) var transferColumns: Int?
    @Option(help: "pulsed (default) or expected.") var updateMode: UpdateMode?
    @Option(parsing: .unconditional, help: ArgumentHelp("Longest pulse train BL (default 8).", valueName: "n")) var desiredBl: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Random seed (default 0).", valueName: "n")) var seed: UInt64?
    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds between progress lines on standard error, with the time left (0 = none; default 10).", valueName: "s")) var progressSeconds: Double?
    @Option(help: ArgumentHelp("A config.json that lsq --output wrote; the options override it.", valueName: "file")) var config: String?
    @Option(help: ArgumentHelp("Folder for lsq.csv and config.json.", valueName: "dir")) var output: String?
    @Flag(help: "Replace what --output holds (an earlier lsq, training run or sweep).") var overwrite = false
    @OptionGroup(title: "Device (lsq starts from a generalized linear device, tau 3.5, dw_min 1e-4, no noise; the defaults named below are train's)")
    var device: DeviceOptions

    /// A comma-separated list; an empty or unknown item is an error naming it (and the choices, for names).
    func list<T>(_ text: String?, _ option: String, choices: [String]? = nil, _ parse: (String) -> T?) throws -> [T]? {
        guard let text else { return nil }
        var values = [T]()
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard !item.isEmpty else {
                throw ConfigError(key: "", option: option, message: "must be a comma-separated list without empty items; got \"\(text)\"")
            }
            guard let v = parse(item) else {
                let expected = choices.map { "choose from \($0.joined(separator: ", "))" } ?? "expected a number"
                throw ConfigError(key: "", option: option, message: "has an invalid item \"\(item)\" in \"\(text)\"; \(expected)")
            }
            values.append(v)  // a value given twice is refused by LeastSquaresConfig.validate(), for files too
        }
        return values
    }

    func experiment() throws -> LeastSquaresConfig {
        var c = LeastSquaresConfig()
        if let config { c = try ConfigLoader.loadLeastSquares(path: config) }
        if let inputs { c.inputs = inputs; c.base.algorithm.transferColumns = inputs }
        if let outputs { c.outputs = outputs }
        if let samples { c.samples = samples }
        if let batchSize { c.batchSize = batchSize }
        if let labelNoise { c.labelNoise = labelNoise }
        if let targetStd { c.targetStd = targetStd }
        if let steps { c.steps = steps }
        if let recordEvery { c.recordEvery = recordEvery }
        if let v = try list(asymmetries, "--asymmetries", { Double($0) }) { c.asymmetries = v }
        if let v = try list(algorithms, "--algorithms", choices: Algorithm.allCases.map(\.rawValue), { Algorithm(rawValue: $0) }) { c.algorithms = v }
        if let v = try list(zeroShifts, "--zero-shifts", choices: ZeroShift.allCases.map(\.rawValue), { ZeroShift(rawValue: $0) }) { c.zeroShifts = v }
        if let v = try list(tiles, "--tiles", { Int($0) }) { c.tiles = v }
        if let transferLrGrowth { c.base.algorithm.transferLRGrowth = transferLrGrowth }
        if let transferEveryGrowth { c.base.algorithm.transferEveryGrowth = transferEveryGrowth }
        if let lr { c.base.algorithm.lr = lr }
        if let transferLr { c.base.algorithm.transferLR = transferLr }
        if let gamma { c.base.algorithm.gamma = gamma }
        if let transferEvery { c.base.algorithm.transferEvery = transferEvery }
        if let transferColumns { c.base.algorithm.transferColumns = transferColumns }
        if let updateMode { c.base.algorithm.updateMode = updateMode }
        if let desiredBl { c.base.update.desiredBL = desiredBl }
        if let seed { c.seed = seed }
        if device.asymmetry != nil {
            throw ConfigError(key: "", option: "--asymmetry", message: "is set per run by --asymmetries in lsq; use --asymmetries 0.1,0.2")
        }
        c.base.device = try device.apply(to: c.base.device)
        c.base.resolve()
        do {
            try c.validate()
        } catch {
            // A bad value from the file (no option given on the command line sets it) is named as the file's.
            let given = CommandLine.arguments.contains { arg in error.option.map { arg == $0 || arg.hasPrefix($0 + "=") } ?? false }
            guard let config, !given, !error.key.isEmpty else { throw error }
            let own = LeastSquaresConfig.CodingKeys(stringValue: error.key) != nil
            // Only lsq's own options are named: train's (--epochs, --hidden) do not exist here.
            let lsqOptions = ["--lr", "--transfer-lr", "--gamma", "--transfer-every", "--transfer-columns", "--update-mode", "--desired-bl"]
            let option = own || error.key.hasPrefix("device.") || lsqOptions.contains(error.option ?? "") ? error.option : nil
            throw ConfigFileError.value(config, (own ? "" : "base.") + error.key, error.message, option: option)
        }
        return c
    }

    func validate() throws {
        try requireSingleProcess("lsq")
        if output?.isEmpty == true { throw ValidationError("--output must name a folder; got an empty path") }
        if let progressSeconds, !(progressSeconds >= 0 && progressSeconds.isFinite) {
            throw ValidationError("--progress-seconds must be a finite number >= 0; got \(progressSeconds)")
        }
    }

    func run() throws {
        let c = try experiment()
        try requireMemory(LeastSquares.memoryBytes(c), "this least-squares experiment", fix: "use fewer --samples, --inputs or --outputs")
        // Claim the output folder before computing; a folder holding a training run or a sweep is refused as well.
        let directory = try output.map {
            try RunDirectory(path: $0, overwrite: overwrite)
        }
        let started = Date()
        print("least squares: D \(c.inputs), outputs \(c.outputs), N \(c.samples), \(c.batchSize == 0 ? "full batch" : "batch \(c.batchSize)"), "
            + "label noise \(c.labelNoise), \(c.steps) steps; device: \(Report.device(c.base.device))")
        print("  alpha \(c.base.algorithm.lr), beta \(c.base.algorithm.transferLR), gamma \(c.base.algorithm.gamma), "
            + "\(c.base.algorithm.updateMode.rawValue) updates, BL \(c.base.update.desiredBL)")
        // Large problems take minutes: a progress line at most every --progress-seconds (on standard error, off the
        // table), with the time left at the mean time per curve so far (curves of more arrays take longer).
        let curves = c.algorithms.reduce(0) { n, a in
            n + (a == .multiTileResidual ? c.tiles.count : 1) * (a.transfers ? c.zeroShifts.count : 1)
        } * c.asymmetries.count
        let every = progressSeconds ?? 10
        var done = 0, lastLine = Date()
        let runs = LeastSquares.runAll(c) { _ in
            done += 1
            if every > 0 && Date().timeIntervalSince(lastLine) >= every && done < curves {
                lastLine = Date()
                let elapsed = lastLine.timeIntervalSince(started)
                let left = elapsed / Double(done) * Double(curves - done)
                FileHandle.standardError.write(Data(("lsq: \(done) of \(curves) curves done, " + String(format: "%.1f curves/min", 60 * Double(done) / elapsed)
                    + "; \(TrainingRun.duration(elapsed)) elapsed, about \(TrainingRun.duration(left)) left\n").utf8))
            }
        }
        let header = "||W - W*||^2/||W*||^2, last quarter".padding(toLength: 44, withPad: " ", startingAt: 0)
            + c.asymmetries.map { ("c = \($0)" as String).leftPadded(12) }.joined()
        print(header)
        var rows = [String: [Double]]()
        var order = [String]()
        for r in runs {
            let name = r.algorithm.rawValue + (r.algorithm == .multiTileResidual ? " \(r.tiles) tiles" : "")
                + (r.algorithm.transfers ? (r.zeroShift == .none ? " (P not shifted)" : " (P zero-shifted)") : "")
            if rows[name] == nil { order.append(name); rows[name] = [] }
            rows[name]!.append(r.tailError)
        }
        for name in order {
            print(name.padding(toLength: 44, withPad: " ", startingAt: 0)
                + rows[name]!.map { $0.isFinite ? String(format: "%12.3e", $0) : "diverged".leftPadded(12) }.joined())
        }
        // A curve whose error left the Float range (too large a learning rate): named, not printed as nan.
        let diverged = runs.filter { !$0.tailError.isFinite }
        if !diverged.isEmpty {
            let which = diverged.map { "\($0.algorithm.rawValue) at c = \($0.asymmetry)" }
            FileHandle.standardError.write(Data(("lsq: note: \(diverged.count) of \(runs.count) runs diverged (the error is not finite; nan in lsq.csv): "
                + "\(which.prefix(4).joined(separator: ", "))\(which.count > 4 ? ", ..." : ""); lower --lr or --transfer-lr\n").utf8))
        }
        print(String(format: "%.1f s", Date().timeIntervalSince(started)))
        if let output, let directory {
            try directory.write("lsq.csv", text: LeastSquares.csv(runs))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try directory.write("config.json", try encoder.encode(c))
            print("wrote \(output)/lsq.csv and \(output)/config.json")
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
