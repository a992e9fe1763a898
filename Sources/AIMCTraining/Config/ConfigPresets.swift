import AIMCCore

/// Named starting points for `--preset NAME` (train, sweep, plan; the device part for `device` and `lsq`): one
/// namespace holding every named device (`DevicePresets`, which set the device keys only, as `--device-preset` does)
/// and the aihwkit configurations, which set the device, algorithm, periphery, update and tile keys to aihwkit
/// 1.1.0's defaults for one of its `rpu_config`s, learning-rate conventions included: `--preset aihwkit-tiki-taka
/// --lr 0.1` trains what `AnalogSGD(lr=0.1)` with `UnitCellRPUConfig(device=TransferCompound(unit_cell_devices=
/// [SoftBoundsDevice(), SoftBoundsDevice()]))` trains in aihwkit. A preset applies before the other options, so any
/// option or `--set` changes it; the run's config.json records the resolved keys, not the preset's name.
///
/// What each aihwkit field becomes here (or why it is not modelled) is `AihwkitMapping`; a test checks every preset
/// against a table recorded from aihwkit 1.1.0 (`scripts/aihwkit_defaults.py`).
public enum ConfigPresets {
    public struct Preset: Sendable {
        public let name: String
        public let summary: String
        /// The aihwkit rpu_config it reproduces (nil for a device preset).
        public let aihwkit: String?
        /// The device it sets.
        public let device: DeviceConfig
        /// The keys beyond the device it sets (nil for a device preset).
        let configure: (@Sendable (inout ExperimentConfig) -> Void)?

        /// Whether it sets more than the device.
        public var setsAlgorithm: Bool { configure != nil }

        /// `config` with this preset's keys set.
        public func apply(to config: ExperimentConfig) -> ExperimentConfig {
            var c = config
            c.device = device
            configure?(&c)
            return c
        }
    }

    /// aihwkit's `SoftBoundsDevice()`: the device of every aihwkit configuration preset.
    static var aihwkitDevice: DeviceConfig { DevicePresets.named("aihwkit-soft-bounds")!.device }

    /// What every aihwkit configuration shares: its `IOParameters()` forward and backward (aihwkit applies no bound
    /// management backward), the transfer read (one-hot, no bound management, as aihwkit forces), its
    /// `UpdateParameters()` (desired_bl 31, update and BL management), pulsed updates per sample, no zero-shifting,
    /// tiles of at most 512 x 512 (`mapping.max_input_size`, `max_output_size`).
    static func aihwkitCommon(_ c: inout ExperimentConfig) {
        c.forward = .table4Forward
        c.backward = .table4Backward
        c.transfer = .table4Transfer
        c.update = UpdateConfig()
        c.model.tileSize = 512
        c.algorithm.updateMode = .pulsed
        c.algorithm.updatePer = .sample
        c.algorithm.expectedNoise = false
        c.algorithm.zeroShift = .none
    }

    /// aihwkit's TransferCompound conventions: fast_lr 1 (the fast array's rate, whatever the SGD rate), transfer_lr 1
    /// scaled by the SGD rate, one column (n_reads_per_transfer) every transfer_every 1 in the class's units.
    static func aihwkitTransfer(_ c: inout ExperimentConfig, unitsInMbatch: Bool) {
        c.algorithm.fastLR = 1
        c.algorithm.transferLR = 1
        c.algorithm.scaleTransferLR = true
        c.algorithm.transferEvery = 1
        c.algorithm.unitsInMbatch = unitsInMbatch
        c.algorithm.transferColumns = 1
        c.algorithm.gamma = 0
    }

    static func aihwkit(_ name: String, _ algorithm: Algorithm, rpuConfig: String, summary: String,
                        _ body: @escaping @Sendable (inout ExperimentConfig) -> Void) -> Preset {
        Preset(name: name, summary: summary, aihwkit: rpuConfig, device: aihwkitDevice, configure: { c in
            c.algorithm.name = algorithm
            aihwkitCommon(&c)
            body(&c)
        })
    }

    /// The aihwkit configurations, each aihwkit 1.1.0's defaults for its rpu_config with `SoftBoundsDevice()`.
    public static let aihwkitPresets: [Preset] = [
        aihwkit("aihwkit-analog-sgd", .analogSGD, rpuConfig: "SingleRPUConfig(device=SoftBoundsDevice())",
                summary: "aihwkit Analog SGD: SingleRPUConfig(device=SoftBoundsDevice()) defaults") { _ in },
        aihwkit("aihwkit-tiki-taka", .tikiTaka,
                rpuConfig: "UnitCellRPUConfig(device=TransferCompound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()]))",
                summary: "aihwkit TransferCompound defaults (Tiki-Taka v1): fast_lr 1, transfer_lr 1 x lr, one column per mini-batch") {
            aihwkitTransfer(&$0, unitsInMbatch: true)
        },
        aihwkit("aihwkit-ttv2", .tikiTakaV2,
                rpuConfig: "UnitCellRPUConfig(device=BufferedTransferCompound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()]))",
                summary: "aihwkit BufferedTransferCompound defaults (Tiki-Taka v2): buffer momentum 0.1, forgetting, one pulse per transfer") { c in
            aihwkitTransfer(&c, unitsInMbatch: true)
            c.algorithm[TikiTakaV2.momentum] = 0.1
            c.algorithm[TikiTakaV2.forgetBuffer] = true
            c.algorithm[TikiTakaV2.transferBL] = 1
            c.algorithm[TikiTakaV2.thresScale] = 1
        },
        aihwkit("aihwkit-c-ttv2", .choppedTikiTakaV2,
                rpuConfig: "UnitCellRPUConfig(device=ChoppedTransferCompound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()]))",
                summary: "aihwkit ChoppedTransferCompound defaults (c-TTv2): random input choppers 0.1, transfers every sample, gamma 0") { c in
            aihwkitTransfer(&c, unitsInMbatch: false)
            for p in [ChoppedTikiTakaV2.inChopProb.spec, ChoppedTikiTakaV2.inChopRandom.spec, ChoppedTikiTakaV2.outChopProb.spec,
                      ChoppedTikiTakaV2.bufferGranularity.spec, ChoppedTikiTakaV2.autoGranularity.spec, ChoppedTikiTakaV2.momentum.spec,
                      ChoppedTikiTakaV2.forgetBuffer.spec, ChoppedTikiTakaV2.transferBL.spec, ChoppedTikiTakaV2.autoScale.spec,
                      ChoppedTikiTakaV2.autoMomentum.spec, ChoppedTikiTakaV2.noBuffer.spec] {
                c.algorithm[value: p] = p.defaultValue
            }
        },
        aihwkit("aihwkit-agad", .agad,
                rpuConfig: "UnitCellRPUConfig(device=DynamicTransferCompound(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()]))",
                summary: "aihwkit DynamicTransferCompound defaults (AGAD): regular choppers every 10 passes, tail weight 5, transfers every sample") { c in
            aihwkitTransfer(&c, unitsInMbatch: false)
            for p in AGAD.parameters { c.algorithm[value: p] = p.defaultValue }
        },
        aihwkit("aihwkit-mixed-precision", .mixedPrecision,
                rpuConfig: "DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=SoftBoundsDevice()))",
                summary: "aihwkit MixedPrecisionCompound defaults: digital chi, all rows of trunc(chi / dw_min) into W every mini-batch") { c in
            c.algorithm.transferLR = 1
            c.algorithm.transferEvery = 1
            for p in MixedPrecision.parameters { c.algorithm[value: p] = p.defaultValue }
        },
    ]

    /// Every preset: the named devices, then the aihwkit configurations.
    public static let all: [Preset] = DevicePresets.all.map {
        Preset(name: $0.name, summary: $0.summary, aihwkit: nil, device: $0.device, configure: nil)
    } + aihwkitPresets

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> Preset? { all.first { $0.name == name } }

    /// The preset named `name`.
    /// - Throws: `ConfigError` naming `--preset` and every name.
    public static func require(_ name: String) throws(ConfigError) -> Preset {
        guard let p = named(name) else {
            throw ConfigError(key: "", option: "--preset", message: "must be one of \(names.joined(separator: ", ")); got \(name)")
        }
        return p
    }
}
