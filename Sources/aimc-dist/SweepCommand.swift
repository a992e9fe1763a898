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
        experiment of every point. Each run writes DIR/run-NNN/{config.json,metrics.csv,summary.json}; \
        DIR/summary.csv gets one row per run (axis values, final and best test accuracy, final train loss, epochs, \
        seconds, digest).

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
    @Option(help: ArgumentHelp("Seeds, comma separated (a last axis).", valueName: "list")) var seeds: String?
    @Option(help: ArgumentHelp("Sweep folder (summary.csv and one folder per run); required.", valueName: "dir")) var output: String?
    @Flag(help: "Replace a sweep (and its runs) in --output.") var overwrite = false
    @OptionGroup(title: "Training") var options: TrainOptions

    func points() throws -> [Sweep.Point] {
        var base = ExperimentConfig.default
        var grid = [(key: String, values: [String])]()
        if let experiment {
            let p = try ExperimentPresets.named(experiment)
            base = p.config
            grid = p.axes
        }
        if let config { base = try ConfigLoader.load(path: config, over: base) }
        base = try options.apply(to: base)
        for a in axes {
            let axis = try Sweep.axis(a)
            grid.removeAll { $0.key == axis.key }
            grid.append(axis)
        }
        if let seeds { grid.append(try Sweep.axis("seed=" + seeds)) }
        guard output != nil else {
            throw ConfigError(key: "", option: "--output", message: "must name the sweep folder (sweep writes summary.csv and one folder per run there)")
        }
        if grid.isEmpty {
            throw ConfigError(key: "sweep", option: "--set", message: "a sweep needs at least one axis (--experiment with axes, --set or --seeds)")
        }
        let points = try Sweep.expand(base: base, axes: grid)
        if points.count > 10_000 {
            throw ConfigError(key: "sweep", option: "--set", message: "the grid has \(points.count) points; at most 10000")
        }
        return points
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
            status = TrainingRun.sweep(points: try points(), output: output ?? "", overwrite: overwrite)
        } catch let e as ConfigError {
            status = TrainingRun.argumentFailure(e.description)
        } catch let e as ConfigFileError {
            status = TrainingRun.argumentFailure(e.description)
        }
        if status != 0 { throw ExitCode(status) }
    }
}
