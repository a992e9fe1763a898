import AIMCTestSupport
import Foundation
import Testing

/// How a run behaves when something goes wrong while it runs (a stalled rank, a signal, divergence, ranks that resolve
/// different configurations) and what it reports (progress, oversubscription, config.json).
@Suite("Run behaviour", .serialized)
struct RunBehaviourTests {
    /// A teacher task long enough to be stopped midway (tens of seconds), printing progress often.
    static let long = ["--data-source", "teacher", "--features", "64", "--train-samples", "200000", "--test-samples", "100",
                       "--hidden", "32", "--epochs", "5", "--progress-seconds", "0.2"]

    static func ours(_ r: Launch.Result) -> [Substring] { r.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist:") } }

    /// A rank stopped with SIGSTOP (a frozen node) ends the job after --stall-timeout with one line naming it, status 4;
    /// the run folder keeps its whole rows and no summary.json. Rank 0 (the coordinator) and another rank alike.
    @Test("A stalled rank ends the job after --stall-timeout with one line naming it", arguments: [1, 0])
    func stalledRank(victim: Int) throws {
        let out = IDXWriter.temporaryDirectory("stall") + "/run"
        let job = try Launch.start("/usr/bin/env", ["mpirun", "--oversubscribe", "--mca", "btl", "self,vader", "-n", "3", Launch.binary]
                                   + Self.long + ["--stall-timeout", "3", "--output", out])
        #expect(job.wait(until: { $0.contains("  epoch 1/5: step") }, timeout: 120), "no progress: \(job.stdout)")
        let pid = try #require(job.rankProcess(victim))
        #expect(kill(pid, SIGSTOP) == 0)
        let stopped = Date()
        let r = job.finish(timeout: 90)
        kill(pid, SIGKILL)  // mpirun leaves a stopped rank behind once it has ended the job
        // 3 s of waiting, at most 1 s for the other ranks to answer, and the abort.
        #expect(Date().timeIntervalSince(stopped) < 30)
        #expect(r.status == 4, "\(r.stderr)")
        let lines = Self.ours(r)
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(lines.first?.contains("the job stalled: rank \(victim) does not answer") == true
                && lines.first?.contains("--stall-timeout 3 s") == true && lines.first?.contains(" in MPI_I") == true, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/summary.json"))
        let metrics = try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8)
        #expect(metrics.hasSuffix("\n") && metrics.split(separator: "\n").allSatisfy { $0.split(separator: ",").count == 6 })
    }

    /// SIGTERM to mpirun (or to scripts/run.sh) is passed to the ranks; rank 0 says so in one line.
    @Test("SIGTERM to mpirun or to run.sh is reported in one line")
    func terminated() throws {
        let mpirun = try Launch.start("/usr/bin/env", ["mpirun", "--oversubscribe", "--mca", "btl", "self,vader", "-n", "2", Launch.binary] + Self.long)
        #expect(mpirun.wait(until: { $0.contains("  epoch 1/5: step") }, timeout: 120))
        kill(mpirun.pid, SIGTERM)
        let r = mpirun.finish(timeout: 60)
        #expect(r.status != 0 && Self.ours(r) == ["aimc-dist: stopped by SIGTERM; a run folder keeps the epochs it finished (no summary.json)"],
                "\(r.status) \(r.stderr)")
        let script = try Launch.start(Launch.packageRoot + "/scripts/run.sh", ["-n", "2"] + Self.long, environment: ["AIMC_DIST_BINARY": Launch.binary])
        #expect(script.wait(until: { $0.contains("  epoch 1/5: step") }, timeout: 120))
        kill(script.pid, SIGTERM)
        let s = script.finish(timeout: 60)
        #expect(s.status == 143 && Self.ours(s).count == 1 && Self.ours(s).first?.contains("stopped by SIGTERM") == true
                && s.stderr.split(separator: "\n").count == 1, "\(s.status) \(s.stderr)")
    }

    /// A learning rate far too large: the run stops after the epoch that diverged, exits 3 with one line, and
    /// summary.json says diverged: true with numbers or null, never text.
    @Test("Divergence stops the run with status 3; summary.json keeps its types", arguments: ["residual", "digital-sgd"])
    func divergence(algorithm: String) throws {
        let out = IDXWriter.temporaryDirectory("diverge") + "/run"
        let r = try Launch.run(ranks: 2, ["--algorithm", algorithm, "--lr", "1e6", "--hidden", "16", "--epochs", "4", "--progress-seconds", "0",
                                          "--data-dir", Launch.data, "--output", out])
        #expect(r.status == 3, "\(r.stderr)")
        #expect(Self.ours(r).count == 1 && Self.ours(r).first?.contains("training diverged") == true
                && Self.ours(r).first?.contains("--lr") == true, "\(r.stderr)")
        #expect(r.stdout.contains("epoch 1/4") && !r.stdout.contains("epoch 4/4"), "\(r.stdout)")  // stopped early
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any])
        #expect(summary["diverged"] as? Bool == true)
        for key in ["final_train_loss", "final_test_accuracy", "seconds"] {
            #expect(summary[key] is NSNull || summary[key] is NSNumber, "\(key): \(String(describing: summary[key]))")
            #expect(!(summary[key] is String))
        }
        // Within the bound: a run that learns is not flagged.
        let fine = try Launch.run(ranks: nil, ["--algorithm", algorithm, "--hidden", "16", "--epochs", "1", "--progress-seconds", "0",
                                               "--data-dir", Launch.data])
        #expect(fine.status == 0 && !fine.stderr.contains("diverged"), "\(fine.stderr)")
    }

    /// Launched as -n 2 (seed 1) : -n 1 (seed 2), rank 2 differs from the majority: it alone is named; and when rank 0
    /// is the odd one out, rank 0 is named.
    @Test("A configuration mismatch names the ranks that differ from the majority")
    func mismatchBlame() throws {
        let common = ["--hidden", "8", "--epochs", "1", "--train-limit", "30", "--test-limit", "10", "--progress-seconds", "0", "--data-dir", Launch.data]
        let last = try Launch.runMPI(["-n", "2", Launch.binary] + common + ["--seed", "1", ":", "-n", "1", Launch.binary] + common + ["--seed", "2"], timeout: 60)
        #expect(last.status == 2 && Self.ours(last).count == 1, "\(last.stderr)")
        let line = String(Self.ours(last).first ?? "")
        #expect(line.contains("rank 2: its resolved configuration differs from that of ranks 0,1 at seed") && !line.contains("rank 1:"), "\(line)")
        let first = try Launch.runMPI(["-n", "1", Launch.binary] + common + ["--seed", "2", ":", "-n", "2", Launch.binary] + common + ["--seed", "1"], timeout: 60)
        let line0 = String(Self.ours(first).first ?? "")
        #expect(first.status == 2 && line0.contains("rank 0: its resolved configuration differs from that of ranks 1,2 at seed")
                && !line0.contains("rank 1:"), "\(first.stderr)")
    }

    /// More ranks than cores: the report says the ranks shared cores instead of blaming communication.
    @Test("An oversubscribed run says so")
    func oversubscribed() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard cores < 4 else {
            print("skipped: this machine has \(cores) cores; the test oversubscribes a machine of at most 3 with 4 ranks")
            return
        }
        let r = try Launch.run(ranks: 4, ["--hidden", "16", "--epochs", "1", "--progress-seconds", "0", "--data-dir", Launch.data])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("the ranks were oversubscribed: 4 ranks shared \(cores) core") && r.stdout.contains("waiting (for cores and for messages)"),
                "\(r.stdout)")
        #expect(!r.stdout.contains("communication and waiting"))
        let two = try Launch.run(ranks: 1, ["--hidden", "16", "--epochs", "1", "--progress-seconds", "0", "--data-dir", Launch.data])
        #expect(two.stdout.contains("communication and waiting") && !two.stdout.contains("oversubscribed"))
    }

    /// The report and summary.json give the training loop's wall and CPU seconds apart from the whole process's (as
    /// other simulators time their training loops): positive, the loop's within the whole, the printed line and the
    /// file agreeing; summed over ranks when there are several.
    @Test("The training loop's wall and CPU seconds, apart from the whole process's", arguments: [nil, 2] as [Int?])
    func trainingLoopTime(ranks: Int?) throws {
        let out = IDXWriter.temporaryDirectory("loop-time") + "/run"
        // One OpenBLAS thread (aimc-dist does not use BLAS to train; an idle OpenBLAS worker thread may spin for a while).
        let r = try Launch.run(ranks: ranks, ["--algorithm", "analog-sgd", "--hidden", "32", "--epochs", "2", "--batch-size", "4",
                                              "--progress-seconds", "0", "--data-dir", Launch.data, "--output", out],
                               environment: ["OPENBLAS_NUM_THREADS": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any])
        let wall = try #require(summary["training_seconds"] as? Double), cpu = try #require(summary["training_cpu_seconds"] as? Double)
        let whole = try #require(summary["cpu_seconds"] as? Double), seconds = try #require(summary["seconds"] as? Double)
        // The steps are part of the run: their wall time within `seconds` (training and evaluation), their CPU time within
        // the processes' (which also started MPI and read the data, so strictly less).
        #expect(wall > 0 && wall <= seconds, "\(summary)")
        #expect(cpu > 0 && cpu < whole, "\(summary)")
        if ranks == nil {
            // One process with one busy thread: its CPU time over the steps is at most their wall time, plus per step the
            // two getrusage readings' truncation to 1 us each and the time between a reading and the wall clock's
            // (both well under 1 us): 5 us per step bounds it.
            let steps = Double(try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("training steps: ") }?
                .dropFirst("training steps: ".count).prefix { $0.isNumber }).flatMap { Int($0) } ?? 0)
            #expect(steps > 0 && cpu <= wall + 5e-6 * steps, "\(summary)")
        }
        let line = String(try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("training loop: ") }, "\(r.stdout)"))
        // The printed figures are the summary's to three significant digits.
        func figure(after start: String, before end: String) -> Double? {
            guard let a = line.range(of: start), let b = line.range(of: end, range: a.upperBound..<line.endIndex) else { return nil }
            return Double(line[a.upperBound..<b.lowerBound])
        }
        let printed = [figure(after: "training loop: ", before: " s on rank 0, "), figure(after: " s on rank 0, ", before: " CPU s"),
                       figure(after: "the whole process: ", before: " CPU s")].compactMap { $0 }
        #expect(printed.count == 3 && zip(printed, [wall, cpu, whole]).allSatisfy { abs($0 - $1) <= 0.005 * $1 + 1e-9 }, "\(line) \(summary)")
        #expect(line.contains(ranks == nil ? " CPU s (the steps alone" : " CPU s summed over \(ranks!) ranks (the steps alone"), "\(line)")
    }

    /// Progress lines carry the rate and the time left: train, a sweep's own ETA, lsq.
    @Test("Progress with rate and time left in train, sweep and lsq")
    func progress() throws {
        let train = try Launch.run(ranks: nil, ["--data-source", "teacher", "--features", "32", "--train-samples", "20000", "--test-samples", "50",
                                                "--hidden", "16", "--epochs", "2", "--progress-seconds", "0.05"])
        #expect(train.status == 0, "\(train.stderr)")
        let lines = train.stdout.split(separator: "\n").filter { $0.hasPrefix("  epoch ") }
        #expect(lines.contains { $0.contains("steps/s") && $0.contains("left in the epoch") && $0.contains("in the run") }, "\(train.stdout)")
        let dir = IDXWriter.temporaryDirectory("eta")
        let sweep = try Launch.run(ranks: 2, ["sweep", "--seeds", "1,2,3", "--hidden", "8", "--epochs", "1", "--progress-seconds", "0",
                                              "--data-dir", Launch.data, "--output", dir + "/s"])
        #expect(sweep.status == 0 && sweep.stdout.contains("== run-002 (2/3): seed=2; sweep: 1 of 3 done")
                && sweep.stdout.contains("left") && sweep.stdout.contains("(3 runs in"), "\(sweep.stdout)")
        let lsq = try Launch.run(ranks: nil, ["lsq", "--steps", "2000", "--asymmetries", "0,0.1", "--progress-seconds", "0.001"])
        #expect(lsq.status == 0 && lsq.stderr.contains("curves done") && lsq.stderr.contains("left"), "\(lsq.stderr)")
    }

    /// config.json holds the keys the experiment uses and nothing else; replayed, it runs bit for bit the same and
    /// records the same file again.
    @Test("config.json records only the keys the experiment uses, and replays bit for bit", arguments: [
        ["--rider-eta", "0.5", "--gamma-res", "2", "--tiles", "4"],
        ["--algorithm", "digital-sgd"],
        ["--algorithm", "analog-sgd", "--family", "exp-step"],
        ["--data-source", "teacher", "--features", "12", "--train-samples", "60", "--test-samples", "20", "--update-mode", "expected"],
    ])
    func recordedConfiguration(options: [String]) throws {
        let dir = IDXWriter.temporaryDirectory("recorded")
        let base = ["--hidden", "8", "--epochs", "1", "--train-limit", "60", "--test-limit", "20", "--progress-seconds", "0", "--data-dir", Launch.data]
        let first = try Launch.run(ranks: 2, base + options + ["--output", dir + "/a"])
        #expect(first.status == 0, "\(first.stderr)")
        let text = try String(contentsOfFile: dir + "/a/config.json", encoding: .utf8)
        let table = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let device = table["device"] as? [String: Any] ?? [:], algorithm = table["algorithm"] as? [String: Any] ?? [:]
        switch options.first {
        case "--rider-eta":
            // Soft bounds, Residual Learning: no other family's parameters, no other algorithm's keys.
            for key in ["A_down", "A_up", "a", "b", "piecewise_up", "piecewise_down", "gamma", "gamma_up", "pow_gamma", "piecewise_w"] {
                #expect(device[key] == nil, "device.\(key) recorded")
            }
            for key in ["rider_eta", "tiles", "warm_start", "transfer_every_growth", "expected_noise", "zero_shift_pulses"] {
                #expect(algorithm[key] == nil, "algorithm.\(key) recorded")
            }
            #expect(device["dw_min"] != nil && device["asymmetry"] != nil && algorithm["gamma"] != nil && table["transfer"] != nil)
        case "--algorithm" where options[1] == "digital-sgd":
            #expect(table["device"] == nil && table["forward"] == nil && table["update"] == nil && Set(algorithm.keys) == ["name", "lr"])
        case "--algorithm":
            #expect(device["A_down"] != nil && device["gamma_up"] != nil && device["asymmetry"] != nil)
            #expect(table["transfer"] == nil && algorithm["transfer_lr"] == nil && algorithm["gamma"] == nil)
        default:
            #expect((table["data"] as? [String: Any])?["dir"] == nil && device["dw_min_std"] == nil && (table["data"] as? [String: Any])?["features"] != nil)
        }
        let again = try Launch.run(ranks: 1, ["--config", dir + "/a/config.json", "--output", dir + "/b"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Launch.digest(first.stdout) != nil && Launch.digest(first.stdout) == Launch.digest(again.stdout))
        #expect(try String(contentsOfFile: dir + "/b/config.json", encoding: .utf8) == text)
        #expect(try Launch.metricsWithoutTime(dir + "/a") == Launch.metricsWithoutTime(dir + "/b"))
    }

    /// A TMPDIR without room for OpenMPI's session files (a 1 MiB tmpfs; root only) is refused by run.sh in one line
    /// before mpirun would print its internal errors or hang.
    @Test("run.sh refuses a full TMPDIR")
    func fullTemporaryFolder() throws {
        guard getuid() == 0 else { print("skipped: mounting a small tmpfs needs root"); return }
        let tmp = IDXWriter.temporaryDirectory("fulltmp")
        let r = try Launch.launch("/bin/bash", ["-c", "mount -t tmpfs -o size=1m aimc-test \"$1\" || exit 99; TMPDIR=\"$1\" \"$2\" -n 1 presets; "
                                                + "s=$?; umount \"$1\"; exit $s", "bash", tmp, Launch.packageRoot + "/scripts/run.sh"], timeout: 60,
                                  environment: ["AIMC_DIST_BINARY": Launch.binary])
        if r.status == 99 { print("skipped: tmpfs cannot be mounted here: \(r.stderr)"); return }
        #expect(r.status == 1 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("run: TMPDIR") && r.stderr.contains("KiB free"),
                "\(r.stderr)")
    }

    /// scripts/install.sh puts the binary in PREFIX/bin; with that on PATH, `mpirun -n 2 aimc-dist ...` works as a cluster
    /// user types it.
    @Test("install.sh puts aimc-dist on PATH; mpirun -n 2 aimc-dist works as typed")
    func installOnPath() throws {
        let prefix = IDXWriter.temporaryDirectory("prefix")
        let install = try Launch.launch(Launch.packageRoot + "/scripts/install.sh", ["--prefix", prefix], timeout: 60,
                                        environment: ["AIMC_DIST_BINARY": Launch.binary])
        #expect(install.status == 0 && install.stderr.contains("installed \(prefix)/bin/aimc-dist")
                && install.stderr.contains("is not on PATH"), "\(install.stderr)")
        #expect(FileManager.default.isExecutableFile(atPath: prefix + "/bin/aimc-dist"))
        let path = prefix + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let r = try Launch.launch("/usr/bin/env", ["mpirun", "--oversubscribe", "-n", "2", "aimc-dist", "--hidden", "8", "--epochs", "1",
                                                   "--train-limit", "30", "--test-limit", "10", "--progress-seconds", "0", "--data-dir", Launch.data],
                                  timeout: 120, environment: ["PATH": path])
        #expect(r.status == 0 && Launch.digest(r.stdout) != nil, "\(r.stderr)")
        let bad = try Launch.launch(Launch.packageRoot + "/scripts/install.sh", ["--prefix"], timeout: 30)
        #expect(bad.status == 2 && bad.stderr.split(separator: "\n").count == 1)
    }
}
