import Foundation

/// Nominal parameters of a resistive device, its response-function family and its variability at three levels:
/// plain data, validated, Codable.
///
/// Names follow the paper (arXiv 2502.06309) first and IBM aihwkit second (`dw_min`, `w_max`, `w_min`, `up_down`,
/// `dw_min_std`, `dw_min_dtod`, `w_max_dtod`, `gamma_up`, ...), so a device of either carries over by name and value.
/// Units: the weight w, `w_max`, `w_min` and `dw_min` are in conductance units.
public struct DeviceConfig: Codable, Sendable, Equatable {
    /// Response-function families: q_+(w) and q_-(w) are the up and down steps in units of dw_min.
    /// The paper's families have bare names; aihwkit's parameterisations end in `-step`.
    public enum Family: String, Codable, Sendable, CaseIterable {
        /// Ideal constant step: q_+ = q_- = 1 (aihwkit ConstantStep), hard bounds.
        case constantStep = "constant-step"
        /// The paper's generalized linear device (Fig. 2): q_+ = (1 + c)(1 - w/w_max), q_- = (1 - c)(1 - w/w_min);
        /// aihwkit SoftBounds when c = 0 (aihwkit writes the asymmetry as `up_down`). Symmetric point c*tau.
        case softBounds = "soft-bounds"
        /// The paper's power response (Eq. 148): q_+ = (1 - w/w_max)^gamma, q_- = (1 - w/w_min)^gamma; q(0) = 1.
        /// gamma = 0 is the constant step (x^0 = 1, also at the bounds).
        case power
        /// The paper's exponential response (Eq. 149): q_+ = (exp(gamma (1 - w/w_max)) - 1)/(exp(gamma) - 1),
        /// q_- likewise with 1 - w/w_min; q(0) = 1. gamma = 0 is its limit q_+ = 1 - w/w_max, q_- = 1 - w/w_min
        /// (the soft-bounds shape).
        case exponential
        /// Piecewise linear q_+(w), q_-(w) from a table of (w, q_+, q_-) points, for measured devices; constant
        /// beyond the first and last point. The table is a CSV file (`piecewise_table`) or the points themselves
        /// (`piecewise_w`, `piecewise_q_plus`, `piecewise_q_minus`); a resolved configuration holds the points.
        case piecewise
        /// aihwkit LinearStep: up step dw (1 - gamma_up w/ref_up), down step dw (1 - gamma_down w/ref_down), with
        /// ref the mean bound (`mean_bound_reference`) or the device's own bound; hard bounds.
        case linearStep = "linear-step"
        /// aihwkit PowStep: up step dw ((b_max - w)/(b_max - b_min))^gamma_up. It differs from `power` in the
        /// normalisation: the range, not the bound, so its step at w = 0 is dw_min * 0.5^gamma for symmetric bounds.
        case powStep = "pow-step"
        /// aihwkit ExpStep: z = 2 a w/(b_max - b_min) + b, up step dw max(1 - A_up exp(gamma_up z), 0), down step
        /// dw max(1 - A_down exp(-gamma_down z), 0).
        case expStep = "exp-step"
        /// aihwkit PiecewiseStep: relative steps `piecewise_up`, `piecewise_down` at nodes equally spaced from b_min
        /// to b_max, interpolated linearly.
        case piecewiseStep = "piecewise-step"
    }

    /// How cycle-to-cycle noise enters one pulse.
    public enum CycleToCycleMode: String, Codable, Sendable, CaseIterable {
        /// The paper's Eq. 26: w <- w +- dw_min (q_+-(w) + dw_min_std * xi).
        case additive
        /// aihwkit's form: w <- w +- dw_min q_+-(w) (1 + dw_min_std * xi).
        case multiplicative
    }

    public var family: Family = .softBounds
    /// Response granularity dw_min (> 0): the step of one pulse where q = 1.
    public var dwMin: Double = 0.001
    /// Number of states (w_max - w_min)/dw_min; when > 0 it sets dw_min (an alternative to `dw_min`).
    public var nStates: Double = 0
    /// Upper bound w_max (= tau) of the conductance range (> 0).
    public var wMax: Double = 0.6
    /// Lower bound w_min (= -tau) of the conductance range (< 0).
    public var wMin: Double = -0.6
    /// Asymmetry c, in (-1, 1): up steps scaled by (1 + c), down steps by (1 - c) (the paper's generalized linear
    /// device; applied to every family).
    public var asymmetry: Double = 0
    /// aihwkit's one-sided asymmetry: up_down > 0 shrinks down steps by up_down * dw_min, < 0 shrinks up steps.
    public var upDown: Double = 0
    /// gamma_res of the paper's power and exponential families, in [0, 50]; 0 is each family's limit (power: the
    /// constant step; exponential: the soft-bounds shape).
    public var gamma: Double = 1
    /// aihwkit LinearStep slopes gamma_up, gamma_down; aihwkit ExpStep exponents gamma_up, gamma_down.
    public var gammaUp: Double = 0
    public var gammaDown: Double = 0
    /// aihwkit LinearStep: reference the mean bounds (true) or each device's own bounds (false).
    public var meanBoundReference: Bool = true
    /// aihwkit PowStep: exponent pow_gamma and its one-sided up/down asymmetry pow_up_down.
    public var powGamma: Double = 1
    public var powUpDown: Double = 0
    /// Device-to-device spread of pow_up_down (aihwkit `pow_up_down_dtod`).
    public var powUpDownDtod: Double = 0
    /// aihwkit ExpStep shape constants (defaults: aihwkit's).
    public var aUp: Double = 0.00081
    public var aDown: Double = 0.36833
    public var expA: Double = 0.244
    public var expB: Double = 0.2425
    /// aihwkit PiecewiseStep node values (relative steps), equally spaced from w_min to w_max.
    public var piecewiseUp: [Double] = [1]
    public var piecewiseDown: [Double] = [1]
    /// The `piecewise` family's table: a CSV file with columns w, q_plus, q_minus (header optional), w increasing,
    /// at most `PiecewiseTable.maximumRows` rows and `PiecewiseTable.maximumFileSize` bytes. When it names a file,
    /// the file is read and its points replace `piecewise_w`, `piecewise_q_plus`, `piecewise_q_minus`;
    /// `embedPiecewiseTable()` does that once and clears this name, so a resolved configuration carries the table.
    public var piecewiseTable: String = ""
    /// The `piecewise` family's points (w strictly increasing, q > 0, same length), used when `piecewise_table` is
    /// empty: the table embedded in a run's config.json.
    public var piecewiseW: [Double] = []
    public var piecewiseQPlus: [Double] = []
    public var piecewiseQMinus: [Double] = []

    /// Cycle-to-cycle noise sigma_c, relative to dw_min (Eq. 26), >= 0.
    public var dwMinStd: Double = 0
    public var c2cMode: CycleToCycleMode = .additive

    /// Device-to-device spread (each element, fixed): dw_min_i = dw_min |1 + dw_min_dtod xi| (or
    /// dw_min exp(dw_min_dtod xi) when `dw_min_dtod_log_normal`); bounds relative w_max (1 + w_max_dtod xi);
    /// asymmetry c + asymmetry_dtod xi; aihwkit's up_down spread r = up_down_dtod xi; gamma relative
    /// gamma (1 + gamma_dtod xi) (power, exponential; pow_gamma for pow-step; gamma_up/down absolute for
    /// linear-step); symmetric-point offset (absolute) symmetric_point_dtod xi.
    public var dwMinDtod: Double = 0
    public var dwMinDtodLogNormal: Bool = false
    public var wMaxDtod: Double = 0
    public var wMinDtod: Double = 0
    public var asymmetryDtod: Double = 0
    public var upDownDtod: Double = 0
    public var gammaDtod: Double = 0
    public var symmetricPointDtod: Double = 0

    /// Tile-to-tile spread (each array, fixed): a gain |1 + t2t_dw_min xi| on dw_min, a symmetric-point shift
    /// t2t_symmetric_point xi (absolute) and a range scale |1 + t2t_range xi| on both bounds.
    public var t2tDwMin: Double = 0
    public var t2tSymmetricPoint: Double = 0
    public var t2tRange: Double = 0

    /// Device effects beyond the pulse response (aihwkit 1.1.0 `PulsedDevice` and its LinearStep-type subclasses, with
    /// aihwkit's names and defaults; every one off by default). They compose with every family (`DeviceEffects`).
    /// Write noise (aihwkit `write_noise_std`, in units of dw_min, >= 0): pulses act on a hidden persistent state; the
    /// weight a read sees is that state plus N(0, (write_noise_std dw_min)^2), drawn anew whenever the device is updated
    /// and after every per-mini-batch effect.
    public var writeNoiseStd: Double = 0
    /// Whether programming the weights (`set_weights`, the initial weights) draws write noise too (aihwkit
    /// `apply_write_noise_on_set`).
    public var applyWriteNoiseOnSet: Bool = true
    /// Decay towards the reset bias after every mini-batch, w <- (w - b)(1 - 1/lifetime_i) + b (aihwkit `lifetime`,
    /// in mini-batches; 0: no decay); lifetime_i = lifetime (1 + lifetime_dtod xi), and 1 - 1/lifetime_i is taken as 0
    /// when lifetime_i <= 1.
    public var lifetime: Double = 0
    public var lifetimeDtod: Double = 0
    /// Diffusion after every mini-batch, w <- w + rho_i xi with rho_i = abs(diffusion (1 + diffusion_dtod xi))
    /// (aihwkit `diffusion`, weight units per mini-batch; 0: none).
    public var diffusion: Double = 0
    public var diffusionDtod: Double = 0
    /// Reset bias b_i = reset + reset_dtod xi (aihwkit `reset`, `reset_dtod`, both in weight units): where decay pulls
    /// a device, and the mean a reset programs it to; a reset draws w = b_i + reset_std xi (aihwkit `reset_std`).
    public var reset: Double = 0
    public var resetDtod: Double = 0
    public var resetStd: Double = 0.01
    /// Corrupt (stuck) devices (aihwkit `corrupt_devices_prob`, `corrupt_devices_range`): each device is stuck with
    /// this probability, at a value uniform in [max(b_min, -range), min(b_max, range)]; nothing moves it.
    public var corruptDevicesProb: Double = 0
    public var corruptDevicesRange: Double = 0.1

    /// A nominal soft-bounds device without variability (dw_min 1e-3, tau 0.6, c 0).
    public init() {}

    /// The default device of aimc-dist's experiments: soft bounds with aihwkit's default variability
    /// (dw_min 1e-3, w in [-0.6, 0.6], dw_min_std 0.3, dw_min_dtod 0.3, w_max_dtod 0.3, w_min_dtod 0.3), with the
    /// paper's additive cycle-to-cycle form (Eq. 26).
    public static var softBoundsDefault: DeviceConfig {
        var d = DeviceConfig()
        d.dwMinStd = 0.3
        d.dwMinDtod = 0.3
        d.wMaxDtod = 0.3
        d.wMinDtod = 0.3
        return d
    }

    enum CodingKeys: String, CodingKey {
        case family, dwMin = "dw_min", nStates = "n_states", wMax = "w_max", wMin = "w_min", asymmetry
        case upDown = "up_down", gamma, gammaUp = "gamma_up", gammaDown = "gamma_down"
        case meanBoundReference = "mean_bound_reference", powGamma = "pow_gamma", powUpDown = "pow_up_down"
        case powUpDownDtod = "pow_up_down_dtod"
        case aUp = "A_up", aDown = "A_down", expA = "a", expB = "b"
        case piecewiseUp = "piecewise_up", piecewiseDown = "piecewise_down", piecewiseTable = "piecewise_table"
        case piecewiseW = "piecewise_w", piecewiseQPlus = "piecewise_q_plus", piecewiseQMinus = "piecewise_q_minus"
        case dwMinStd = "dw_min_std", c2cMode = "c2c_mode"
        case dwMinDtod = "dw_min_dtod", dwMinDtodLogNormal = "dw_min_dtod_log_normal", wMaxDtod = "w_max_dtod"
        case wMinDtod = "w_min_dtod", asymmetryDtod = "asymmetry_dtod", upDownDtod = "up_down_dtod"
        case gammaDtod = "gamma_dtod", symmetricPointDtod = "symmetric_point_dtod"
        case t2tDwMin = "t2t_dw_min", t2tSymmetricPoint = "t2t_symmetric_point", t2tRange = "t2t_range"
        case writeNoiseStd = "write_noise_std", applyWriteNoiseOnSet = "apply_write_noise_on_set"
        case lifetime, lifetimeDtod = "lifetime_dtod", diffusion, diffusionDtod = "diffusion_dtod"
        case reset, resetDtod = "reset_dtod", resetStd = "reset_std"
        case corruptDevicesProb = "corrupt_devices_prob", corruptDevicesRange = "corrupt_devices_range"
    }

    /// dw_min as used: from `n_states` when that is set.
    public var effectiveDwMin: Double { nStates > 0 ? (wMax - wMin) / nStates : dwMin }

    /// Number of states (w_max - w_min)/dw_min of the nominal device ([A-md] Section 1).
    public var stateCount: Double { (wMax - wMin) / effectiveDwMin }

    /// Whether any device-to-device spread is set.
    public var hasDeviceToDevice: Bool {
        dwMinDtod > 0 || wMaxDtod > 0 || wMinDtod > 0 || asymmetryDtod > 0 || upDownDtod > 0 || gammaDtod > 0
            || symmetricPointDtod > 0 || powUpDownDtod > 0
    }

    /// Whether any device effect (write noise, decay, diffusion, corrupt devices) is on, or the reset biases have a
    /// device-to-device spread (`DeviceEffects`: they are then drawn and stored per device).
    public var hasEffects: Bool { writeNoiseStd > 0 || lifetime > 0 || diffusion > 0 || corruptDevicesProb > 0 || resetDtod > 0 }

    /// Whether any tile-to-tile spread is set.
    public var hasTileToTile: Bool { t2tDwMin > 0 || t2tSymmetricPoint > 0 || t2tRange > 0 }

    /// A scalar parameter's validated interval: what `validate()` checks, and what tests sweep (so a parameter
    /// added here is checked at the ends of its range by the family sweep).
    public struct ParameterRange {
        /// The configuration key under `device` (e.g. "gamma").
        public let key: String
        /// The command-line option that sets it, if any.
        public let option: String?
        public let path: WritableKeyPath<DeviceConfig, Double>
        public let lower: Double, upper: Double
        /// Whether the ends themselves are excluded.
        public let lowerOpen: Bool, upperOpen: Bool
        /// 0 is allowed besides the interval (n_states: 0 means "use dw_min").
        public let zeroAllowed: Bool
        /// The rule as the error states it ("must lie in [0, 50] for the power family").
        public let rule: String

        init(_ key: String, _ option: String?, _ path: WritableKeyPath<DeviceConfig, Double>, _ lower: Double,
             _ upper: Double, open: (Bool, Bool) = (false, false), zeroAllowed: Bool = false, rule: String? = nil,
             context: String = "") {
            self.key = key
            self.option = option
            self.path = path
            self.lower = lower
            self.upper = upper
            (lowerOpen, upperOpen) = open
            self.zeroAllowed = zeroAllowed
            let interval = (open.0 ? "(" : "[") + Self.number(lower) + ", " + Self.number(upper) + (open.1 ? ")" : "]")
            self.rule = rule ?? "must lie in \(interval)\(context)"
        }

        public func contains(_ v: Double) -> Bool {
            if zeroAllowed && v == 0 { return true }
            return (lowerOpen ? v > lower : v >= lower) && (upperOpen ? v < upper : v <= upper)
        }

        /// 1e-09 -> "1e-9", 1e+06 -> "1e6", 50 -> "50".
        static func number(_ v: Double) -> String {
            if v == v.rounded() && abs(v) < 1e5 { return String(Int(v)) }
            return String(format: "%g", v).replacingOccurrences(of: "e-0", with: "e-")
                .replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e")
        }
    }

    /// The smallest nonzero magnitude a parameter stored as Float may have: Float's smallest normal number
    /// (about 1.18e-38). A smaller value would become 0 or a denormal with a few bits of precision.
    public static let smallestFloatMagnitude = Double(Float.leastNormalMagnitude)

    /// The scalar parameters of this device's family with their validated intervals (the symmetric-point spreads'
    /// upper end is this device's range w_max - w_min).
    public var parameterRanges: [ParameterRange] {
        var r: [ParameterRange] = [
            .init("dw_min", "--dw-min", \.dwMin, 1e-9, 1e6),
            .init("n_states", "--n-states", \.nStates, 2, 1e9, zeroAllowed: true,
                  rule: "must be 0 (use dw_min) or a number of states in 2...1e9"),
            .init("w_max", "--tau / --w-max", \.wMax, 1e-6, 1e6),
            .init("w_min", "--tau / --w-min", \.wMin, -1e6, -1e-6),
            .init("asymmetry", "--asymmetry", \.asymmetry, -1, 1, open: (true, true)),
            .init("up_down", "--up-down", \.upDown, -1, 1, open: (true, true)),
            .init("dw_min_std", "--dw-min-std", \.dwMinStd, 0, 10),
        ]
        switch family {
        case .power:
            r.append(.init("gamma", "--gamma-res", \.gamma, 0, 50, context: " for the power family (0: constant step)"))
        case .exponential:
            r.append(.init("gamma", "--gamma-res", \.gamma, 0, 50, context: " for the exponential family (0: soft-bounds shape)"))
        case .linearStep:
            r.append(.init("gamma_up", "--gamma-up", \.gammaUp, 0, 10))
            r.append(.init("gamma_down", "--gamma-down", \.gammaDown, 0, 10))
        case .powStep:
            r.append(.init("pow_gamma", "--pow-gamma", \.powGamma, 0, 50, context: " (0: constant step)"))
            r.append(.init("pow_up_down", nil, \.powUpDown, -1, 1, open: (true, true)))
        case .expStep:
            for (k, path) in [("A_up", \DeviceConfig.aUp), ("A_down", \.aDown), ("a", \.expA), ("b", \.expB)] {
                r.append(.init(k, nil, path, -1000, 1000))
            }
            r.append(.init("gamma_up", "--gamma-up", \.gammaUp, -1000, 1000))
            r.append(.init("gamma_down", "--gamma-down", \.gammaDown, -1000, 1000))
        case .constantStep, .softBounds, .piecewise, .piecewiseStep:
            break
        }
        for (key, option, path) in [("dw_min_dtod", "--dw-min-dtod", \DeviceConfig.dwMinDtod), ("w_max_dtod", "--w-max-dtod", \.wMaxDtod),
                                    ("w_min_dtod", "--w-min-dtod", \.wMinDtod), ("asymmetry_dtod", "--asymmetry-dtod", \.asymmetryDtod),
                                    ("up_down_dtod", "--up-down-dtod", \.upDownDtod), ("gamma_dtod", "--gamma-dtod", \.gammaDtod),
                                    ("pow_up_down_dtod", nil, \.powUpDownDtod),
                                    ("t2t_dw_min", "--t2t-dw-min", \.t2tDwMin), ("t2t_range", "--t2t-range", \.t2tRange)] as [(String, String?, WritableKeyPath<DeviceConfig, Double>)] {
            r.append(.init(key, option, path, 0, 2))
        }
        let range = wMax - wMin
        let rule = "must lie in [0, w_max - w_min] = [0, \(ParameterRange.number(range))]"
        r.append(.init("symmetric_point_dtod", "--symmetric-point-dtod", \.symmetricPointDtod, 0, range, rule: rule))
        r.append(.init("t2t_symmetric_point", "--t2t-symmetric-point", \.t2tSymmetricPoint, 0, range, rule: rule))
        // Device effects (aihwkit's fields; `DeviceEffects`).
        r.append(.init("write_noise_std", "--write-noise-std", \.writeNoiseStd, 0, 1e6))
        r.append(.init("lifetime", "--lifetime", \.lifetime, 0, 1e15))
        r.append(.init("diffusion", "--diffusion", \.diffusion, 0, 1e6))
        r.append(.init("corrupt_devices_prob", "--corrupt-devices-prob", \.corruptDevicesProb, 0, 1))
        r.append(.init("corrupt_devices_range", nil, \.corruptDevicesRange, 0, 1e6))
        for (key, path) in [("lifetime_dtod", \DeviceConfig.lifetimeDtod), ("diffusion_dtod", \.diffusionDtod)] {
            r.append(.init(key, nil, path, 0, 2))
        }
        r.append(.init("reset", nil, \.reset, -1e6, 1e6))
        r.append(.init("reset_dtod", nil, \.resetDtod, 0, 1e6))
        r.append(.init("reset_std", nil, \.resetStd, 0, 1e6))
        return r
    }

    /// Checks every parameter; the error names the config key and the command-line option.
    ///
    /// - Throws: `ConfigError` for a value outside its `parameterRanges` interval, a nonzero value of magnitude below
    ///   `smallestFloatMagnitude` (parameters are stored as Float), dw_min beyond half the range, bad
    ///   piecewise-step nodes, or a piecewise table that cannot be read or is invalid.
    public func validate() throws(ConfigError) {
        // Before the ranges: a resolved config carries dw_min from n_states, and the error should name n_states.
        if nStates > 0 && nStates.isFinite {
            try ConfigError.require(effectiveDwMin >= 1e-9, "device.n_states", "--n-states", "gives dw_min = (w_max - w_min)/n_states below 1e-9, the smallest --dw-min", nStates)
        }
        for p in parameterRanges {
            let v = self[keyPath: p.path]
            try ConfigError.require(v.isFinite && p.contains(v), "device." + p.key, p.option, p.rule, v)
            try Self.requireFloatMagnitude(v, "device." + p.key, p.option)
        }
        try ConfigError.require(effectiveDwMin <= (wMax - wMin) / 2, "device.dw_min", "--dw-min",
                                "must be at most half the range (w_max - w_min)/2 = \((wMax - wMin) / 2), i.e. at least 2 states", effectiveDwMin)
        switch family {
        case .piecewiseStep:
            for (list, key) in [(piecewiseUp, "piecewise_up"), (piecewiseDown, "piecewise_down")] {
                if list.isEmpty || list.count > 256 {
                    throw ConfigError(key: "device." + key, option: nil, message: "must list 1...256 node values; got \(list.count)")
                }
                for v in list {
                    try ConfigError.require(v >= 0 && Float(v) <= DeviceCell.largestFactor, "device." + key, nil,
                                            "node values must lie in [0, 1e22]", v)
                    try Self.requireFloatMagnitude(v, "device." + key, nil)
                }
            }
            if piecewiseUp.count != piecewiseDown.count {
                throw ConfigError(key: "device.piecewise_down", option: nil,
                                  message: "must have as many nodes as piecewise_up (\(piecewiseUp.count)); got \(piecewiseDown.count)")
            }
        case .piecewise:
            _ = try piecewiseTableContent()
        case .constantStep, .softBounds, .power, .exponential, .linearStep, .powStep, .expStep:
            break
        }
    }

    /// Rejects a nonzero value too small for Float (it would silently become 0 or a denormal).
    static func requireFloatMagnitude(_ v: Double, _ key: String, _ option: String?) throws(ConfigError) {
        try ConfigError.require(v == 0 || abs(v) >= smallestFloatMagnitude, key, option,
                                "is stored as a 32-bit float, so a nonzero value needs magnitude >= 1.2e-38 (give 0 or a larger value)", v)
    }

    /// The `piecewise` family's table: read from `piecewise_table` when that names a file (the file wins over any
    /// points), else built from `piecewise_w`, `piecewise_q_plus`, `piecewise_q_minus`.
    ///
    /// - Throws: `ConfigError` if neither is given, the file cannot be read or is too large, or a point is invalid.
    public func piecewiseTableContent() throws(ConfigError) -> PiecewiseTable {
        if !piecewiseTable.isEmpty { return try PiecewiseTable.load(path: piecewiseTable) }
        if piecewiseW.isEmpty && piecewiseQPlus.isEmpty && piecewiseQMinus.isEmpty {
            throw ConfigError(key: "device.piecewise_table", option: "--piecewise-table",
                              message: "must name a CSV file of (w, q_plus, q_minus) rows for the piecewise family "
                                + "(or give the points as piecewise_w, piecewise_q_plus, piecewise_q_minus)")
        }
        return try PiecewiseTable(w: piecewiseW, qPlus: piecewiseQPlus, qMinus: piecewiseQMinus,
                                  source: "the table piecewise_w, piecewise_q_plus, piecewise_q_minus",
                                  key: "device.piecewise_w", option: nil)
    }

    /// For the `piecewise` family with a `piecewise_table` file: reads the file into `piecewise_w`,
    /// `piecewise_q_plus`, `piecewise_q_minus` and clears the file name, so the configuration (a run's config.json)
    /// carries the table itself and runs from any folder without the file. Other families are left unchanged.
    ///
    /// - Throws: `ConfigError` if the file cannot be read or is invalid (the configuration is then unchanged).
    public mutating func embedPiecewiseTable() throws(ConfigError) {
        guard family == .piecewise, !piecewiseTable.isEmpty else { return }
        let t = try PiecewiseTable.load(path: piecewiseTable)
        piecewiseW = t.w
        piecewiseQPlus = t.qPlus
        piecewiseQMinus = t.qMinus
        piecewiseTable = ""
    }
}
