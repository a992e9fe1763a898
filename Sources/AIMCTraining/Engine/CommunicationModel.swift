/// The traffic of one training step, predicted from the layout, the placement and the batch (the model the
/// Trainer's exchanges follow; the tests compare it with the bytes a run moves).
///
/// Per layer l, the forward group (owners of l and l + 1, plus the coordinator for the last layer) sums the blocks'
/// partial outputs (batch x rows floats each) in two phases: each partial goes once to the reducer of its row (the
/// owner of one of the row's blocks, rotating with the row), which adds them; then every member gathers the sums (batch x outputs floats in all). The backward group of
/// l >= 1 (owners of l and l - 1) does the same with columns (batch x cols per block, batch x inputs summed).
/// With R replicas each replica moves its share of the batch, and the owners of a block in the R replicas gather its
/// inputs and errors (batch x (cols + rows) floats per block); the coordinators of the replicas gather per-sample
/// losses (16 bytes per sample). So a rank moves O(batch x (its blocks' rows and columns + fan-in + fan-out)) floats
/// per layer, never O(weights).
public enum CommunicationModel {
    public struct Traffic: Sendable, Equatable {
        public var sent: UInt64 = 0
        public var received: UInt64 = 0
        /// Collective calls this rank takes part in.
        public var messages: Int = 0
        public init(sent: UInt64 = 0, received: UInt64 = 0, messages: Int = 0) {
            self.sent = sent
            self.received = received
            self.messages = messages
        }
    }

    /// Predicted payload bytes per world rank (replica-major: world rank = replica * model size + model rank).
    public static func perStep(layout: NetworkLayout, placement: Placement, replicas: Int, batch: Int) -> [Traffic] {
        let m = placement.ranks
        var out = [Traffic](repeating: Traffic(), count: m * replicas)
        let shares = Trainer.evenSplit(batch, replicas).map(\.count)
        let L = layout.layers.count
        let owners = (0..<L).map { l -> Set<Int> in
            let layer = layout.layers[l]
            return Set((layer.firstBlock..<(layer.firstBlock + layer.blockCount)).map { placement.owner[$0] })
        }
        func units(_ l: Int, _ rank: Int, _ f: (BlockInfo) -> Int) -> Int {
            let layer = layout.layers[l]
            return (layer.firstBlock..<(layer.firstBlock + layer.blockCount)).filter { placement.owner[$0] == rank }
                .reduce(0) { $0 + f(layout.blocks[$1]) }
        }
        /// One two-phase sum over `members` of layer l (rows forward, columns backward): partials to their slice's
        /// reducer, then an allgather of the sums.
        func reduce(_ l: Int, _ members: [Int], replica: Int, batch b: Int, transposed: Bool) {
            let layer = layout.layers[l]
            let slices = transposed ? layer.colBlocks : layer.rowBlocks
            let inner = transposed ? layer.rowBlocks : layer.colBlocks
            func block(_ s: Int, _ k: Int) -> Int { transposed ? layer.blockIndex(row: k, col: s) : layer.blockIndex(row: s, col: k) }
            func size(_ s: Int) -> Int { transposed ? layer.colRanges[s].count : layer.rowRanges[s].count }
            var gathered = [Int: Int]()
            for s in 0..<slices {
                let reducer = placement.owner[block(s, ReducePlan.reducerBlock(slice: s, inner: inner))]
                gathered[reducer, default: 0] += b * size(s)
                for k in 0..<inner where placement.owner[block(s, k)] != reducer {
                    let bytes = UInt64(b * size(s) * 4)
                    out[replica * m + placement.owner[block(s, k)]].sent += bytes
                    out[replica * m + reducer].received += bytes
                }
            }
            let total = gathered.values.reduce(0, +)
            for r in members {
                let w = replica * m + r
                out[w].sent += UInt64(gathered[r, default: 0] * 4 * (members.count - 1))
                out[w].received += UInt64((total - gathered[r, default: 0]) * 4)
                out[w].messages += 2
            }
        }
        for replica in 0..<replicas {
            for l in 0..<L {
                // A layer read at p positions per sample exchanges p rows per sample.
                let b = shares[replica] * layout.layers[l].positions
                var f = owners[l].union(l + 1 < L ? owners[l + 1] : [])
                if l == L - 1 { f.insert(0) }
                reduce(l, f.sorted(), replica: replica, batch: b, transposed: false)
                if l >= 1 { reduce(l, owners[l].union(owners[l - 1]).sorted(), replica: replica, batch: b, transposed: true) }
            }
        }
        if replicas > 1 {
            for rank in 0..<m {
                for l in 0..<L where owners[l].contains(rank) {
                    let perSample = units(l, rank, { $0.rows + $0.cols }) * layout.layers[l].positions
                    let total = batch * perSample
                    for replica in 0..<replicas {
                        let w = replica * m + rank
                        out[w].sent += UInt64(shares[replica] * perSample * 4 * (replicas - 1))
                        out[w].received += UInt64((total - shares[replica] * perSample) * 4)
                        out[w].messages += 1
                    }
                }
            }
            for replica in 0..<replicas {
                let w = replica * m
                out[w].sent += UInt64(shares[replica] * 16 * (replicas - 1))
                out[w].received += UInt64((batch - shares[replica]) * 16)
                out[w].messages += 1
            }
        }
        return out
    }
}
