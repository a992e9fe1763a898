/// The traffic of one training step, predicted from the layout, the placement and the batch (the model the
/// Trainer's exchanges follow; the tests compare it with the bytes a run moves).
///
/// Per layer l, the forward group (owners of l and l + 1, plus the coordinator for the last layer) gathers every
/// block's partial output, batch x rows floats; the backward group of l >= 1 (owners of l and l - 1) gathers
/// batch x cols floats per block. A member sends its own partials to each other member and receives all others'.
/// With R replicas each replica moves its share of the batch, and the owners of a block in the R replicas gather its
/// inputs and errors (batch x (cols + rows) floats per block); the coordinators of the replicas gather per-sample
/// losses (16 bytes per sample). So traffic per layer is O(batch x (fan-in + fan-out) x blocks per row or column),
/// never O(weights).
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
        func gather(_ members: [Int], _ replica: Int, _ count: (Int) -> Int, bytesPer: Int) {
            let total = members.reduce(0) { $0 + count($1) }
            for r in members {
                let w = replica * m + r
                out[w].sent += UInt64(count(r) * bytesPer * (members.count - 1))
                out[w].received += UInt64((total - count(r)) * bytesPer)
                out[w].messages += 1
            }
        }
        for replica in 0..<replicas {
            let b = shares[replica]
            for l in 0..<L {
                var f = owners[l].union(l + 1 < L ? owners[l + 1] : [])
                if l == L - 1 { f.insert(0) }
                gather(f.sorted(), replica, { b * units(l, $0, { $0.rows }) }, bytesPer: 4)
                if l >= 1 { gather(owners[l].union(owners[l - 1]).sorted(), replica, { b * units(l, $0, { $0.cols }) }, bytesPer: 4) }
            }
        }
        if replicas > 1 {
            for rank in 0..<m {
                for l in 0..<L where owners[l].contains(rank) {
                    let perSample = units(l, rank, { $0.rows + $0.cols })
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
