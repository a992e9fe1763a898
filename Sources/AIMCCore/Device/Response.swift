import RealModule

/// One device's parameters after device-to-device and tile-to-tile draws (48 bytes; computed from the device's
/// stored draws when needed, `AnalogArray.cell(at:)`, never stored per device). Which fields a family reads:
///
/// | family | norm_up / norm_down | shape_up / shape_down | aux |
/// |---|---|---|---|
/// | constant-step | - | - | - |
/// | soft-bounds | 1/b_max, 1/abs(b_min) | - | - |
/// | linear-step | gamma_up/abs(ref_up), gamma_down/abs(ref_down) | - | - |
/// | power | 1/b_max, 1/abs(b_min) | gamma_i | - |
/// | pow-step | 1/(b_max - b_min) | gamma_up_i, gamma_down_i | - |
/// | exponential | 1/b_max, 1/abs(b_min) | gamma_i | 1/psi(gamma_i), psi(x) = (1 - exp(-x))/x, psi(0) = 1 |
/// | exp-step | 2a/(b_max - b_min) | - | - |
/// | piecewise-step | 1/(b_max - b_min) | - | - |
/// | piecewise | - | - | - |
///
/// Every `Response` returns a finite step >= 0 for every cell `DeviceModel.cell` builds and every state in
/// [b_min, b_max]: the families whose q can overflow Float (power, pow-step, exponential, exp-step at extreme
/// parameters) cap q at `DeviceCell.largestFactor`.
public struct DeviceCell: Sendable, Equatable {
    /// The largest q (step in units of dw_i) a response returns: 1e22. A larger step would exceed any device's range
    /// (validation allows at most 2e18 steps of dw_min across it), so a capped pulse ends at the bound as the uncapped
    /// one would without noise, while scale * q stays finite in Float for any drawn dw_i.
    public static let largestFactor: Float = 1e22

    /// dw_min_i times the direction's asymmetry factor: the step where q = 1.
    public var scaleUp: Float
    public var scaleDown: Float
    /// Device bounds b_max > 0 > b_min: every pulse clips to them.
    public var wMax: Float
    public var wMin: Float
    public var normUp: Float
    public var normDown: Float
    public var shapeUp: Float
    public var shapeDown: Float
    /// Symmetric-point offset: the response is evaluated at w - shift.
    public var shift: Float
    public var aux: Float
    /// Cycle-to-cycle scale: sigma * dw_min_i (additive) or sigma (multiplicative).
    public var noise: Float
    /// dw_min_i (gain times nominal dw_min, without asymmetry factors).
    public var dw: Float

    public init(scaleUp: Float, scaleDown: Float, wMax: Float, wMin: Float, normUp: Float = 0, normDown: Float = 0,
                shapeUp: Float = 1, shapeDown: Float = 1, shift: Float = 0, aux: Float = 0, noise: Float = 0, dw: Float = 0) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
        self.wMax = wMax
        self.wMin = wMin
        self.normUp = normUp
        self.normDown = normDown
        self.shapeUp = shapeUp
        self.shapeDown = shapeDown
        self.shift = shift
        self.aux = aux
        self.noise = noise
        self.dw = dw
    }
}

/// The noise-free step of one pulse as a function of the device state: up(c, w) >= 0 is the increase of one up
/// pulse, down(c, w) >= 0 the decrease of one down pulse. q_+(w) = up/dw_min, q_-(w) = down/dw_min.
/// One implementation per family serves the pulsed update, the expected update, symmetric points and the
/// device inspector.
public protocol Response {
    func up(_ c: DeviceCell, _ w: Float) -> Float
    func down(_ c: DeviceCell, _ w: Float) -> Float
}

public struct ConstantStepResponse: Response {
    @inlinable @inline(__always) public func up(_ c: DeviceCell, _ w: Float) -> Float { c.scaleUp }
    @inlinable @inline(__always) public func down(_ c: DeviceCell, _ w: Float) -> Float { c.scaleDown }
}

/// Soft bounds / generalized linear and aihwkit LinearStep: up = scale_up max(1 - n_up (w - s), 0),
/// down = scale_down max(1 + n_down (w - s), 0).
public struct LinearResponse: Response {
    @inlinable @inline(__always) public func up(_ c: DeviceCell, _ w: Float) -> Float {
        c.scaleUp * max(1 - c.normUp * (w - c.shift), 0)
    }
    @inlinable @inline(__always) public func down(_ c: DeviceCell, _ w: Float) -> Float {
        c.scaleDown * max(1 + c.normDown * (w - c.shift), 0)
    }
}

/// The paper's power response (Eq. 148) and aihwkit PowStep: up = scale_up (n_up max(b_max - (w - s), 0))^gamma_up,
/// down = scale_down (n_down max((w - s) - b_min, 0))^gamma_down, q capped at `DeviceCell.largestFactor`.
/// gamma = 0 is the constant step, at the bounds too: x^0 = 1 for every x >= 0, including 0^0 (RealModule's pow
/// gives NaN there).
public struct PowerResponse: Response {
    @inlinable @inline(__always) static func factor(_ base: Float, _ gamma: Float) -> Float {
        gamma == 0 ? 1 : min(Float.pow(base, gamma), DeviceCell.largestFactor)
    }
    @inlinable @inline(__always) public func up(_ c: DeviceCell, _ w: Float) -> Float {
        c.scaleUp * Self.factor(c.normUp * max(c.wMax - (w - c.shift), 0), c.shapeUp)
    }
    @inlinable @inline(__always) public func down(_ c: DeviceCell, _ w: Float) -> Float {
        c.scaleDown * Self.factor(c.normDown * max((w - c.shift) - c.wMin, 0), c.shapeDown)
    }
}

/// The paper's exponential response (Eq. 149): up = scale_up (exp(gamma u) - 1)/(exp(gamma) - 1) with
/// u = n_up max(b_max - (w - s), 0) (= 1 - w/b_max unshifted); down likewise with u = n_down max((w - s) - b_min, 0).
///
/// Evaluated as u exp(gamma (u - 1)) psi(gamma u)/psi(gamma) with psi(x) = (1 - exp(-x))/x (`aux` = 1/psi(gamma)),
/// which is the same function without its two failure modes: exp(gamma u) - 1 overflowing Float for large gamma u
/// while the ratio is moderate, and 0/0 as gamma -> 0. gamma = 0 is the limit q = u, the soft-bounds shape.
/// q is capped at `DeviceCell.largestFactor`.
public struct ExponentialResponse: Response {
    @inlinable @inline(__always) static func factor(_ u: Float, _ gamma: Float, _ inversePsiGamma: Float) -> Float {
        let x = gamma * u
        // psi(x) = 1 - x/2 + x^2/6 - ...: below 1e-4 the first two terms are exact to 2e-9 (< Float's 6e-8).
        let psi: Float = x < 1e-4 ? 1 - x / 2 : -Float.expMinusOne(-x) / x
        return min(u * Float.exp(gamma * (u - 1)) * psi * inversePsiGamma, DeviceCell.largestFactor)
    }
    @inlinable @inline(__always) public func up(_ c: DeviceCell, _ w: Float) -> Float {
        c.scaleUp * Self.factor(c.normUp * max(c.wMax - (w - c.shift), 0), c.shapeUp, c.aux)
    }
    @inlinable @inline(__always) public func down(_ c: DeviceCell, _ w: Float) -> Float {
        c.scaleDown * Self.factor(c.normDown * max((w - c.shift) - c.wMin, 0), c.shapeDown, c.aux)
    }

    /// 1/psi(gamma) = gamma/(1 - exp(-gamma)) (1 at gamma = 0), the cell's `aux` for the exponential family.
    public static func inversePsi(_ gamma: Double) -> Double {
        gamma < 1e-8 ? 1 / (1 - gamma / 2) : gamma / -Double.expMinusOne(-gamma)
    }
}

/// aihwkit ExpStep: z = (2a/(b_max - b_min)) (w - s) + b; up = scale_up max(1 - A_up exp(gamma_up z), 0),
/// down = scale_down max(1 - A_down exp(-gamma_down z), 0).
///
/// A exp(x) is evaluated as sign(A) exp(x + ln|A|), so exp(x) overflowing Float does not turn A = 0 or a small A
/// into NaN or a wrong 0; q is capped at `DeviceCell.largestFactor` (A < 0 makes q grow without bound).
public struct ExpStepResponse: Response {
    public let aUp: Float, aDown: Float, gammaUp: Float, gammaDown: Float, b: Float
    /// ln|A_up|, ln|A_down| (-inf for A = 0).
    public let logAUp: Float, logADown: Float
    public init(aUp: Float, aDown: Float, gammaUp: Float, gammaDown: Float, b: Float) {
        self.aUp = aUp; self.aDown = aDown; self.gammaUp = gammaUp; self.gammaDown = gammaDown; self.b = b
        logAUp = Float.log(abs(aUp)); logADown = Float.log(abs(aDown))
    }
    /// max(1 - A exp(x), 0), capped.
    @inlinable @inline(__always) static func factor(_ a: Float, _ logA: Float, _ x: Float) -> Float {
        if a > 0 {
            let t = x + logA
            return t >= 0 ? 0 : -Float.expMinusOne(t)
        }
        if a < 0 { return min(1 + Float.exp(x + logA), DeviceCell.largestFactor) }
        return 1
    }
    @inlinable @inline(__always) public func up(_ c: DeviceCell, _ w: Float) -> Float {
        let z = c.normUp * (w - c.shift) + b
        return c.scaleUp * Self.factor(aUp, logAUp, gammaUp * z)
    }
    @inlinable @inline(__always) public func down(_ c: DeviceCell, _ w: Float) -> Float {
        let z = c.normUp * (w - c.shift) + b
        return c.scaleDown * Self.factor(aDown, logADown, -gammaDown * z)
    }
}

/// aihwkit PiecewiseStep: node values v_0...v_n at w = b_min + k (b_max - b_min)/n, interpolated linearly.
public struct PiecewiseStepResponse: Response {
    public let upNodes: UnsafePointer<Float>, downNodes: UnsafePointer<Float>, sections: Int
    public init(upNodes: UnsafePointer<Float>, downNodes: UnsafePointer<Float>, count: Int) {
        self.upNodes = upNodes; self.downNodes = downNodes; sections = count - 1
    }
    @inlinable @inline(__always) func interpolate(_ v: UnsafePointer<Float>, _ c: DeviceCell, _ w: Float) -> Float {
        if sections == 0 { return v[0] }
        let s = max(((w - c.shift) - c.wMin) * c.normUp * Float(sections), 0)
        let k = min(Int(s), sections - 1)
        let t = min(s - Float(k), 1)
        return (1 - t) * v[k] + t * v[k + 1]
    }
    @inlinable @inline(__always) public func up(_ c: DeviceCell, _ w: Float) -> Float { c.scaleUp * interpolate(upNodes, c, w) }
    @inlinable @inline(__always) public func down(_ c: DeviceCell, _ w: Float) -> Float { c.scaleDown * interpolate(downNodes, c, w) }
}

/// The paper-style measured table: q_+(w - s), q_-(w - s) interpolated on a (possibly uneven) grid.
public struct TableResponse: Response {
    public let grid: UnsafePointer<Float>, qPlus: UnsafePointer<Float>, qMinus: UnsafePointer<Float>, count: Int
    public init(grid: UnsafePointer<Float>, qPlus: UnsafePointer<Float>, qMinus: UnsafePointer<Float>, count: Int) {
        self.grid = grid; self.qPlus = qPlus; self.qMinus = qMinus; self.count = count
    }
    @inlinable @inline(__always) func interpolate(_ v: UnsafePointer<Float>, _ x: Float) -> Float {
        if x <= grid[0] { return v[0] }
        if x >= grid[count - 1] { return v[count - 1] }
        var lo = 0, hi = count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if grid[mid] <= x { lo = mid } else { hi = mid }
        }
        let t = (x - grid[lo]) / (grid[hi] - grid[lo])
        return v[lo] + t * (v[hi] - v[lo])
    }
    @inlinable @inline(__always) public func up(_ c: DeviceCell, _ w: Float) -> Float { c.scaleUp * interpolate(qPlus, w - c.shift) }
    @inlinable @inline(__always) public func down(_ c: DeviceCell, _ w: Float) -> Float { c.scaleDown * interpolate(qMinus, w - c.shift) }
}
