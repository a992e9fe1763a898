import CPulseKernels
import RealModule

/// What a random stream is used for. Part of every stream's key, so streams of different purposes are
/// independent even when all other ids agree. Raw values are part of the determinism contract: changing
/// one changes every result that uses it.
public enum RandomPurpose: UInt64, Sendable, CaseIterable {
    case weightInit = 1
    case deviceToDevice = 2
    case tileToTile = 3
    case forwardNoise = 4
    case backwardNoise = 5
    case transferReadNoise = 6
    case pulseTrains = 7
    case cycleToCycle = 8
    case shuffle = 9
    case evaluationNoise = 10
    case syntheticData = 11
    case benchmark = 12
    case zeroShift = 13
    /// Run-time draws of device effects (write noise, diffusion, resets): `DeviceEffects`.
    case deviceEffects = 14
}

/// A 64-bit Philox key derived from global ids: seed, purpose and up to five ids such as
/// (layer, block, array). Never derived from an MPI rank.
public struct StreamKey: Sendable, Hashable {
    public let words: SIMD2<UInt32>

    /// - Parameters:
    ///   - seed: the experiment seed.
    ///   - purpose: what the stream is for.
    ///   - ids: global ids (layer index, block index, array index, ...), in a fixed order per purpose.
    public init(seed: UInt64, purpose: RandomPurpose, _ ids: UInt64...) {
        var h = StreamKey.mix(seed ^ 0x6A09_E667_F3BC_C909)
        h = StreamKey.mix(h ^ (purpose.rawValue &* 0x9E37_79B9_7F4A_7C15))
        for id in ids { h = StreamKey.mix(h &+ (id &+ 1) &* 0xBF58_476D_1CE4_E5B9) }
        words = SIMD2(UInt32(truncatingIfNeeded: h), UInt32(truncatingIfNeeded: h >> 32))
    }

    /// SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
    @inlinable
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A sequential view of one Philox4x32-10 counter range: key fixed, counter words c1...c3 fixed to
/// (for example) step, sample and a sub-index, and c0 running. Up to 2^34 32-bit words per stream.
///
/// Every draw is a pure function of (key, c1, c2, c3, position), so two ranks that build the same stream
/// get the same numbers. Normals use a 256-layer ziggurat (Marsaglia and Tsang 2000) with independent
/// bits for layer, sign and magnitude; about 1.02 words per normal on average.
public struct RandomStream {
    public let key: SIMD2<UInt32>
    public let c1: UInt32, c2: UInt32, c3: UInt32
    /// Counter word c0 of the next block to compute.
    @usableFromInline var blockIndex: UInt32 = 0
    /// Up to four computed blocks (16 words) not yet handed out: words 16 - available ..< 16.
    @usableFromInline var buffer: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                                   UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    @usableFromInline var available: Int = 0
    /// Words of the group at `blockIndex` already handed out (by the C kernels, `resume`) that the next refill passes
    /// over; non-zero only while `available` is 0, so the group is computed only if the stream goes on.
    @usableFromInline var skip: Int = 0

    /// - Parameters:
    ///   - key: the stream key (seed, purpose, global ids).
    ///   - counter: the three fixed counter words, e.g. (step, sample, sub-index).
    public init(key: StreamKey, counter: (UInt32, UInt32, UInt32) = (0, 0, 0)) {
        self.key = key.words
        (c1, c2, c3) = counter
    }

    /// Convenience for 64-bit step counters: c1 = low word of `step`, c2 = high word of `step`, c3 = `sub`.
    public init(key: StreamKey, step: UInt64, sub: UInt32) {
        self.init(key: key, counter: (UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32), sub))
    }

    /// Positions the stream so that the next word is word number `word` of the stream (0-based).
    public mutating func seek(word: UInt64) {
        precondition(word < (1 << 34), "position beyond the stream")
        blockIndex = UInt32(word / 16) &* 4
        available = 0
        skip = 0
        let offset = Int(word % 16)
        if offset > 0 {
            refill()
            available = 16 - offset
        }
    }

    @inlinable @inline(__always)
    mutating func refill() {
        let (a, b, c, d) = Philox4x32.fourBlocks(c0: blockIndex, c1: c1, c2: c2, c3: c3, key: key)
        buffer = (a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], c[0], c[1], c[2], c[3], d[0], d[1], d[2], d[3])
        blockIndex &+= 4
        available = 16 &- skip
        skip = 0
    }

    /// The next uniformly distributed 32-bit word.
    @inlinable @inline(__always)
    public mutating func nextUInt32() -> UInt32 {
        if available == 0 { refill() }
        available &-= 1
        let i = 15 &- available
        return withUnsafeBytes(of: &buffer) { $0.load(fromByteOffset: i &* 4, as: UInt32.self) }
    }

    /// A uniform Float in [0, 1) with 24 random bits.
    @inlinable @inline(__always)
    public mutating func nextUniform() -> Float {
        Float(nextUInt32() >> 8) * 0x1p-24
    }

    /// A uniform Double in (0, 1] with 32 random bits (never 0, so its logarithm is finite).
    @inlinable @inline(__always)
    public mutating func nextOpenUniform() -> Double {
        (Double(nextUInt32()) + 1) * 0x1p-32
    }

    /// A uniform integer in 0..<bound (Lemire's multiply-shift with rejection: exactly uniform).
    /// - Precondition: 0 < bound <= 2^32.
    @inlinable
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0 && UInt64(bound) <= (1 << 32), "bound out of range")
        let b = UInt64(bound)
        var m = UInt64(nextUInt32()) &* b
        if UInt64(UInt32(truncatingIfNeeded: m)) < b {
            let threshold = ((1 << 32) - b) % b
            while UInt64(UInt32(truncatingIfNeeded: m)) < threshold {
                m = UInt64(nextUInt32()) &* b
            }
        }
        return Int(m >> 32)
    }

    /// A standard normal variate N(0, 1). The fast path (about 98.8% of draws: one word, a compare and a
    /// multiply) is inlined; tail and wedge draws go through `normalSlowPath`.
    @inlinable @inline(__always)
    public mutating func nextNormal() -> Float {
        let bits = nextUInt32()
        let t = Ziggurat.shared
        let layer = Int(bits & 0xFF)
        let magnitude = bits >> 9                           // 23 bits
        if magnitude < t.threshold[layer] {                 // inside the layer's rectangle
            let z = Float(magnitude) * t.width[layer]
            return (bits & 0x100) != 0 ? -z : z
        }
        return normalSlowPath(bits)
    }

    /// The next `count` words, the same as `count` calls of `nextUInt32` (whole refills are written straight to `out`).
    @inlinable
    public mutating func fill(words out: UnsafeMutablePointer<UInt32>, count: Int) {
        if skip > 0 && count > 0 { refill() }
        var i = 0
        while i < count && available > 0 {
            out[i] = nextUInt32()
            i &+= 1
        }
        while count &- i >= 16 {
            let (a, b, c, d) = Philox4x32.fourBlocks(c0: blockIndex, c1: c1, c2: c2, c3: c3, key: key)
            let raw = UnsafeMutableRawPointer(out + i)
            raw.storeBytes(of: a, toByteOffset: 0, as: SIMD4<UInt32>.self)
            raw.storeBytes(of: b, toByteOffset: 16, as: SIMD4<UInt32>.self)
            raw.storeBytes(of: c, toByteOffset: 32, as: SIMD4<UInt32>.self)
            raw.storeBytes(of: d, toByteOffset: 48, as: SIMD4<UInt32>.self)
            blockIndex &+= 4
            i &+= 16
        }
        while i < count {
            out[i] = nextUInt32()
            i &+= 1
        }
    }

    /// The next `count` standard normals, the same values from the same words as `count` calls of `nextNormal`: the
    /// ziggurat's fast path (one word per normal) runs in the C kernels (`aimc_ziggurat`, vectorised, from the stream's
    /// position), which stop before a word that needs the slow path; that normal is drawn by `nextNormal`, and the
    /// kernel goes on after it. So the words and their order never change.
    @inlinable
    public mutating func fill(normals out: UnsafeMutablePointer<Float>, count: Int) {
        if count < 8 {
            for i in 0..<count { out[i] = nextNormal() }
            return
        }
        let t = Ziggurat.shared
        let threshold = UnsafePointer(t.threshold), width = UnsafePointer(t.width)
        var i = 0
        while i < count {
            let start = position
            let n = Int(aimc_ziggurat(cStream, start, Int32(truncatingIfNeeded: count &- i), threshold, width, out + i))
            i &+= n
            if n > 0 { resume(at: start &+ UInt64(n)) }
            if i < count {
                out[i] = nextNormal()
                i &+= 1
            }
        }
    }

    /// Words handed out so far (the position of the next word).
    @inlinable
    public var position: UInt64 { UInt64(blockIndex) &* 4 &- UInt64(available) &+ UInt64(skip) }

    /// This stream as the C kernels take it.
    @inlinable
    public var cStream: aimc_stream { aimc_stream(key0: key.x, key1: key.y, c1: c1, c2: c2, c3: c3) }

    /// Moves to word `word` (after a C kernel consumed the words up to it): the next draw is that word. Nothing is
    /// computed here: the group of four blocks holding it is computed (and its first words passed over) at the next
    /// refill, if the stream goes on.
    @inlinable
    public mutating func resume(at word: UInt64) {
        blockIndex = UInt32(truncatingIfNeeded: word >> 4) &* 4
        available = 0
        skip = Int(word & 15)
    }

    @usableFromInline @inline(never)
    mutating func normalSlowPath(_ first: UInt32) -> Float {
        let t = Ziggurat.shared
        var bits = first
        while true {
            let layer = Int(bits & 0xFF)
            let magnitude = bits >> 9
            let negative = (bits & 0x100) != 0
            if magnitude < t.threshold[layer] {
                let z = Float(magnitude) * t.width[layer]
                return negative ? -z : z
            }
            if layer == 0 {                                 // the tail beyond r
                let r = Ziggurat.r
                while true {
                    let a = -Double.log(nextOpenUniform()) / r
                    let b = -Double.log(nextOpenUniform())
                    if 2 * b > a * a {
                        let z = Float(r + a)
                        return negative ? -z : z
                    }
                }
            }
            // The wedge between the rectangle and the curve.
            let z = Double(magnitude) * Double(t.width[layer])
            let y = t.f[layer] + Double(nextUniform()) * (t.f[layer + 1] - t.f[layer])
            if y < Double.exp(-0.5 * z * z) {
                let zf = Float(z)
                return negative ? -zf : zf
            }
            bits = nextUInt32()
        }
    }
}

/// Tables of the 256-layer ziggurat for the half-normal density f(x) = exp(-x^2/2).
///
/// Boundaries X[0] = v/f(r) > X[1] = r > X[2] > ... > X[255] > X[256] = 0 with X[k+1] = f^-1(f(X[k]) + v/X[k]);
/// every layer (the base layer including the tail) has area v. Constants r, v from Marsaglia and Tsang,
/// "The Ziggurat Method for Generating Random Variables", J. Stat. Softw. 5(8), 2000.
public final class Ziggurat: @unchecked Sendable {
    public static let r = 3.654152885361008796
    public static let v = 0.004928673233974655
    public static let shared = Ziggurat()

    /// Layer boundaries X[0...256].
    public let x: [Double]
    /// f(X[k]) for k in 0...256 (f(X[0]) is only used through f[1] = f(r)).
    public let f: UnsafeMutablePointer<Double>
    /// Accept the fast path if the 23-bit magnitude is below this.
    public let threshold: UnsafeMutablePointer<UInt32>
    /// X[k] * 2^-23: magnitude to value.
    public let width: UnsafeMutablePointer<Float>

    init() {
        let r = Ziggurat.r, v = Ziggurat.v
        func density(_ x: Double) -> Double { Double.exp(-0.5 * x * x) }
        var x = [Double](repeating: 0, count: 257)
        x[0] = v / density(r)
        x[1] = r
        for k in 1..<256 {
            let y = density(x[k]) + v / x[k]
            x[k + 1] = y >= 1 ? 0 : (-2 * Double.log(y)).squareRoot()
        }
        x[256] = 0
        self.x = x
        f = .allocate(capacity: 257)
        threshold = .allocate(capacity: 256)
        width = .allocate(capacity: 256)
        for k in 0...256 { f[k] = density(x[k]) }
        for k in 0..<256 {
            threshold[k] = UInt32(((x[k + 1] / x[k]) * 0x1p23).rounded(.down))
            width[k] = Float(x[k] * 0x1p-23)
        }
    }

    /// The tables as the C kernels take them (`aimc_read_outputs`).
    var tables: aimc_ziggurat_tables {
        aimc_ziggurat_tables(threshold: UnsafePointer(threshold), width: UnsafePointer(width), f: UnsafePointer(f))
    }
}

extension RandomStream {
    /// The Philox4x32-10 stream of the cycle-to-cycle normals of one pulsed update (AnalogArray): this stream's counter
    /// words c1, c2, c3 under a key derived from its key, its current position, the update's line orientation and the
    /// band of lines (see AnalogArray). Different positions, orientations and bands give independent streams; the
    /// stream's own sequential words are never reused.
    func pulseStream(orientation: UInt64, band: UInt64) -> aimc_stream {
        var h = StreamKey.mix((UInt64(key.x) | UInt64(key.y) << 32) ^ 0x7075_6C73_6573_0000)
        let position = self.position   // words handed out so far
        h = StreamKey.mix(h &+ (position &+ 1) &* 0xBF58_476D_1CE4_E5B9)
        h = StreamKey.mix(h &+ (orientation << 40 | band) &+ 1)
        return aimc_stream(key0: UInt32(truncatingIfNeeded: h), key1: UInt32(truncatingIfNeeded: h >> 32), c1: c1, c2: c2, c3: c3)
    }

    /// Moves past the words `pulseStream` was derived from (one refill of four blocks), so the next update on this
    /// stream draws other normals.
    mutating func advanceForPulses() {
        // A group partly passed over (skip) counts as refilled, as it would be had the words been drawn one by one.
        if skip > 0 {
            blockIndex &+= 4
            skip = 0
        }
        blockIndex &+= 4
        available = 0
    }
}
