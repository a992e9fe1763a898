import AIMCCore
import AIMCTraining
import ArgumentParser
import Foundation

/// `aimc-dist plan`: the block grid, placement, memory and traffic of a run, without running it.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the block grid, the owner of every block, memory and messages per rank, without training.",
        discussion: """
        Uses the same options as train; --ranks is the world size the run would have.

        Examples:
          aimc-dist plan --ranks 8
          aimc-dist plan --ranks 8 --hidden 8192,8192 --tile-size 512 --placement balanced
          aimc-dist plan --ranks 4 --replicas 2
        """)

    @Option(parsing: .unconditional, help: ArgumentHelp("World size (MPI ranks) of the planned run.", valueName: "n")) var ranks: Int = 8
    @Option(help: ArgumentHelp("Experiment configuration (JSON or YAML); options override it.", valueName: "file")) var config: String?
    @Option(help: ArgumentHelp("Start from a named experiment (see `aimc-dist sweep --list`).", valueName: "name")) var experiment: String?
    @Option(name: .customLong("set"), help: ArgumentHelp("Set any configuration key (repeatable), as train does.", valueName: "key=value"))
    var assignments: [String] = []
    @OptionGroup(title: "Training") var options: TrainOptions

    func validate() throws { try requireSingleProcess("plan") }

    func run() throws {
        let c = try Train.resolve(experiment: experiment, config: config, options: options, assignments: assignments)
        guard ranks >= 1 && ranks <= 1 << 20 else {
            throw ConfigError(key: "", option: "--ranks", message: "must be an integer in 1...1048576; got \(ranks)")
        }
        guard ranks % c.replicas == 0 else {
            throw ConfigError(key: "replicas", option: "--replicas", message: "must divide --ranks \(ranks); got \(c.replicas)")
        }
        let shape = c.data.source == .teacher ? Dataset.teacherShape(features: c.data.features) : try Dataset.imageShape(directory: c.data.dir)
        let classes = c.data.source == .teacher ? c.data.classes : 10
        let network = try NetworkLayout.network(c, input: shape, classes: classes)
        let blocks = NetworkLayout.blockCount(network: network, tileSize: c.model.tileSize)
        try requireMemory(NetworkLayout.tableBytes(blocks: blocks) + 64 * ranks, "a plan of \(blocks) blocks on \(ranks) ranks",
                          fix: "use a larger --tile-size or fewer --ranks")
        let layout = NetworkLayout(network: network, tileSize: c.model.tileSize)
        let modelRanks = ranks / c.replicas
        let placement = Placement(layout: layout, ranks: modelRanks, policy: c.placement)
        let arrays = max(c.algorithm.arrayCount, 1)
        print("plan: \(layout.isFullyConnected ? "FCN" : "network") \(layout.description), \(c.algorithm.name.rawValue) (\(arrays) tile(s) per block), blocks of at most "
            + "\(c.model.tileSize)x\(c.model.tileSize), \(ranks) ranks = \(c.replicas) replica(s) x \(modelRanks), \(c.placement.rawValue) placement")
        for layer in layout.layers {
            let sizes = Set(layer.rowRanges.map(\.count)).sorted().map(String.init).joined(separator: "/") + " x "
                + Set(layer.colRanges.map(\.count)).sorted().map(String.init).joined(separator: "/")
            let reads = layer.positions > 1 ? " (\(layout.layer(layer.index).specification), read at \(layer.positions) positions per sample)" : ""
            print("layer \(layer.index + 1): \(layer.outputs) x \(layer.inputs)\(reads), grid \(layer.rowBlocks) x \(layer.colBlocks) of \(sizes), blocks \(layer.firstBlock)...\(layer.firstBlock + layer.blockCount - 1)")
            if layer.blockCount <= 256 {
                for r in 0..<layer.rowBlocks {
                    let owners = (0..<layer.colBlocks).map { String(placement.owner[layer.blockIndex(row: r, col: $0)]) }
                    print("  owners row \(r): " + owners.joined(separator: " "))
                }
            }
        }
        let traffic = CommunicationModel.perStep(layout: layout, placement: placement, replicas: c.replicas, batch: c.training.batchSize)
        let perDevice = Trainer.bytesPerDevice(c)
        if c.algorithm.arrayCount == 0 {
            print("memory model: \(perDevice) bytes per weight (digital float32)")
        } else {
            let stored = AnalogArray.bytesPerDevice(c.device) - 4, effects = DeviceEffects.bytesPerDevice(c.device)
            let parts = "4 state + \(stored - effects) stored device draws" + (effects > 0 ? " + \(effects) of device effects" : "")
            print("memory model: \(perDevice) bytes per weight (\(arrays) array(s) x (\(parts)) + "
                + "\(perDevice - arrays * (4 + stored)) of references and buffers)")
        }
        if c.algorithm.arrayCount > 0 && c.telemetry.tiles {
            let tiles = layout.blocks.count * c.algorithm.arrayCount
            let when = c.telemetry.every > 0 ? "every \(c.telemetry.every) steps and at each epoch's start and end" : "at each epoch's start and end"
            let cache = TileTelemetry.bytesPerDevice(c)
            print("tile telemetry (with --output): \(tiles) tiles, \(TileTelemetry.recordBytes(tiles: tiles)) bytes gathered to rank 0 per record "
                + "(tiles.csv grows about \(TileTelemetry.fileBytesPerRecord(tiles: tiles) / 1024) KiB per record), \(when)"
                + (cache > 0 ? "; \(cache) bytes per weight of cached symmetric points (in the memory model)" : ""))
        }
        print("working MiB: activations and errors of a batch (training or evaluation), exchange buffers, replica gathers")
        print(" rank  blocks     weights     block MiB  working MiB   sent/step   received/step  messages/step")
        // Beyond 64 ranks: the first 8, the last, and the busiest by devices and by bytes sent, then a summary.
        let devicesOf = placement.devices(layout: layout)
        var shown = Array(0..<ranks)
        if ranks > 64 {
            let busiest = (0..<ranks).max { devicesOf[$0 % modelRanks] < devicesOf[$1 % modelRanks] }!
            let loudest = (0..<ranks).max { traffic[$0].sent < traffic[$1].sent }!
            shown = Array(Set(Array(0..<8) + [ranks - 1, busiest, loudest])).sorted()
        }
        var last = -1
        for w in shown {
            if w != last + 1 { print("  ...") }
            last = w
            let m = w % modelRanks
            let working = Trainer.workingBytes(config: c, layout: layout, placement: placement, rank: m)
            print(String(format: "%5ld  %6ld  %10ld  %12.1f  %11.1f  %10llu  %14llu  %13ld", w, placement.blocks(of: m).count,
                         devicesOf[m], Double(devicesOf[m] * perDevice) / 1_048_576, Double(working) / 1_048_576,
                         traffic[w].sent, traffic[w].received, traffic[w].messages))
        }
        if ranks > 64 {
            func spread(_ v: [Double]) -> String {
                let s = v.sorted()
                return String(format: "min %.0f, median %.0f, max %.0f", s[0], s[s.count / 2], s[s.count - 1])
            }
            print("  ... (\(ranks - shown.count) more ranks)")
            print("over all \(ranks) ranks: weights \(spread(devicesOf.map(Double.init))); sent/step \(spread(traffic.map { Double($0.sent) })); "
                + "received/step \(spread(traffic.map { Double($0.received) }))")
        }
        let total = layout.deviceCount * perDevice
        print("total: \(layout.deviceCount) weights (\(layout.deviceCount * c.algorithm.arrayCount) devices), "
            + String(format: "%.2f GiB", Double(total) / 1_073_741_824) + " of block state over the replica's \(modelRanks) ranks")
    }
}
