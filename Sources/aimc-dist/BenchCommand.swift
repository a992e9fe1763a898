import AIMCCluster
import AIMCCore
import ArgumentParser
import Foundation

/// `aimc-dist bench`: speed of the pulsed update on one tile, in ns per pulse coincidence (CPU time of the process
/// and wall time), on the workload of aihwkit's tile benchmark: N x N SoftBounds tile, x and d uniform in [-1, 1],
/// lr 0.1, BL 31, dw_min 0.001, c2c 0.3 (multiplicative, as aihwkit), d2d 0.3 on dw_min and both bounds. It prints the
/// coincidences per device per sample, so a figure compares with another simulator's on the same pulse density.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark the pulsed update (ns per pulse coincidence) on one process.",
        discussion: """
        Prints medians over --repeats runs of CPU time (the process's, which other processes on the machine disturb less) \
        and wall time, the coincidences per device per sample, and the instruction set of the kernels (AIMC_KERNEL_ISA \
        asks for a narrower one; every one gives the same bits). Compare figures measured side by side, interleaved.
        """)

    @Option(parsing: .unconditional, help: "Tile edge N (N x N devices).") var size = 512
    @Option(parsing: .unconditional, help: "Mini-batch size (rank-one updates per step).") var batch = 1
    @Option(parsing: .unconditional, help: "Learning rate.") var lr: Float = 0.1
    @Option(parsing: .unconditional, help: "Longest pulse train BL.") var bl = 31
    @Option(parsing: .unconditional, help: "Cycle-to-cycle noise (relative to dw_min).") var c2c = 0.3
    @Option(parsing: .unconditional, help: "Device-to-device spread of dw_min, w_max and w_min.") var d2d = 0.3
    @Option(help: "Cycle-to-cycle form (default multiplicative, as aihwkit's SoftBounds).") var c2cMode: DeviceConfig.CycleToCycleMode = .multiplicative
    @Option(parsing: .unconditional, help: "Timed steps per repeat.") var steps = 20
    @Option(parsing: .unconditional, help: "Repeats (the median is reported).") var repeats = 7

    func validate() throws {
        try requireSingleProcess("bench")
        guard size >= 1 && size <= 16384 else { throw ValidationError("--size must be an integer in 1...16384; got \(size)") }
        guard batch >= 1 && batch <= 4096 else { throw ValidationError("--batch must be an integer in 1...4096; got \(batch)") }
        guard bl >= 1 && bl <= 32 else { throw ValidationError("--bl must be an integer in 1...32; got \(bl)") }
        guard steps >= 1 else { throw ValidationError("--steps must be an integer >= 1; got \(steps)") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be an integer >= 1; got \(repeats)") }
        guard lr >= 1e-6 && lr <= 1e6 else { throw ValidationError("--lr must lie in [1e-6, 1e6]; got \(lr)") }
        guard c2c >= 0 && c2c <= 10 else { throw ValidationError("--c2c must lie in [0, 10]; got \(c2c)") }
        guard d2d >= 0 && d2d <= 2 else { throw ValidationError("--d2d must lie in [0, 2]; got \(d2d)") }
    }

    func run() throws {
        var device = DeviceConfig()
        device.dwMinStd = c2c
        device.c2cMode = c2cMode
        device.dwMinDtod = d2d
        device.wMaxDtod = d2d
        device.wMinDtod = d2d
        var update = UpdateConfig()
        update.desiredBL = bl
        try requireMemory(size * size * AnalogArray.bytesPerDevice(device) + AnalogArray.scratchBytes(rows: size, cols: size)
                          + 8 * size * batch, "a \(size) x \(size) tile",
                          fix: "use a smaller --size")
        let array = AnalogArray(rows: size, cols: size, device: device, key: StreamKey(seed: 0, purpose: .deviceToDevice))
        var gen = RandomStream(key: StreamKey(seed: 0, purpose: .benchmark))
        let xs = (0..<(size * batch)).map { _ in gen.nextUniform() * 2 - 1 }
        let ds = (0..<(size * batch)).map { _ in gen.nextUniform() * 2 - 1 }
        var step: UInt64 = 0
        func oneStep() -> PulseStatistics {
            var s = PulseStatistics()
            xs.withUnsafeBufferPointer { x in
                ds.withUnsafeBufferPointer { d in
                    for b in 0..<batch {
                        var t = RandomStream(key: StreamKey(seed: 0, purpose: .pulseTrains), step: step, sub: UInt32(b))
                        var n = RandomStream(key: StreamKey(seed: 0, purpose: .cycleToCycle), step: step, sub: UInt32(b))
                        s += array.pulsedUpdate(x: x.baseAddress! + b * size, d: d.baseAddress! + b * size, lr: lr,
                                                update: update, trains: &t, noise: &n)
                    }
                }
            }
            step += 1
            return s
        }
        _ = oneStep()  // warm up
        var cpuNs = [Double](), wallNs = [Double](), cpuStep = [Double](), wallStep = [Double](), coincidencesPerStep = [Double]()
        var clipped: UInt64 = 0
        for _ in 0..<repeats {
            var s = PulseStatistics()
            let c0 = Self.cpuNanoseconds(), t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<steps { s += oneStep() }
            let wall = Double(DispatchTime.now().uptimeNanoseconds - t0), cpu = Double(Self.cpuNanoseconds() - c0)
            cpuNs.append(cpu / Double(s.coincidences))
            wallNs.append(wall / Double(s.coincidences))
            cpuStep.append(cpu * 1e-9 / Double(steps))
            wallStep.append(wall * 1e-9 / Double(steps))
            coincidencesPerStep.append(Double(s.coincidences) / Double(steps))
            clipped &+= s.clipped
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        func all(_ v: [Double]) -> String { v.map { String(format: "%.2f", $0) }.joined(separator: " ") }
        let cells = Double(size * size * batch)
        print("pulsed update, \(size)x\(size) soft-bounds tile, batch \(batch), lr \(lr), BL <= \(bl), c2c \(c2c) (\(c2cMode.rawValue)), d2d \(d2d), "
            + "kernels \(KernelInstructionSet.current.name)")
        print(String(format: "coincidences per device per sample: %.2f (pulses cut by a bound: %.2g%%)", median(coincidencesPerStep) / cells,
                     100 * Double(clipped) / (Double(repeats) * median(coincidencesPerStep) * Double(steps))))
        print(String(format: "seconds per step: CPU %.5f, wall %.5f (medians of %d)", median(cpuStep), median(wallStep), repeats))
        print(String(format: "device updates per CPU second: %.3g", cells / median(cpuStep)))
        print(String(format: "CPU ns per coincidence: %.2f (median of %d; all: %@)", median(cpuNs), repeats, all(cpuNs)))
        print(String(format: "wall ns per coincidence: %.2f (median of %d; all: %@)", median(wallNs), repeats, all(wallNs)))
    }

    /// CPU time of this process (all its threads), in ns.
    static func cpuNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}
