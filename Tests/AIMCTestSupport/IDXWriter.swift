import CZlib
import Foundation

/// Writes IDX files (the MNIST format) for tests: unsigned bytes, big-endian dimensions, optionally gzip.
public enum IDXWriter {
    public static func bytes(dimensions: [Int], data: [UInt8], dimensionCountOverride: UInt8? = nil,
                             typeByte: UInt8 = 0x08) -> [UInt8] {
        var out: [UInt8] = [0, 0, typeByte, dimensionCountOverride ?? UInt8(dimensions.count)]
        for d in dimensions { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return out + data
    }

    /// Writes `bytes` to `path`, gzip-compressed when `gzip` is true.
    public static func write(_ bytes: [UInt8], to path: String, gzip: Bool) throws {
        if gzip {
            guard let f = gzopen(path, "wb") else { throw CocoaError(.fileWriteUnknown) }
            let written = bytes.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
            gzclose(f)
            guard written == Int32(bytes.count) else { throw CocoaError(.fileWriteUnknown) }
        } else {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
    }

    /// A learnable synthetic data set in MNIST format: `classes` prototype images of side x side pixels plus
    /// noise, written as train-/t10k- image and label files into `directory`. Deterministic.
    public static func writeSynthetic(directory: String, side: Int = 8, train: Int = 300, test: Int = 100,
                                      classes: Int = 10, gzip: Bool = true) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let pixels = side * side
        let prototypes = (0..<classes).map { _ in (0..<pixels).map { _ in Int(next() % 256) } }
        for (prefix, count) in [("train", train), ("t10k", test)] {
            var images = [UInt8](), labels = [UInt8]()
            for _ in 0..<count {
                let label = Int(next() % UInt64(classes))
                labels.append(UInt8(label))
                for j in 0..<pixels {
                    let v = prototypes[label][j] + Int(next() % 121) - 60
                    images.append(UInt8(min(max(v, 0), 255)))
                }
            }
            let ext = gzip ? ".gz" : ""
            try write(bytes(dimensions: [count, side, side], data: images),
                      to: "\(directory)/\(prefix)-images-idx3-ubyte\(ext)", gzip: gzip)
            try write(bytes(dimensions: [count], data: labels), to: "\(directory)/\(prefix)-labels-idx1-ubyte\(ext)", gzip: gzip)
        }
    }

    /// A fresh temporary folder.
    public static func temporaryDirectory(_ name: String) -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("aimc-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
