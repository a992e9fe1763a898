/// "Did you mean ...?" for a misspelt configuration key, option or command: the known name closest in edit distance
/// (optimal string alignment: insertions, deletions, substitutions and swaps of neighbours count one each).
public enum Suggestion {
    /// The names of other tools that a newcomer may write, with where aimc-dist keeps the same thing.
    public static let foreignKeys: [String: String] = [
        "rpu_config": "rpu_config is aihwkit's configuration object; here a device is the table `device` (with `device.family` one of "
            + "aihwkit's response families) and the periphery the tables `forward`, `backward`, `transfer`, `update`; aihwkit's named "
            + "devices are presets: `aimc-dist presets` lists them (for example --device-preset ecram), and the README's Devices section "
            + "maps aihwkit's parameter names to keys",
    ]

    /// The edit distance between `a` and `b` (optimal string alignment), or nil once it exceeds `limit`.
    public static func distance(_ a: String, _ b: String, limit: Int = .max) -> Int? {
        let s = Array(a.unicodeScalars), t = Array(b.unicodeScalars)
        if abs(s.count - t.count) > limit { return nil }
        if s.isEmpty || t.isEmpty { return max(s.count, t.count) }
        var before = [Int](repeating: 0, count: t.count + 1), previous = Array(0...t.count), current = previous
        for i in 1...s.count {
            current[0] = i
            var rowMinimum = i
            for j in 1...t.count {
                let cost = s[i - 1] == t[j - 1] ? 0 : 1
                var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && s[i - 1] == t[j - 2] && s[i - 2] == t[j - 1] { d = min(d, before[j - 2] + 1) }
                current[j] = d
                rowMinimum = min(rowMinimum, d)
            }
            if rowMinimum > limit { return nil }
            (before, previous) = (previous, current)
        }
        let d = previous[t.count]
        return d <= limit ? d : nil
    }

    /// The known name closest to `name`: at most 1 edit for names of up to 4 characters, 2 up to 9, 3 beyond, and
    /// fewer than half the name; ties go to the first in `known`. Nil when nothing is that close.
    public static func closest(_ name: String, among known: [String]) -> String? {
        let n = name.unicodeScalars.count
        let limit = min(n <= 4 ? 1 : n <= 9 ? 2 : 3, max(0, (n - 1) / 2))
        guard limit > 0 else { return nil }
        var best: (name: String, distance: Int)? = nil
        for k in known where k != name {
            if let d = distance(name, k, limit: best.map { $0.distance - 1 } ?? limit) { best = (k, d) }
        }
        return best?.name
    }

    /// The dotted keys of the leaves of a table of keys ("device.tau").
    public static func leaves(_ table: [String: Any], prefix: String = "") -> [String] {
        table.keys.sorted().flatMap { key -> [String] in
            let dotted = prefix.isEmpty ? key : prefix + "." + key
            if let sub = table[key] as? [String: Any] { return leaves(sub, prefix: dotted) }
            return [dotted]
        }
    }

    /// The dotted keys of the tables within a table of keys ("device").
    public static func tables(_ table: [String: Any], prefix: String = "") -> [String] {
        table.keys.sorted().flatMap { key -> [String] in
            let dotted = prefix.isEmpty ? key : prefix + "." + key
            guard let sub = table[key] as? [String: Any] else { return [] }
            return [dotted] + tables(sub, prefix: dotted)
        }
    }

    /// For an unknown dotted key (whose value, a table, may hold more keys): the known dotted key it most likely means,
    /// either a near spelling of the whole path ("devcie.tau" -> "device.tau") or the one key whose last name it is
    /// when it was written at the wrong level ("tau" -> "device.tau").
    public static func key(for unknown: String, value: Any, schema: [String: Any]) -> String? {
        // Leaves, and the shorthand `tau` of every table with both bounds (a device).
        let all = leaves(schema)
        let known = all + all.filter { $0.hasSuffix(".w_max") && all.contains(String($0.dropLast(6)) + ".w_min") }.map { String($0.dropLast(6)) + ".tau" }
        let given = ((value as? [String: Any]).map { leaves($0, prefix: unknown) } ?? []).nonEmpty ?? [unknown]
        // A table given empty is matched against the tables.
        if let table = value as? [String: Any], table.isEmpty {
            return closest(unknown, among: tables(schema))
        }
        for g in given.prefix(8) {
            if let k = closest(g, among: known) { return k }
        }
        let last = String(unknown.split(separator: ".").last ?? "")
        let sameName = known.filter { $0.split(separator: ".").last.map(String.init) == last }
        return sameName.count == 1 ? sameName[0] : nil
    }
}

extension Array {
    /// The array, or nil when it is empty.
    var nonEmpty: Self? { isEmpty ? nil : self }
}
