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
        Trains one analog weight block on min 1/(2N) sum ||W a_i - b_i||^2 (a_i ~ N(0, I), W* ~ N(0, 0.5^2), or the
        A, B and W0 of --problem FILE.npz) on the generalized linear device (tau 3.5, dw_min 1e-4, BL 8) for each
        asymmetry c and algorithm, with and without zero-shifted P, and prints the relative error ||W - W*||^2 /
        ||W*||^2 of the weight the model reads (W + gamma P for Residual Learning), and that of the average of the
        iterates over the last --average-last of the steps against the least-squares minimiser W_ls of the data
        (LAPACK dgelsd in Double, as numpy.linalg.lstsq). With --output it writes lsq.csv (every curve),
        lsq_final.csv (one row per curve), config.json, and in lsq_weights/ each curve's last and averaged iterate,
        W_ls (minimiser.npy) and W* (target.npy) as .npy files; scripts/plot.py lsq DIR draws the figure.
        Problem file: numpy.savez(FILE, A=inputs (samples, inputs), B=targets (samples, outputs) [, W0=start
        (outputs, inputs)]); X and Y name A and B too; float32, float64 or int64, trained in float32.
          aimc-dist lsq --output runs/lsq
          aimc-dist lsq --asymmetries 0,0.3 --batch-size 10 --update-mode expected
          aimc-dist lsq --problem problem.npz --algorithms analog-sgd --asymmetries 0.3 --output runs/mine
        """)

    @Option(help: ArgumentHelp("A NumPy .npz file holding the problem: A (samples, inputs), B (samples, outputs), optional W0 "
        + "(outputs, inputs); default: the synthetic problem.", valueName: "file")) var problem: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Fraction F in (0, 1] of the last steps whose iterates are averaged (default 0.1).",
                                                        valueName: "F")) var averageLast: Double?
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
    @Option(help: ArgumentHelp("Folder for lsq.csv, lsq_final.csv, config.json and lsq_weights/ (.npy).", valueName: "dir")) var output: String?
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

    /// The configuration, and the problem read from its file (nil: the synthetic problem).
    func experiment() throws -> (LeastSquaresConfig, LeastSquares.Problem?) {
        var c = LeastSquaresConfig()
        if let config { c = try ConfigLoader.loadLeastSquares(path: config) }
        let recorded = (c.problem, c.samples, c.inputs, c.outputs)
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
        if let transferLrGrowth { c.base.algorithm[MultiTileResidual.transferLRGrowth] = transferLrGrowth }
        if let transferEveryGrowth { c.base.algorithm[MultiTileResidual.transferEveryGrowth] = transferEveryGrowth }
        if let lr { c.base.algorithm.lr = lr }
        if let transferLr { c.base.algorithm.transferLR = transferLr }
        if let gamma { c.base.algorithm.gamma = gamma }
        if let transferEvery { c.base.algorithm.transferEvery = transferEvery }
        if let transferColumns { c.base.algorithm.transferColumns = transferColumns }
        if let updateMode { c.base.algorithm.updateMode = updateMode }
        if let desiredBl { c.base.update.desiredBL = desiredBl }
        if let seed { c.seed = seed }
        if let averageLast { c.averageLast = averageLast }
        if let problem { c.problem = problem }
        var loaded: LeastSquares.Problem? = nil
        if !c.problem.isEmpty {
            // The arrays set the sizes: an option that says otherwise is an error, a --config of another problem a note.
            let p = try LeastSquares.problem(file: c.problem)
            for (option, given, size, what) in [("--inputs", inputs, p.inputs, "inputs (columns of A)"),
                                                ("--outputs", outputs, p.outputs, "outputs (columns of B)"),
                                                ("--samples", samples, p.samples, "samples (rows of A)")] {
                if let given, given != size {
                    throw ConfigError(key: "", option: option, message: "is \(given), but the problem \(c.problem) has \(size) \(what); "
                        + "the problem file sets it: drop \(option)")
                }
            }
            if let config, recorded.0 == c.problem, (recorded.1, recorded.2, recorded.3) != (p.samples, p.inputs, p.outputs) {
                note("--config \(config) was written for a problem of \(recorded.1) samples, \(recorded.2) inputs and \(recorded.3) outputs; "
                    + "\(c.problem) now holds \(p.samples), \(p.inputs) and \(p.outputs) (the file changed since)")
            }
            let standard = LeastSquaresConfig()
            let synthetic = [("--label-noise", labelNoise != nil || c.labelNoise != standard.labelNoise),
                             ("--target-std", targetStd != nil || c.targetStd != standard.targetStd)].filter(\.1).map(\.0)
            if !synthetic.isEmpty {
                note("\(synthetic.joined(separator: "/")) \(synthetic.count == 1 ? "has" : "have") no effect with a problem file "
                    + "(\(synthetic.count == 1 ? "it shapes" : "they shape") the synthetic problem)")
            }
            if transferColumns == nil && c.base.algorithm.transferColumns == standard.base.algorithm.transferColumns {
                c.base.algorithm.transferColumns = p.inputs  // every column, as for the synthetic problem
            }
            (c.samples, c.inputs, c.outputs) = (p.samples, p.inputs, p.outputs)
            loaded = p
        }
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
        return (c, loaded)
    }

    func validate() throws {
        try requireSingleProcess("lsq")
        if output?.isEmpty == true { throw ValidationError("--output must name a folder; got an empty path") }
        if problem?.isEmpty == true { throw ValidationError("--problem must name a NumPy .npz file; got an empty path") }
        if let progressSeconds, !(progressSeconds >= 0 && progressSeconds.isFinite) {
            throw ValidationError("--progress-seconds must be a finite number >= 0; got \(progressSeconds)")
        }
    }

    func note(_ text: String) { FileHandle.standardError.write(Data("lsq: note: \(text)\n".utf8)) }

    /// A .npy file's bytes: float32 or float64 values of `shape`.
    func npy<T: BinaryFloatingPoint>(_ values: [T], shape: [Int]) -> Data {
        var data = Data(NPY.headerBytes(NPY.Header(dtype: T.self == Float.self ? .float32 : .float64, shape: shape)))
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    func run() throws {
        let (c, file) = try experiment()
        // The minimiser's LAPACK solve on one OpenBLAS thread (the products are aimc-dist's own kernels, as in training).
        LeastSquaresSolver.useSingleThread()
        try requireMemory(LeastSquares.memoryBytes(c), "this least-squares experiment",
                          fix: file == nil ? "use fewer --samples, --inputs or --outputs" : "use a smaller problem")
        // Claim the output folder before computing; a folder holding a training run or a sweep is refused as well.
        let directory = try output.map {
            try RunDirectory(path: $0, overwrite: overwrite)
        }
        let started = Date()
        let batch = c.batchSize == 0 ? "full batch" : "batch \(c.batchSize)"
        if let file {
            print("least squares: problem \(c.problem) (\(file.arrays)\(file.w0 == nil ? "; W0 = 0" : "")): D \(c.inputs), outputs \(c.outputs), "
                + "N \(c.samples), \(batch), \(c.steps) steps; device: \(Report.device(c.base.device))")
        } else {
            print("least squares: D \(c.inputs), outputs \(c.outputs), N \(c.samples), \(batch), "
                + "label noise \(c.labelNoise), \(c.steps) steps; device: \(Report.device(c.base.device))")
        }
        print("  alpha \(c.base.algorithm.lr), beta \(c.base.algorithm.transferLR), gamma \(c.base.algorithm.gamma), "
            + "\(c.base.algorithm.updateMode.rawValue) updates, BL \(c.base.update.desiredBL)")
        let p = file ?? LeastSquares.problem(c)
        let m = try LeastSquares.minimiser(p)
        let unique = m.rank == p.inputs
        print("  least-squares minimiser W_ls (LAPACK dgelsd in Double): rank \(m.rank) of \(p.inputs) inputs, "
            + String(format: "cond(A) %.3g, f* = f(W_ls) %.6g", m.conditionNumber, m.fStar)
            + (unique ? "" : "; the minimisers form an affine set: W_ls is the one nearest W0 (the minimum-norm one for W0 = 0), "
                + "where gradient descent from W0 goes; loss_gap does not depend on the choice"))
        let analog = c.algorithms.filter { $0 != .digitalSGD }
        let range = (Double(c.base.device.wMin), Double(c.base.device.wMax))
        if !analog.isEmpty, let largest = m.w.max(by: { abs($0) < abs($1) }), largest < range.0 || largest > range.1 {
            note("W_ls has entries outside the device's weight range [\(range.0), \(range.1)] (the largest \(String(format: "%.4g", largest))): "
                + "a single analog array cannot hold it; scale B down or widen the range (--w-max, --w-min)")
        }
        if !analog.isEmpty, let w0 = p.w0, let largest = w0.max(by: { abs($0) < abs($1) }), Double(largest) < range.0 || Double(largest) > range.1 {
            note("W0 has entries outside the device's weight range [\(range.0), \(range.1)] (the largest \(largest)); analog arrays start "
                + "from W0 clipped to it")
        }
        // The .npy files go into lsq_weights/ as each curve ends (a curve's iterates are as large as W); W_ls and W* first.
        let weights = LeastSquares.weightsFolder
        var written = 0
        if let directory {
            let folder = (directory.path as NSString).appendingPathComponent(weights)
            if mkdir(folder, 0o755) != 0 && errno != EEXIST {
                throw OutputError("cannot create \(folder) (\(String(cString: strerror(errno))))")
            }
            try directory.write(weights + "/minimiser.npy", npy(m.w, shape: [p.outputs, p.inputs]))
            if let wStar = p.wStar { try directory.write(weights + "/target.npy", npy(wStar, shape: [p.outputs, p.inputs])) }
            written = p.wStar == nil ? 1 : 2
        }
        // Large problems take minutes: a progress line at most every --progress-seconds (on standard error, off the
        // table), with the time left at the mean time per curve so far (curves of more arrays take longer).
        let curves = c.algorithms.reduce(0) { n, a in
            n + (a == .multiTileResidual ? c.tiles.count : 1) * (a.transfers ? c.zeroShifts.count : 1)
        } * c.asymmetries.count
        let every = progressSeconds ?? 10
        var done = 0, lastLine = Date()
        let runs = try LeastSquares.runAll(c, problem: p, minimiser: m) { r in
            if let directory, let iterates = r.iterates {
                let files = LeastSquares.iterateFiles(r)
                try directory.write(files.last, npy(iterates.last, shape: [p.outputs, p.inputs]))
                try directory.write(files.average, npy(iterates.average, shape: [p.outputs, p.inputs]))
                written += 2
            }
            done += 1
            if every > 0 && Date().timeIntervalSince(lastLine) >= every && done < curves {
                lastLine = Date()
                let elapsed = lastLine.timeIntervalSince(started)
                let left = elapsed / Double(done) * Double(curves - done)
                FileHandle.standardError.write(Data(("lsq: \(done) of \(curves) curves done, " + String(format: "%.1f curves/min", 60 * Double(done) / elapsed)
                    + "; \(TrainingRun.duration(elapsed)) elapsed, about \(TrainingRun.duration(left)) left\n").utf8))
            }
        }
        let hasTarget = p.wStar != nil
        func name(_ r: LeastSquaresRun) -> String {
            r.algorithm.rawValue + (r.algorithm == .multiTileResidual ? " \(r.tiles) tiles" : "")
                + (r.algorithm.transfers ? (r.zeroShift == .none ? " (P not shifted)" : " (P zero-shifted)") : "")
        }
        /// One table: a row per curve name, a column per asymmetry.
        func table(_ title: String, _ value: (LeastSquaresRun) -> Double) {
            print(title.padding(toLength: 44, withPad: " ", startingAt: 0) + c.asymmetries.map { ("c = \($0)" as String).leftPadded(12) }.joined())
            var rows = [String: [Double]]()
            var order = [String]()
            for r in runs {
                if rows[name(r)] == nil { order.append(name(r)); rows[name(r)] = [] }
                rows[name(r)]!.append(value(r))
            }
            for row in order {
                print(row.padding(toLength: 44, withPad: " ", startingAt: 0)
                    + rows[row]!.map { $0.isFinite ? String(format: "%12.3e", $0) : "diverged".leftPadded(12) }.joined())
            }
        }
        let tail = { (r: LeastSquaresRun) in hasTarget ? r.tailError : r.tailMinimiserError }
        table(hasTarget ? "||W - W*||^2/||W*||^2, last quarter" : "||W - W_ls||^2/||W_ls||^2, last quarter", tail)
        let averaged = LeastSquares.averagedSteps(c)
        print("averaged iterate: the mean of W after each of the last \(averaged) of \(c.steps) steps (--average-last \(c.averageLast))")
        table("averaged iterate: ||W - W_ls||^2/||W_ls||^2", \.average.minimiserError)
        if hasTarget { table("averaged iterate: ||W - W*||^2/||W*||^2", \.average.relativeError) }
        // A curve whose error left the Float range (too large a learning rate): named, not printed as nan.
        let diverged = runs.filter { !tail($0).isFinite || !$0.average.minimiserError.isFinite }
        if !diverged.isEmpty {
            let which = diverged.map { "\($0.algorithm.rawValue) at c = \($0.asymmetry)" }
            FileHandle.standardError.write(Data(("lsq: note: \(diverged.count) of \(runs.count) runs diverged (the error is not finite; nan in lsq.csv): "
                + "\(which.prefix(4).joined(separator: ", "))\(which.count > 4 ? ", ..." : ""); lower --lr or --transfer-lr\n").utf8))
        }
        print(String(format: "%.1f s", Date().timeIntervalSince(started)))
        if let output, let directory {
            try directory.write("lsq.csv", text: LeastSquares.csv(runs, hasTarget: hasTarget))
            try directory.write("lsq_final.csv", text: LeastSquares.finalCSV(runs, steps: c.steps, hasTarget: hasTarget))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try directory.write("config.json", try encoder.encode(c))
            print("wrote \(output)/lsq.csv, \(output)/lsq_final.csv, \(output)/config.json and \(written) .npy files in \(output)/\(weights)")
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
