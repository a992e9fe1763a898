/// Named devices: the paper's and its follow-ups', and aihwkit's presets carried over by parameter name and value
/// (aihwkit `simulator/presets/devices.py`, with their write noise, lifetime and corrupt-device range: `DeviceEffects`).
public enum DevicePresets {
    public struct Preset: Sendable {
        public let name: String
        public let summary: String
        public let device: DeviceConfig
    }

    static func make(_ family: DeviceConfig.Family, _ body: (inout DeviceConfig) -> Void) -> DeviceConfig {
        var d = DeviceConfig()
        d.family = family
        body(&d)
        return d
    }

    /// aihwkit's PulsedDevice variability defaults (dtod 0.3, up_down_dtod 0.01, multiplicative c2c 0.3).
    static func aihwkitDefaults(_ d: inout DeviceConfig) {
        d.dwMinDtod = 0.3; d.wMaxDtod = 0.3; d.wMinDtod = 0.3; d.upDownDtod = 0.01
        d.dwMinStd = 0.3; d.c2cMode = .multiplicative
    }

    public static let all: [Preset] = [
        Preset(name: "soft-bounds", summary: "aimc-dist's default: soft bounds, tau 0.6, dw_min 1e-3, 30% c2c (additive) and d2d",
               device: .softBoundsDefault),
        Preset(name: "paper-power", summary: "paper Eq. 148 power response, gamma 0.5, tau 0.6, dw_min 1e-3 (Table 8)",
               device: make(.power) { $0.gamma = 0.5 }),
        Preset(name: "paper-exponential", summary: "paper Eq. 149 exponential response, gamma 0.5, tau 0.6, dw_min 1e-3 (Table 8)",
               device: make(.exponential) { $0.gamma = 0.5 }),
        Preset(name: "paper-fig2", summary: "paper Fig. 2 generalized linear device, tau 3.5, dw_min 1e-4, c 0.2",
               device: make(.softBounds) { $0.wMax = 3.5; $0.wMin = -3.5; $0.dwMin = 1e-4; $0.asymmetry = 0.2 }),
        Preset(name: "reram-4-states", summary: "few-state ReRAM of arXiv 2510.02516: soft bounds on [-1, 1], dw_min 0.5 (4 states), aihwkit variability",
               device: make(.softBounds) { $0.wMax = 1; $0.wMin = -1; $0.dwMin = 0.5; aihwkitDefaults(&$0) }),
        Preset(name: "reram-16-states", summary: "few-state ReRAM: soft bounds on [-1, 1], dw_min 0.125 (16 states), aihwkit variability",
               device: make(.softBounds) { $0.wMax = 1; $0.wMin = -1; $0.dwMin = 0.125; aihwkitDefaults(&$0) }),
        Preset(name: "aihwkit-soft-bounds", summary: "aihwkit SoftBoundsDevice defaults (w in [-0.6, 0.6], dw_min 1e-3, multiplicative c2c)",
               device: make(.softBounds) { aihwkitDefaults(&$0) }),
        Preset(name: "aihwkit-constant-step", summary: "aihwkit ConstantStepDevice defaults",
               device: make(.constantStep) { aihwkitDefaults(&$0) }),
        Preset(name: "idealized", summary: "aihwkit IdealizedPresetDevice: constant step 2e-4 on [-1, 1]",
               device: make(.constantStep) { aihwkitDefaults(&$0); $0.dwMin = 0.0002; $0.wMax = 1; $0.wMin = -1; $0.upDownDtod = 0 }),
        Preset(name: "gokmen-vlasov", summary: "aihwkit GokmenVlasovPresetDevice: constant step 1.6e-3 on [-1, 1]",
               device: make(.constantStep) { aihwkitDefaults(&$0); $0.dwMin = 0.0016; $0.wMax = 1; $0.wMin = -1 }),
        Preset(name: "capacitor", summary: "aihwkit CapacitorPresetDevice: linear step, gamma 0.05, dw_min 5e-3, lifetime 1e6 mini-batches",
               device: make(.linearStep) {
                   $0.dwMin = 0.005; $0.wMax = 1; $0.wMin = -1; $0.gammaUp = 0.05; $0.gammaDown = 0.05
                   $0.dwMinDtod = 0.1; $0.upDownDtod = 0.06; $0.wMaxDtod = 0.07; $0.wMinDtod = 0.07; $0.gammaDtod = 0.01
                   $0.dwMinStd = 0.3; $0.c2cMode = .additive; $0.lifetime = 1e6; $0.lifetimeDtod = 0.3
               }),
        Preset(name: "ecram", summary: "aihwkit EcRamPresetDevice: linear step, gamma_up 0.1153, gamma_down 0.5085, dw_min 2e-3",
               device: make(.linearStep) {
                   $0.dwMin = 0.002; $0.wMax = 1.1724; $0.wMin = -0.8276; $0.gammaUp = 0.1153; $0.gammaDown = 0.5085
                   $0.dwMinDtod = 0.1; $0.upDownDtod = 0.01; $0.wMaxDtod = 0.05; $0.wMinDtod = 0.05; $0.gammaDtod = 0.05
                   $0.dwMinStd = 0.3; $0.c2cMode = .multiplicative
               }),
        Preset(name: "ecram-mo", summary: "aihwkit EcRamMOPresetDevice: linear step, gamma_up 0.4152, gamma_down 0.7342, dw_min 2.8e-4",
               device: make(.linearStep) {
                   $0.dwMin = 2.8214e-4; $0.wMax = 1.1714; $0.wMin = -0.8286; $0.gammaUp = 0.4152; $0.gammaDown = 0.7342
                   $0.dwMinDtod = 0.1; $0.upDownDtod = 0.01; $0.wMaxDtod = 0.05; $0.wMinDtod = 0.05; $0.gammaDtod = 0.05
                   $0.dwMinStd = 2.0; $0.c2cMode = .multiplicative
               }),
        Preset(name: "reram-es", summary: "aihwkit ReRamESPresetDevice: exp step, dw_min 1.35e-3, write noise 75 dw_min",
               device: make(.expStep) {
                   $0.dwMin = 0.00135; $0.upDown = 0.259359; $0.wMax = 1; $0.wMin = -1; $0.expA = -0.5; $0.expB = -0.5
                   $0.gammaUp = 5; $0.gammaDown = 5; $0.aUp = -1.18445; $0.aDown = -0.081404
                   $0.dwMinDtod = 0.2; $0.upDownDtod = 0.05; $0.wMaxDtod = 0.3; $0.wMinDtod = 0.3
                   $0.dwMinStd = 5.0; $0.c2cMode = .multiplicative; $0.writeNoiseStd = 75
               }),
        Preset(name: "reram-om", summary: "aihwkit ReRamArrayOMPresetDevice: soft bounds, dw_min 0.0949 (about 21 states), log-normal d2d, write noise 1.41 dw_min",
               device: make(.softBounds) {
                   $0.dwMin = 0.0949; $0.wMax = 1; $0.wMin = -1; $0.dwMinDtodLogNormal = true; $0.dwMinDtod = 0.7829
                   $0.upDownDtod = 0.01; $0.wMaxDtod = 0.3499; $0.wMinDtod = 0.5695; $0.dwMinStd = 0.4158; $0.c2cMode = .additive
                   $0.writeNoiseStd = 1.4113; $0.corruptDevicesRange = 0.01
               }),
        Preset(name: "reram-hfo2", summary: "aihwkit ReRamArrayHfO2PresetDevice: soft bounds, dw_min 0.4622 (about 4 states), log-normal d2d, write noise 0.58 dw_min",
               device: make(.softBounds) {
                   $0.dwMin = 0.4622; $0.wMax = 1; $0.wMin = -1; $0.dwMinDtodLogNormal = true; $0.dwMinDtod = 0.7125
                   $0.upDownDtod = 0.01; $0.wMaxDtod = 0.4295; $0.wMinDtod = 0.5990; $0.dwMinStd = 0.2174; $0.c2cMode = .additive
                   $0.writeNoiseStd = 0.5841; $0.corruptDevicesRange = 0.01
               }),
    ]

    public static func named(_ name: String) -> Preset? { all.first { $0.name == name } }

    public static var names: [String] { all.map(\.name) }
}
