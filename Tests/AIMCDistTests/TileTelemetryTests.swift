import AIMCTestSupport
import Foundation
import Testing

/// tiles.csv as a table: its header and rows (comment lines dropped), cells by column name.
struct TilesFile {
    let header: [String]
    let rows: [[String]]

    init(_ dir: String) throws {
        let lines = try String(contentsOfFile: dir + "/tiles.csv", encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        header = lines.first.map { $0.split(separator: ",").map(String.init) } ?? []
        rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    func column(_ name: String) -> Int { header.firstIndex(of: name)! }
    func value(_ row: [String], _ name: String) -> Double { Double(row[column(name)]) ?? .nan }

    /// The whole file's lines without the owner_rank column.
    static func withoutOwner(_ dir: String) throws -> [String] {
        let text = try String(contentsOfFile: dir + "/tiles.csv", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = lines.first { !$0.hasPrefix("#") }!.split(separator: ",").map(String.init)
        let owner = header.firstIndex(of: "owner_rank")!
        return lines.map { line in
            if line.hasPrefix("#") || line.isEmpty { return line }
            var cells = line.split(separator: ",", omittingEmptySubsequences: false)
            cells.remove(at: owner)
            return cells.joined(separator: ",")
        }
    }
}

/// A Python 3 with matplotlib (Debian's /usr/bin/python3 first), for the plot tests; nil when there is none.
let pythonWithMatplotlib: String? = {
    for python in ["/usr/bin/python3", "/usr/local/bin/python3"] where FileManager.default.isExecutableFile(atPath: python) {
        if let r = try? Launch.launch(python, ["-c", "import matplotlib"], timeout: 60), r.status == 0 { return python }
    }
    return nil
}()

@Suite("Per-tile telemetry under MPI", .serialized)
struct TileTelemetryTests {
    static let small = ["--hidden", "24,16", "--tile-size", "16", "--epochs", "2", "--batch-size", "8", "--progress-seconds", "0",
                        "--data-dir", Launch.data]
    /// `small` with one epoch.
    static var oneEpoch: [String] { var a = small; a[a.firstIndex(of: "--epochs")! + 1] = "1"; return a }
    /// Tile-to-tile and device-to-device variability, pulsed zero-shifting of P, and records every 7 steps as well.
    static let varied = ["--t2t-symmetric-point", "0.1", "--t2t-dw-min", "0.2", "--t2t-range", "0.2", "--zero-shift", "pulsed",
                         "--zero-shift-pulses", "20", "--telemetry-every", "7"]

    @Test("tiles.csv is the same file at 1, 2, 3 and 5 ranks and for every placement, apart from the owner column")
    func rankInvariance() throws {
        var files = [[String]](), owners = Set<[String]>(), digests = Set<String>()
        for (n, placement) in [(1, "round-robin"), (2, "round-robin"), (3, "round-robin"), (5, "round-robin"), (2, "by-layer"),
                               (3, "balanced"), (3, "by-layer"), (5, "balanced"), (5, "by-layer")] {
            let out = IDXWriter.temporaryDirectory("tiles-\(n)-\(placement)")
            let r = try Launch.run(ranks: n, Self.small + Self.varied + ["--placement", placement, "--output", out])
            #expect(r.status == 0, "n=\(n) \(placement): \(r.stderr)")
            files.append(try TilesFile.withoutOwner(out))
            let t = try TilesFile(out)
            owners.insert(t.rows.map { $0[t.column("owner_rank")] })
            digests.insert(Launch.digest(r.stdout) ?? "missing")
        }
        // 11 blocks (2 x 4, 1 x 2, 1 x 1) of two arrays; records: start, steps 7, 14, ..., 49 and the end of epoch 1
        // (50 steps), then 56, ..., 98 and the end of epoch 2: 1 + 8 + 8 = 17.
        let t = files[0].filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(t.count == 1 + 22 * 17, "\(t.count) lines")
        #expect(files.allSatisfy { $0 == files[0] })
        #expect(owners.count > 1, "the placements put tiles on different ranks")
        #expect(digests.count == 1)
    }

    /// A run of one epoch continued to two with --resume at another rank count writes the same tiles.csv as the
    /// uninterrupted run: the tiles' counters are in the checkpoint, and the records after its step are made again
    /// (also when the last of them was cut short).
    @Test("A resumed run's tiles.csv equals the uninterrupted run's, at another rank count")
    func resumeKeepsTiles() throws {
        let whole = IDXWriter.temporaryDirectory("tiles-whole"), split = IDXWriter.temporaryDirectory("tiles-split")
        let a = try Launch.run(ranks: 2, Self.small + Self.varied + ["--output", whole])
        #expect(a.status == 0, "\(a.stderr)")
        let b = try Launch.run(ranks: 2, Self.oneEpoch + Self.varied + ["--output", split])
        #expect(b.status == 0, "\(b.stderr)")
        // A stale record after the checkpoint's step (as a run stopped between a record and its next checkpoint leaves).
        let stale = try String(contentsOfFile: split + "/tiles.csv", encoding: .utf8).split(separator: "\n").last!
        let cells = stale.split(separator: ",", omittingEmptySubsequences: false)
        let later = (["999", cells[1], "1000"] + cells.dropFirst(3)).joined(separator: ",")
        // And after it a row cut short, as a run killed while appending a record leaves: not a damage to warn about.
        let cut = later.prefix(later.count / 2)
        try (try String(contentsOfFile: split + "/tiles.csv", encoding: .utf8) + later + "\n" + cut + "\n")
            .write(toFile: split + "/tiles.csv", atomically: true, encoding: .utf8)
        let c = try Launch.run(ranks: 3, ["--resume", split, "--epochs", "2"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(!c.stderr.contains("warning"), "\(c.stderr)")
        #expect(Launch.digest(c.stdout) == Launch.digest(a.stdout))
        #expect(try TilesFile.withoutOwner(split) == TilesFile.withoutOwner(whole))
    }

    /// A damaged tiles.csv does not stop a resume: the records before the damage are kept whole, the rest up to the
    /// checkpoint are dropped with one warning naming the line (none when nothing up to the checkpoint was lost), the
    /// new records continue the numbering under a fresh header, and the weights are those of the uninterrupted run.
    /// Each case: the damage, the warning's words (nil: no warning) and the records kept from before the checkpoint.
    @Test("Resume over a damaged tiles.csv keeps the whole records before the damage and says where it was",
          arguments: ["cut", "missing", "crlf", "latin1", "empty", "header", "order", "junk"])
    func resumeOverDamagedTiles(damage: String) throws {
        let whole = IDXWriter.temporaryDirectory("tiles-whole-d"), split = IDXWriter.temporaryDirectory("tiles-damaged")
        let a = try Launch.run(ranks: 1, Self.small + Self.varied + ["--output", whole])
        #expect(a.status == 0, "\(a.stderr)")
        let b = try Launch.run(ranks: 2, Self.oneEpoch + Self.varied + ["--output", split])
        #expect(b.status == 0, "\(b.stderr)")
        let file = split + "/tiles.csv"
        var lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let first = try #require(lines.firstIndex { !$0.hasPrefix("#") }) + 1    // the first row of record 0
        // 22 rows per record (11 blocks of two arrays), records of steps 0, 7, ..., 49, 50 (the checkpoint's); the
        // sixth row of record 2 is file line `target + 1`.
        let target = first + 2 * 22 + 5
        var bytes: Data? = nil
        let said: String?, keptBefore: Int
        switch damage {
        case "cut":
            lines[target] = String(lines[target].prefix(lines[target].count / 2))
            (said, keptBefore) = ("line \(target + 1) is damaged", 2)
        case "missing":
            lines.remove(at: target)
            (said, keptBefore) = ("record 2 has 21 row(s), not 22", 2)
        case "crlf":
            bytes = Data((lines.joined(separator: "\r\n") + "\r\n").utf8)
            (said, keptBefore) = (nil, 9)
        case "latin1":
            var row = Data(lines[target].utf8)
            row.insert(0xE9, at: row.count - 1)    // a Latin-1 byte in the last (numeric) cell
            bytes = Data((lines[..<target].joined(separator: "\n") + "\n").utf8) + row
                + Data(("\n" + lines[(target + 1)...].joined(separator: "\n") + "\n").utf8)
            (said, keptBefore) = ("line \(target + 1) is damaged", 2)
        case "empty":
            bytes = Data()
            (said, keptBefore) = (nil, 0)
        case "header":
            lines[first - 1] += ",extra"
            (said, keptBefore) = ("line \(first): the header row is not this version's", 0)
        case "order":
            // Record 2's rows claim step 60, after the checkpoint's 50, but record 3 (step 21) follows.
            for i in (first + 44)..<(first + 66) {
                var cells = lines[i].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                cells[2] = "60"
                lines[i] = cells.joined(separator: ",")
            }
            (said, keptBefore) = ("line \(first + 45): step 60 (after the checkpoint's) is followed by step 21 on line \(first + 67)", 2)
        default:    // "junk": a line after the last record, of the checkpoint's step: nothing before it is lost
            lines.append("junk")
            (said, keptBefore) = (nil, 9)
        }
        try (bytes ?? Data((lines.joined(separator: "\n") + "\n").utf8)).write(to: URL(fileURLWithPath: file))
        let c = try Launch.run(ranks: 3, ["--resume", split, "--epochs", "2"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(Launch.digest(c.stdout) == Launch.digest(a.stdout))
        if let said {
            #expect(c.stderr.contains("warning: tiles.csv: ") && c.stderr.contains(said)
                    && c.stderr.contains("kept its first \(keptBefore) whole record(s)"), "\(c.stderr)")
        } else {
            #expect(!c.stderr.contains("warning"), "\(c.stderr)")
        }
        // The records kept, then the 8 records after the checkpoint's step 50, numbered on; a fresh header.
        let t = try TilesFile(split)
        let reference = try TilesFile(whole)
        #expect(t.header == reference.header)
        let record = t.column("record"), step = t.column("step")
        let records = keptBefore + 8
        #expect(t.rows.count == 22 * records && t.rows.allSatisfy { $0.count == t.header.count })
        #expect(t.rows.map { Int($0[record])! } == (0..<records).flatMap { Array(repeating: $0, count: 22) })
        #expect(t.rows[(22 * keptBefore)...].allSatisfy { Int($0[step])! > 50 } && t.rows[..<(22 * keptBefore)].allSatisfy { Int($0[step])! <= 50 })
        if keptBefore == 9 { #expect(try TilesFile.withoutOwner(split) == TilesFile.withoutOwner(whole)) }
    }

    @Test("The weights digest is the same with telemetry on, off, without a folder and with a record after every step")
    func digestUnchanged() throws {
        var digests = [String]()
        for extra in [["--output", IDXWriter.temporaryDirectory("tel-on")],
                      ["--output", IDXWriter.temporaryDirectory("tel-off"), "--set", "telemetry.tiles=false"],
                      [],
                      ["--output", IDXWriter.temporaryDirectory("tel-every"), "--telemetry-every", "1"]] {
            let r = try Launch.run(ranks: 2, Self.small + ["--algorithm", "tiki-taka-v2", "--t2t-symmetric-point", "0.1"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            digests.append(Launch.digest(r.stdout) ?? "missing")
        }
        #expect(digests[0].count == 64 && Set(digests).count == 1, "\(digests)")
    }

    @Test("--device-seed: the default is the seed; another chip changes the draws; without variability nothing changes")
    func deviceSeed() throws {
        func run(_ extra: [String]) throws -> (digest: String, tiles: TilesFile) {
            let out = IDXWriter.temporaryDirectory("chip")
            let r = try Launch.run(ranks: 2, Self.oneEpoch + ["--output", out] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return (Launch.digest(r.stdout) ?? "missing", try TilesFile(out))
        }
        let t2t = ["--t2t-symmetric-point", "0.1"]
        let base = try run(t2t), zero = try run(t2t + ["--device-seed", "0"]), other = try run(t2t + ["--device-seed", "3"])
        #expect(base.digest == zero.digest && base.digest != other.digest)
        let shift = base.tiles.column("t2t_symmetric_point_shift")
        #expect(base.tiles.rows.map { $0[shift] } != other.tiles.rows.map { $0[shift] })
        // Another training seed on the same chip: the same draws.
        let sameChip = try run(t2t + ["--seed", "5", "--device-seed", "0"])
        #expect(sameChip.tiles.rows.map { $0[shift] } == base.tiles.rows.map { $0[shift] } && sameChip.digest != base.digest)
        // No variability at all: the device seed draws nothing, so it changes nothing (pulse trains, data order, noise).
        let none = ["--dw-min-dtod", "0", "--w-max-dtod", "0", "--w-min-dtod", "0"]
        #expect(try run(none).digest == (try run(none + ["--device-seed", "3"])).digest)
    }

    /// Ideal periphery (no bound-management repeats), residual learning, 400 training samples of batch 8: per epoch
    /// 50 steps, one column transfer per block per step, 100 test samples read per evaluation.
    @Test("Hand counts of reads, and the run's estimate equals the tiles' counts times the configured costs")
    func costs() throws {
        let out = IDXWriter.temporaryDirectory("cost")
        let r = try Launch.run(ranks: 3, Self.small + ["--ideal-io", "--output", out, "--set", "cost.read_ns=3", "--set", "cost.pulse_slot_ns=2",
                                                       "--set", "cost.update_overhead_ns=0.5", "--set", "cost.read_pj=7", "--set", "cost.pulse_pj=0.25"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("hardware estimate (read 3 ns, pulse slot 2 ns, update overhead 0.5 ns per tile)"), "\(r.stdout)")
        // The report times the records (0, 1, 2) and gives their share of the run.
        #expect(r.stdout.contains("the 3 records written by this run took ") && r.stdout.contains("% of its time"), "\(r.stdout)")
        let t = try TilesFile(out)
        let last = t.rows.filter { $0[t.column("record")] == "2" }
        #expect(last.count == 22)
        var perBlock = [Int: (layer: Int, ns: Double)](), energy = 0.0, reads = 0.0
        for row in last {
            let layer = Int(t.value(row, "layer")), isP = row[t.column("array")] == "P"
            // Forward reads: 800 samples; backward reads on layers 2 and 3; P is read by one transfer per step.
            let expected = 800.0 * (layer == 1 ? 1 : 2) + (isP ? 100 : 0)
            #expect(t.value(row, "reads") == expected && t.value(row, "bound_management_repeats") == 0 && t.value(row, "eval_reads") == 200)
            let updates = t.value(row, "gradient_updates") + t.value(row, "transfer_updates")
            #expect(updates == (isP ? 800 : 100))
            let pulses = t.value(row, "gradient_pulses") + t.value(row, "transfer_pulses")
            let latency = t.value(row, "reads") * 3 + t.value(row, "pulse_slots") * 2 + updates * 0.5
            #expect(t.value(row, "latency_ns") == latency)
            #expect(t.value(row, "energy_pj") == t.value(row, "reads") * 7 + pulses * 0.25)
            let b = Int(t.value(row, "block"))
            perBlock[b] = (layer, (perBlock[b]?.ns ?? 0) + latency)
            energy += t.value(row, "energy_pj")
            reads += t.value(row, "reads")
        }
        var critical = [Int: Double]()
        for (_, v) in perBlock { critical[v.layer] = max(critical[v.layer] ?? 0, v.ns) }
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        let estimate = try #require(summary["hardware_estimate"] as? [String: Any])
        // Sums of at most 22 exact products of small integers and binary fractions: exact in Double.
        #expect((estimate["latency_ns"] as? Double) == critical.values.reduce(0, +))
        #expect((estimate["energy_pj"] as? Double) == energy && (estimate["reads"] as? Int) == Int(reads))
        #expect((estimate["pulses"] as? Int) == summary["device_pulses"] as? Int)
        #expect(summary["tile_records"] as? Int == 3)
    }

    @Test("plan reports the telemetry bytes per record; bad telemetry values are one-line errors")
    func planAndErrors() throws {
        let plan = try Launch.run(ranks: nil, ["plan", "--ranks", "4", "--hidden", "4096,4096", "--tile-size", "512", "--data-source", "teacher"])
        // 8 x 2 + 8 x 8 + 1 x 8 = 88 blocks of two arrays, 54 words of 8 bytes per tile.
        #expect(plan.status == 0 && plan.stdout.contains("tile telemetry (with --output): 176 tiles, 76032 bytes gathered to rank 0 per record"),
                "\(plan.stdout)")
        for (args, needle) in [(["--telemetry-every", "-1"], "--telemetry-every"), (["--set", "device_seed=chip"], "\"seed\""),
                               (["--set", "cost.read_ns=-2"], "cost.read_ns"), (["--device-seed", "-3"], "--device-seed")] {
            let r = try Launch.run(ranks: 2, Self.small + args)
            #expect(r.status == 2 && MultiRankTests.errors(r).count == 1 && r.stderr.contains(needle), "\(args): \(r.stderr)")
        }
    }

    @Test("plot.py tiles and plot.py sweep draw a PNG from a run folder and a sweep over chips",
          .enabled(if: pythonWithMatplotlib != nil, "skipped: no python3 with matplotlib (apt install python3-matplotlib)"))
    func plots() throws {
        let python = try #require(pythonWithMatplotlib)
        let dir = IDXWriter.temporaryDirectory("plots")
        let sweep = try Launch.run(ranks: 2, ["sweep"] + Self.oneEpoch + ["--t2t-symmetric-point", "0.1", "--set", "algorithm.name=analog-sgd,residual",
                                                                       "--set", "device_seed=0,1", "--output", dir + "/S"])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let script = Launch.packageRoot + "/scripts/plot.py"
        for args in [["tiles", dir + "/S/run-001", "--metric", "saturated_fraction", "-o", dir + "/tiles.png"],
                     ["tiles", dir + "/S/run-003", "--epoch", "0", "-o", dir + "/tiles0.png"],
                     ["sweep", dir + "/S", "--x", "algorithm.name", "-o", dir + "/sweep.png"],
                     ["sweep", dir + "/S", "--x", "device_seed", "--hue", "algorithm.name", "--over", "-o", dir + "/hue.png"]] {
            let r = try Launch.launch(python, [script] + args, timeout: 120)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            let png = FileManager.default.contents(atPath: args[args.count - 1]) ?? Data()
            #expect(png.count > 1000 && png.prefix(4) == Data([0x89, 0x50, 0x4e, 0x47]), "\(args)")
        }
        let bad = try Launch.launch(python, [script, "tiles", dir + "/S", "-o", dir + "/x.png"], timeout: 60)
        #expect(bad.status == 1 && bad.stderr.contains("holds no tiles.csv") && bad.stderr.contains("run-NNN"), "\(bad.stderr)")
        let metric = try Launch.launch(python, [script, "tiles", dir + "/S/run-001", "--metric", "nope", "-o", dir + "/x.png"], timeout: 60)
        #expect(metric.status == 2 && metric.stderr.contains("--metric nope"), "\(metric.stderr)")
    }
}
