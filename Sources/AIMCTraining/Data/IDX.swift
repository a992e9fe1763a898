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
    /// The sizes the header declares (checked against the file's real size).
    public let dimensions: [Int]
    /// The items read (along the first dimension): at most the `items` asked for.
    public let items: Int
    /// The bytes of the first `items` items.
    public let bytes: [UInt8]

    /// Deflate never packs more than 1032 bytes into one (RFC 1951's longest match per code); a header that declares
    /// more data than that many times the compressed file is impossible on its face.
    static let deflateLimit = 1032

    /// Reads and checks an IDX file of unsigned bytes: its header, that the file really holds the data the header
    /// declares (the size of a plain file; the size a gzip file states in its trailer, or, when that disagrees, as
    /// it unpacks, reading without keeping), then only the first `items` items.
    ///
    /// - Parameters:
    ///   - path: the file (`.gz` or plain).
    ///   - expectedDimensionCount: 3 for images (count, rows, cols), 1 for labels.
    ///   - items: how many items (images, labels) to read from the start; nil = all.
    /// - Throws: `DataError` naming the file: missing (or a symbolic link loop), unreadable, wrong magic (e.g. a labels
    ///   file where images are expected), an implausible header, or holding less than its header declares.
    public init(path: String, expectedDimensionCount: Int, items wanted: Int? = nil) throws(DataError) {
        if let problem = PathProblem.describe(path) { throw DataError(path: path, message: problem) }
        var st = stat()
        guard stat(path, &st) == 0 else { throw DataError(path: path, message: "does not exist") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw DataError(path: path, message: "is not a regular file")
        }
        let fileSize = Int(st.st_size)
        guard let file = gzopen(path, "rb") else {
            throw DataError(path: path, message: "cannot be opened (\(String(cString: strerror(errno))))")
        }
        defer { gzclose(file) }
        // Reads `count` bytes in chunks (into `out` when given), so a file shorter than asked costs no more memory
        // than it holds. Returns the bytes read.
        func read(_ count: Int, into out: inout [UInt8], keep: Bool = true) throws(DataError) -> Int {
            var done = 0
            let chunkSize = 1 << 24
            var scratch = keep ? [] : [UInt8](repeating: 0, count: min(chunkSize, max(count, 1)))
            while done < count {
                let chunk = min(count - done, chunkSize)
                let got: Int32
                if keep {
                    let start = out.count
                    out.append(contentsOf: repeatElement(0, count: chunk))
                    got = out.withUnsafeMutableBytes { gzread(file, $0.baseAddress! + start, UInt32(chunk)) }
                    out.removeLast(chunk - max(Int(got), 0))
                } else {
                    got = scratch.withUnsafeMutableBytes { gzread(file, $0.baseAddress!, UInt32(chunk)) }
                }
                if got < 0 {
                    var errnum: Int32 = 0
                    let msg = gzerror(file, &errnum).map { String(cString: $0) } ?? "read error"
                    throw DataError(path: path, message: "is corrupt (\(msg))")
                }
                done += Int(got)
                if Int(got) < chunk { break }
            }
            return done
        }
        var head = [UInt8]()
        guard try read(4, into: &head) == 4 else { throw DataError(path: path, message: "is too short to be an IDX file (\(fileSize) bytes)") }
        guard head[0] == 0, head[1] == 0 else {
            throw DataError(path: path, message: "is not an IDX file (magic bytes \(head.map { String(format: "%02x", $0) }.joined()))")
        }
        guard head[2] == 0x08 else {
            throw DataError(path: path, message: "holds IDX type 0x\(String(format: "%02x", head[2])), expected unsigned bytes (0x08)")
        }
        guard Int(head[3]) == expectedDimensionCount else {
            let kind = expectedDimensionCount == 3 ? "images (3 dimensions)" : "labels (1 dimension)"
            throw DataError(path: path, message: "has \(head[3]) dimensions, expected \(kind): is it the right file?")
        }
        var header = [UInt8]()
        guard try read(4 * expectedDimensionCount, into: &header) == 4 * expectedDimensionCount else {
            throw DataError(path: path, message: "is truncated inside its header")
        }
        var dims = [Int]()
        for d in 0..<expectedDimensionCount {
            let b = header[(4 * d)..<(4 * d + 4)].map(Int.init)
            dims.append(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3])
        }
        let total = dims.reduce(1, *)
        let itemSize = dims.dropFirst().reduce(1, *)
        let what = expectedDimensionCount == 3 ? "images of \(dims[1])x\(dims[2])" : "labels"
        let declared = "its header declares \(dims[0]) \(what) (\(total) bytes)"
        guard total > 0, total < 1 << 33 else {
            throw DataError(path: path, message: "declares an implausible size \(dims) in its header; is it an IDX file?")
        }
        let headerBytes = 4 + 4 * expectedDimensionCount
        // The data the file really holds, checked before anything of that size is allocated.
        let held: Int?
        if gzdirect(file) == 1 {
            held = fileSize - headerBytes
        } else if total + headerBytes > IDXFile.deflateLimit * fileSize {
            throw DataError(path: path, message: "is \(fileSize) bytes compressed, but \(declared): gzip cannot pack that much into "
                + "so few bytes; the header is wrong")
        } else if IDXFile.gzipStatedSize(path) == UInt32(truncatingIfNeeded: total + headerBytes) {
            held = nil  // the trailer agrees (a truncated file is still caught while reading)
        } else {
            // The trailer disagrees (or the file has several gzip members): unpack once, keeping nothing, to count.
            var none = [UInt8]()
            held = try read(Int.max - 1, into: &none, keep: false)
            gzrewind(file)
            _ = try read(headerBytes, into: &none, keep: false)
        }
        if let held, held < total {
            throw DataError(path: path, message: "is truncated or its header is wrong: it holds \(max(held, 0)) bytes of data "
                + "(\(max(held, 0) / max(itemSize, 1)) items), but \(declared)")
        }
        dimensions = dims
        let n = min(wanted ?? dims[0], dims[0])
        var out = [UInt8]()
        out.reserveCapacity(n * itemSize)
        let got = try read(n * itemSize, into: &out)
        if got < n * itemSize {
            throw DataError(path: path, message: "is truncated: \(declared), the file ends after \(got / max(itemSize, 1)) of the first \(n)")
        }
        items = n
        bytes = out
    }

    /// The uncompressed size a gzip file states in its trailer (RFC 1952 ISIZE: the last member's size mod 2^32), or
    /// nil if it cannot be read.
    static func gzipStatedSize(_ path: String) -> UInt32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let end = lseek(fd, 0, SEEK_END)
        guard end >= 18 else { return nil }
        var trailer = [UInt8](repeating: 0, count: 4)
        guard pread(fd, &trailer, 4, end - 4) == 4 else { return nil }
        return UInt32(trailer[0]) | UInt32(trailer[1]) << 8 | UInt32(trailer[2]) << 16 | UInt32(trailer[3]) << 24
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
    /// (prefix `train` or `t10k`): the first `limit` samples (0 = all), and no more is read from the files.
    ///
    /// - Throws: `DataError` naming the file (missing, truncated, wrong kind, count mismatch, label > 9).
    public static func loadMNISTFormat(directory: String, prefix: String, limit: Int = 0, classes: Int = 10) throws(DataError) -> Dataset {
        let imagesPath = try locate(directory: directory, name: "\(prefix)-images-idx3-ubyte")
        let labelsPath = try locate(directory: directory, name: "\(prefix)-labels-idx1-ubyte")
        let wanted = limit > 0 ? limit : nil
        let imageFile = try IDXFile(path: imagesPath, expectedDimensionCount: 3, items: wanted)
        let labelFile = try IDXFile(path: labelsPath, expectedDimensionCount: 1, items: wanted)
        guard imageFile.dimensions[0] == labelFile.dimensions[0] else {
            throw DataError(path: labelsPath, message: "holds \(labelFile.dimensions[0]) labels but \(imagesPath) holds \(imageFile.dimensions[0]) images")
        }
        let n = imageFile.items
        let features = imageFile.dimensions[1] * imageFile.dimensions[2]
        let pixels = imageFile.bytes
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
        for candidate in [base + ".gz", base] {
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            // A link loop or a dangling link in the folder: named, not passed over as missing.
            var link = stat()
            if lstat(candidate, &link) == 0, let problem = PathProblem.describe(candidate) {
                throw DataError(path: candidate, message: problem)
            }
        }
        var isDir: ObjCBool = false
        if let problem = PathProblem.describe(directory), problem != "does not exist" {
            throw DataError(path: directory, message: problem + " (--data-dir names the folder of the IDX files)", subject: "data folder")
        }
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
