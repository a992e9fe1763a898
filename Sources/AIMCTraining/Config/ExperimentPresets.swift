import AIMCCore

/// Named experiments after the paper's Fashion-MNIST/MNIST experiments (Fig. 4, Tables 7 and 8) and its follow-ups,
/// each a base configuration and, for sweeps, the axes it varies (configuration keys and their values).
public enum ExperimentPresets {
    public struct Preset: Sendable {
        public let name: String
        public let summary: String
        public let config: ExperimentConfig
        /// Sweep axes: (configuration key, values), varied as a Cartesian product by `aimc-dist sweep`.
        public let axes: [(key: String, values: [String])]
    }

    static let fig4Algorithms = ["digital-sgd", "analog-sgd", "tiki-taka", "tiki-taka-v2", "residual", "residual-v2", "multi-tile-residual"]

    static func powerDevice(_ c: inout ExperimentConfig) {
        c.device = DevicePresets.named("paper-power")!.device
    }

    /// The default experiment with the paper's CNN (`ModelConfig.named` "cnn-paper"), batch 8 (the paper's), one epoch of
    /// the first 10000 training images and 2000 test images (the budget of a small machine), then `adjust`.
    static func cnnConfig(_ adjust: (inout ExperimentConfig) -> Void) -> ExperimentConfig {
        var c = ExperimentConfig.default
        ModelConfig.named.first { $0.name == "cnn-paper" }!.apply(&c.model)
        c.training.batchSize = 8
        c.training.epochs = 1
        c.training.trainLimit = 10_000
        c.training.testLimit = 2_000
        adjust(&c)
        return c
    }

    public static let all: [Preset] = [
        Preset(name: "default", summary: "the embedded default: Residual Learning, soft bounds with 30% variability, Table 4 periphery",
               config: .default, axes: []),
        Preset(name: "fig4-fcn",
               summary: "paper Fig. 4 (FCN 784-256-128-10, batch 10) on Fashion-MNIST with the paper-power device; sweeps all algorithms",
               config: { var c = ExperimentConfig.default; powerDevice(&c); return c }(),
               axes: [("algorithm.name", fig4Algorithms)]),
        Preset(name: "fig4-paper",
               summary: "paper Fig. 4 at the paper's own budget: fig4-fcn with 30 epochs, alpha 0.05, beta 0.01 (hours on a small machine)",
               config: {
                   var c = ExperimentConfig.default
                   powerDevice(&c)
                   c.training.epochs = 30
                   c.algorithm.lr = 0.05
                   c.algorithm.transferLR = 0.01
                   return c
               }(),
               axes: [("algorithm.name", fig4Algorithms)]),
        Preset(name: "fig4-cnn",
               summary: "paper Fig. 4 / Table 7, CNN (conv16k5, pool2, conv32k5, pool2, dense128, tanh; batch 8) on Fashion-MNIST with the "
                   + "paper-power device: digital SGD, Analog SGD, Tiki-Taka and Residual Learning; one epoch of 10000 images",
               config: cnnConfig { c in powerDevice(&c) },
               axes: [("algorithm.name", ["digital-sgd", "analog-sgd", "tiki-taka", "residual"])]),
        Preset(name: "table7-cnn",
               summary: "paper Table 7 on the CNN: cycle-to-cycle noise 10% and 120% (soft bounds, no d2d) for Analog SGD, Tiki-Taka and "
                   + "Residual Learning; one epoch of 10000 images",
               config: cnnConfig { c in c.device = DeviceConfig() },
               axes: [("algorithm.name", ["analog-sgd", "tiki-taka", "residual"]), ("device.dw_min_std", ["0.1", "1.2"])]),
        Preset(name: "table7-c2c",
               summary: "paper Table 7: cycle-to-cycle noise 10% to 120% for Analog SGD and Tiki-Taka (soft bounds, no d2d)",
               config: { var c = ExperimentConfig.default; c.device = DeviceConfig(); return c }(),
               axes: [("algorithm.name", ["analog-sgd", "tiki-taka"]), ("device.dw_min_std", ["0.1", "0.3", "0.6", "0.9", "1.2"])]),
        Preset(name: "table8-response",
               summary: "paper Table 8: power and exponential responses, gamma_res 0.5/1/2, tau 0.6/0.7/0.8, Analog SGD vs Residual Learning",
               config: { var c = ExperimentConfig.default; powerDevice(&c); return c }(),
               axes: [("algorithm.name", ["analog-sgd", "residual"]), ("device.family", ["power", "exponential"]),
                      ("device.gamma", ["0.5", "1", "2"]), ("device.tau", ["0.6", "0.7", "0.8"])]),
        Preset(name: "few-state-fcn",
               summary: "arXiv 2510.02516: soft bounds on [-1, 1] with 4/10/20 states, zero-shifted; residual learning on 2/3/4 tiles (gamma 0.25, beta 0.1, period ratio 4)",
               config: {
                   var c = ExperimentConfig.default
                   c.device = DevicePresets.named("reram-4-states")!.device
                   c.algorithm.name = .multiTileResidual
                   c.algorithm.gamma = 0.25
                   c.algorithm.transferLR = 0.1
                   c.algorithm[MultiTileResidual.transferEveryGrowth] = 4
                   c.algorithm.zeroShift = .ideal
                   return c
               }(),
               axes: [("device.n_states", ["4", "10", "20"]), ("algorithm.tiles", ["2", "3", "4"])]),
        Preset(name: "t2t-study",
               summary: "tile-to-tile variability: symmetric-point shift 0/0.15/0.3 and dw_min spread 0/0.5 for Analog SGD, Tiki-Taka and "
                   + "Residual Learning, with and without zero-shifting, on 3 chips (device seeds 0, 1, 2); the default device and FCN, "
                   + "one epoch of 30000 images, tiles recorded every 500 steps",
               config: {
                   var c = ExperimentConfig.default
                   c.training.epochs = 1
                   c.training.trainLimit = 30_000
                   c.training.testLimit = 2_000
                   c.telemetry.every = 500
                   return c
               }(),
               axes: [("algorithm.name", ["analog-sgd", "tiki-taka", "residual"]), ("algorithm.zero_shift", ["none", "ideal"]),
                      ("device.t2t_symmetric_point", ["0", "0.15", "0.3"]), ("device.t2t_dw_min", ["0", "0.5"]),
                      ("device_seed", ["0", "1", "2"])]),
    ]

    public static var names: [String] { all.map(\.name) }

    /// - Throws: `ConfigError` naming `--experiment` and the known names.
    public static func named(_ name: String) throws(ConfigError) -> Preset {
        guard let p = all.first(where: { $0.name == name }) else {
            throw ConfigError(key: "", option: "--experiment", message: "must be one of \(names.joined(separator: ", ")); got \(name)")
        }
        return p
    }
}
