/// The periphery of one tile for one direction (forward, backward or transfer read): DAC, analog MVM noise,
/// ADC, and the digital noise and bound management around them. Plain data; names follow aihwkit's
/// `IOParameters`, defaults are the paper's Table 4.
///
/// Units: inputs are normalised to [-inp_bound, inp_bound] by noise management; `out_noise`, `out_bound`
/// and the ADC step are in the normalised output domain (weights in conductance units times normalised inputs).
public struct IOConfig: Codable, Sendable, Equatable {
    public enum NoiseManagement: String, Codable, Sendable, CaseIterable {
        /// No input scaling: inputs are used as they are (clipped to inp_bound).
        case none
        /// Divide each input vector by its largest absolute value, rescale the output (aihwkit ABS_MAX).
        case absMax = "abs-max"
    }

    public enum BoundManagement: String, Codable, Sendable, CaseIterable {
        case none
        /// If an output saturates the ADC, repeat the MVM with the input halved, up to 4 times (aihwkit ITERATIVE).
        case iterative
    }

    /// Bypass the periphery: y = W x exactly (aihwkit `is_perfect`).
    public var isPerfect: Bool = false
    public var inpBound: Double = 1.0
    /// DAC resolution as a fraction of the full range 2*inp_bound: 1/(2^bits - 2); 0 = not quantised.
    public var inpRes: Double = 1.0 / 126.0
    /// Standard deviation of the additive Gaussian output noise (normalised units), added before the ADC.
    public var outNoise: Double = 0.06
    public var outBound: Double = 12.0
    /// ADC resolution as a fraction of the full range 2*out_bound: 1/(2^bits - 2); 0 = not quantised.
    public var outRes: Double = 1.0 / 510.0
    public var noiseManagement: NoiseManagement = .absMax
    public var boundManagement: BoundManagement = .iterative

    public init() {}

    /// The paper's Table 4 forward periphery.
    public static let table4Forward = IOConfig()
    /// Table 4 backward periphery: as forward, without bound management (aihwkit forces it off backward).
    public static var table4Backward: IOConfig { var c = IOConfig(); c.boundManagement = .none; return c }
    /// The transfer read (one-hot column read of P): no noise or bound management (aihwkit's transfer_forward).
    public static var table4Transfer: IOConfig {
        var c = IOConfig(); c.noiseManagement = .none; c.boundManagement = .none; return c
    }
    /// An ideal periphery: exact y = W x.
    public static var perfect: IOConfig { var c = IOConfig(); c.isPerfect = true; return c }

    /// Resolution for a converter of `bits` bits, as aihwkit defines it: 1/(2^bits - 2). 0 bits means none.
    public static func resolution(bits: Int) -> Double { bits <= 0 ? 0 : 1.0 / (Double(1 << bits) - 2) }

    enum CodingKeys: String, CodingKey {
        case isPerfect = "is_perfect", inpBound = "inp_bound", inpRes = "inp_res", outNoise = "out_noise"
        case outBound = "out_bound", outRes = "out_res", noiseManagement = "noise_management"
        case boundManagement = "bound_management"
    }

    public func validate(_ prefix: String) throws(ConfigError) {
        try ConfigError.require(inpBound >= 1e-6 && inpBound <= 1e6, prefix + ".inp_bound", nil, "must lie in [1e-6, 1e6]", inpBound)
        try ConfigError.require(inpRes >= 0 && inpRes <= 0.5, prefix + ".inp_res", "--dac-bits", "must lie in [0, 0.5] (0 = no DAC quantisation)", inpRes)
        try ConfigError.require(outNoise >= 0 && outNoise <= 1e6, prefix + ".out_noise", "--out-noise", "must lie in [0, 1e6]", outNoise)
        try ConfigError.require(outBound >= 1e-6 && outBound <= 1e6, prefix + ".out_bound", "--out-bound", "must lie in [1e-6, 1e6]", outBound)
        try ConfigError.require(outRes >= 0 && outRes <= 0.5, prefix + ".out_res", "--adc-bits", "must lie in [0, 0.5] (0 = no ADC quantisation)", outRes)
        if noiseManagement == .absMax {
            try ConfigError.require(inpBound == 1, prefix + ".inp_bound", nil, "must be 1 when noise_management is abs-max", inpBound)
        }
    }
}

/// The update periphery (aihwkit `UpdateParameters`): how a requested rank-one update -lr * d x^T becomes
/// stochastic pulse trains (paper Section 2; aihwkit's update BL management).
public struct UpdateConfig: Codable, Sendable, Equatable {
    /// Longest pulse train BL (1...32; a train is one 32-bit word).
    public var desiredBL: Int = 31
    /// Shorten the train to BL = ceil(lr * max|x| * max|d| / dw_min) when that is below `desired_bl`.
    public var updateBLManagement: Bool = true
    /// Balance the x and d probabilities by sqrt(max|x| / max|d|) (aihwkit update management).
    public var updateManagement: Bool = true

    public init() {}

    enum CodingKeys: String, CodingKey {
        case desiredBL = "desired_bl", updateBLManagement = "update_bl_management", updateManagement = "update_management"
    }

    public func validate() throws(ConfigError) {
        try ConfigError.require(desiredBL >= 1 && desiredBL <= 32, "update.desired_bl", "--desired-bl", "must be an integer in 1...32", Double(desiredBL))
    }
}
