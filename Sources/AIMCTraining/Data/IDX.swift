import AIMCCore
import CZlib
import Foundation

/// A data file that is missing, truncated or not what its name says.
public struct DataError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    /// "data file" or "data folder".
    public let subject: String
    public init(path: String, message: String, subject: String = "data file") {
        self.path = path
        self.message = message
        self.subject = subject
    }
    public var description: String { "\(subject) \(path) \(message)" }
}

/// An IDX file (the MNIST format, LeCun et al.): a big-endian header (magic 0x0000 08 NN: unsigned bytes,
/// NN dimensions), NN big-endian 32-bit sizes, then the bytes. Read through zlib's gzread, which reads
/// gzip-compressed and plain files alike.
public struct IDXFile: Sendable {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    /// Reads and checks an IDX file of unsigned bytes.
    ///
    /// - Parameters:
    ///   - path: the file (`.gz` or plain).
    ///   - expectedDimensionCount: 3 for images (count, rows, cols), 1 for labels.
    /// - Throws: `DataError` naming the file: missing, unreadable, wrong magic (e.g. a labels file where images
    ///   are expected), or shorter than its header says.
    public init(path: String, expectedDimensionCount: Int) throws(DataError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw DataError(path: path, message: "does not exist")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw DataError(path: path, message: "is not a regular file")
        }
        let plainSize = Int(st.st_size)
        guard let file = gzopen(path, "rb") else {
            throw DataError(path: path, message: "cannot be opened")
        }
        defer { gzclose(file) }
        // Reads `count` bytes in chunks, so a header that claims more than the file holds costs no more memory
        // than the file's content.
        func read(_ count: Int) throws(DataError) -> [UInt8] {
            var out = [UInt8]()
            var done = 0
            let chunkSize = 1 << 24
            while done < count {
                let chunk = min(count - done, chunkSize)
                out.append(contentsOf: repeatElement(0, count: chunk))
                let got = out.withUnsafeMutableBytes { gzread(file, $0.baseAddress! + done, UInt32(chunk)) }
                if got < 0 {
                    var errnum: Int32 = 0
                    let msg = gzerror(file, &errnum).map { String(cString: $0) } ?? "read error"
                    throw DataError(path: path, message: "is corrupt (\(msg))")
                }
                done += Int(got)
                if Int(got) < chunk { break }
            }
            if done < count {
                throw DataError(path: path, message: "is truncated: expected \(count) more bytes, found \(done)")
            }
            return out
        }
        let magic = try read(4)
        guard magic[0] == 0, magic[1] == 0 else {
            throw DataError(path: path, message: "is not an IDX file (magic bytes \(magic.map { String(format: "%02x", $0) }.joined()))")
        }
        guard magic[2] == 0x08 else {
            throw DataError(path: path, message: "holds IDX type 0x\(String(format: "%02x", magic[2])), expected unsigned bytes (0x08)")
        }
        guard Int(magic[3]) == expectedDimensionCount else {
            let kind = expectedDimensionCount == 3 ? "images (3 dimensions)" : "labels (1 dimension)"
            throw DataError(path: path, message: "has \(magic[3]) dimensions, expected \(kind): is it the right file?")
        }
        let header = try read(4 * expectedDimensionCount)
        var dims = [Int]()
        for d in 0..<expectedDimensionCount {
            let b = header[(4 * d)..<(4 * d + 4)].map(Int.init)
            dims.append(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3])
        }
        let total = dims.reduce(1, *)
        guard total > 0, total < 1 << 33 else {
            throw DataError(path: path, message: "declares an implausible size \(dims)")
        }
        if gzdirect(file) == 1 && plainSize < 4 + 4 * expectedDimensionCount + total {
            throw DataError(path: path, message: "is truncated: its header declares \(dims) = \(total) bytes of data, the file holds \(plainSize - 4 - 4 * expectedDimensionCount)")
        }
        dimensions = dims
        bytes = try read(total)
    }
}

/// A labelled image data set in memory: pixels as bytes (scaled to [0, 1] when a batch is formed), row-major
/// (sample, pixel). Bytes keep the 60,000-image training set at 47 MB per rank.
public struct Dataset: Sendable, Equatable {
    public let count: Int
    public let features: Int
    public let classes: Int
    public let pixels: [UInt8]
    public let labels: [Int32]
    /// The shape of one image (rows x columns x 1 for IDX images; `features` values as a vector when unknown).
    public let shape: TensorShape

    public init(count: Int, features: Int, classes: Int, pixels: [UInt8], labels: [Int32], shape: TensorShape? = nil) {
        precondition(pixels.count == count * features && labels.count == count)
        precondition(shape == nil || shape!.size == features)
        self.count = count
        self.features = features
        self.classes = classes
        self.pixels = pixels
        self.labels = labels
        self.shape = shape ?? .vector(features)
    }

    /// Writes sample i's pixels, scaled to [0, 1], to `out[0..<features]`.
    @inlinable
    public func image(_ i: Int, into out: UnsafeMutablePointer<Float>) {
        pixels.withUnsafeBufferPointer { p in
            let base = p.baseAddress! + i * features
            for j in 0..<features { out[j] = Float(base[j]) * (1 / 255) }
        }
    }

    /// A flat byte image of the data set, for broadcasting (`init(serialized:)` reads it back).
    public func serialized() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(48 + pixels.count + 4 * labels.count)
        for v in [count, features, classes, shape.height, shape.width, shape.channels] {
            withUnsafeBytes(of: Int64(v).littleEndian) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: pixels)
        for l in labels { withUnsafeBytes(of: l.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    public init(serialized b: [UInt8]) {
        func int64(_ o: Int) -> Int { Int(b[o..<(o + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }
        let n = int64(0), f = int64(8), c = int64(16)
        let shape = TensorShape(height: int64(24), width: int64(32), channels: int64(40))
        let pixels = Array(b[48..<(48 + n * f)])
        var labels = [Int32](repeating: 0, count: n)
        let o = 48 + n * f
        for i in 0..<n {
            let s = o + 4 * i
            labels[i] = Int32(bitPattern: UInt32(b[s]) | UInt32(b[s + 1]) << 8 | UInt32(b[s + 2]) << 16 | UInt32(b[s + 3]) << 24)
        }
        self.init(count: n, features: f, classes: c, pixels: pixels, labels: labels, shape: shape)
    }

    /// Reads `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]` from `directory`
    /// (prefix `train` or `t10k`), keeping the first `limit` samples (0 = all).
    ///
    /// - Throws: `DataError` naming the file (missing, truncated, wrong kind, count mismatch, label > 9).
    public static func loadMNISTFormat(directory: String, prefix: String, limit: Int = 0, classes: Int = 10) throws(DataError) -> Dataset {
        let imagesPath = try locate(directory: directory, name: "\(prefix)-images-idx3-ubyte")
        let labelsPath = try locate(directory: directory, name: "\(prefix)-labels-idx1-ubyte")
        let imageFile = try IDXFile(path: imagesPath, expectedDimensionCount: 3)
        let labelFile = try IDXFile(path: labelsPath, expectedDimensionCount: 1)
        guard imageFile.dimensions[0] == labelFile.dimensions[0] else {
            throw DataError(path: labelsPath, message: "holds \(labelFile.dimensions[0]) labels but \(imagesPath) holds \(imageFile.dimensions[0]) images")
        }
        let available = imageFile.dimensions[0]
        let n = limit > 0 ? min(limit, available) : available
        let features = imageFile.dimensions[1] * imageFile.dimensions[2]
        let pixels = Array(imageFile.bytes[0..<(n * features)])
        var labels = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let l = labelFile.bytes[i]
            guard Int(l) < classes else {
                throw DataError(path: labelsPath, message: "has label \(l) at sample \(i), not one of the \(classes) classes 0...\(classes - 1)")
            }
            labels[i] = Int32(l)
        }
        return Dataset(count: n, features: features, classes: classes, pixels: pixels, labels: labels,
                       shape: TensorShape(height: imageFile.dimensions[1], width: imageFile.dimensions[2], channels: 1))
    }

    /// The pixels per training image in `directory`, from the IDX header alone.
    public static func features(directory: String) throws(DataError) -> Int { try imageShape(directory: directory).size }

    /// The shape of the training images in `directory` (rows x columns x 1), from the IDX header alone.
    public static func imageShape(directory: String) throws(DataError) -> TensorShape {
        let path = try locate(directory: directory, name: "train-images-idx3-ubyte")
        guard let file = gzopen(path, "rb") else { throw DataError(path: path, message: "cannot be opened") }
        defer { gzclose(file) }
        var header = [UInt8](repeating: 0, count: 16)
        let got = header.withUnsafeMutableBytes { gzread(file, $0.baseAddress, 16) }
        guard got == 16, header[0] == 0, header[1] == 0, header[2] == 8, header[3] == 3 else {
            throw DataError(path: path, message: "is not an IDX file of images")
        }
        func int(_ o: Int) -> Int { Int(header[o]) << 24 | Int(header[o + 1]) << 16 | Int(header[o + 2]) << 8 | Int(header[o + 3]) }
        return TensorShape(height: int(8), width: int(12), channels: 1)
    }

    /// `name.gz` if present, else `name`.
    static func locate(directory: String, name: String) throws(DataError) -> String {
        let base = (directory as NSString).appendingPathComponent(name)
        for candidate in [base + ".gz", base] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
            throw DataError(path: directory, message: "does not exist (install Debian's dataset-fashion-mnist or pass --data-dir)",
                            subject: "data folder")
        }
        if !isDir.boolValue {
            throw DataError(path: directory, message: "is not a folder (--data-dir names the folder of the IDX files)", subject: "data folder")
        }
        throw DataError(path: base + ".gz", message: "does not exist (nor \(name)); --data-dir must hold the four MNIST-format IDX files")
    }
}

extension Dataset {
    /// The synthetic teacher-student task of `DataConfig.Source.teacher`: a fixed random teacher holds `classes`
    /// prototype images (pixels uniform in [0, 1]) and labels an input by its nearest prototype; inputs are drawn as
    /// x = 0.25 p_c + 0.75 u (a random prototype p_c in uniform noise u): learnable at any width, not trivially.
    /// All draws come from keyed streams of `seed` (`part` 0 for training, 1 for test data).
    public static func teacher(features: Int, classes: Int, count: Int, seed: UInt64, part: UInt64) -> Dataset {
        var w = RandomStream(key: StreamKey(seed: seed, purpose: .syntheticData, 2))
        let prototypes = (0..<(classes * features)).map { _ in w.nextUniform() }
        var x = RandomStream(key: StreamKey(seed: seed, purpose: .syntheticData, 3, part))
        var pixels = [UInt8](repeating: 0, count: count * features)
        var labels = [Int32](repeating: 0, count: count)
        var v = [Float](repeating: 0, count: features)
        for i in 0..<count {
            let c = x.nextInt(below: classes)
            for j in 0..<features {
                let q = UInt8(min(255, (0.25 * prototypes[c * features + j] + 0.75 * x.nextUniform()) * 256))
                pixels[i * features + j] = q
                v[j] = Float(q) / 255
            }
            // The teacher: the nearest prototype.
            var best = 0, bestDistance = Float.infinity
            for k in 0..<classes {
                var d: Float = 0
                for j in 0..<features { let e = v[j] - prototypes[k * features + j]; d += e * e }
                if d < bestDistance { bestDistance = d; best = k }
            }
            labels[i] = Int32(best)
        }
        return Dataset(count: count, features: features, classes: classes, pixels: pixels, labels: labels,
                       shape: teacherShape(features: features))
    }

    /// The shape of teacher data of `features` values: a square image when `features` is a square number (so
    /// convolutions apply), else a vector.
    public static func teacherShape(features: Int) -> TensorShape {
        let side = Int(Double(features).squareRoot().rounded())
        return side * side == features ? TensorShape(height: side, width: side, channels: 1) : .vector(features)
    }
}
