import AIMCCore

/// What the analog hardware would spend on a run, estimated from what the tiles counted (`TileCounters`) and the
/// costs of `CostConfig` (defaults: the paper's Table 3 latencies, 40 ns per read, 5 ns per pulse slot, 5.9 ns per
/// update beyond its slots; no energy unless per-read and per-pulse energies are given).
///
/// What it counts, per tile: every training read of a vector through the tile (forward, backward, one-hot transfer
/// reads; each bound-management repeat is another read) at `read_ns` and `read_pj`; every update of the tile
/// (gradient or transfer, a requested update with empty trains included) at `update_overhead_ns` plus its pulse
/// slots (BL after update-BL management; a threshold transfer: the most pulses fired on one of its devices) at
/// `pulse_slot_ns`; every device pulse fired at `pulse_pj`. In expected mode no pulse is simulated: an update counts
/// `update.desired_bl` slots (Table 3 assumes 32) and no pulse energy.
///
/// What it leaves out: evaluation reads (counted apart), zero-shifting pulses (a calibration before training), the
/// digital work (activations, bias, loss, partial sums, H and Q buffers), data movement between tiles and ranks,
/// and peripheral circuits beyond the per-read and per-pulse figures. Each block's mixed read (W + gamma P) is
/// charged to every array in the mixture, as if each were read separately.
///
/// Per run: tiles of one block work in turn, the blocks of a layer in parallel, layers one after another, with no
/// pipelining across layers or samples: the time is the sum over layers of the busiest block's time.
public struct CostModel: Sendable {
    public let costs: CostConfig

    public init(_ costs: CostConfig) { self.costs = costs }

    /// The estimate of one tile from its counters.
    public struct TileCost: Sendable, Equatable {
        /// Reads (with bound-management repeats) x read_ns.
        public var readNs: Double
        /// Pulse slots x pulse_slot_ns + updates x update_overhead_ns.
        public var updateNs: Double
        /// Reads x read_pj + device pulses x pulse_pj.
        public var energyPj: Double
        public var latencyNs: Double { readNs + updateNs }
    }

    public func tile(_ c: TileCounters) -> TileCost {
        let r = c.trainingReads, p = c.pulses
        let reads = Double(r.reads &+ r.boundManagementRepeats)
        return TileCost(readNs: reads * costs.readNs,
                        updateNs: Double(p.slots) * costs.pulseSlotNs + Double(p.updates) * costs.updateOverheadNs,
                        energyPj: reads * costs.readPj + Double(p.coincidences) * costs.pulsePj)
    }

    /// The estimate of a run.
    public struct RunCost: Sendable, Equatable {
        /// Sum over layers of the busiest block's time (reads plus updates), and its read and update parts.
        public var latencyNs = 0.0
        public var readLatencyNs = 0.0
        public var updateLatencyNs = 0.0
        /// Sum of every tile's time (what the tiles are busy for in all).
        public var tileBusyNs = 0.0
        public var energyPj = 0.0
        /// Training reads (with repeats), pulse slots, updates and device pulses over all tiles.
        public var reads: UInt64 = 0
        public var slots: UInt64 = 0
        public var updates: UInt64 = 0
        public var pulses: UInt64 = 0
    }

    /// The run's estimate from every tile's counters.
    /// - Parameter tiles: (global block index, counters) of every tile, any order.
    public func run(_ tiles: [(block: Int, counters: TileCounters)], layout: NetworkLayout) -> RunCost {
        var out = RunCost()
        var perBlock = [Int: TileCost]()
        for (b, c) in tiles {
            let t = tile(c)
            var sum = perBlock[b] ?? TileCost(readNs: 0, updateNs: 0, energyPj: 0)
            sum.readNs += t.readNs
            sum.updateNs += t.updateNs
            perBlock[b] = sum
            out.tileBusyNs += t.latencyNs
            out.energyPj += t.energyPj
            let r = c.trainingReads, p = c.pulses
            out.reads &+= r.reads &+ r.boundManagementRepeats
            out.slots &+= p.slots
            out.updates &+= p.updates
            out.pulses &+= p.coincidences
        }
        for layer in layout.layers {
            var busiest = TileCost(readNs: 0, updateNs: 0, energyPj: 0)
            for b in layer.firstBlock..<(layer.firstBlock + layer.blockCount) {
                if let t = perBlock[b], t.latencyNs > busiest.latencyNs { busiest = t }
            }
            out.latencyNs += busiest.latencyNs
            out.readLatencyNs += busiest.readNs
            out.updateLatencyNs += busiest.updateNs
        }
        return out
    }

    /// The closing line of a run: "hardware estimate (...): ...".
    public func describe(_ r: RunCost) -> String {
        func time(_ ns: Double) -> String {
            if ns >= 1e9 { return Report.g3(ns / 1e9) + " s" }
            if ns >= 1e6 { return Report.g3(ns / 1e6) + " ms" }
            if ns >= 1e3 { return Report.g3(ns / 1e3) + " us" }
            return Report.g3(ns) + " ns"
        }
        let c = costs
        var s = "hardware estimate (read \(Report.g(c.readNs)) ns, pulse slot \(Report.g(c.pulseSlotNs)) ns, update overhead "
            + "\(Report.g(c.updateOverheadNs)) ns per tile): training \(time(r.latencyNs)) with blocks of a layer in parallel "
            + "(reads \(time(r.readLatencyNs)), updates \(time(r.updateLatencyNs))), tiles busy \(time(r.tileBusyNs)) in all; "
            + "\(r.reads) reads, \(r.updates) updates of \(r.slots) pulse slots"
        if c.estimatesEnergy {
            s += "; energy \(Report.g3(r.energyPj * 1e-6)) uJ (read \(Report.g(c.readPj)) pJ, pulse \(Report.g(c.pulsePj)) pJ)"
        } else {
            s += "; energy not estimated (set cost.read_pj and cost.pulse_pj)"
        }
        return s
    }
}
