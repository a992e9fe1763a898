import AIMCCluster
import AIMCCore
import AIMCTraining
import ArgumentParser
import Foundation

/// `aimc-dist sweep`: many trainings in one MPI job, one summary CSV.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a grid of experiments in one MPI job and write one summary CSV.",
        discussion: """
        The grid is the Cartesian product of the --experiment preset's axes and every --set key=v1,v2 (any \
        configuration key; device.tau sets both bounds), with --seeds as a last axis. Options set the base \
        experiment of every point. A list key takes [a,b] or AxB values: --set 'model.hidden=[256,128],[512,256]' \
        or --set model.hidden=256x128,512x256 (a single number is a one-element list). Each key may be swept once, \
        not together with a shorthand that sets it (device.tau with device.w_max/w_min, device.n_states with \
        device.dw_min), and not while an option sets it too (--seed with --seeds, --n-states with device.dw_min). \
        Every point is checked before the first run; at most 10000 points. Each run writes \
        DIR/run-NNN/{config.json,metrics.csv,summary.json}; DIR/summary.csv gets one row per run (axis values, \
        final and best test accuracy, final train loss, epochs, seconds, digest).

        Examples:
          scripts/run.sh -n 2 sweep --experiment fig4-fcn --seeds 0,1,2 --epochs 3 --output runs/fig4
          scripts/run.sh -n 2 sweep --set algorithm.name=analog-sgd,residual --set device.asymmetry=0,0.2 --output runs/c
          aimc-dist sweep --list
        """)

    @Flag(help: "List the experiment presets and their axes.") var list = false
    @Option(help: ArgumentHelp("Start from a named experiment and sweep its axes.", valueName: "name")) var experiment: String?
    @Option(help: ArgumentHelp("Experiment configuration (JSON or YAML) for every point.", valueName: "file")) var config: String?
    @Option(name: .customLong("set"), help: ArgumentHelp("An axis: key=v1,v2,... (repeatable).", valueName: "key=values"))
    var axes: [String] = []
    @Option(parsing: .unconditional, help: ArgumentHelp("Seeds, comma separated (a last axis).", valueName: "list")) var seeds: String?
    @Option(help: ArgumentHelp("Sweep folder (summary.csv and one folder per run); required.", valueName: "dir")) var output: String?
    @Flag(help: "Replace what --output holds (a sweep and its runs, or a training run).") var overwrite = false
    @Flag(help: "Continue the sweep in --output (same options as when it started): finished points are kept, the stopped one continues from its checkpoint.")
    var resume = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Also write a checkpoint of the running point every n training steps (0 = at epoch ends only).", valueName: "n"))
    var checkpointEvery: Int = 0
    @OptionGroup(title: "Training") var options: TrainOptions

    /// The grid: the --experiment preset's axes (a --set of the same key replaces one), every --set, then --seeds;
    /// each point built over the base (defaults, --experiment, --config, options), resolved and validated.
    func points() throws -> [Sweep.Point] {
        guard let output else {
            throw ConfigError(key: "", option: "--output", message: "must name the sweep folder (sweep writes summary.csv and one folder per run there)")
        }
        guard !output.isEmpty else {
            throw ConfigError(key: "", option: "--output", message: "must name a folder; got an empty name")
        }
        if resume && overwrite { throw ConfigError(key: "", option: "--resume", message: "continues the sweep in --output; it cannot be combined with --overwrite") }
        guard checkpointEvery >= 0 && checkpointEvery <= 1_000_000_000 else {
            throw ConfigError(key: "", option: "--checkpoint-every", message: "must be an integer in 0...1000000000 (0 = at epoch ends only); got \(checkpointEvery)")
        }
        var base = ExperimentConfig.default
        var grid = [Sweep.Axis]()
        if let experiment {
            let p = try ExperimentPresets.named(experiment)
            base = p.config
            grid = p.axes.map { Sweep.Axis(key: $0.key, values: $0.values, option: "--experiment \(experiment)") }
        }
        var file: ConfigLoader.File?
        if let config { let f = try ConfigLoader.read(path: config, over: base); file = f; base = f.config }
        base = try options.apply(to: base)
        var given = try axes.map { (a) throws(ConfigError) in try Sweep.axis(a) }
        if let seeds { given.append(Sweep.Axis(key: "seed", values: try Sweep.values(seeds, key: "seed", option: "--seeds"), option: "--seeds")) }
        grid.removeAll { preset in given.contains { $0.key == preset.key } }
        grid += given
        if grid.isEmpty {
            throw ConfigError(key: "", option: "--set", message: "is needed: a sweep needs at least one axis (--experiment with axes, --set key=v1,v2 or --seeds)")
        }
        // The fixed options again, without the starting points (a device preset, the ideal periphery) that axes
        // may refine: a point they change has an axis that an option also sets.
        var fixed = options
        fixed.device.preset = nil
        fixed.device.devicePreset = nil
        fixed.idealIo = false
        do {
            return try Sweep.expand(base: base, axes: grid, fixed: { try fixed.apply(to: $0) })
        } catch let e as ConfigError {
            // A bad value the file gave (no axis sets it, no option replaced it) is named as the file's.
            let key = e.key.split(separator: "[").first.map(String.init) ?? ""
            guard let file, !grid.contains(where: { $0.keys.contains(key) }) else { throw e }
            throw file.attributing(e, final: base)
        }
    }

    func run() throws {
        if list {
            guard Launcher.current.isPrintingRank else { return }
            for p in ExperimentPresets.all {
                print("\(p.name): \(p.summary)")
                for a in p.axes { print("    \(a.key) = \(a.values.joined(separator: ","))") }
            }
            return
        }
        let status: Int32
        do {
            let grid = try points()
            if Launcher.current.isPrintingRank, let first = grid.first {
                // Notes for options that no point of the grid uses.
                var unused = options.unused(in: first.config)
                for p in grid.dropFirst() where !unused.isEmpty {
                    let here = Set(options.unused(in: p.config))
                    unused.removeAll { !here.contains($0) }
                }
                // Axes whose key no point uses: their runs differ only in the label.
                for (k, label) in first.labels.enumerated() {
                    let reasons = grid.map { $0.config.ineffective(label.key) }
                    if let why = reasons[0], reasons.allSatisfy({ $0 != nil }) {
                        unused.append("the axis \(label.key) (\(first.options[k])) has no effect at any point: \(why); its runs differ only in the label")
                    }
                }
                for note in unused { FileHandle.standardError.write(Data("aimc-dist: note: \(note)\n".utf8)) }
            }
            var policy = TrainingRun.CheckpointPolicy()
            policy.everySteps = checkpointEvery
            status = TrainingRun.sweep(points: grid, output: output ?? "", overwrite: overwrite, resume: resume, checkpoints: policy)
        } catch let e as ConfigError {
            status = TrainingRun.argumentFailure(e.description)
        } catch let e as ConfigFileError {
            status = TrainingRun.argumentFailure(e.description)
        }
        if status != 0 { throw ExitCode(status) }
    }
}
