import AIMCTestSupport
import Foundation
import Testing

/// Two test "hosts" on this machine: network namespaces joined by a veth pair, each with an address of its own. mpirun
/// runs in host A's namespace and starts host B's daemon through an rsh agent (`ip netns exec`), the way it starts
/// daemons over ssh on a cluster; the ranks talk over TCP (`--mca btl tcp,self`). On host B the data folder and the
/// output folder are hidden behind empty mounts (a mount namespace of its own), so only rank 0's host sees them, as
/// the README promises for clusters. Both hosts share this machine's cores (`--bind-to none`).
final class TwoHosts {
    let a: String, b: String
    let addressA: String, addressB: String
    let dir: String
    let agent: String
    /// Folders that host B does not see.
    let hidden: [String]

    static let ip: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Why two hosts cannot be made here, or nil.
    static var unavailable: String? {
        if getuid() != 0 { return "network namespaces need root (this test runs as uid \(getuid()))" }
        if ip == nil { return "iproute2 is not installed (apt install iproute2; scripts/setup.sh installs it)" }
        return nil
    }

    static func sh(_ command: String) throws -> Launch.Result {
        try Launch.launch("/bin/sh", ["-c", command], timeout: 60)
    }

    /// Makes the namespaces, the link and the agent; `hidden` are folders host B must not see.
    init(hidden: [String]) throws {
        let tag = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        a = "aimc-\(tag)-a"
        b = "aimc-\(tag)-b"
        let net = "10.\(200 + Int.random(in: 0..<50)).\(Int.random(in: 0..<250))"
        addressA = net + ".1"
        addressB = net + ".2"
        dir = IDXWriter.temporaryDirectory("hosts")
        agent = dir + "/agent.sh"
        self.hidden = hidden
        let ip = TwoHosts.ip!
        let veth = "av\(tag.prefix(6))"
        let setup = try TwoHosts.sh("""
            set -e
            \(ip) netns add \(a); \(ip) netns add \(b)
            \(ip) link add \(veth)a type veth peer name \(veth)b
            \(ip) link set \(veth)a netns \(a); \(ip) link set \(veth)b netns \(b)
            \(ip) -n \(a) addr add \(addressA)/24 dev \(veth)a; \(ip) -n \(b) addr add \(addressB)/24 dev \(veth)b
            \(ip) -n \(a) link set \(veth)a up; \(ip) -n \(b) link set \(veth)b up
            \(ip) -n \(a) link set lo up; \(ip) -n \(b) link set lo up
            """)
        guard setup.status == 0 else {
            destroy()
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "namespaces cannot be made here: \(setup.stderr)"])
        }
        // mpirun calls `agent HOST orted ...`; host B's daemon starts with the hidden folders covered by empty mounts
        // (`ip netns exec` gives it a mount namespace of its own, so the mounts stay there).
        let cover = hidden.map { "mount -t tmpfs -o size=1m aimc-hidden '\($0)'" }.joined(separator: " && ")
        let script = """
            #!/bin/sh
            host="$1"; shift
            case "$host" in
                \(addressA)) exec \(ip) netns exec \(a) sh -c "$*" ;;
                \(addressB)) exec \(ip) netns exec \(b) sh -c "\(cover.isEmpty ? "true" : cover) && exec $*" ;;
                *) echo "agent: unknown host $host" >&2; exit 1 ;;
            esac
            """
        try script.write(toFile: agent, atomically: true, encoding: .utf8)
        chmod(agent, 0o755)
    }

    func destroy() {
        let ip = TwoHosts.ip ?? "ip"
        _ = try? TwoHosts.sh("\(ip) netns del \(a) 2>/dev/null; \(ip) netns del \(b) 2>/dev/null; true")
    }

    /// OpenMPI settings for a job over the two hosts (as environment variables, so scripts/run.sh takes them too).
    var mca: [String: String] {
        ["AIMC_DIST_BINARY": Launch.binary, "OMPI_MCA_plm_rsh_agent": agent, "OMPI_MCA_btl": "tcp,self", "OMPI_MCA_hwloc_base_binding_policy": "none",
         "OMPI_MCA_btl_tcp_if_include": addressA.split(separator: ".").prefix(3).joined(separator: ".") + ".0/24",
         "OMPI_MCA_oob_tcp_if_include": addressA.split(separator: ".").prefix(3).joined(separator: ".") + ".0/24"]
    }

    /// A hostfile listing both hosts, one slot each (rank 0 on host A).
    func hostfile() throws -> String {
        let path = dir + "/hosts"
        try "\(addressA) slots=1\n\(addressB) slots=1\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `command args` on host A (mpirun there reaches host B through the agent).
    func onA(_ command: [String], timeout: Double = 180) throws -> Launch.Result {
        try Launch.launch(TwoHosts.ip!, ["netns", "exec", a] + command, environment: mca, timeout: timeout)
    }

    func startOnA(_ command: [String]) throws -> Launch.Running {
        try Launch.start(TwoHosts.ip!, ["netns", "exec", a] + command, environment: mca)
    }

    /// Runs a shell command on host B as its daemon would see the file system.
    func onB(_ command: String) throws -> Launch.Result {
        try Launch.launch(agent, [addressB, command], timeout: 60)
    }
}

@Suite("Two hosts over TCP", .serialized)
struct ClusterTests {
    static let args = ["--train-limit", "400", "--test-limit", "100", "--epochs", "1", "--progress-seconds", "0"]

    /// A two-host job gives the one-rank digest; only host A sees the data and the output folder; a config file only
    /// host A sees is refused by rank 1 in one line.
    @Test("Two hosts: the -n 1 digest over TCP, data and output only on rank 0's host")
    func twoHosts() throws {
        if let why = TwoHosts.unavailable { print("skipped: \(why)"); return }
        let data = IDXWriter.temporaryDirectory("hostdata")
        try IDXWriter.writeSynthetic(directory: data, side: 8, train: 400, test: 100)
        let outputs = IDXWriter.temporaryDirectory("hostout")
        let hosts = try TwoHosts(hidden: [data, outputs])
        defer { hosts.destroy() }
        // Host B really does not see them.
        let look = try hosts.onB("ls '\(data)' | wc -l; ls '\(outputs)' | wc -l")
        #expect(look.status == 0 && look.stdout.split(separator: "\n") == ["0", "0"], "\(look.stdout) \(look.stderr)")
        let one = try Launch.run(ranks: 1, Self.args + ["--data-dir", data])
        let two = try hosts.onA(["mpirun", "--allow-run-as-root", "-n", "2", "--hostfile", try hosts.hostfile(), Launch.binary]
                                + Self.args + ["--data-dir", data, "--output", outputs + "/run"])
        #expect(two.status == 0, "\(two.stderr)")
        #expect(Launch.digest(one.stdout) != nil && Launch.digest(one.stdout) == Launch.digest(two.stdout))
        #expect(Launch.epochLines(one.stdout) == Launch.epochLines(two.stdout))
        #expect(FileManager.default.fileExists(atPath: outputs + "/run/summary.json"))
        // Every rank reads --config: a file on host A only is named by rank 1, in one line.
        try "{\"seed\": 3}".write(toFile: data + "/c.json", atomically: true, encoding: .utf8)
        let config = try hosts.onA(["mpirun", "--allow-run-as-root", "-q", "-n", "2", "--hostfile", try hosts.hostfile(), Launch.binary]
                                   + Self.args + ["--data-dir", data, "--config", data + "/c.json"], timeout: 120)
        let ours = config.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist:") }
        #expect(config.status == 2 && ours.count == 1 && ours.first?.contains("rank 1: --config \(data)/c.json does not exist") == true,
                "\(config.stderr)")
    }

    /// A rank on host B that dies (kill -9) ends the whole job promptly.
    @Test("Two hosts: a rank on the other host that dies ends the job")
    func remoteRankDies() throws {
        if let why = TwoHosts.unavailable { print("skipped: \(why)"); return }
        let hosts = try TwoHosts(hidden: [])
        defer { hosts.destroy() }
        let job = try hosts.startOnA(["mpirun", "--allow-run-as-root", "-n", "2", "--hostfile", try hosts.hostfile(), Launch.binary,
                                      "--data-source", "teacher", "--features", "64", "--train-samples", "200000", "--test-samples", "100",
                                      "--hidden", "32", "--epochs", "5", "--progress-seconds", "0.2"])
        #expect(job.wait(until: { $0.contains("  epoch 1/5: step") }, timeout: 120), "\(job.stdout)")
        let pid = try #require(job.rankProcess(1))
        kill(pid, SIGKILL)
        let killed = Date()
        let r = job.finish(timeout: 120)
        #expect(r.status != 0 && Date().timeIntervalSince(killed) < 30, "\(r.status) after \(Date().timeIntervalSince(killed)) s: \(r.stderr)")
        #expect(!r.stdout.contains("weights digest"))
    }

    /// The hostfiles/ examples work as written: cluster.example with its node lines filled in (the two hosts' addresses,
    /// one slot each), and localhost on this machine, both through scripts/run.sh.
    @Test("hostfiles/ examples work as written, through scripts/run.sh")
    func hostfileExamples() throws {
        let example = try String(contentsOfFile: Launch.packageRoot + "/hostfiles/cluster.example", encoding: .utf8)
        let local = try Launch.launch(Launch.packageRoot + "/scripts/run.sh",
                                      ["-n", "2", "--hostfile", Launch.packageRoot + "/hostfiles/localhost"] + Self.args + ["--data-dir", Launch.data],
                                      timeout: 180, environment: ["AIMC_DIST_BINARY": Launch.binary])
        #expect(local.status == 0 && Launch.digest(local.stdout) != nil, "\(local.stderr)")
        if let why = TwoHosts.unavailable { print("skipped (two hosts): \(why)"); return }
        let hosts = try TwoHosts(hidden: [])
        defer { hosts.destroy() }
        // The example's commented node lines, uncommented, with this test's hosts and one slot each.
        let nodes = example.split(separator: "\n").filter { $0.hasPrefix("# node") }
        #expect(nodes.count == 2, "\(example)")
        let filled = nodes.enumerated().map { i, line in
            line.dropFirst(2).replacingOccurrences(of: "node0\(i + 1)", with: i == 0 ? hosts.addressA : hosts.addressB)
                .replacingOccurrences(of: "slots=32", with: "slots=1")
        }.joined(separator: "\n") + "\n"
        let path = hosts.dir + "/mycluster"
        try (example + filled).write(toFile: path, atomically: true, encoding: .utf8)
        let r = try hosts.onA([Launch.packageRoot + "/scripts/run.sh", "-n", "2", "--hostfile", path] + Self.args + ["--data-dir", Launch.data])
        #expect(r.status == 0 && Launch.digest(r.stdout) == Launch.digest(local.stdout), "\(r.stderr)")
    }
}
