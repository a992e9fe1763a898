import RealModule

/// Receives a family's `Response` as a concrete type, so the code it runs is specialised for that family.
public protocol ResponseVisitor {
    associatedtype Result
    mutating func visit<R: Response>(_ response: R) -> Result
}

/// Tile-to-tile draws of one array (one physical tile): a gain on dw_min, a symmetric-point shift, a range scale.
public struct TileDraw: Sendable, Equatable {
    public var gain: Float = 1
    public var shift: Float = 0
    public var rangeScale: Float = 1
    public init() {}

    /// Draws from `key` (three normals): gain |1 + t2t_dw_min xi1|, shift t2t_symmetric_point xi2,
    /// range |1 + t2t_range xi3|.
    public init(device d: DeviceConfig, key: StreamKey) {
        guard d.hasTileToTile else { return }
        var s = RandomStream(key: key)
        let a = s.nextNormal(), b = s.nextNormal(), c = s.nextNormal()
        gain = abs(1 + Float(d.t2tDwMin) * a)
        shift = Float(d.t2tSymmetricPoint) * b
        rangeScale = abs(1 + Float(d.t2tRange) * c)
    }
}

/// Where G = q_- - q_+ vanishes in [b_min, b_max].
public enum SymmetricPoint: Sendable, Equatable {
    case point(Float)
    /// q_+ = q_- everywhere (a symmetric constant-step device, or power and pow-step with gamma 0).
    case everywhere
    /// G does not change sign in the range: the device drifts to a bound under alternating pulses.
    case none

    public var value: Float? { if case .point(let w) = self { return w }; return nil }
}

/// A device family with its shared data (node tables) and the rules that turn a `DeviceConfig` into per-device
/// cells. Owns the tables its responses point into.
public final class DeviceModel: @unchecked Sendable {
    public let config: DeviceConfig
    /// Nominal dw_min (from n_states when set).
    public let dwMin: Float
    let nodesUp: UnsafeMutablePointer<Float>, nodesDown: UnsafeMutablePointer<Float>, nodeCount: Int
    let tableGrid: UnsafeMutablePointer<Float>, tableUp: UnsafeMutablePointer<Float>, tableDown: UnsafeMutablePointer<Float>
    let tableCount: Int

    /// - Throws: `ConfigError` if the piecewise table cannot be read or is invalid (`piecewise_table` is read when
    ///   it names a file, else the points `piecewise_w`, `piecewise_q_plus`, `piecewise_q_minus` are used).
    public init(_ config: DeviceConfig) throws(ConfigError) {
        self.config = config
        dwMin = Float(config.effectiveDwMin)
        let up = config.piecewiseUp.isEmpty ? [1] : config.piecewiseUp
        let down = config.piecewiseDown.isEmpty ? [1] : config.piecewiseDown
        nodeCount = min(up.count, down.count)
        nodesUp = .allocate(capacity: nodeCount)
        nodesDown = .allocate(capacity: nodeCount)
        for k in 0..<nodeCount { nodesUp[k] = Float(up[k]); nodesDown[k] = Float(down[k]) }
        var table: PiecewiseTable? = nil
        if config.family == .piecewise { table = try config.piecewiseTableContent() }
        let t = table ?? (try! PiecewiseTable(w: [0, 1], qPlus: [1, 1], qMinus: [1, 1]))
        tableCount = t.w.count
        tableGrid = .allocate(capacity: tableCount)
        tableUp = .allocate(capacity: tableCount)
        tableDown = .allocate(capacity: tableCount)
        for k in 0..<tableCount {
            tableGrid[k] = Float(t.w[k]); tableUp[k] = Float(t.qPlus[k]); tableDown[k] = Float(t.qMinus[k])
        }
    }

    /// For a configuration already validated (a table that loaded once loads again).
    public convenience init(validated config: DeviceConfig) {
        do { try self.init(config) } catch { preconditionFailure("device configuration was not validated: \(error)") }
    }

    deinit {
        nodesUp.deallocate(); nodesDown.deallocate()
        tableGrid.deallocate(); tableUp.deallocate(); tableDown.deallocate()
    }

    /// Runs `visitor` with this family's response.
    public func visit<V: ResponseVisitor>(_ visitor: inout V) -> V.Result {
        switch config.family {
        case .constantStep: return visitor.visit(ConstantStepResponse())
        case .softBounds, .linearStep: return visitor.visit(LinearResponse())
        case .power, .powStep: return visitor.visit(PowerResponse())
        case .exponential: return visitor.visit(ExponentialResponse())
        case .expStep:
            return visitor.visit(ExpStepResponse(aUp: Float(config.aUp), aDown: Float(config.aDown),
                                                 gammaUp: Float(config.gammaUp), gammaDown: Float(config.gammaDown),
                                                 b: Float(config.expB)))
        case .piecewiseStep:
            return visitor.visit(PiecewiseStepResponse(upNodes: nodesUp, downNodes: nodesDown, count: nodeCount))
        case .piecewise:
            return visitor.visit(TableResponse(grid: tableGrid, qPlus: tableUp, qMinus: tableDown, count: tableCount))
        }
    }

    /// Normals drawn per device for device-to-device variability (in this order: gain, b_max, b_min, asymmetry c,
    /// up_down r, gamma 1, gamma 2, symmetric-point offset).
    public static let normalsPerDevice = 8

    /// One device's cell from its eight standard normals (zeros for the nominal device) and its tile's draws.
    /// The rules follow aihwkit's PulsedRPUDevice::populate with enforce_consistency, extended by the paper's
    /// asymmetry c, the symmetric-point offset and tile-to-tile draws. A drawn bound keeps at least 1e-6 of its
    /// nominal magnitude (a draw landing at 0 would make 1/b_max infinite and the response NaN).
    public func cell(_ xi: UnsafePointer<Float>, tile: TileDraw = TileDraw()) -> DeviceCell {
        let d = config
        let gain = d.dwMinDtodLogNormal ? Float.exp(Float(d.dwMinDtod) * xi[0]) : abs(1 + Float(d.dwMinDtod) * xi[0])
        let bMax = max(abs(Float(d.wMax) * (1 + Float(d.wMaxDtod) * xi[1])) * tile.rangeScale, Float(d.wMax) * 1e-6)
        let bMin = -max(abs(Float(d.wMin) * (1 + Float(d.wMinDtod) * xi[2])) * tile.rangeScale, Float(-d.wMin) * 1e-6)
        let c = min(max(Float(d.asymmetry) + Float(d.asymmetryDtod) * xi[3], -0.95), 0.95)
        let r = Float(d.upDownDtod) * xi[4]
        let ud = Float(d.upDown)
        let upBias: Float = ud > 0 ? 0 : ud, downBias: Float = ud > 0 ? -ud : 0
        let base = dwMin * tile.gain
        let dw = base * gain
        var cell = DeviceCell(scaleUp: base * abs(gain * (1 + c) + upBias + r),
                              scaleDown: base * abs(gain * (1 - c) + downBias - r),
                              wMax: bMax, wMin: bMin,
                              shift: Float(d.symmetricPointDtod) * xi[7] + tile.shift,
                              noise: d.c2cMode == .additive ? Float(d.dwMinStd) * dw : Float(d.dwMinStd), dw: dw)
        let range = bMax - bMin
        switch d.family {
        case .constantStep, .piecewise:
            break
        case .softBounds:
            cell.normUp = 1 / bMax
            cell.normDown = 1 / -bMin
        case .linearStep:
            let gUp = abs(Float(d.gammaUp) + Float(d.gammaDtod) * xi[5])
            let gDown = abs(Float(d.gammaDown) + Float(d.gammaDtod) * xi[6])
            let refUp = d.meanBoundReference ? Float(d.wMax) * tile.rangeScale : bMax
            let refDown = d.meanBoundReference ? Float(-d.wMin) * tile.rangeScale : -bMin
            cell.normUp = gUp / refUp
            cell.normDown = gDown / refDown
        case .power, .exponential:
            let g = abs(Float(d.gamma) * (1 + Float(d.gammaDtod) * xi[5]))
            cell.shapeUp = g
            cell.shapeDown = g
            cell.normUp = 1 / bMax
            cell.normDown = 1 / -bMin
            if d.family == .exponential { cell.aux = Float(ExponentialResponse.inversePsi(Double(g))) }
        case .powStep:
            let g = 1 + Float(d.gammaDtod) * xi[5], rho = Float(d.powUpDownDtod) * xi[6]
            let pud = Float(d.powUpDown)
            let pUp: Float = pud > 0 ? 0 : pud, pDown: Float = pud > 0 ? -pud : 0
            cell.shapeUp = abs(Float(d.powGamma) * (pUp + g + rho))
            cell.shapeDown = abs(Float(d.powGamma) * (pDown + g - rho))
            cell.normUp = 1 / range
            cell.normDown = 1 / range
        case .expStep:
            cell.normUp = 2 * Float(d.expA) / range
        case .piecewiseStep:
            cell.normUp = 1 / range
        }
        return cell
    }

    /// The nominal device: no device-to-device or tile-to-tile variability.
    public var nominalCell: DeviceCell {
        let zeros = [Float](repeating: 0, count: DeviceModel.normalsPerDevice)
        return zeros.withUnsafeBufferPointer { cell($0.baseAddress!) }
    }

    // MARK: Response evaluation (for inspection, tests and zero-shifting)

    struct StepVisitor: ResponseVisitor {
        let cell: DeviceCell, w: Float
        mutating func visit<R: Response>(_ r: R) -> (Float, Float) { (r.up(cell, w), r.down(cell, w)) }
    }

    /// Noise-free (up, down) step magnitudes of `cell` at state w.
    public func steps(_ cell: DeviceCell, at w: Float) -> (up: Float, down: Float) {
        var v = StepVisitor(cell: cell, w: w)
        return visit(&v)
    }

    /// q_+(w) of the nominal device (the up step in units of dw_min).
    public func qPlus(_ w: Double) -> Double { Double(steps(nominalCell, at: Float(w)).up) / Double(dwMin) }
    /// q_-(w) of the nominal device.
    public func qMinus(_ w: Double) -> Double { Double(steps(nominalCell, at: Float(w)).down) / Double(dwMin) }
    /// F(w) = (q_-(w) + q_+(w))/2 (paper Section 2).
    public func symmetricPart(_ w: Double) -> Double { (qMinus(w) + qPlus(w)) / 2 }
    /// G(w) = (q_-(w) - q_+(w))/2 (paper Section 2).
    public func asymmetricPart(_ w: Double) -> Double { (qMinus(w) - qPlus(w)) / 2 }
    /// M(w) = q_+(w) q_-(w) = F^2 - G^2.
    public func saturation(_ w: Double) -> Double { qPlus(w) * qMinus(w) }

    /// The symmetric point of `cell`: G = 0 in [b_min, b_max]. Closed form for the linear families, bisection on
    /// ln q_- - ln q_+ in Double for the power-law families (exact even where every q rounds to 1 in Float, as for
    /// tiny gamma; gamma = 0 on both sides is the constant step), bisection on G (which increases from b_min to
    /// b_max for the bounded families) to Float resolution for the exponential families. A piecewise response (a
    /// measured table, or aihwkit's PiecewiseStep) need not be monotone and can have several zeros of G: it gets
    /// the stable zero that alternating up/down pulses from `start` reach (see `piecewiseSymmetricPoint`).
    ///
    /// - Parameter start: the state alternating pulses start from (weight units, clamped to the bounds); only the
    ///   piecewise families, whose G can change sign more than once, depend on it.
    public func symmetricPoint(_ c: DeviceCell, from start: Float = 0) -> SymmetricPoint {
        switch config.family {
        case .constantStep:
            return c.scaleUp == c.scaleDown ? .everywhere : .none
        case .power, .powStep:
            return powerSymmetricPoint(c) ?? bisectedSymmetricPoint(c)
        case .softBounds, .linearStep:
            // scale_up (1 - n_up v) = scale_down (1 + n_down v), v = w - shift.
            let den = c.scaleUp * c.normUp + c.scaleDown * c.normDown
            if den == 0 { return c.scaleUp == c.scaleDown ? .everywhere : .none }
            let w = (c.scaleUp - c.scaleDown) / den + c.shift
            return w >= c.wMin && w <= c.wMax ? .point(w) : .none
        case .piecewise:
            return piecewiseSymmetricPoint(c, from: start, nodes: (0..<tableCount).map { tableGrid[$0] + c.shift })
        case .piecewiseStep:
            let sections = nodeCount - 1
            let nodes = sections == 0 ? [] : (0...sections).map { c.wMin + c.shift + Float($0) / (Float(sections) * c.normUp) }
            return piecewiseSymmetricPoint(c, from: start, nodes: nodes)
        default:
            return bisectedSymmetricPoint(c)
        }
    }

    /// A piecewise response: G = down - up is linear between the table's nodes (`nodes`, in weight units), so its
    /// zeros are found segment by segment. Alternating pulses move a device by about (up - down) = -G per pair, so
    /// from `start` it drifts up while G < 0 and down while G > 0, until the first zero that G crosses in the
    /// direction of travel (a stable zero: G goes from - to + as w grows); the result is that zero, bisected to
    /// Float resolution within its segment. `.none` when the drift reaches a bound first, `.everywhere` when G is 0
    /// at every node and bound, and `start` itself when G vanishes there.
    func piecewiseSymmetricPoint(_ c: DeviceCell, from start: Float, nodes: [Float]) -> SymmetricPoint {
        func g(_ w: Float) -> Float { let s = steps(c, at: w); return s.down - s.up }
        let points = ([c.wMin, c.wMax] + nodes.filter { $0 > c.wMin && $0 < c.wMax }).sorted()
        let values = points.map(g)
        if values.allSatisfy({ $0 == 0 }) { return .everywhere }
        let w0 = min(max(start.isFinite ? start : 0, c.wMin), c.wMax)
        let g0 = g(w0)
        if g0 == 0 { return .point(w0) }
        let up = g0 < 0
        // Breakpoints in the direction of travel, then the segment [previous, next] where G first changes sign.
        let ahead = up ? points.indices.filter { points[$0] > w0 } : points.indices.filter { points[$0] < w0 }.reversed()
        var previous = w0
        for k in ahead {
            let gk = values[k]
            if gk == 0 { return .point(points[k]) }
            if (gk > 0) == up {
                var lo = min(previous, points[k]), hi = max(previous, points[k])
                let gLoPositive = g(lo) > 0
                for _ in 0..<64 {
                    let mid = (lo + hi) / 2
                    if mid == lo || mid == hi { break }
                    let gm = g(mid)
                    if gm == 0 { return .point(mid) }
                    if (gm > 0) == gLoPositive { lo = mid } else { hi = mid }
                }
                return .point((lo + hi) / 2)
            }
            previous = points[k]
        }
        return .none
    }

    /// Power-law families: q_- = q_+ where ln s_down + g_down ln B(v) = ln s_up + g_up ln A(v), with
    /// A = n_up max(b_max - v, 0), B = n_down max(v - b_min, 0), v = w - shift (0^0 = 1 as in `PowerResponse`).
    /// L = ln q_- - ln q_+ is nondecreasing in w, so bisection in Double finds its sign change. Nil when a scale is 0
    /// (ln 0 could meet ln 0 in L; the bisection on G handles that case).
    func powerSymmetricPoint(_ c: DeviceCell) -> SymmetricPoint? {
        let su = Double(c.scaleUp), sd = Double(c.scaleDown), gu = Double(c.shapeUp), gd = Double(c.shapeDown)
        guard su > 0 && sd > 0 else { return nil }
        if gu == 0 && gd == 0 { return su == sd ? .everywhere : SymmetricPoint.none }
        let nu = Double(c.normUp), nd = Double(c.normDown), bMax = Double(c.wMax), bMin = Double(c.wMin)
        let shift = Double(c.shift), logRatio = Double.log(sd) - Double.log(su)
        func l(_ w: Double) -> Double {
            let v = w - shift
            let a = nu * max(bMax - v, 0), b = nd * max(v - bMin, 0)
            // g ln x with 0^0 = 1; A and B are never both 0 (b_max > b_min), so no inf - inf.
            let up = gu == 0 ? 0 : gu * Double.log(a), down = gd == 0 ? 0 : gd * Double.log(b)
            return logRatio + down - up
        }
        var lo = bMin, hi = bMax
        let lLo = l(lo), lHi = l(hi)
        if lLo == 0 { return .point(c.wMin) }
        if lHi == 0 { return .point(c.wMax) }
        if lLo > 0 || lHi < 0 { return SymmetricPoint.none }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if mid == lo || mid == hi { break }
            let lm = l(mid)
            if lm == 0 { lo = mid; hi = mid; break }
            if lm < 0 { lo = mid } else { hi = mid }
        }
        return .point(min(max(Float((lo + hi) / 2), c.wMin), c.wMax))
    }

    /// Bisection on G = down - up in Float between the bounds.
    func bisectedSymmetricPoint(_ c: DeviceCell) -> SymmetricPoint {
        func g(_ w: Float) -> Float { let s = steps(c, at: w); return s.down - s.up }
        var lo = c.wMin, hi = c.wMax
        let gLo = g(lo), gHi = g(hi)
        if gLo == 0 && gHi == 0 && g((lo + hi) / 2) == 0 { return .everywhere }
        if gLo == 0 { return .point(lo) }
        if gHi == 0 { return .point(hi) }
        if (gLo > 0) == (gHi > 0) { return .none }
        for _ in 0..<64 {
            let mid = (lo + hi) / 2
            if mid == lo || mid == hi { break }
            let gm = g(mid)
            if gm == 0 { return .point(mid) }
            if (gm > 0) == (gLo > 0) { lo = mid } else { hi = mid }
        }
        return .point((lo + hi) / 2)
    }

    /// The nominal device's symmetric point.
    public var nominalSymmetricPoint: SymmetricPoint { symmetricPoint(nominalCell) }
}
