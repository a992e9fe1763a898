import AIMCTestSupport
import Foundation
import Testing

/// The one-process commands (lsq, device, bench) and train's notes, run as a user runs them.
@Suite("Commands")
struct CommandTests {
    /// A training run of about a second.
    let tiny = ["--hidden", "8", "--epochs", "1", "--train-limit", "30", "--test-limit", "10", "--progress-seconds", "0", "--data-dir", Launch.data]

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

    /// Runs, sweeps, lsq results and device results never share a folder: each command refuses a folder holding
    /// another's files (naming what it holds), and --overwrite removes them all.
    @Test("Output folders never mix lsq, device and training results; --overwrite removes all of them")
    func folderMixing() throws {
        let fm = FileManager.default
        let dir = IDXWriter.temporaryDirectory("mixing")
        let device = try Launch.run(ranks: nil, ["device", "--pulses", "20", "--output", dir])
        #expect(device.status == 0 && fm.fileExists(atPath: dir + "/response.csv"), "\(device.stderr)")
        let train = try Launch.run(ranks: nil, tiny + ["--output", dir])
        #expect(train.status == 1 && train.stderr.contains("already holds device results") && !fm.fileExists(atPath: dir + "/metrics.csv"),
                "\(train.stderr)")
        let lsq = try Launch.run(ranks: nil, ["lsq", "--steps", "10", "--asymmetries", "0", "--output", dir])
        #expect(lsq.status == 1 && lsq.stderr.contains("already holds device results") && lsq.stdout.isEmpty, "\(lsq.stderr)")
        let lsqOver = try Launch.run(ranks: nil, ["lsq", "--steps", "10", "--asymmetries", "0", "--output", dir, "--overwrite"])
        #expect(lsqOver.status == 0, "\(lsqOver.stderr)")
        #expect(fm.fileExists(atPath: dir + "/lsq.csv") && !fm.fileExists(atPath: dir + "/response.csv")
                && !fm.fileExists(atPath: dir + "/pulse_response.csv"))
        let device2 = try Launch.run(ranks: nil, ["device", "--pulses", "20", "--output", dir])
        #expect(device2.status == 1 && device2.stderr.contains("already holds lsq results"), "\(device2.stderr)")
        let trainOver = try Launch.run(ranks: nil, tiny + ["--output", dir, "--overwrite"])
        #expect(trainOver.status == 0, "\(trainOver.stderr)")
        #expect(fm.fileExists(atPath: dir + "/metrics.csv") && !fm.fileExists(atPath: dir + "/lsq.csv"))
    }

    /// A write that stops short (a full disk, a file-size limit) leaves metrics.csv with whole rows only, and the
    /// error names the file and the system's reason, without an MPI_Abort banner when alone.
    @Test("A full disk or file-size limit never leaves half a row in metrics.csv")
    func shortWrites() throws {
        let dir = IDXWriter.temporaryDirectory("fsize") + "/run"
        let command = "ulimit -f 8; exec '\(Launch.binary)' --data-source teacher --features 4 --train-samples 20 --test-samples 10 "
            + "--hidden 2 --epochs 1000 --progress-seconds 0 --last-checkpoint-only --set telemetry.tiles=false --output '\(dir)'"
        let r = try Launch.launch("/bin/bash", ["-c", command], timeout: 120)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("metrics.csv") && r.stderr.contains("File too large"), "\(r.stderr)")
        let text = try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8)
        #expect(text.hasSuffix("\n") && text.utf8.count <= 8192)
        let rows = text.split(separator: "\n")
        #expect(rows.count > 10 && rows.allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 6 })
        #expect(rows.dropFirst().enumerated().allSatisfy { i, row in row.hasPrefix("\(i + 1),") })
        // With a checkpoint at every epoch's end, the manifest (it lists the metrics so far) meets the limit first: one
        // line naming it and the reason, and the previous checkpoint stays complete.
        let dir2 = IDXWriter.temporaryDirectory("fsize") + "/run"
        let r2 = try Launch.launch("/bin/bash", ["-c", command.replacingOccurrences(of: " --last-checkpoint-only", with: "").replacingOccurrences(of: dir, with: dir2)], timeout: 120)
        #expect(r2.status == 1, "\(r2.stderr)")
        #expect(r2.stderr.split(separator: "\n").count == 1 && r2.stderr.contains("manifest.json") && r2.stderr.contains("File too large"), "\(r2.stderr)")
        let complete = try FileManager.default.contentsOfDirectory(atPath: dir2 + "/checkpoints").filter {
            FileManager.default.fileExists(atPath: dir2 + "/checkpoints/" + $0 + "/manifest.json")
        }
        #expect(complete.count == 1)
    }

    /// The same for tiles.csv: a record that does not fit is cut back whole, so the file ends with whole records.
    @Test("A file-size limit never leaves half a record in tiles.csv")
    func shortTileWrites() throws {
        let dir = IDXWriter.temporaryDirectory("fsize-tiles") + "/run"
        let command = "ulimit -f 24; exec '\(Launch.binary)' --data-source teacher --features 4 --train-samples 20 --test-samples 10 "
            + "--hidden 2 --epochs 1000 --progress-seconds 0 --output '\(dir)'"
        let r = try Launch.launch("/bin/bash", ["-c", command], timeout: 120)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("tiles.csv") && r.stderr.contains("File too large"), "\(r.stderr)")
        let text = try String(contentsOfFile: dir + "/tiles.csv", encoding: .utf8)
        #expect(text.hasSuffix("\n") && text.utf8.count <= 24 * 1024)
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.dropFirst()
        // Two layers of one block, two arrays each: 4 rows per record, records 0, 1, 2, ... in order.
        #expect(rows.count >= 8 && rows.count % 4 == 0, "\(rows.count) rows")
        #expect(rows.enumerated().allSatisfy { i, row in row.hasPrefix("\(i / 4),") && row.split(separator: ",", omittingEmptySubsequences: false).count == 44 })
    }

    /// An address-space limit (ulimit -v) too small for the data: one line and status 1, not an allocation trap. With
    /// --train-limit and --test-limit only those samples are read, so the same limit then suffices.
    @Test("An address-space limit too small for the data is one line, not a crash; limits read only what they use")
    func addressSpaceLimit() throws {
        let fashion = "/usr/share/datasets/fashion-mnist"
        let command = "ulimit -v 400000; exec '\(Launch.binary)' --hidden 16 --epochs 1 --progress-seconds 0 --data-dir '\(fashion)'"
        let r = try Launch.launch("/bin/bash", ["-c", command], timeout: 120)
        #expect(r.status == 1 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("ulimit -v"), "\(r.status): \(r.stderr.prefix(600))")
        let limited = try Launch.launch("/bin/bash", ["-c", command + " --train-limit 100 --test-limit 50"], timeout: 120)
        #expect(limited.status == 0 && Launch.digest(limited.stdout) != nil, "\(limited.status): \(limited.stderr.prefix(600))")
    }

    /// One-character folder names, relative and nested, for a run, its resume and a sweep (Foundation's path functions
    /// trapped on them).
    @Test("One-character output folders work for train, resume and sweep")
    func oneCharacterFolders() throws {
        let dir = IDXWriter.temporaryDirectory("onechar")
        let run = "'\(Launch.binary)' --hidden 4 --train-limit 20 --test-limit 10 --progress-seconds 0 --data-dir '\(Launch.data)'"
        let r = try Launch.launch("/bin/bash", ["-c", "cd '\(dir)' && \(run) --epochs 1 --output o && \(run) --epochs 1 --output x/o"
            + " && '\(Launch.binary)' --resume o --epochs 2 --progress-seconds 0 --data-dir '\(Launch.data)'"
            + " && '\(Launch.binary)' sweep --seeds 1,2 --hidden 4 --train-limit 20 --test-limit 10 --epochs 1 --progress-seconds 0 --data-dir '\(Launch.data)' --output s"],
                                  timeout: 120)
        #expect(r.status == 0, "\(r.stderr.prefix(800))")
        for file in ["o/summary.json", "x/o/summary.json", "s/summary.csv", "s/run-002/summary.json"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file)")
        }
        #expect(try String(contentsOfFile: dir + "/o/metrics.csv", encoding: .utf8).split(separator: "\n").count == 3)
    }

    /// Under a tight address-space limit a library's worker threads can retry a failed mmap forever and its shutdown
    /// wait for them (OpenBLAS's did): the process ends without running library destructors, so it cannot hang at exit.
    @Test("A command under a tight address-space limit ends instead of hanging at exit")
    func noHangAtExit() throws {
        let r = try Launch.launch("/bin/bash", ["-c", "ulimit -v 200000; exec '\(Launch.binary)' presets"], timeout: 60)
        #expect(r.status == 0 && r.stdout.contains("soft-bounds") && r.seconds < 30, "\(r.status) \(r.stderr.prefix(400))")
    }

    /// A one-process experiment larger than the node's memory is refused before it allocates: one line, status 1.
    /// lsq at 10^6 samples x (4096 + 4096) floats needs 32 GB for A and B alone.
    @Test("lsq refuses a problem larger than the available memory before allocating")
    func memoryRefusal() throws {
        let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        let kib = meminfo.split(separator: "\n").first { $0.hasPrefix("MemAvailable:") }.flatMap { Double($0.split(separator: " ")[1]) }
        let needed = 4.0 * 1_000_000 * 8192
        try #require(kib != nil)
        guard kib! * 1024 * 0.9 < needed else { return }  // a node this large can hold it: nothing to refuse
        let r = try Launch.run(ranks: nil, ["lsq", "--samples", "1000000", "--inputs", "4096", "--outputs", "4096", "--steps", "1"], timeout: 60)
        #expect(r.status == 1 && r.stdout.isEmpty, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("available memory") && r.stderr.contains("--samples"), "\(r.stderr)")
    }

    @Test("Bad list items and negative counts are one line naming the option and what is allowed")
    func badValues() throws {
        for (args, expected) in [(["lsq", "--algorithms", "residual,bogus"], ["\"bogus\"", "residual-v2"]),
                                 (["lsq", "--asymmetries", "0,,0.3"], ["--asymmetries", "empty"]),
                                 (["lsq", "--zero-shifts", "ideal,sometimes"], ["\"sometimes\"", "pulsed"]),
                                 (["device", "--pulses", "-1"], ["--pulses", "1...100000"]),
                                 (["device", "--points", "-5"], ["--points", "2...100000"]),
                                 (["bench", "--size", "-1"], ["--size", "1...16384"]),
                                 (["swep"], ["unknown command 'swep'", "sweep"]),
                                 (["--hidden", "16x"], ["--hidden", "got 16x", "256x128"]),
                                 (["lsq", "--algorithms", "tiki-taka,tiki-taka"], ["--algorithms", "twice"]),
                                 (["lsq", "--asymmetries", "0,0.0"], ["--asymmetries", "twice"]),
                                 (["sweep", "--bogus", "1"], ["--bogus", "aimc-dist sweep --help"])] {
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

        // Family parameters the family does not use, device options under digital SGD.
        let family = try Launch.run(ranks: nil, tiny + ["--family", "soft-bounds", "--gamma-res", "2"])
        #expect(family.status == 0 && family.stderr.contains("note: --gamma-res has no effect"), "\(family.stderr)")
        let digital = try Launch.run(ranks: nil, tiny + ["--algorithm", "digital-sgd", "--tau", "0.8", "--dw-min-std", "0.1"])
        #expect(digital.status == 0 && digital.stderr.contains("--tau/--dw-min-std have no effect"), "\(digital.stderr)")
        // Expected updates fire no pulses: c2c options do nothing (the digests agree), and the note says so.
        let quietC2C = try Launch.run(ranks: nil, tiny + ["--update-mode", "expected", "--dw-min-std", "0.1"])
        let loudC2C = try Launch.run(ranks: nil, tiny + ["--update-mode", "expected", "--dw-min-std", "0.9", "--c2c-mode", "multiplicative"])
        let digest = { (r: Launch.Result) in r.stdout.split(separator: "\n").first { $0.hasPrefix("weights digest:") } }
        #expect(digest(quietC2C) != nil && digest(quietC2C) == digest(loudC2C))
        #expect(loudC2C.stderr.contains("--dw-min-std/--c2c-mode have no effect: expected updates fire no device pulses"), "\(loudC2C.stderr)")
        // A sweep notes an option that no point uses, and not one that some point uses.
        let dir = IDXWriter.temporaryDirectory("sweepnotes")
        let sweep = try Launch.run(ranks: nil, ["sweep", "--set", "algorithm.name=residual,rider", "--rider-eta", "0.5", "--tiles", "3",
                                                "--output", dir, "--overwrite"] + tiny)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        #expect(sweep.stderr.contains("note: --tiles has no effect") && !sweep.stderr.contains("--rider-eta"), "\(sweep.stderr)")
        // An axis no point uses, and train given a grid experiment.
        let axis = try Launch.run(ranks: nil, ["sweep", "--algorithm", "digital-sgd", "--set", "device.tau=0.6,0.8",
                                               "--output", dir, "--overwrite"] + tiny)
        #expect(axis.status == 0 && axis.stderr.contains("the axis device.tau (--set) has no effect at any point"), "\(axis.stderr)")
        let grid = try Launch.run(ranks: nil, tiny + ["--experiment", "table7-c2c"])
        #expect(grid.status == 0 && grid.stderr.contains("train runs only its base configuration"), "\(grid.stderr)")
    }

    /// lsq reads back the config.json it writes (any subset of its keys, JSON or YAML; options override it), as
    /// strictly as train reads a training configuration, and refuses other files with one line.
    @Test("lsq --config replays an lsq run exactly and names what is wrong with other files")
    func lsqConfig() throws {
        let dir = IDXWriter.temporaryDirectory("lsqconfig")
        let first = try Launch.run(ranks: nil, ["lsq", "--steps", "300", "--asymmetries", "0.1", "--lr", "0.2", "--output", dir + "/a"])
        #expect(first.status == 0, "\(first.stderr)")
        let again = try Launch.run(ranks: nil, ["lsq", "--config", dir + "/a/config.json", "--output", dir + "/b"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOfFile: dir + "/a/lsq.csv", encoding: .utf8) == String(contentsOfFile: dir + "/b/lsq.csv", encoding: .utf8))
        let config = try String(contentsOfFile: dir + "/a/config.json", encoding: .utf8)
        #expect(config.contains("\"batch_size\"") && config.contains("\"zero_shifts\""))
        let shorter = try Launch.run(ranks: nil, ["lsq", "--config", dir + "/a/config.json", "--steps", "100"])
        #expect(shorter.status == 0 && shorter.stdout.contains("100 steps") && shorter.stdout.contains("c = 0.1"), "\(shorter.stdout)")
        try "{\"inputs\": 5}".write(toFile: dir + "/partial.json", atomically: true, encoding: .utf8)
        try "{\"training\": {\"epochs\": 1}}".write(toFile: dir + "/train.json", atomically: true, encoding: .utf8)
        // Strict as a training configuration: unknown keys, keys twice, wrong kinds, disagreeing granularity, bad names.
        let files = ["unknown.json": "{\"stepz\": 5}", "nested.json": "{\"base\": {\"device\": {\"dw_mim\": 0.01}}}",
                     "twice.json": "{\"steps\": 200, \"steps\": 30}", "fraction.json": "{\"steps\": 1.5}",
                     "granularity.json": "{\"base\": {\"device\": {\"n_states\": 100, \"dw_min\": 0.0001}}}",
                     "name.json": "{\"algorithms\": [\"bogus\"]}", "repeated.json": "{\"asymmetries\": [0.1, 0.1]}",
                     "range.json": "{\"base\": {\"device\": {\"dw_min\": -1}}}", "octal.yaml": "steps: 010\n",
                     "notiles.json": "{\"algorithms\": [\"multi-tile-residual\"], \"tiles\": []}",
                     "percurve.json": "{\"base\": {\"device\": {\"asymmetry\": 0.5}}}", "zeros.json": "{\"asymmetries\": [-0.0, 0.0]}",
                     "epochs.json": "{\"base\": {\"training\": {\"epochs\": -1}}}"]
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        try "steps: 50\nasymmetries: [0.2]\n".write(toFile: dir + "/ok.yaml", atomically: true, encoding: .utf8)
        let yaml = try Launch.run(ranks: nil, ["lsq", "--config", dir + "/ok.yaml"])
        #expect(yaml.status == 0 && yaml.stdout.contains("50 steps") && yaml.stdout.contains("c = 0.2"), "\(yaml.stderr)")
        let partial = try Launch.run(ranks: nil, ["lsq", "--config", dir + "/partial.json", "--steps", "20"])
        #expect(partial.status == 0 && partial.stdout.contains("D 5,"), "\(partial.stderr)")  // any subset of keys
        for (file, expected) in [("train.json", "is a training configuration"),
                                 ("missing.json", "does not exist"), ("unknown.json", "unknown key stepz"),
                                 ("nested.json", "unknown key base.device.dw_mim"), ("twice.json", "gives the key steps twice"),
                                 ("fraction.json", "(config key steps) must be an integer"),
                                 ("granularity.json", "base.device.n_states 100 gives dw_min"), ("name.json", "choose from"),
                                 ("repeated.json", "lists 0.1 twice"), ("range.json", "(config key base.device.dw_min, option --dw-min)"),
                                 ("octal.yaml", "octal"), ("notiles.json", "(config key tiles, option --tiles) must list at least one value"),
                                 ("percurve.json", "is set for each curve from asymmetries"), ("zeros.json", "lists 0.0 twice"),
                                 ("epochs.json", "(config key base.training.epochs) must be")] {
            let r = try Launch.run(ranks: nil, ["lsq", "--config", dir + "/" + file])
            #expect(r.status == 2 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(expected), "\(file): \(r.stderr)")
        }
    }

    @Test("One-process commands under mpirun stop with one line and status 2")
    func oneProcessCommands() throws {
        for command in ["lsq", "plan", "device", "presets", "bench"] {
            let r = try Launch.run(ranks: 2, [command], timeout: 60)
            let ours = r.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist:") }
            #expect(r.status == 2 && ours.count == 1 && ours[0].contains("\(command) runs on one process"), "\(command): \(r.stderr)")
        }
    }

    @Test("lsq names runs that diverge instead of printing nan")
    func lsqDivergence() throws {
        let r = try Launch.run(ranks: nil, ["lsq", "--steps", "200", "--asymmetries", "0", "--algorithms", "digital-sgd,analog-sgd", "--lr", "3"])
        #expect(r.status == 0 && r.stdout.contains("diverged") && !r.stdout.lowercased().contains("nan"), "\(r.stdout)")
        #expect(r.stderr.contains("runs diverged") && r.stderr.contains("digital-sgd at c = 0.0"), "\(r.stderr)")
    }

    @Test("--hidden takes AxB as sweeps write it; data options of the other source are noted")
    func hiddenAndDataNotes() throws {
        let base = ["--epochs", "1", "--train-limit", "30", "--test-limit", "10", "--progress-seconds", "0", "--data-dir", Launch.data]
        let comma = try Launch.run(ranks: nil, base + ["--hidden", "8,4"])
        let axb = try Launch.run(ranks: nil, base + ["--hidden", "8x4", "--features", "10"])
        #expect(comma.status == 0 && axb.status == 0, "\(axb.stderr)")
        let digest = { (r: Launch.Result) in r.stdout.split(separator: "\n").first { $0.hasPrefix("weights digest:") } }
        #expect(digest(comma) != nil && digest(comma) == digest(axb))
        #expect(axb.stderr.contains("note: --features has no effect"), "\(axb.stderr)")
        let teacher = try Launch.run(ranks: nil, ["--data-source", "teacher", "--data-dir", "/nonexistent", "--features", "4", "--train-samples", "20",
                                                  "--test-samples", "10", "--hidden", "2", "--epochs", "1", "--progress-seconds", "0"])
        #expect(teacher.status == 0 && teacher.stderr.contains("note: --data-dir has no effect"), "\(teacher.stderr)")
        // The multi-tile header states the schedule the per-tile lists give.
        let multi = try Launch.run(ranks: nil, base + ["--hidden", "8", "--algorithm", "multi-tile-residual", "--tiles", "3",
                                                       "--transfer-every-per-tile", "1,5", "--transfer-lr-per-tile", "0.1,0.2"])
        #expect(multi.status == 0 && multi.stdout.contains("W(1)->W(0) beta 0.2 every 5, W(2)->W(1) beta 0.1 every 1"), "\(multi.stdout)")
    }

    /// train and sweep name the --config file for a bad value it gave, and the option or axis that replaced it
    /// otherwise; a file Yams cannot construct (a list used as a key) is one line, not a trap.
    @Test("A bad value from --config names the file; one from an option or axis names that")
    func configFileValues() throws {
        let dir = IDXWriter.temporaryDirectory("configvalues")
        let c = dir + "/c.json"
        try #"{"device": {"asymmetry": 2}}"#.write(toFile: c, atomically: true, encoding: .utf8)
        let sweep = ["sweep", "--config", c, "--output", dir + "/sweep"]
        for (args, expected) in [(["--config", c], "--config \(c) (config key device.asymmetry, option --asymmetry) must lie in (-1, 1); got 2"),
                                 (["--config", c, "--asymmetry", "3"], "--asymmetry (config key device.asymmetry) must lie in (-1, 1); got 3"),
                                 (sweep + ["--seeds", "1,2"], "--config \(c) (config key device.asymmetry, option --asymmetry) must lie in (-1, 1); got 2 (grid point 1 of 2"),
                                 (sweep + ["--set", "device.asymmetry=0.1,3"], "--set (config key device.asymmetry) must lie in (-1, 1); got 3")] {
            let r = try Launch.run(ranks: nil, args + tiny)
            #expect(r.status == 2 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        let k = dir + "/k.yaml"
        try "? [a, b]\n: 1\n".write(toFile: k, atomically: true, encoding: .utf8)
        let r = try Launch.run(ranks: nil, ["--config", k] + tiny)
        #expect(r.status == 2 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("has a list used as a key at the top level"), "\(r.stderr)")
    }

    @Test("Device values that resolve out of range name the option given")
    func resolvedRanges() throws {
        let r = try Launch.run(ranks: nil, ["--n-states", "1e9", "--tau", "0.001", "--epochs", "1"])
        #expect(r.status == 2 && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("--n-states"), "\(r.stderr)")
        let seeds = try Launch.run(ranks: nil, ["sweep", "--seeds", "-1", "--output", IDXWriter.temporaryDirectory("seeds")])
        #expect(seeds.status == 2 && seeds.stderr.contains("--seeds") && seeds.stderr.split(separator: "\n").count == 1, "\(seeds.stderr)")
    }
}
