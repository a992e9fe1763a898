import AIMCCore
import AIMCTraining
import ArgumentParser
import Foundation

/// `aimc-dist device`: the response of one device, as device papers show it.
struct DeviceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Inspect a device: q_+, q_-, F, G, symmetric point, states, and its pulse response.",
        discussion: """
        Prints the nominal device's response at five points of its range and the end points of the classic \
        pulse-response curve (N up pulses, then N down pulses from w0, without and with cycle-to-cycle noise). \
        With --output it writes response.csv (w, q_plus, q_minus, F, G) and pulse_response.csv (pulse, w_ideal, \
        w_c2c); scripts/plot.py draws both.

        Examples:
          aimc-dist device --device-preset paper-power
          aimc-dist device --family exponential --gamma-res 2 --tau 0.7 --output runs/exp-device
        """)

    @OptionGroup(title: "Device") var device: DeviceOptions
    @Option(parsing: .unconditional, help: ArgumentHelp("Up pulses, then as many down pulses (1...100000).", valueName: "n")) var pulses = 1000
    @Option(parsing: .unconditional, help: ArgumentHelp("Starting state of the pulse response (default w_min).", valueName: "w")) var w0: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Grid points of response.csv (2...100000).", valueName: "n")) var points = 201
    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the cycle-to-cycle noise.", valueName: "n")) var seed: UInt64 = 0
    @Option(help: ArgumentHelp("Folder for response.csv and pulse_response.csv.", valueName: "dir")) var output: String?
    @Flag(help: "Replace what --output holds (earlier device output, a run or a sweep).") var overwrite = false

    func validate() throws {
        try requireSingleProcess("device")
        if output?.isEmpty == true { throw ValidationError("--output must name a folder; got an empty path") }
    }

    func run() throws {
        let d = try device.apply(to: .softBoundsDefault)
        try d.validate()
        guard (1...100_000).contains(pulses) else {
            throw ConfigError(key: "", option: "--pulses", message: "must be an integer in 1...100000; got \(pulses)")
        }
        guard (2...100_000).contains(points) else {
            throw ConfigError(key: "", option: "--points", message: "must be an integer in 2...100000; got \(points)")
        }
        let start = w0 ?? d.wMin
        guard start >= d.wMin && start <= d.wMax else {
            throw ConfigError(key: "", option: "--w0", message: "must lie in [w_min, w_max] = [\(d.wMin), \(d.wMax)]; got \(start)")
        }
        let model = try DeviceModel(d)
        // Claim the output folder before computing: a bad folder fails at once, and the lock keeps other runs out.
        let directory = try output.map { try RunDirectory(path: $0, overwrite: overwrite, resultFiles: ["response.csv", "pulse_response.csv"]) }
        print("device     " + Report.device(d))
        print(String(format: "states     %.1f  (dw_min %g over [%g, %g])", d.stateCount, d.effectiveDwMin, d.wMin, d.wMax))
        switch model.nominalSymmetricPoint {
        case .point(let w): print("symmetric  w_sym = \(w) (G(w_sym) = 0)")
        case .everywhere: print("symmetric  q_+ = q_- everywhere: every state is symmetric")
        case .none: print("symmetric  none in [w_min, w_max]: G keeps its sign, alternating pulses drift to a bound")
        }
        print("")
        print("         w      q_+(w)      q_-(w)        F(w)        G(w)      M(w)")
        for w in [d.wMin, d.wMin / 2, 0, d.wMax / 2, d.wMax] {
            print(String(format: "%10.5g  %10.6f  %10.6f  %10.6f  %10.6f  %8.5f", w, model.qPlus(w), model.qMinus(w),
                         model.symmetricPart(w), model.asymmetricPart(w), model.saturation(w)))
        }
        let ideal = pulseResponse(d, noisy: false, from: start)
        let noisy = pulseResponse(d, noisy: true, from: start)
        print("")
        print(String(format: "pulse response from w0 = %g: after %d up pulses %.6g (c2c: %.6g), after %d down %.6g (c2c: %.6g)",
                     start, pulses, ideal[pulses], noisy[pulses], pulses, ideal[2 * pulses], noisy[2 * pulses]))
        if let output, let directory {
            var response = "w,q_plus,q_minus,F,G\n"
            for k in 0..<points {
                let w = d.wMin + (d.wMax - d.wMin) * Double(k) / Double(points - 1)
                response += "\(Float(w)),\(model.qPlus(w)),\(model.qMinus(w)),\(model.symmetricPart(w)),\(model.asymmetricPart(w))\n"
            }
            var curve = "pulse,w_ideal,w_c2c\n"
            for k in 0..<ideal.count { curve += "\(k),\(ideal[k]),\(noisy[k])\n" }
            try directory.write("response.csv", text: response)
            try directory.write("pulse_response.csv", text: curve)
            print("wrote \(output)/response.csv and \(output)/pulse_response.csv")
        }
    }

    /// States after 0...2N pulses (N up, then N down) of the nominal device, fired one at a time through the
    /// simulator's own pulsed update (x = 1, d = -+1, one slot, both trains certain).
    func pulseResponse(_ base: DeviceConfig, noisy: Bool, from w0: Double) -> [Double] {
        var d = base
        d.dwMinDtod = 0; d.wMaxDtod = 0; d.wMinDtod = 0; d.asymmetryDtod = 0; d.upDownDtod = 0; d.gammaDtod = 0
        d.symmetricPointDtod = 0; d.t2tDwMin = 0; d.t2tRange = 0; d.t2tSymmetricPoint = 0; d.powUpDownDtod = 0
        if !noisy { d.dwMinStd = 0 }
        let array = AnalogArray(rows: 1, cols: 1, device: d, key: StreamKey(seed: seed, purpose: .deviceToDevice))
        array.setWeights([Float(w0)])
        var update = UpdateConfig()
        update.desiredBL = 1
        update.updateBLManagement = false
        update.updateManagement = false
        var out = [Double(array.weights[0])]
        var x: Float = 1
        for k in 0..<(2 * pulses) {
            var dv: Float = k < pulses ? -1 : 1
            var trains = RandomStream(key: StreamKey(seed: seed, purpose: .pulseTrains), step: UInt64(k), sub: 0)
            var noise = RandomStream(key: StreamKey(seed: seed, purpose: .cycleToCycle), step: UInt64(k), sub: 0)
            array.pulsedUpdate(x: &x, d: &dv, lr: 4 * Float(d.effectiveDwMin), update: update, trains: &trains, noise: &noise)
            out.append(Double(array.weights[0]))
        }
        return out
    }
}
