import AIMCTestSupport
import Foundation
import Testing

/// The one-process commands (lsq, device, bench) and train's notes, run as a user runs them.
@Suite("Commands")
struct CommandTests {
    /// lsq and device claim their --output folder before computing: a folder holding a training run is refused
    /// (status 1) unless --overwrite, and a folder that cannot be created fails at once with status 1.
    @Test("lsq and device refuse a folder holding a run, and fail early on a folder that cannot be made")
    func outputFolders() throws {
        let run = IDXWriter.temporaryDirectory("trainrun")
        let train = try Launch.run(ranks: nil, ["--hidden", "8", "--epochs", "1", "--train-limit", "30", "--test-limit", "10",
                                                "--progress-seconds", "0", "--data-dir", Launch.data, "--output", run, "--overwrite"])
        #expect(train.status == 0, "\(train.stderr)")
        let config = try String(contentsOfFile: run + "/config.json", encoding: .utf8)
        let lsq = try Launch.run(ranks: nil, ["lsq", "--steps", "10", "--asymmetries", "0", "--output", run])
        #expect(lsq.status == 1 && lsq.stderr.contains("already holds a run") && lsq.stderr.contains("--overwrite"), "\(lsq.stderr)")
        #expect(lsq.stdout.isEmpty)  // refused before computing
        #expect(try String(contentsOfFile: run + "/config.json", encoding: .utf8) == config)
        let replaced = try Launch.run(ranks: nil, ["lsq", "--steps", "10", "--asymmetries", "0", "--output", run, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(FileManager.default.fileExists(atPath: run + "/lsq.csv") && !FileManager.default.fileExists(atPath: run + "/metrics.csv"))

        let blocked = IDXWriter.temporaryDirectory("blocked") + "/file"
        _ = FileManager.default.createFile(atPath: blocked, contents: Data("x".utf8))
        for args in [["lsq", "--steps", "10", "--asymmetries", "0"], ["device"]] {
            let r = try Launch.run(ranks: nil, args + ["--output", blocked + "/sub"])
            #expect(r.status == 1 && r.stderr.contains("cannot be created") && r.stdout.isEmpty, "\(args): \(r.stderr)")
        }
    }

    @Test("Bad list items and negative counts are one line naming the option and what is allowed")
    func badValues() throws {
        for (args, expected) in [(["lsq", "--algorithms", "residual,bogus"], ["\"bogus\"", "residual-v2"]),
                                 (["lsq", "--asymmetries", "0,,0.3"], ["--asymmetries", "empty"]),
                                 (["lsq", "--zero-shifts", "ideal,sometimes"], ["\"sometimes\"", "pulsed"]),
                                 (["device", "--pulses", "-1"], ["--pulses", "1...100000"]),
                                 (["device", "--points", "-5"], ["--points", "2...100000"]),
                                 (["bench", "--size", "-1"], ["--size", "1...16384"])] {
            let r = try Launch.run(ranks: nil, args)
            #expect(r.status == 2, "\(args)")
            #expect(r.stderr.split(separator: "\n").count == 1 && expected.allSatisfy { r.stderr.contains($0) }, "\(args): \(r.stderr)")
        }
    }

    @Test("Options the chosen algorithm does not use are named in a note; the run still trains")
    func unusedOptions() throws {
        let r = try Launch.run(ranks: nil, ["--hidden", "8", "--epochs", "1", "--train-limit", "30", "--test-limit", "10", "--progress-seconds", "0",
                                            "--data-dir", Launch.data, "--rider-eta", "0.5", "--expected-noise", "--tiles", "4"])
        #expect(r.status == 0, "\(r.stderr)")
        for option in ["--rider-eta", "--expected-noise", "--tiles"] {
            #expect(r.stderr.contains("note: \(option) has no effect"), "\(r.stderr)")
        }
        let quiet = try Launch.run(ranks: nil, ["--hidden", "8", "--epochs", "1", "--train-limit", "30", "--test-limit", "10", "--progress-seconds", "0",
                                                "--data-dir", Launch.data, "--algorithm", "rider", "--rider-eta", "0.5"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("note:"), "\(quiet.stderr)")
    }
}
