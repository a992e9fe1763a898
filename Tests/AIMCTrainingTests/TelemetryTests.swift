import AIMCCore
import AIMCTraining
import Foundation
import Testing

/// A trainer of one or two small layers on a data set whose every pixel is 255 (inputs x = 1), in one process.
func telemetryTrainer(_ algorithm: Algorithm, hidden: [Int] = [], tile: Int = 128, features: Int = 3, classes: Int = 4,
                      _ body: (inout ExperimentConfig) -> Void = { _ in }) throws -> Trainer {
    var c = ExperimentConfig.default
    c.algorithm.name = algorithm
    c.model.hidden = hidden
    c.model.tileSize = tile
    c.training.batchSize = 2
    c.training.evalBatchSize = 4
    c.device = DeviceConfig()
    body(&c)
    try c.validate()
    let n = 8
    let data = Dataset(count: n, features: features, classes: classes, pixels: [UInt8](repeating: 255, count: n * features),
                       labels: (0..<n).map { Int32($0 % classes) })
    return try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
}

/// The rows of one telemetry record of `t`, each a dictionary from column name to its text.
func tileRows(_ t: Trainer) throws -> [[String: String]] {
    let gathered = try #require(try t.gatherTiles(measure: true))
    let text = TileTelemetry.rows(gathered, record: 0, epoch: 0, step: t.step, config: t.config, layout: t.layout, placement: t.placement)
    let names = TileTelemetry.columns.map(\.name)
    return text.split(separator: "\n").map { line in
        let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(cells.count == names.count)
        return Dictionary(uniqueKeysWithValues: zip(names, cells))
    }
}

func value(_ row: [String: String], _ column: String) -> Double { Double(row[column] ?? "") ?? .nan }

@Suite("Per-tile telemetry")
struct TelemetryTests {
    /// A constant-step device of dw_min 0.125 on [-1, 1], no noise: from w = 0, 8 up pulses reach w_max exactly
    /// (0.125 is exact in binary), so of 31 pulses per device 23 are cut short by the bound. Without update
    /// management and with lr = 10, each train fires in every one of BL = 31 slots (probability sqrt(lr/(dw BL)) > 1),
    /// so every device receives 31 coincidences.
    @Test("Known answers on a tiny block: pulses = coincidences, clipped pulses, a tile at its bound reports saturation 1")
    func pulsesAndSaturation() throws {
        let t = try telemetryTrainer(.analogSGD) {
            $0.device.family = .constantStep
            $0.device.dwMin = 0.125
            $0.device.wMax = 1
            $0.device.wMin = -1
            $0.algorithm.lr = 10
            $0.update.updateManagement = false
            $0.update.updateBLManagement = false
        }
        let b = t.blocks[0]
        #expect(b.info.rows == 4 && b.info.cols == 3)
        b.arrays[0].setWeights([Float](repeating: 0, count: 12))
        b.refreshEffective()
        let before = try tileRows(t)[0]
        #expect(value(before, "saturated_fraction") == 0 && value(before, "frobenius_norm") == 0 && value(before, "gradient_pulses") == 0)
        let x: [Float] = [1, 1, 1], d: [Float] = [-1, -1, -1, -1]
        b.gradientUpdate(input: x, inputStride: 3, delta: d, deltaStride: 4, batch: 1, step: 0)
        let r = try tileRows(t)[0]
        #expect(b.gradientPulses.coincidences == 12 * 31)
        #expect(value(r, "gradient_pulses") == 12 * 31)
        #expect(value(r, "clipped_pulses") == 12 * 23)
        #expect(value(r, "gradient_updates") == 1 && value(r, "pulse_slots") == 31)
        #expect(value(r, "saturated_fraction") == 1)
        #expect(value(r, "w_min") == 1 && value(r, "w_max") == 1 && value(r, "w_mean") == 1 && value(r, "w_std") == 0)
        #expect(value(r, "frobenius_norm") == Double(12).squareRoot())
        // The symmetric point of a symmetric constant step is everywhere: distance 0.
        #expect(value(r, "mean_abs_w_minus_w_sym") == 0 && value(r, "devices_without_symmetric_point") == 0)
    }

    @Test("Known answers: a zero P reports norm 0; W's norm and moments are those of its weights")
    func residualNorm() throws {
        let t = try telemetryTrainer(.residual) { $0.algorithm.updateMode = .expected }
        let b = t.blocks[0]
        var rows = try tileRows(t)
        #expect(rows.map { $0["array"] } == ["W", "P"])
        #expect(value(rows[1], "frobenius_norm") == 0 && value(rows[1], "w_std") == 0)
        let w = (0..<12).map { Double(b.arrays[0].weight($0)) }
        let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        // Sums in Double over 12 values: equal to the last bits of Double.
        #expect(abs(value(rows[0], "frobenius_norm") - norm) <= 1e-15 * norm)
        #expect(abs(value(rows[0], "w_mean") - w.reduce(0, +) / 12) <= 1e-15)
        #expect(value(rows[0], "w_min") == w.min()! && value(rows[0], "w_max") == w.max()!)
        b.gradientUpdate(input: [1, 1, 1], inputStride: 3, delta: [0.1, -0.1, 0.2, 0], deltaStride: 4, batch: 1, step: 0)
        rows = try tileRows(t)
        let p = (0..<12).map { Double(b.arrays[1].weight($0)) }
        #expect(value(rows[1], "frobenius_norm") > 0)
        #expect(abs(value(rows[1], "frobenius_norm") - p.reduce(0) { $0 + $1 * $1 }.squareRoot()) <= 1e-15)
    }

    /// Soft bounds without device-to-device variability: every device of a tile is the nominal device with the
    /// tile's draws, so its symmetric point is the tile's shift and its bounds are +-0.6 times the range scale.
    @Test("The drawn t2t factors in the file equal the ones the simulator used (and the ones the device seed draws)")
    func tileDraws() throws {
        func trainer(_ deviceSeed: DeviceSeed) throws -> Trainer {
            try telemetryTrainer(.residual, tile: 2) {
                $0.device.t2tDwMin = 0.2
                $0.device.t2tSymmetricPoint = 0.1
                $0.device.t2tRange = 0.3
                $0.deviceSeed = deviceSeed
            }
        }
        let t = try trainer(.followsSeed)
        let rows = try tileRows(t)
        #expect(rows.count == 8)  // 2 x 2 blocks of 2 x 2 (4 x 3 layer), two arrays each
        var gains = Set<Double>()
        for row in rows {
            let bi = Int(value(row, "block")), k = row["array"] == "W" ? 0 : 1
            let used = t.blocks[bi].arrays[k].tile
            let drawn = TileDraw(device: t.config.device, key: StreamKey(seed: 0, purpose: .tileToTile, UInt64(bi), UInt64(k)))
            #expect(used == drawn)
            #expect(value(row, "t2t_dw_min_gain") == Double(used.gain))
            #expect(value(row, "t2t_symmetric_point_shift") == Double(used.shift))
            #expect(value(row, "t2t_range_scale") == Double(used.rangeScale))
            #expect(value(row, "d2d_symmetric_point_mean") == Double(used.shift) && value(row, "d2d_symmetric_point_std") == 0)
            #expect(value(row, "d2d_w_max_mean") == Double(Float(0.6) * used.rangeScale))
            #expect(value(row, "d2d_dw_min_mean") == Double(Float(1e-3) * used.gain))
            gains.insert(value(row, "t2t_dw_min_gain"))
        }
        #expect(gains.count == 8, "each tile draws its own factors")
        // Another chip: other draws, from the device seed's stream.
        let other = try trainer(.fixed(5))
        for bi in 0..<4 {
            for k in 0..<2 {
                let tile = other.blocks[bi].arrays[k].tile
                #expect(tile == TileDraw(device: t.config.device, key: StreamKey(seed: 5, purpose: .tileToTile, UInt64(bi), UInt64(k))))
                #expect(tile != t.blocks[bi].arrays[k].tile)
            }
        }
    }

    /// The trains of a pulsed update depend on the seed, the inputs and the step only: on two chips (device seeds
    /// 0 and 9) the same update fires the same coincidences on the same devices, though the devices (and so the
    /// weights after the update) differ.
    @Test("--device-seed changes the device-to-device and tile-to-tile draws and nothing else")
    func deviceSeed() throws {
        func trainer(_ s: DeviceSeed, variability: Bool) throws -> Trainer {
            try telemetryTrainer(.analogSGD) {
                $0.deviceSeed = s
                $0.device.dwMinStd = 0.3
                if variability { $0.device.dwMinDtod = 0.3; $0.device.wMaxDtod = 0.3; $0.device.t2tSymmetricPoint = 0.1 }
            }
        }
        let x: [Float] = [0.5, -0.25, 1], d: [Float] = [0.3, -0.1, 0.2, 0.05]
        let a = try trainer(.followsSeed, variability: true), b = try trainer(.fixed(9), variability: true)
        let same = try trainer(.fixed(0), variability: true)
        #expect(a.blocks[0].arrays[0].cells[0] != b.blocks[0].arrays[0].cells[0])
        #expect(a.blocks[0].arrays[0].cells[5] == same.blocks[0].arrays[0].cells[5], "device seed 0 is the seed 0 chip")
        for t in [a, b] {
            t.blocks[0].arrays[0].setWeights([Float](repeating: 0, count: 12))
            t.blocks[0].gradientUpdate(input: x, inputStride: 3, delta: d, deltaStride: 4, batch: 1, step: 3)
        }
        #expect(a.blocks[0].gradientPulses == b.blocks[0].gradientPulses && a.blocks[0].gradientPulses.coincidences > 0)
        #expect(a.blocks[0].arrays[0].weightsArray() != b.blocks[0].arrays[0].weightsArray())
        #expect(Trainer.permutation(count: 50, seed: a.config.seed, epoch: 1) == Trainer.permutation(count: 50, seed: b.config.seed, epoch: 1))
        // Without variability the device seed has nothing to draw: the whole state is the same.
        let c = try trainer(.followsSeed, variability: false), e = try trainer(.fixed(9), variability: false)
        for t in [c, e] { t.blocks[0].gradientUpdate(input: x, inputStride: 3, delta: d, deltaStride: 4, batch: 1, step: 3) }
        #expect(c.blocks[0].digest() == e.blocks[0].digest())
    }

    @Test("device_seed is \"seed\" or an integer, in files, --set and sweeps; it is written to config.json")
    func deviceSeedKey() throws {
        #expect(ExperimentConfig.default.chipSeed == 0)
        var c = ExperimentConfig.default
        c.seed = 7
        #expect(c.chipSeed == 7)
        let fixed = try Sweep.assign(["device_seed=18446744073709551615"], in: c)
        #expect(fixed.deviceSeed == .fixed(UInt64.max) && fixed.chipSeed == UInt64.max && fixed.seed == 7)
        let json = String(decoding: ConfigLoader.json(fixed), as: UTF8.self)
        #expect(json.contains("\"device_seed\" : 18446744073709551615"))
        #expect(String(decoding: ConfigLoader.json(c), as: UTF8.self).contains("\"device_seed\" : \"seed\""))
        let back = try ConfigLoader.overlay(["device_seed": "seed"], over: fixed, source: "test")
        #expect(back.deviceSeed == .followsSeed)
        for bad in ["-1", "1.5", "chip", "[1]"] {
            do {
                _ = try Sweep.assign(["device_seed=\(bad)"], in: c)
                Issue.record("device_seed=\(bad) was accepted")
            } catch {
                #expect("\(error)".contains("device_seed") && "\(error)".contains("\"seed\""), "\(error)")
            }
        }
        let points = try Sweep.expand(base: c, axes: [Sweep.Axis(key: "device_seed", values: ["0", "1", "seed"], option: "--set")])
        #expect(points.map(\.config.chipSeed) == [0, 1, 7])
    }

    @Test("Tile counters convert to a fixed list of integers and back (for checkpoints)")
    func counterState() throws {
        let t = try telemetryTrainer(.residual)
        let b = t.blocks[0]
        b.gradientUpdate(input: [1, 1, 1], inputStride: 3, delta: [0.1, -0.1, 0.2, 0], deltaStride: 4, batch: 1, step: 0)
        b.transfer(after: 0)
        #expect(b.counters[1].gradient.coincidences > 0 && b.counters[1].transferRead.reads == 1)
        let state = b.counterState
        #expect(Set(state.keys) == ["counters.W", "counters.P"])
        let fresh = try telemetryTrainer(.residual).blocks[0]
        #expect(fresh.counters != b.counters)
        try fresh.restoreCounters(state)
        #expect(fresh.counters == b.counters)
        for c in b.counters { #expect(try TileCounters(values: c.values) == c) }
        #expect(TileCounters.names.count == TileCounters().values.count)
        do {
            try fresh.restoreCounters(["counters.W": .integers([1, 2]), "counters.P": state["counters.P"]!])
            Issue.record("a short list was accepted")
        } catch {
            #expect(error.message.contains("counters.W"))
        }
    }

    /// Ideal periphery, no update-BL or update management: every forward or backward read is one vector, every
    /// sample one update of BL = desired_bl slots (no input or error is zero: pixels are 1, sigmoid activations and
    /// softmax errors are never 0). Layer 1 (3 -> 2) is read forward only, layer 2 (2 -> 4) forward and backward.
    @Test("The cost estimate of a tiny run equals the hand count of its reads, slots and pulses times the costs")
    func costByHand() throws {
        let t = try telemetryTrainer(.analogSGD, hidden: [2]) {
            $0.forward = .perfect; $0.backward = .perfect; $0.transfer = .perfect
            $0.update.updateBLManagement = false
            $0.update.updateManagement = false
            $0.update.desiredBL = 7
            $0.cost.readNs = 3
            $0.cost.pulseSlotNs = 2
            $0.cost.updateOverheadNs = 0.5
            $0.cost.readPj = 11
            $0.cost.pulsePj = 0.25
        }
        let steps = 3, batch = 2
        for s in 0..<steps { _ = try t.trainOnBatch([2 * s, 2 * s + 1]) }
        let samples = Double(steps * batch)
        let gathered = try #require(try t.gatherTiles(measure: false))
        let model = CostModel(t.config.cost)
        let cost = model.run(gathered.tiles.map { ($0.block, $0.counters) }, layout: t.layout)
        let pulses = [Double(t.blocks[0].gradientPulses.coincidences), Double(t.blocks[1].gradientPulses.coincidences)]
        let reads = [samples, 2 * samples]
        var latency = 0.0, energy = 0.0
        for k in 0..<2 {
            let c = gathered.tiles[k].counters
            #expect(Double(c.trainingReads.reads) == reads[k] && c.trainingReads.boundManagementRepeats == 0)
            #expect(Double(c.gradient.updates) == samples && Double(c.gradient.slots) == 7 * samples)
            let tile = reads[k] * 3 + 7 * samples * 2 + samples * 0.5
            #expect(model.tile(c).latencyNs == tile)
            latency += tile
            energy += reads[k] * 11 + pulses[k] * 0.25
        }
        #expect(cost.latencyNs == latency && cost.tileBusyNs == latency)
        #expect(cost.energyPj == energy && cost.pulses == UInt64(pulses[0] + pulses[1]))
        #expect(cost.reads == UInt64(3 * samples) && cost.slots == UInt64(14 * samples) && cost.updates == UInt64(2 * samples))
        // Evaluation reads are counted apart and cost nothing.
        _ = try t.evaluate(t.test, limit: 8, epoch: 1)
        let after = try #require(try t.gatherTiles(measure: false))
        #expect(after.tiles[0].counters.evaluation.reads == 8 && model.run(after.tiles.map { ($0.block, $0.counters) }, layout: t.layout) == cost)
    }

    @Test("Telemetry settings are validated with their keys and options")
    func validation() {
        var c = ExperimentConfig.default
        c.telemetry.every = -1
        #expect(throws: ConfigError.self) { try c.validate() }
        c = .default
        c.cost.readNs = -1
        do { try c.validate(); Issue.record("negative cost accepted") } catch { #expect(error.key == "cost.read_ns") }
        c = .default
        c.cost.pulsePj = .infinity
        #expect(throws: ConfigError.self) { try c.validate() }
    }
}
