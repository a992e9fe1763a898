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

/// The block grid of one analog layer (dense or convolution): its weight matrix of `outputs` rows x `inputs` columns
/// cut into blocks, read at `positions` output positions per sample.
public struct LayerLayout: Sendable, Equatable {
    /// Index among the analog layers.
    public let index: Int
    /// Matrix columns (a dense layer's inputs; a convolution's C_in kh kw) and rows (outputs or output channels).
    public let inputs: Int
    public let outputs: Int
    /// Matrix rows per sample (1 for a dense layer, the output positions of a convolution).
    public let positions: Int
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

/// A network cut into weight blocks of at most tileSize x tileSize devices: its layers (`network`: analog and
/// digital, in order) and, for the analog ones (`layers`), the block grids.
///
/// A dimension n is split into ceil(n / tileSize) parts whose sizes differ by at most one (784 at tile size 128:
/// seven parts of 112), so the tiles of a layer carry equal work and equal ADC ranges.
public struct NetworkLayout: Sendable, Equatable {
    /// Every layer, analog and digital, in order.
    public let network: [any NetworkLayer]
    /// Index in `network` of each analog layer.
    public let analog: [Int]
    public let tileSize: Int
    public let layers: [LayerLayout]
    public let blocks: [BlockInfo]

    /// Most weight blocks a network may split into: each block carries objects and buffers besides its devices.
    public static let maxBlocks = 1 << 20

    /// Widths of the activations of a fully connected network: input, hidden..., output; for other networks the
    /// input size and each analog layer's output size per sample.
    public var widths: [Int] { [network[0].input.size] + analog.map { network[$0].output.size } }

    /// Weight blocks of matrices of these (rows, cols) cut into tiles of at most `tileSize` x `tileSize`.
    public static func blockCount(matrices: [(rows: Int, cols: Int)], tileSize: Int) -> Int {
        matrices.reduce(0) { n, m in n + ((m.rows + tileSize - 1) / tileSize) * ((m.cols + tileSize - 1) / tileSize) }
    }

    /// Weight blocks of a fully connected network of these widths.
    public static func blockCount(widths: [Int], tileSize: Int) -> Int {
        blockCount(matrices: zip(widths, widths.dropFirst()).map { ($0.1, $0.0) }, tileSize: tileSize)
    }

    /// Bytes of the tables that describe a network of `blocks` blocks on every rank (the layout, the placement and
    /// the exchange plans): a bound, used to refuse a network whose tables alone would not fit.
    public static func tableBytes(blocks: Int) -> Int { blocks * (MemoryLayout<BlockInfo>.stride + 96) * 2 }

    /// - Throws: `ConfigError` naming `--tile-size` if the matrices would split into more than `maxBlocks` blocks.
    public static func check(matrices: [(rows: Int, cols: Int)], tileSize: Int, name: String) throws(ConfigError) {
        let n = blockCount(matrices: matrices, tileSize: tileSize)
        if n > maxBlocks {
            throw ConfigError(key: "model.tile_size", option: "--tile-size",
                              message: "\(tileSize) cuts the \(name) network into \(n) blocks, more than \(maxBlocks); use a larger --tile-size")
        }
    }

    public static func check(widths: [Int], tileSize: Int) throws(ConfigError) {
        try check(matrices: zip(widths, widths.dropFirst()).map { ($0.1, $0.0) }, tileSize: tileSize,
                  name: widths.map(String.init).joined(separator: "-"))
    }

    /// The layers of `config`'s model on inputs of shape `input` with `classes` outputs, checked: they fit the input,
    /// and their matrices cut into at most `maxBlocks` blocks.
    /// - Throws: `ConfigError` naming the model key or `--tile-size`.
    public static func network(_ config: ExperimentConfig, input: TensorShape, classes: Int) throws(ConfigError) -> [any NetworkLayer] {
        let network = try config.model.network(input: input, classes: classes)
        let name = network.allSatisfy { $0 is DenseLayer } ? ([input.size] + network.map(\.output.size)).map(String.init).joined(separator: "-")
            : ([input.description] + network.map(\.specification)).joined(separator: " ")
        try check(matrices: network.compactMap(\.matrix), tileSize: config.model.tileSize, name: name)
        return network
    }

    /// Weight blocks of `network`'s analog layers.
    public static func blockCount(network: [any NetworkLayer], tileSize: Int) -> Int {
        blockCount(matrices: network.compactMap(\.matrix), tileSize: tileSize)
    }

    /// A fully connected network of these widths.
    /// - Precondition: widths positive and at least two; `check(widths:tileSize:)` passed.
    public init(widths: [Int], tileSize: Int) {
        precondition(widths.count >= 2 && widths.allSatisfy { $0 > 0 } && tileSize > 0)
        self.init(network: zip(widths, widths.dropFirst()).map { DenseLayer(inputs: $0.0, outputs: $0.1) }, tileSize: tileSize)
    }

    /// The block grids of `network`'s analog layers.
    /// - Precondition: at least one analog layer; the block count checked.
    public init(network: [any NetworkLayer], tileSize: Int) {
        precondition(tileSize > 0 && network.contains { $0.matrix != nil })
        self.network = network
        self.tileSize = tileSize
        analog = network.indices.filter { network[$0].matrix != nil }
        var layers = [LayerLayout]()
        var blocks = [BlockInfo]()
        for (l, n) in analog.enumerated() {
            let m = network[n].matrix!
            let rows = NetworkLayout.split(m.rows, tileSize)
            let cols = NetworkLayout.split(m.cols, tileSize)
            let layer = LayerLayout(index: l, inputs: m.cols, outputs: m.rows, positions: network[n].positions, rowRanges: rows,
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

    public static func == (a: NetworkLayout, b: NetworkLayout) -> Bool {
        a.tileSize == b.tileSize && a.description == b.description && a.layers == b.layers && a.network.first?.input == b.network.first?.input
    }

    /// The analog layer `l` as a network layer.
    public func layer(_ l: Int) -> any NetworkLayer { network[analog[l]] }

    /// The digital layers after analog layer l (before the next analog layer, or the end).
    public func digital(after l: Int) -> [any NetworkLayer] {
        let next = l + 1 < analog.count ? analog[l + 1] : network.count
        return Array(network[(analog[l] + 1)..<next])
    }

    /// Whether every layer is dense (a fully connected network).
    public var isFullyConnected: Bool { network.allSatisfy { $0 is DenseLayer } }

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

    /// "784-256-128-10" for a fully connected network; "28x28x1 conv16k5 pool2 ... dense10" otherwise.
    public var description: String {
        if isFullyConnected { return widths.map(String.init).joined(separator: "-") }
        return ([network[0].input.description] + network.map(\.specification)).joined(separator: " ")
    }
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
