import AIMCCore
/// One weight block: a tile-sized block of a layer's weight matrix (rows = outputs, columns = inputs).
public struct BlockInfo: Sendable, Equatable {
    /// Global block index: layers in order, then row blocks, then column blocks.
    public let index: Int
    public let layer: Int
    public let rowBlock: Int
    public let colBlock: Int
    /// Outputs rowStart..<rowStart+rows and inputs colStart..<colStart+cols of the layer.
    public let rowStart: Int
    public let rows: Int
    public let colStart: Int
    public let cols: Int

    public init(index: Int, layer: Int, rowBlock: Int, colBlock: Int, rowStart: Int, rows: Int, colStart: Int, cols: Int) {
        self.index = index
        self.layer = layer
        self.rowBlock = rowBlock
        self.colBlock = colBlock
        self.rowStart = rowStart
        self.rows = rows
        self.colStart = colStart
        self.cols = cols
    }

    public var devices: Int { rows * cols }
}

/// The block grid of one fully connected layer.
public struct LayerLayout: Sendable, Equatable {
    public let index: Int
    public let inputs: Int
    public let outputs: Int
    /// Output ranges of the row blocks and input ranges of the column blocks.
    public let rowRanges: [Range<Int>]
    public let colRanges: [Range<Int>]
    /// Global index of the layer's first block; block (r, c) is firstBlock + r * colBlocks + c.
    public let firstBlock: Int

    public var rowBlocks: Int { rowRanges.count }
    public var colBlocks: Int { colRanges.count }
    public var blockCount: Int { rowBlocks * colBlocks }

    public func blockIndex(row r: Int, col c: Int) -> Int { firstBlock + r * colBlocks + c }
}

/// A network of fully connected layers split into weight blocks of at most tileSize x tileSize devices.
///
/// A dimension n is split into ceil(n / tileSize) parts whose sizes differ by at most one (784 at tile size 128:
/// seven parts of 112), so the tiles of a layer carry equal work and equal ADC ranges.
public struct NetworkLayout: Sendable, Equatable {
    /// Widths of the activations: input, hidden..., output.
    public let widths: [Int]
    public let tileSize: Int
    public let layers: [LayerLayout]
    public let blocks: [BlockInfo]

    /// Most weight blocks a network may split into: each block carries objects and buffers besides its devices.
    public static let maxBlocks = 1 << 20

    /// Weight blocks of a network of these widths cut into tiles of at most `tileSize` x `tileSize`.
    public static func blockCount(widths: [Int], tileSize: Int) -> Int {
        zip(widths, widths.dropFirst()).reduce(0) { n, w in
            n + ((w.1 + tileSize - 1) / tileSize) * ((w.0 + tileSize - 1) / tileSize)
        }
    }

    /// - Throws: `ConfigError` naming `--tile-size` if the network would split into more than `maxBlocks` blocks.
    /// Bytes of the tables that describe a network of `blocks` blocks on every rank (the layout, the placement and
    /// the exchange plans): a bound, used to refuse a network whose tables alone would not fit.
    public static func tableBytes(blocks: Int) -> Int { blocks * (MemoryLayout<BlockInfo>.stride + 96) * 2 }

    public static func check(widths: [Int], tileSize: Int) throws(ConfigError) {
        let n = blockCount(widths: widths, tileSize: tileSize)
        if n > maxBlocks {
            throw ConfigError(key: "model.tile_size", option: "--tile-size",
                              message: "\(tileSize) cuts the \(widths.map(String.init).joined(separator: "-")) network into \(n) blocks, more than \(maxBlocks); use a larger --tile-size")
        }
    }

    /// - Precondition: widths positive and at least two; `check(widths:tileSize:)` passed.
    public init(widths: [Int], tileSize: Int) {
        precondition(widths.count >= 2 && widths.allSatisfy { $0 > 0 } && tileSize > 0)
        self.widths = widths
        self.tileSize = tileSize
        var layers = [LayerLayout]()
        var blocks = [BlockInfo]()
        for l in 0..<(widths.count - 1) {
            let rows = NetworkLayout.split(widths[l + 1], tileSize)
            let cols = NetworkLayout.split(widths[l], tileSize)
            let layer = LayerLayout(index: l, inputs: widths[l], outputs: widths[l + 1], rowRanges: rows,
                                    colRanges: cols, firstBlock: blocks.count)
            for (r, rr) in rows.enumerated() {
                for (c, cr) in cols.enumerated() {
                    blocks.append(BlockInfo(index: blocks.count, layer: l, rowBlock: r, colBlock: c,
                                            rowStart: rr.lowerBound, rows: rr.count, colStart: cr.lowerBound, cols: cr.count))
                }
            }
            layers.append(layer)
        }
        self.layers = layers
        self.blocks = blocks
    }

    /// n split into ceil(n/t) consecutive ranges whose sizes differ by at most one (larger ones first).
    public static func split(_ n: Int, _ t: Int) -> [Range<Int>] {
        let parts = (n + t - 1) / t
        var out = [Range<Int>]()
        var start = 0
        for k in 0..<parts {
            let size = n / parts + (k < n % parts ? 1 : 0)
            out.append(start..<(start + size))
            start += size
        }
        return out
    }

    public var deviceCount: Int { blocks.reduce(0) { $0 + $1.devices } }

    /// "784-256-128-10".
    public var description: String { widths.map(String.init).joined(separator: "-") }
}

/// Which rank owns which block. Only the owner holds and updates a block's arrays.
public struct Placement: Sendable, Equatable {
    public let policy: PlacementPolicy
    public let ranks: Int
    /// owner[b] is the rank of block b.
    public let owner: [Int]

    public init(layout: NetworkLayout, ranks: Int, policy: PlacementPolicy) {
        precondition(ranks >= 1)
        self.policy = policy
        self.ranks = ranks
        switch policy {
        case .roundRobin:
            owner = layout.blocks.map { $0.index % ranks }
        case .balanced:
            var load = [Int](repeating: 0, count: ranks)
            var owner = [Int](repeating: 0, count: layout.blocks.count)
            let order = layout.blocks.sorted { $0.devices != $1.devices ? $0.devices > $1.devices : $0.index < $1.index }
            for b in order {
                var best = 0
                for r in 1..<ranks where load[r] < load[best] { best = r }
                owner[b.index] = best
                load[best] += b.devices
            }
            self.owner = owner
        case .byLayer:
            owner = Placement.byLayer(layout: layout, ranks: ranks)
        }
    }

    static func byLayer(layout: NetworkLayout, ranks: Int) -> [Int] {
        let devices = layout.layers.map { l in (l.firstBlock..<(l.firstBlock + l.blockCount)).reduce(0) { $0 + layout.blocks[$1].devices } }
        let total = devices.reduce(0, +)
        var owner = [Int](repeating: 0, count: layout.blocks.count)
        let L = layout.layers.count
        if ranks >= L {
            // One rank each, the rest by largest remainder of the device share.
            var share = [Int](repeating: 1, count: L)
            let spare = ranks - L
            let exact = devices.map { Double($0) / Double(total) * Double(spare) }
            for l in 0..<L { share[l] += Int(exact[l]) }
            var left = ranks - share.reduce(0, +)
            let order = (0..<L).sorted { (exact[$0] - exact[$0].rounded(.down), -$0) > (exact[$1] - exact[$1].rounded(.down), -$1) }
            for l in order where left > 0 { share[l] += 1; left -= 1 }
            var first = 0
            for (l, layer) in layout.layers.enumerated() {
                for (k, b) in (layer.firstBlock..<(layer.firstBlock + layer.blockCount)).enumerated() {
                    owner[b] = first + k % share[l]
                }
                first += share[l]
            }
        } else {
            // Consecutive layers per rank, cutting where the running device count passes r/ranks of the total.
            var running = 0
            for (l, layer) in layout.layers.enumerated() {
                let r = min(ranks - 1, running * ranks / max(total, 1))
                for b in layer.firstBlock..<(layer.firstBlock + layer.blockCount) { owner[b] = r }
                running += devices[l]
            }
        }
        return owner
    }

    /// The blocks of `rank`, in global block order.
    public func blocks(of rank: Int) -> [Int] { owner.indices.filter { owner[$0] == rank } }

    /// Devices per rank (per array).
    public func devices(layout: NetworkLayout) -> [Int] {
        var d = [Int](repeating: 0, count: ranks)
        for b in layout.blocks { d[owner[b.index]] += b.devices }
        return d
    }
}
