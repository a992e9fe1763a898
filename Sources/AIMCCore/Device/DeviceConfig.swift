/// Nominal parameters of a resistive device and their variability: plain data, validated, Codable.
///
/// Names follow the paper first and IBM aihwkit second (`dw_min`, `w_max`, `w_min`, `dw_min_std`,
/// `dw_min_dtod`, `w_max_dtod`, `w_min_dtod`). Units: the weight w is in conductance units, the same units
/// as `w_max`, `w_min` and `dw_min`.
public struct DeviceConfig: Codable, Sendable, Equatable {
    /// Response-function family.
    public enum Family: String, Codable, Sendable, CaseIterable {
        /// The paper's generalized linear device (Section 2, Fig. 2), aihwkit's SoftBounds when c = 0:
        /// q_+(w) = (1 + c)(1 - w/w_max), q_-(w) = (1 - c)(1 - w/w_min) (with w_min = -tau this is
        /// (1 - c)(1 + w/tau)); symmetric point c*tau for symmetric bounds.
        case softBounds = "soft-bounds"
    }

    /// How cycle-to-cycle noise enters one pulse.
    public enum CycleToCycleMode: String, Codable, Sendable, CaseIterable {
        /// The paper's Eq. 26: w <- w +- dw_min (q_+-(w) + dw_min_std * xi).
        case additive
        /// aihwkit's multiplicative form: w <- w +- dw_min q_+-(w) (1 + dw_min_std * xi).
        case multiplicative
    }

    public var family: Family = .softBounds
    /// Response granularity dw_min (> 0): the step of one pulse at the symmetric point of a symmetric device.
    public var dwMin: Double = 0.001
    /// Upper bound w_max (= tau) of the conductance range (> 0).
    public var wMax: Double = 0.6
    /// Lower bound w_min (= -tau) of the conductance range (< 0).
    public var wMin: Double = -0.6
    /// Asymmetry c of the generalized linear response, in (-1, 1); the symmetric point is near c*tau.
    public var asymmetry: Double = 0
    /// Cycle-to-cycle noise sigma_c, relative to dw_min (Eq. 26), >= 0.
    public var dwMinStd: Double = 0
    public var c2cMode: CycleToCycleMode = .additive
    /// Device-to-device spread of dw_min: dw_min_i = dw_min * |1 + dw_min_dtod * xi| (aihwkit's rule).
    public var dwMinDtod: Double = 0
    /// Device-to-device spread of the bounds, relative: w_max_i = w_max (1 + w_max_dtod xi) (likewise w_min).
    public var wMaxDtod: Double = 0
    public var wMinDtod: Double = 0
    /// Device-to-device spread of the asymmetry c (absolute): c_i = c + asymmetry_dtod * xi, clipped to (-0.95, 0.95).
    public var asymmetryDtod: Double = 0

    /// A nominal device without variability (dw_min 1e-3, tau 0.6, c 0, no c2c, no d2d).
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
        case family, dwMin = "dw_min", wMax = "w_max", wMin = "w_min", asymmetry
        case dwMinStd = "dw_min_std", c2cMode = "c2c_mode", dwMinDtod = "dw_min_dtod"
        case wMaxDtod = "w_max_dtod", wMinDtod = "w_min_dtod", asymmetryDtod = "asymmetry_dtod"
    }

    /// Number of states (w_max - w_min)/dw_min of the nominal device ([A-md] Section 1).
    public var nStates: Double { (wMax - wMin) / dwMin }

    /// Checks every parameter; the error names the config key and the command-line option.
    public func validate() throws(ConfigError) {
        try ConfigError.require(dwMin > 0 && dwMin.isFinite, "device.dw_min", "--dw-min", "must be a finite number > 0", dwMin)
        try ConfigError.require(wMax > 0 && wMax.isFinite, "device.w_max", "--tau / --w-max", "must be a finite number > 0", wMax)
        try ConfigError.require(wMin < 0 && wMin.isFinite, "device.w_min", "--tau / --w-min", "must be a finite number < 0", wMin)
        try ConfigError.require(dwMin < (wMax - wMin) / 2, "device.dw_min", "--dw-min",
                                "must be below half the range (w_max - w_min)/2 = \((wMax - wMin) / 2), i.e. at least 2 states", dwMin)
        try ConfigError.require(asymmetry > -1 && asymmetry < 1, "device.asymmetry", "--asymmetry", "must lie in (-1, 1)", asymmetry)
        try ConfigError.require(dwMinStd >= 0 && dwMinStd <= 10, "device.dw_min_std", "--dw-min-std", "must lie in [0, 10]", dwMinStd)
        for (v, key, opt) in [(dwMinDtod, "dw_min_dtod", "--dw-min-dtod"), (wMaxDtod, "w_max_dtod", "--w-max-dtod"),
                              (wMinDtod, "w_min_dtod", "--w-min-dtod"), (asymmetryDtod, "asymmetry_dtod", "--asymmetry-dtod")] {
            try ConfigError.require(v >= 0 && v <= 2, "device." + key, opt, "must lie in [0, 2]", v)
        }
    }
}

extension DeviceConfig {
    /// q_+(w) of the nominal device (no variability).
    public func qPlus(_ w: Double) -> Double {
        switch family {
        case .softBounds: return (1 + asymmetry) * (1 - w / wMax)
        }
    }

    /// q_-(w) of the nominal device (no variability).
    public func qMinus(_ w: Double) -> Double {
        switch family {
        case .softBounds: return (1 - asymmetry) * (1 - w / wMin)
        }
    }

    /// Symmetric part F(w) = (q_-(w) + q_+(w))/2 (paper Section 2).
    public func symmetricPart(_ w: Double) -> Double { (qMinus(w) + qPlus(w)) / 2 }

    /// Asymmetric part G(w) = (q_-(w) - q_+(w))/2 (paper Section 2).
    public func asymmetricPart(_ w: Double) -> Double { (qMinus(w) - qPlus(w)) / 2 }

    /// Saturation M(w) = q_+(w) q_-(w) = F^2 - G^2.
    public func saturation(_ w: Double) -> Double { qPlus(w) * qMinus(w) }

    /// The symmetric point w_sym with G(w_sym) = 0, or nil when there is none inside [w_min, w_max].
    /// Soft bounds: (1 - c)(1 - w/w_min) = (1 + c)(1 - w/w_max) gives w = 2c / ((1 - c)/w_min - (1 + c)/w_max)...
    /// in closed form w_sym = 2c / ((1 + c)/w_max - (1 - c)/w_min); c*tau when w_min = -w_max = -tau.
    public var symmetricPoint: Double? {
        switch family {
        case .softBounds:
            let w = 2 * asymmetry / ((1 + asymmetry) / wMax - (1 - asymmetry) / wMin)
            return (w >= wMin && w <= wMax) ? w : nil
        }
    }
}
