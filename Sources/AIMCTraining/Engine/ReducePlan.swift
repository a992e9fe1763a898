/// How one layer's partial outputs are summed across a group in two phases, so that every partial travels once:
///
/// 1. every member sends each of its blocks' partials to the reducer of the block's slice (the owner of the slice's
///    block number `reducerBlock`, which rotates with the slice so that reductions spread over the owners);
/// 2. each reducer adds its slices' partials in block order (the first copied, the rest added, so the bits do not
///    depend on ranks or placement), and the sums are gathered by every member.
///
/// Units are rows (forward: a row slice's partials are batch x rows) or columns (backward). All offsets are in
/// units; multiply by the batch size for floats.
struct ReducePlan {
    let transposed: Bool
    /// Matrix rows per sample of the layer (its output positions): every count below is per row.
    let positions: Int
    /// Model ranks of the group, in group order, and this rank's index among them.
    let members: [Int]
    let me: Int
    /// Phase 1: units sent to each member and where each of my blocks goes in the send buffer.
    let sendCounts: [Int]
    let sendOffset: [Int: Int]
    /// Phase 1: units received from each member and where each block I reduce lands in the receive buffer.
    let receiveCounts: [Int]
    let receiveOffset: [Int: Int]
    /// The slices I reduce, in order, with their offsets in my reduced buffer.
    let mySlices: [Int]
    /// Phase 2: units each member contributes, and where each slice's sum lands in the gathered buffer.
    let gatherCounts: [Int]
    let sliceOffset: [Int]

    /// Which block of a slice (0..<inner along the summed dimension) owns the slice's reduction.
    static func reducerBlock(slice: Int, inner: Int) -> Int { slice % inner }

    /// - Parameters:
    ///   - members: model ranks of the group (sorted); `rank` must be one of them.
    ///   - transposed: false for the forward pass (row slices), true for the backward pass (column slices).
    init(layout: NetworkLayout, placement: Placement, layer l: Int, members: [Int], rank: Int, transposed: Bool) {
        let layer = layout.layers[l]
        positions = layer.positions
        self.transposed = transposed
        self.members = members
        let me = members.firstIndex(of: rank)!
        self.me = me
        let slices = transposed ? layer.colBlocks : layer.rowBlocks
        let inner = transposed ? layer.rowBlocks : layer.colBlocks
        func block(_ slice: Int, _ k: Int) -> Int { transposed ? layer.blockIndex(row: k, col: slice) : layer.blockIndex(row: slice, col: k) }
        func units(_ slice: Int) -> Int { transposed ? layer.colRanges[slice].count : layer.rowRanges[slice].count }
        let index = Dictionary(uniqueKeysWithValues: members.enumerated().map { ($1, $0) })
        let reducer = (0..<slices).map { index[placement.owner[block($0, ReducePlan.reducerBlock(slice: $0, inner: inner))]]! }
        // Blocks in global order with their slice.
        let blocks = (0..<slices).flatMap { s in (0..<inner).map { (block(s, $0), s) } }.sorted { $0.0 < $1.0 }
        var sendCounts = [Int](repeating: 0, count: members.count), sendOffset = [Int: Int]()
        var receiveCounts = [Int](repeating: 0, count: members.count), receiveOffset = [Int: Int]()
        var sendBase = [Int](repeating: 0, count: members.count), receiveBase = [Int](repeating: 0, count: members.count)
        // Segment sizes first (segments are in member order), then offsets inside each segment in block order.
        for (b, s) in blocks {
            let owner = index[placement.owner[b]]!
            if owner == me { sendCounts[reducer[s]] += units(s) }
            if reducer[s] == me { receiveCounts[owner] += units(s) }
        }
        for j in 1..<max(members.count, 1) {
            sendBase[j] = sendBase[j - 1] + sendCounts[j - 1]
            receiveBase[j] = receiveBase[j - 1] + receiveCounts[j - 1]
        }
        for (b, s) in blocks {
            let owner = index[placement.owner[b]]!
            if owner == me {
                sendOffset[b] = sendBase[reducer[s]]
                sendBase[reducer[s]] += units(s)
            }
            if reducer[s] == me {
                receiveOffset[b] = receiveBase[owner]
                receiveBase[owner] += units(s)
            }
        }
        self.sendCounts = sendCounts
        self.sendOffset = sendOffset
        self.receiveCounts = receiveCounts
        self.receiveOffset = receiveOffset
        mySlices = (0..<slices).filter { reducer[$0] == me }
        var gatherCounts = [Int](repeating: 0, count: members.count)
        for s in 0..<slices { gatherCounts[reducer[s]] += units(s) }
        self.gatherCounts = gatherCounts
        var offset = [Int](repeating: 0, count: slices)
        var running = 0
        for j in 0..<members.count {
            for s in 0..<slices where reducer[s] == j {
                offset[s] = running
                running += units(s)
            }
        }
        sliceOffset = offset
    }
}
