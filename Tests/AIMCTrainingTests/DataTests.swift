import AIMCTestSupport
import AIMCTraining
import Foundation
import Testing

@Suite("IDX data")
struct DataTests {
    @Test("Gzip and plain IDX files parse to the same data set, pixels scaled to [0, 1]", arguments: [true, false])
    func parse(gzip: Bool) throws {
        let dir = IDXWriter.temporaryDirectory("idx")
        try IDXWriter.writeSynthetic(directory: dir, side: 4, train: 20, test: 7, gzip: gzip)
        let train = try Dataset.loadMNISTFormat(directory: dir, prefix: "train")
        let test = try Dataset.loadMNISTFormat(directory: dir, prefix: "t10k", limit: 5)
        #expect(train.count == 20 && train.features == 16 && test.count == 5)
        var x = [Float](repeating: -1, count: 16)
        train.image(3, into: &x)
        #expect(x.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(x[0] == Float(train.pixels[3 * 16]) / 255)
        #expect(Dataset(serialized: train.serialized()) == train)
    }

    func expectError(_ dir: String, _ prefix: String = "train", contains: [String]) {
        do {
            _ = try Dataset.loadMNISTFormat(directory: dir, prefix: prefix)
            Issue.record("expected an error")
        } catch {
            for c in contains { #expect(error.description.contains(c), "\(error.description) should mention \(c)") }
        }
    }

    @Test("A truncated file is an error naming the file")
    func truncated() throws {
        let dir = IDXWriter.temporaryDirectory("trunc")
        try IDXWriter.writeSynthetic(directory: dir, side: 4, train: 20, test: 5, gzip: false)
        let path = dir + "/train-images-idx3-ubyte"
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        try full.prefix(full.count - 10).write(to: URL(fileURLWithPath: path))
        expectError(dir, contains: [path, "truncated"])
    }

    @Test("A labels file in place of an images file (wrong magic) is an error naming the file")
    func wrongMagic() throws {
        let dir = IDXWriter.temporaryDirectory("magic")
        try IDXWriter.writeSynthetic(directory: dir, side: 4, train: 20, test: 5, gzip: true)
        let labels = try Data(contentsOf: URL(fileURLWithPath: dir + "/train-labels-idx1-ubyte.gz"))
        try labels.write(to: URL(fileURLWithPath: dir + "/train-images-idx3-ubyte.gz"))
        expectError(dir, contains: ["train-images-idx3-ubyte.gz", "dimensions"])
        // Not an IDX file at all.
        try IDXWriter.write(Array("hello, world".utf8), to: dir + "/train-images-idx3-ubyte.gz", gzip: true)
        expectError(dir, contains: ["train-images-idx3-ubyte.gz", "not an IDX file"])
    }

    @Test("Labels outside the classes, count mismatches and missing files are errors naming the file")
    func badLabelsAndMissing() throws {
        let dir = IDXWriter.temporaryDirectory("labels")
        try IDXWriter.writeSynthetic(directory: dir, side: 4, train: 20, test: 5, gzip: false)
        try IDXWriter.write(IDXWriter.bytes(dimensions: [20], data: [UInt8](repeating: 12, count: 20)),
                            to: dir + "/train-labels-idx1-ubyte", gzip: false)
        expectError(dir, contains: ["train-labels-idx1-ubyte", "label 12"])
        try IDXWriter.write(IDXWriter.bytes(dimensions: [19], data: [UInt8](repeating: 1, count: 19)),
                            to: dir + "/train-labels-idx1-ubyte", gzip: false)
        expectError(dir, contains: ["19 labels", "20 images"])
        try FileManager.default.removeItem(atPath: dir + "/train-labels-idx1-ubyte")
        expectError(dir, contains: ["train-labels-idx1-ubyte", "does not exist"])
        expectError(dir + "/nowhere", contains: ["nowhere", "does not exist"])
    }

    /// Bytes that do not compress (like real images), so that positions in the gzip stream follow the data.
    static func noise(_ count: Int, seed: UInt32 = 7) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
    }

    /// The header is checked against what the file really holds before anything of the declared size is allocated:
    /// a gzip file whose trailer states another size is unpacked once (keeping nothing) to count; one whose header
    /// declares more than gzip could pack into it is refused on its face.
    @Test("An IDX header that declares more than the file holds is refused, gzip or plain")
    func headerAgainstFile() throws {
        let dir = IDXWriter.temporaryDirectory("header")
        try IDXWriter.writeSynthetic(directory: dir, side: 4, train: 20, test: 5)
        try IDXWriter.write(IDXWriter.bytes(dimensions: [2_000_000, 4, 4], data: Self.noise(20_000 * 16)), to: dir + "/train-images-idx3-ubyte.gz", gzip: true)
        expectError(dir, contains: ["train-images-idx3-ubyte.gz", "holds 320000 bytes of data (20000 items)", "its header declares 2000000 images of 4x4"])
        try IDXWriter.write(IDXWriter.bytes(dimensions: [500_000_000, 4, 4], data: Self.noise(16)), to: dir + "/train-images-idx3-ubyte.gz", gzip: true)
        expectError(dir, contains: ["gzip cannot pack that much"])
        try IDXWriter.write(IDXWriter.bytes(dimensions: [20, 4, 4], data: Self.noise(19 * 16 + 3)), to: dir + "/train-images-idx3-ubyte.gz", gzip: true)
        expectError(dir, contains: ["is truncated or its header is wrong", "19 items"])
    }

    /// A gzip file of two members (concatenated streams) states only its last member's size in its trailer: the file is
    /// counted instead, and read whole.
    @Test("A gzip file of several members reads whole")
    func gzipMembers() throws {
        let dir = IDXWriter.temporaryDirectory("members")
        try IDXWriter.writeSynthetic(directory: dir, side: 4, train: 20, test: 5)
        let bytes = IDXWriter.bytes(dimensions: [20, 4, 4], data: Self.noise(20 * 16))
        try IDXWriter.write(Array(bytes[..<100]), to: dir + "/a.gz", gzip: true)
        try IDXWriter.write(Array(bytes[100...]), to: dir + "/b.gz", gzip: true)
        let joined = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.gz")) + Data(contentsOf: URL(fileURLWithPath: dir + "/b.gz"))
        try joined.write(to: URL(fileURLWithPath: dir + "/train-images-idx3-ubyte.gz"))
        let d = try Dataset.loadMNISTFormat(directory: dir, prefix: "train")
        #expect(d.count == 20 && d.pixels == Array(bytes[16...]))
    }

    /// --train-limit reads only the samples it uses: damage to the compressed stream far beyond them goes unnoticed with
    /// a limit and is reported without one.
    @Test("A limit reads only the samples it uses")
    func limitReadsPrefix() throws {
        let dir = IDXWriter.temporaryDirectory("prefix")
        try IDXWriter.writeSynthetic(directory: dir, side: 8, train: 2000, test: 5)
        let bytes = IDXWriter.bytes(dimensions: [2000, 8, 8], data: Self.noise(2000 * 64))
        let path = dir + "/train-images-idx3-ubyte.gz"
        try IDXWriter.write(bytes, to: path, gzip: true)
        var gz = try Data(contentsOf: URL(fileURLWithPath: path))
        // Scramble bytes at 90% of the compressed stream (the trailer stays intact).
        let at = gz.count * 9 / 10
        for i in at..<(at + 64) { gz[i] ^= 0x5A }
        try gz.write(to: URL(fileURLWithPath: path))
        let first = try Dataset.loadMNISTFormat(directory: dir, prefix: "train", limit: 10)
        #expect(first.count == 10 && first.pixels == Array(bytes[16..<(16 + 640)]))
        expectError(dir, contains: ["train-images-idx3-ubyte.gz", "corrupt"])
    }
}

@Suite("Run folders and odd files")
struct OutputTests {
    /// A folder removed (and made again, by another run) while a run writes it: the run's next write fails instead
    /// of landing next to the other run's files.
    @Test("A run whose folder is removed or replaced mid-run stops writing there")
    func replacedFolder() throws {
        let dir = IDXWriter.temporaryDirectory("replaced") + "/run"
        let first = try RunDirectory(path: dir, overwrite: false)
        try first.write("config.json", text: "{}")
        try first.startMetrics()
        try FileManager.default.removeItem(atPath: dir)
        let second = try RunDirectory(path: dir, overwrite: false)
        try second.write("config.json", text: "{\"second\": 1}")
        try second.startMetrics()
        #expect(throws: OutputError.self) { try first.write("summary.json", text: "{}") }
        #expect(throws: OutputError.self) { try first.append("metrics.csv", "1,2,3,4,5,6\n") }
        #expect(try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8) == "epoch,train_loss,test_accuracy,seconds,test_loss,train_accuracy\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/summary.json"))
        try second.write("summary.json", text: "{}")  // the folder's owner writes on
        withExtendedLifetime(second) {}
    }

    @Test("A run folder is locked while in use, refused when it holds a run, and cleared by --overwrite")
    func runDirectory() throws {
        let dir = IDXWriter.temporaryDirectory("run")
        do {
            let first = try RunDirectory(path: dir, overwrite: false)
            try first.write("config.json", text: "{}")
            try first.startMetrics()
            #expect(throws: OutputError.self) { _ = try RunDirectory(path: dir, overwrite: true) }  // locked by `first`
            withExtendedLifetime(first) {}
        }
        let refused = (try? RunDirectory(path: dir, overwrite: false)) == nil
        #expect(refused)
        try "old".write(toFile: dir + "/summary.json", atomically: true, encoding: .utf8)
        let second = try RunDirectory(path: dir, overwrite: true)
        for f in RunDirectory.runFiles { #expect(!FileManager.default.fileExists(atPath: dir + "/" + f)) }
        try second.startMetrics()
        try second.appendMetrics(EpochMetrics(epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: .infinity, testAccuracy: 0.7, seconds: 1))
        let text = try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8)
        #expect(text == RunDirectory.metricsCSV([EpochMetrics(epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: .infinity, testAccuracy: 0.7, seconds: 1)]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.hasSuffix(".partial") })
        #expect(throws: OutputError.self) { _ = try RunDirectory(path: "", overwrite: false) }
    }

    @Test("A FIFO in place of a data file and a header larger than the file are errors, without hanging or allocating")
    func oddDataFiles() throws {
        let dir = IDXWriter.temporaryDirectory("fifo")
        try IDXWriter.writeSynthetic(directory: dir, side: 4, train: 10, test: 5, gzip: false)
        try FileManager.default.removeItem(atPath: dir + "/t10k-labels-idx1-ubyte")
        #expect(mkfifo(dir + "/t10k-labels-idx1-ubyte", 0o644) == 0)
        do { _ = try Dataset.loadMNISTFormat(directory: dir, prefix: "t10k"); Issue.record("expected an error") } catch {
            #expect(error.description.contains("not a regular file"))
        }
        try IDXWriter.write(IDXWriter.bytes(dimensions: [0x7fff_ffff, 1, 3], data: [UInt8](repeating: 1, count: 100)),
                            to: dir + "/train-images-idx3-ubyte", gzip: false)
        do { _ = try Dataset.loadMNISTFormat(directory: dir, prefix: "train"); Issue.record("expected an error") } catch {
            #expect(error.description.contains("truncated"))
        }
        try "x".write(toFile: dir + "/file", atomically: true, encoding: .utf8)
        do { _ = try Dataset.loadMNISTFormat(directory: dir + "/file", prefix: "train"); Issue.record("expected an error") } catch {
            #expect(error.description.contains("is not a folder"))
        }
    }
}
