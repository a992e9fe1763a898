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
        With --output it writes response.csv (w, q_plus, q_minus, F, G, M) and pulse_response.csv (pulse, w_ideal, \
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
        let directory = try output.map { try RunDirectory(path: $0, overwrite: overwrite) }
        for line in DeviceInspection.summary(d, model: model) { print(line) }
        let ideal = DeviceInspection.pulseResponse(d, pulses: pulses, noisy: false, from: start, seed: seed)
        let noisy = DeviceInspection.pulseResponse(d, pulses: pulses, noisy: true, from: start, seed: seed)
        print("")
        print(DeviceInspection.pulseLine(ideal: ideal, noisy: noisy, pulses: pulses, from: start))
        if let output, let directory {
            try directory.write("response.csv", text: DeviceInspection.responseCSV(d, model: model, points: points))
            try directory.write("pulse_response.csv", text: DeviceInspection.pulseCSV(ideal: ideal, noisy: noisy))
            print("wrote \(output)/response.csv and \(output)/pulse_response.csv")
        }
    }
}
