import AIMCCore
import Foundation

extension Trainer {
    /// Gathers every tile's record to world rank 0 (collective over the world; see `TileTelemetry`): each rank of
    /// replica 0 packs one fixed-width record per tile of its blocks (`TileTelemetry.wordsPerTile` words with
    /// `measure`, else the counters alone) and rank 0 receives them with one MPI_Gatherv, O(tiles) bytes, and orders
    /// them by global block index. Replicas hold identical arrays; replica 0's tiles are reported (their reads are
    /// those of replica 0's share of each batch).
    ///
    /// Measuring reads the arrays (O(devices) on each owner), draws no random number and changes no state. The first
    /// measuring call describes each tile once (drawn t2t factors, d2d summary, symmetric points).
    /// - Returns: the tiles in global block order on world rank 0, nil on the other ranks.
    public func gatherTiles(measure: Bool) throws(CommunicationError) -> TileTelemetry.Gathered? {
        let arrays = config.algorithm.arrayCount
        let words = measure ? TileTelemetry.wordsPerTile : TileCounters.names.count
        let t0 = DispatchTime.now().uptimeNanoseconds
        if measure && tileMonitors == nil { tileMonitors = replica == 0 ? blocks.map { BlockMonitor(block: $0) } : [] }
        var mine = [UInt8]()
        if replica == 0 {
            mine.reserveCapacity(blocks.count * arrays * words * 8)
            func append(_ word: UInt64) { withUnsafeBytes(of: word.littleEndian) { mine.append(contentsOf: $0) } }
            for (i, b) in blocks.enumerated() {
                for k in 0..<arrays {
                    if measure, let m = tileMonitors?[i] {
                        for v in m.statics[k] { append(v.bitPattern) }
                        for v in m.measure(k) { append(v.bitPattern) }
                    }
                    for v in b.counters[k].values { append(UInt64(bitPattern: v)) }
                }
            }
        }
        if measure { tileMeasureSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 }
        let counts = (0..<world.size).map { r in r < modelSize ? placement.blocks(of: r).count * arrays * words * 8 : 0 }
        let t1 = DispatchTime.now().uptimeNanoseconds
        let all = try world.gatherBytes(mine, counts: counts, root: 0)
        if measure { tileGatherSeconds += Double(DispatchTime.now().uptimeNanoseconds - t1) * 1e-9 }
        guard world.rank == 0 else { return nil }
        func word(_ o: Int) -> UInt64 { UInt64(littleEndian: all[o..<(o + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) }
        var perBlock = [[TileTelemetry.Gathered.Tile]](repeating: [], count: layout.blocks.count)
        var offset = 0
        for r in 0..<modelSize {
            for bi in placement.blocks(of: r) {
                for k in 0..<arrays {
                    let statics = measure ? TileTelemetry.staticCount + TileTelemetry.measureCount : 0
                    let values = (0..<statics).map { Double(bitPattern: word(offset + 8 * $0)) }
                    let counters = (0..<TileCounters.names.count).map { Int64(bitPattern: word(offset + 8 * (statics + $0))) }
                    // The count of values is the one `values` writes: this cannot fail.
                    let c = (try? TileCounters(values: counters)) ?? TileCounters()
                    perBlock[bi].append(.init(block: bi, array: k, values: values, counters: c))
                    offset += 8 * words
                }
            }
        }
        return TileTelemetry.Gathered(tiles: perBlock.flatMap { $0 })
    }
}
