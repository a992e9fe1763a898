/// What each field of an aihwkit 1.1.0 rpu_config becomes in aimc-dist: a configuration key (with the same value, or a
/// stated conversion), a fixed behaviour aimc-dist models (the aihwkit value it needs), or a field without effect
/// on training. The presets' test compares every aihwkit-* preset with the fields recorded from aihwkit by
/// `scripts/aihwkit_defaults.py` through this table, and the README's table of aihwkit names is written from it.
///
/// Field names are the recorder's: "device.<field>" for the pulsed device (a compound's two identical unit-cell
/// devices, or a mixed-precision compound's device), "compound.<field>" for a compound's own fields, and "forward.",
/// "backward.", "update.", "mapping." for the rpu_config's sections. Kinds: single (SingleRPUConfig), transfer
/// (TransferCompound), buffered, chopped, dynamic, mixed (MixedPrecisionCompound).
public enum AihwkitMapping {
    /// A recorded aihwkit value, or one of ours.
    public enum Value: Equatable, Sendable, CustomStringConvertible {
        case number(Double)
        case flag(Bool)
        case text(String)
        case emptyList

        public var description: String {
            switch self {
            case .number(let v): return "\(v)"
            case .flag(let v): return "\(v)"
            case .text(let v): return v
            case .emptyList: return "[]"
            }
        }
    }

    public enum Rule: Sendable {
        /// The configuration key holding the same value (numbers, flags; enum names compare after lowercasing and
        /// turning "_" into "-", so ABS_MAX is abs-max).
        case key(String)
        /// The configuration key whose value is `table[aihwkit value]`.
        case converted(String, [String: Value])
        /// The configuration key must hold `value` whatever aihwkit's field says, for the stated reason.
        case fixed(String, Value, String)
        /// Not a configuration key: aimc-dist models the behaviour of this aihwkit value (the preset is only
        /// faithful while aihwkit's field holds it).
        case modelled(Value, String)
        /// No effect on training here (inference, diagnostics, a field that matters only when another is on).
        case noEffect(String)
    }

    public struct Entry: Sendable {
        /// A recorded field name, or a prefix ending in "*".
        public let field: String
        /// The kinds it applies to (nil: all).
        public let kinds: Set<String>?
        public let rule: Rule

        init(_ field: String, _ rule: Rule, kinds: Set<String>? = nil) {
            self.field = field
            self.kinds = kinds
            self.rule = rule
        }

        func matches(_ name: String, kind: String) -> Bool {
            guard kinds?.contains(kind) ?? true else { return false }
            return field.hasSuffix("*") ? name.hasPrefix(field.dropLast()) : name == field
        }
    }

    static let threshold: Set<String> = ["buffered", "chopped", "dynamic"]
    static let compounds: Set<String> = ["transfer", "buffered", "chopped", "dynamic"]

    /// The periphery fields every IO section shares (forward, backward, a compound's transfer_forward).
    static func io(_ aihwkit: String, _ ours: String, backward: Bool = false, transfer: Bool = false) -> [Entry] {
        var e: [Entry] = [
            Entry(aihwkit + "is_perfect", .key(ours + "is_perfect")),
            Entry(aihwkit + "inp_bound", .key(ours + "inp_bound")),
            Entry(aihwkit + "inp_res", .key(ours + "inp_res")),
            Entry(aihwkit + "out_bound", .key(ours + "out_bound")),
            Entry(aihwkit + "out_noise", .key(ours + "out_noise")),
            Entry(aihwkit + "out_res", .key(ours + "out_res")),
            Entry(aihwkit + "mv_type", .modelled(.text("ONE_PASS"), "one MVM pass per read")),
            Entry(aihwkit + "inp_noise", .modelled(.number(0), "no input noise")),
            Entry(aihwkit + "inp_sto_round", .modelled(.flag(false), "deterministic DAC rounding")),
            Entry(aihwkit + "inp_asymmetry", .modelled(.number(0), "no DAC asymmetry")),
            Entry(aihwkit + "out_noise_std", .modelled(.number(0), "one output noise level for all columns")),
            Entry(aihwkit + "out_sto_round", .modelled(.flag(false), "deterministic ADC rounding")),
            Entry(aihwkit + "out_scale", .modelled(.number(1), "no output scale")),
            Entry(aihwkit + "out_asymmetry", .modelled(.number(0), "no ADC asymmetry")),
            Entry(aihwkit + "w_noise", .modelled(.number(0), "no weight read noise")),
            Entry(aihwkit + "w_noise_type", .modelled(.text("NONE"), "no weight read noise")),
            Entry(aihwkit + "ir_drop", .modelled(.number(0), "no IR drop")),
            Entry(aihwkit + "ir_drop_g_ratio", .noEffect("used with ir_drop only")),
            Entry(aihwkit + "out_nonlinearity", .modelled(.number(0), "linear ADC")),
            Entry(aihwkit + "out_nonlinearity_std", .modelled(.number(0), "linear ADC")),
            Entry(aihwkit + "slope_calibration", .modelled(.number(0), "linear ADC")),
            Entry(aihwkit + "v_offset_std", .modelled(.number(0), "no voltage offsets")),
            Entry(aihwkit + "v_offset_w_min", .noEffect("used with v_offset_std only")),
            Entry(aihwkit + "r_series", .modelled(.number(0), "no series resistance")),
            Entry(aihwkit + "w_read_asymmetry_dtod", .modelled(.number(0), "symmetric reads")),
            Entry(aihwkit + "max_bm_factor", .modelled(.number(1000), "bound management halves the input at most 5 times (inp_res x 2^k <= max_bm_res 0.25)")),
            Entry(aihwkit + "max_bm_res", .modelled(.number(0.25), "bound management halves the input at most 5 times (inp_res x 2^k <= max_bm_res 0.25)")),
            Entry(aihwkit + "bm_test_negative_bound", .modelled(.flag(true), "bound management tests both bounds")),
            Entry(aihwkit + "nm_thres", .modelled(.number(0), "abs-max noise management without a threshold")),
        ]
        if transfer {
            e.append(Entry(aihwkit + "noise_management", .fixed(ours + "noise_management", .text("none"),
                                                                 "a transfer read's one-hot input has max|x| = 1, so abs-max scaling is the identity")))
            e.append(Entry(aihwkit + "bound_management", .fixed(ours + "bound_management", .text("none"),
                                                                 "aihwkit turns bound management off for transfer reads (TransferRPUDeviceMetaParameter::initializeWithSize)")))
        } else {
            e.append(Entry(aihwkit + "noise_management", .key(ours + "noise_management")))
            e.append(Entry(aihwkit + "bound_management", backward
                           ? .fixed(ours + "bound_management", .text("none"), "aihwkit applies no bound management in the backward pass")
                           : .key(ours + "bound_management")))
        }
        return e
    }

    /// The pulse-train fields of an UpdateParameters section read as `ours` (nil: the threshold transfers' trains).
    static func update(_ aihwkit: String, kinds: Set<String>?) -> [Entry] {
        [
            Entry(aihwkit + "fixed_bl", .modelled(.flag(true), "trains of BL slots"), kinds: kinds),
            Entry(aihwkit + "pulse_type", .modelled(.text("STOCHASTIC_COMPRESSED"), "stochastic pulse trains (pulsed mode)"), kinds: kinds),
            Entry(aihwkit + "res", .modelled(.number(0), "unquantized train probabilities"), kinds: kinds),
            Entry(aihwkit + "x_res_implicit", .modelled(.number(0), "unquantized train probabilities"), kinds: kinds),
            Entry(aihwkit + "d_res_implicit", .modelled(.number(0), "unquantized train probabilities"), kinds: kinds),
            Entry(aihwkit + "d_sparsity", .noEffect("a statistic"), kinds: kinds),
            Entry(aihwkit + "sto_round", .modelled(.flag(false), "no stochastic rounding of the trains"), kinds: kinds),
            Entry(aihwkit + "um_grad_scale", .modelled(.number(1), "update management balances x and d by sqrt(max|x| / max|d|)"), kinds: kinds),
        ]
    }

    /// Every rule, in the order they are tried.
    public static let entries: [Entry] = [
        // The device (SoftBoundsDevice).
        Entry("device.class", .converted("device.family", ["SoftBoundsDevice": .text("soft-bounds"), "ConstantStepDevice": .text("constant-step"),
                                                           "LinearStepDevice": .text("linear-step"), "PowStepDevice": .text("pow-step"),
                                                           "ExpStepDevice": .text("exp-step"), "PiecewiseStepDevice": .text("piecewise-step")])),
        Entry("device.dw_min", .key("device.dw_min")),
        Entry("device.dw_min_dtod", .key("device.dw_min_dtod")),
        Entry("device.dw_min_dtod_log_normal", .key("device.dw_min_dtod_log_normal")),
        Entry("device.dw_min_std", .key("device.dw_min_std")),
        Entry("device.mult_noise", .converted("device.c2c_mode", ["true": .text("multiplicative"), "false": .text("additive")])),
        Entry("device.up_down", .key("device.up_down")),
        Entry("device.up_down_dtod", .key("device.up_down_dtod")),
        Entry("device.w_max", .key("device.w_max")),
        Entry("device.w_min", .key("device.w_min")),
        Entry("device.w_max_dtod", .key("device.w_max_dtod")),
        Entry("device.w_min_dtod", .key("device.w_min_dtod")),
        Entry("device.enforce_consistency", .modelled(.flag(true), "device-to-device draws keep up and down steps positive (abs), as aihwkit's enforce_consistency")),
        Entry("device.construction_seed", .noEffect("device parameters are drawn from streams keyed by the run's seed")),
        // Device effects (`DeviceEffects`: one type per effect, composed with every family).
        Entry("device.write_noise_std", .key("device.write_noise_std")),
        Entry("device.apply_write_noise_on_set", .key("device.apply_write_noise_on_set")),
        Entry("device.lifetime", .key("device.lifetime")),
        Entry("device.lifetime_dtod", .key("device.lifetime_dtod")),
        Entry("device.diffusion", .key("device.diffusion")),
        Entry("device.diffusion_dtod", .key("device.diffusion_dtod")),
        Entry("device.corrupt_devices_prob", .key("device.corrupt_devices_prob")),
        Entry("device.corrupt_devices_range", .key("device.corrupt_devices_range")),
        Entry("device.reset", .key("device.reset")),
        Entry("device.reset_dtod", .key("device.reset_dtod")),
        Entry("device.reset_std", .key("device.reset_std")),
        Entry("device.reverse_up", .modelled(.flag(false), "no reversed response")),
        Entry("device.reverse_down", .modelled(.flag(false), "no reversed response")),
        Entry("device.reverse_offset", .noEffect("used with reverse_up / reverse_down only")),
        Entry("device.perfect_bias", .noEffect("biases are digital (mapping.digital_bias)")),
        Entry("device.count_pulses", .noEffect("a diagnostic counter (aimc-dist counts pulses always)")),
        // The periphery.
    ] + io("forward.", "forward.") + io("backward.", "backward.", backward: true) + io("compound.transfer_forward.", "transfer.", transfer: true) + [
        Entry("update.desired_bl", .key("update.desired_bl")),
        Entry("update.update_bl_management", .key("update.update_bl_management")),
        Entry("update.update_management", .key("update.update_management")),
    ] + update("update.", kinds: nil) + [
        // Tiki-Taka v1's transfers are pulse trains with the gradient update's parameters.
        Entry("compound.transfer_update.desired_bl", .key("update.desired_bl"), kinds: ["transfer"]),
        Entry("compound.transfer_update.update_bl_management", .key("update.update_bl_management"), kinds: ["transfer"]),
        Entry("compound.transfer_update.update_management", .key("update.update_management"), kinds: ["transfer"]),
        // The threshold transfers fire n pulses directly.
        Entry("compound.transfer_update.desired_bl", .key("algorithm.transfer_desired_bl"), kinds: threshold),
        Entry("compound.transfer_update.update_bl_management", .modelled(.flag(false),
              "a threshold transfer fires its n <= transfer_desired_bl pulses one by one (aihwkit's train of transfer_desired_bl 1 slot fires exactly one)"), kinds: threshold),
        Entry("compound.transfer_update.update_management", .modelled(.flag(false), "as update_bl_management"), kinds: threshold),
    ] + update("compound.transfer_update.", kinds: compounds) + [
        Entry("mapping.max_input_size", .key("model.tile_size")),
        Entry("mapping.max_output_size", .key("model.tile_size")),
        Entry("mapping.digital_bias", .modelled(.flag(true), "digital biases, updated at lr")),
        Entry("mapping.weight_scaling_omega", .modelled(.number(0), "weights map onto conductances unscaled")),
        Entry("mapping.weight_scaling_columnwise", .noEffect("used with weight_scaling_omega only")),
        Entry("mapping.weight_scaling_lr_compensation", .modelled(.flag(false), "no weight scaling")),
        Entry("mapping.learn_out_scaling", .modelled(.flag(false), "no learned output scales")),
        Entry("mapping.out_scaling_columnwise", .noEffect("used with learn_out_scaling only")),
        // Transfer compounds.
        Entry("compound.class", .noEffect("the algorithm (algorithm.name) is checked per preset")),
        Entry("compound.construction_seed", .noEffect("device parameters are drawn from streams keyed by the run's seed")),
        Entry("compound.gamma", .key("algorithm.gamma"), kinds: compounds),
        Entry("compound.gamma_vec", .modelled(.emptyList, "weights gamma^n, no explicit list"), kinds: compounds),
        Entry("compound.transfer_every", .key("algorithm.transfer_every")),
        Entry("compound.transfer_every_vec", .modelled(.emptyList, "one transfer period"), kinds: compounds),
        Entry("compound.no_self_transfer", .modelled(.flag(true), "the last array does not transfer into itself"), kinds: compounds),
        Entry("compound.units_in_mbatch", .key("algorithm.units_in_mbatch"), kinds: compounds),
        Entry("compound.n_reads_per_transfer", .key("algorithm.transfer_columns"), kinds: compounds),
        Entry("compound.transfer_columns", .modelled(.flag(true), "transfers read columns (one-hot forward reads)"), kinds: compounds),
        Entry("compound.with_reset_prob", .key("algorithm.with_reset_prob"), kinds: ["transfer"]),
        Entry("compound.with_reset_prob",
              .noEffect("aihwkit's buffered, chopped and dynamic compounds ignore it (UNUSED(reset_prob_in), readAndUpdate)"), kinds: threshold),
        Entry("compound.random_selection", .modelled(.flag(false), "columns in sequence"), kinds: compounds),
        Entry("compound.fast_lr", .key("algorithm.fast_lr"), kinds: compounds),
        Entry("compound.transfer_lr", .key("algorithm.transfer_lr")),
        Entry("compound.transfer_lr_vec", .modelled(.emptyList, "one transfer rate"), kinds: compounds),
        Entry("compound.scale_transfer_lr", .key("algorithm.scale_transfer_lr"), kinds: compounds),
        Entry("compound.step", .modelled(.number(1), "a transfer pulse is one device pulse"), kinds: threshold),
        Entry("compound.momentum", .key("algorithm.momentum"), kinds: threshold),
        Entry("compound.forget_buffer", .key("algorithm.forget_buffer"), kinds: threshold),
        Entry("compound.thres_scale", .key("algorithm.thres_scale"), kinds: ["buffered"]),
        Entry("compound.in_chop_prob", .key("algorithm.in_chop_prob"), kinds: ["chopped", "dynamic"]),
        Entry("compound.in_chop_random", .key("algorithm.in_chop_random"), kinds: ["chopped", "dynamic"]),
        Entry("compound.out_chop_prob", .key("algorithm.out_chop_prob"), kinds: ["chopped"]),
        Entry("compound.out_chop_prob", .noEffect("AGAD's transfer never switches the output choppers (DynamicTransferRPUDevice::readAndUpdate)"), kinds: ["dynamic"]),
        Entry("compound.buffer_granularity", .key("algorithm.buffer_granularity"), kinds: ["chopped", "dynamic"]),
        Entry("compound.auto_granularity", .key("algorithm.auto_granularity"), kinds: ["chopped", "dynamic"]),
        Entry("compound.auto_scale", .key("algorithm.auto_scale"), kinds: ["chopped", "dynamic"]),
        Entry("compound.auto_momentum", .key("algorithm.auto_momentum"), kinds: ["chopped", "dynamic"]),
        Entry("compound.no_buffer", .key("algorithm.no_buffer"), kinds: ["chopped"]),
        Entry("compound.no_buffer", .noEffect("AGAD's transfer always buffers (DynamicTransferRPUDevice::readAndUpdate)"), kinds: ["dynamic"]),
        Entry("compound.correct_gradient_magnitudes", .modelled(.flag(false), "the transfer rate is not divided by the fast rate"), kinds: ["chopped", "dynamic"]),
        Entry("compound.tail_weightening", .key("algorithm.tail_weightening"), kinds: ["dynamic"]),
        Entry("compound.buffer_cap", .key("algorithm.buffer_cap"), kinds: ["dynamic"]),
        Entry("compound.experimental_correct_accumulation", .modelled(.flag(false), "plain running means"), kinds: ["dynamic"]),
        // Mixed precision.
        Entry("compound.granularity", .key("algorithm.granularity"), kinds: ["mixed"]),
        Entry("compound.n_rows_per_transfer", .key("algorithm.n_rows_per_transfer"), kinds: ["mixed"]),
        Entry("compound.random_row", .modelled(.flag(false), "rows in sequence"), kinds: ["mixed"]),
        Entry("compound.n_x_bins", .key("algorithm.n_x_bins"), kinds: ["mixed"]),
        Entry("compound.n_d_bins", .key("algorithm.n_d_bins"), kinds: ["mixed"]),
        Entry("compound.stoc_round_x", .key("algorithm.stoc_round_x"), kinds: ["mixed"]),
        Entry("compound.stoc_round_d", .key("algorithm.stoc_round_d"), kinds: ["mixed"]),
    ]

    /// The algorithm each kind of rpu_config trains.
    public static let algorithms: [String: String] = [
        "single": "analog-sgd", "transfer": "tiki-taka", "buffered": "tiki-taka-v2", "chopped": "c-ttv2", "dynamic": "agad",
        "mixed": "mixed-precision",
    ]

    /// aimc-dist keys without an aihwkit field, at the values that make aimc-dist behave as aihwkit (aihwkit has no
    /// asymmetry c beside up_down, no tile-to-tile variability, pulsed updates per sample, no zero-shifting).
    public static let neutral: [(key: String, value: Value)] = [
        ("device.asymmetry", .number(0)), ("device.asymmetry_dtod", .number(0)), ("device.gamma_dtod", .number(0)),
        ("device.symmetric_point_dtod", .number(0)), ("device.t2t_dw_min", .number(0)), ("device.t2t_symmetric_point", .number(0)),
        ("device.t2t_range", .number(0)), ("device.n_states", .number(0)),
        ("algorithm.update_mode", .text("pulsed")), ("algorithm.update_per", .text("sample")), ("algorithm.expected_noise", .flag(false)),
        ("algorithm.zero_shift", .text("none")),
    ]

    /// The rule for a recorded field of an rpu_config of `kind`, or nil when none applies.
    public static func rule(for field: String, kind: String) -> Rule? {
        entries.first { $0.matches(field, kind: kind) }?.rule
    }
}
