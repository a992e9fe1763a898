import AIMCCore
import AIMCTraining
import ArgumentParser
import Foundation

extension DeviceConfig.Family: ExpressibleByArgument {}
extension DeviceConfig.CycleToCycleMode: ExpressibleByArgument {}
extension ZeroShift: ExpressibleByArgument {}

/// Device options shared by `train`, `device` and `lsq`: a preset, a named device, then individual parameters on top.
struct DeviceOptions: ParsableArguments {
    @Option(name: .customLong("preset"), help: ArgumentHelp(
        "Start from a named preset (see `aimc-dist presets`): a device, or an aihwkit configuration that also sets the algorithm, periphery and update keys (train, sweep, plan; device and lsq take its device).",
        valueName: "name"))
    var preset: String?
    @Option(name: .customLong("device-preset"),
            help: ArgumentHelp("Start from a named device (see `aimc-dist presets`; applied after --preset).", valueName: "name"))
    var devicePreset: String?
    @Option(help: "Response-function family (default soft-bounds).") var family: DeviceConfig.Family?
    @Option(parsing: .unconditional, help: ArgumentHelp("Response granularity dw_min (default 0.001).", valueName: "x")) var dwMin: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Number of states (w_max - w_min)/dw_min, instead of --dw-min.", valueName: "n")) var nStates: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Symmetric bounds w in [-tau, tau] (default 0.6).", valueName: "x")) var tau: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Upper bound w_max (overrides --tau).", valueName: "x")) var wMax: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Lower bound w_min, negative (overrides --tau).", valueName: "x")) var wMin: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Asymmetry c in (-1, 1): up steps x (1+c), down steps x (1-c) (default 0).", valueName: "c")) var asymmetry: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("aihwkit's one-sided asymmetry up_down in (-1, 1) (default 0).", valueName: "x")) var upDown: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("gamma_res of the power and exponential families, 0...50 (0: constant step, soft-bounds shape; default 1).", valueName: "g")) var gammaRes: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("aihwkit gamma_up (linear-step slope, exp-step exponent).", valueName: "g")) var gammaUp: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("aihwkit gamma_down (linear-step slope, exp-step exponent).", valueName: "g")) var gammaDown: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("aihwkit pow_gamma of the pow-step family, 0...50 (0: constant step; default 1).", valueName: "g")) var powGamma: Double?
    @Option(help: ArgumentHelp("CSV of w,q_plus,q_minus rows for the piecewise family (at most 10000 rows, 1 MiB; a run's config.json embeds it).", valueName: "file")) var piecewiseTable: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Cycle-to-cycle noise, relative to dw_min (default 0.3).", valueName: "x")) var dwMinStd: Double?
    @Option(help: "Cycle-to-cycle noise form: additive (paper Eq. 26, default) or multiplicative (aihwkit).") var c2cMode: DeviceConfig.CycleToCycleMode?
    @Option(parsing: .unconditional, help: ArgumentHelp("Device-to-device spread of dw_min (default 0.3).", valueName: "x")) var dwMinDtod: Double?
    @Flag(help: "Draw dw_min spreads log-normally (aihwkit dw_min_dtod_log_normal).") var dwMinDtodLogNormal = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Device-to-device spread of w_max, relative (default 0.3).", valueName: "x")) var wMaxDtod: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Device-to-device spread of w_min, relative (default 0.3).", valueName: "x")) var wMinDtod: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Device-to-device spread of the asymmetry c (default 0).", valueName: "x")) var asymmetryDtod: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Device-to-device spread of up_down (aihwkit up_down_dtod; default 0).", valueName: "x")) var upDownDtod: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Device-to-device spread of gamma (default 0).", valueName: "x")) var gammaDtod: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Device-to-device spread of the symmetric point (absolute; default 0).", valueName: "x")) var symmetricPointDtod: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Tile-to-tile spread of dw_min, relative (default 0).", valueName: "x")) var t2tDwMin: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Tile-to-tile shift of the symmetric point (absolute; default 0).", valueName: "x")) var t2tSymmetricPoint: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Tile-to-tile spread of the range, relative (default 0).", valueName: "x")) var t2tRange: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Write noise on what reads see, in units of dw_min (aihwkit write_noise_std; default 0).", valueName: "x")) var writeNoiseStd: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Decay towards the reset bias, lifetime in mini-batches (aihwkit lifetime; default 0: none).", valueName: "t")) var lifetime: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Diffusion per mini-batch, weight units (aihwkit diffusion; default 0).", valueName: "x")) var diffusion: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Probability of a stuck device (aihwkit corrupt_devices_prob; default 0).", valueName: "p")) var corruptDevicesProb: Double?

    /// The options of this group given on the command line.
    var given: [String] {
        let options: [(String, Bool)] = [
            ("--preset", preset != nil), ("--device-preset", devicePreset != nil), ("--family", family != nil), ("--dw-min", dwMin != nil),
            ("--n-states", nStates != nil), ("--tau", tau != nil), ("--w-max", wMax != nil), ("--w-min", wMin != nil),
            ("--asymmetry", asymmetry != nil), ("--up-down", upDown != nil), ("--gamma-res", gammaRes != nil),
            ("--gamma-up", gammaUp != nil), ("--gamma-down", gammaDown != nil), ("--pow-gamma", powGamma != nil),
            ("--piecewise-table", piecewiseTable != nil), ("--dw-min-std", dwMinStd != nil), ("--c2c-mode", c2cMode != nil),
            ("--dw-min-dtod", dwMinDtod != nil), ("--dw-min-dtod-log-normal", dwMinDtodLogNormal), ("--w-max-dtod", wMaxDtod != nil),
            ("--w-min-dtod", wMinDtod != nil), ("--asymmetry-dtod", asymmetryDtod != nil), ("--up-down-dtod", upDownDtod != nil),
            ("--gamma-dtod", gammaDtod != nil), ("--symmetric-point-dtod", symmetricPointDtod != nil), ("--t2t-dw-min", t2tDwMin != nil),
            ("--t2t-symmetric-point", t2tSymmetricPoint != nil), ("--t2t-range", t2tRange != nil),
            ("--write-noise-std", writeNoiseStd != nil), ("--lifetime", lifetime != nil), ("--diffusion", diffusion != nil),
            ("--corrupt-devices-prob", corruptDevicesProb != nil),
        ]
        return options.filter(\.1).map(\.0)
    }

    /// Applies the preset's device, the named device and the options to `base`.
    func apply(to base: DeviceConfig) throws -> DeviceConfig {
        var d = base
        if let preset { d = try ConfigPresets.require(preset).device }
        if let devicePreset {
            guard let p = DevicePresets.named(devicePreset) else {
                throw ConfigError(key: "", option: "--device-preset",
                                  message: "must be one of \(DevicePresets.names.joined(separator: ", ")); got \(devicePreset)")
            }
            d = p.device
        }
        if dwMin != nil && nStates != nil {
            throw ConfigError(key: "", option: "--dw-min", message: "and --n-states set the same thing; give one of them")
        }
        if let family { d.family = family }
        if let dwMin { d.dwMin = dwMin; d.nStates = 0 }
        if let nStates { d.nStates = nStates }
        if let tau { d.wMax = tau; d.wMin = -tau }
        if let wMax { d.wMax = wMax }
        if let wMin { d.wMin = wMin }
        if let asymmetry { d.asymmetry = asymmetry }
        if let upDown { d.upDown = upDown }
        if let gammaRes { d.gamma = gammaRes }
        if let gammaUp { d.gammaUp = gammaUp }
        if let gammaDown { d.gammaDown = gammaDown }
        if let powGamma { d.powGamma = powGamma }
        if let piecewiseTable { d.piecewiseTable = piecewiseTable }
        if let dwMinStd { d.dwMinStd = dwMinStd }
        if let c2cMode { d.c2cMode = c2cMode }
        if let dwMinDtod { d.dwMinDtod = dwMinDtod }
        if dwMinDtodLogNormal { d.dwMinDtodLogNormal = true }
        if let wMaxDtod { d.wMaxDtod = wMaxDtod }
        if let wMinDtod { d.wMinDtod = wMinDtod }
        if let asymmetryDtod { d.asymmetryDtod = asymmetryDtod }
        if let upDownDtod { d.upDownDtod = upDownDtod }
        if let gammaDtod { d.gammaDtod = gammaDtod }
        if let symmetricPointDtod { d.symmetricPointDtod = symmetricPointDtod }
        if let t2tDwMin { d.t2tDwMin = t2tDwMin }
        if let t2tSymmetricPoint { d.t2tSymmetricPoint = t2tSymmetricPoint }
        if let t2tRange { d.t2tRange = t2tRange }
        if let writeNoiseStd { d.writeNoiseStd = writeNoiseStd }
        if let lifetime { d.lifetime = lifetime }
        if let diffusion { d.diffusion = diffusion }
        if let corruptDevicesProb { d.corruptDevicesProb = corruptDevicesProb }
        return d
    }
}

/// `aimc-dist presets`: the named devices and the aihwkit configurations.
struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the presets (use with --preset; devices also with --device-preset).")

    func validate() throws { try requireSingleProcess("presets") }

    func run() throws {
        let width = ConfigPresets.names.map(\.count).max() ?? 0
        print("Devices (set the device keys):")
        for p in ConfigPresets.all where !p.setsAlgorithm {
            print("  " + p.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + "[\(p.device.family.rawValue)] " + p.summary)
        }
        print("aihwkit 1.1.0 configurations (set the device, algorithm, periphery, update and tile keys; --lr is AnalogSGD's lr):")
        for p in ConfigPresets.all where p.setsAlgorithm {
            let algorithm = p.apply(to: .default).algorithm.name.rawValue
            print("  " + p.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + "[\(algorithm)] " + p.summary)
        }
    }
}
