/**
 * The lab harness itself: a throwaway Debian host (13 by default, lab/rootfs.ts) boots with systemd as PID 1, answers over real SSH,
 * serves ACME through Pebble, and its teardown leaves this machine exactly as it found it.
 */
import { reapOrphanedRuns } from "./lab/boot";
import { startLab, type Lab, LAB_DOMAIN } from "./lab/lab";
import { SUITE } from "./lab/rootfs";
import { runOk } from "./lab/run";
import { snapshotMachine, type MachineSnapshot } from "./lab/snapshot";
import { runTeardown } from "./lab/teardown";

const LAB_PORTS = [80, 443, 2222, 14000, 15000, 8055];
const log = (l: string) => process.stdout.write(`[lab] ${l}\n`);

describe("throwaway host", () => {
  let before: MachineSnapshot;
  let lab: Lab;

  beforeAll(async () => {
    reapOrphanedRuns(log); // a killed earlier run is not this run's footprint
    before = snapshotMachine(LAB_PORTS);
    lab = await startLab({ fqdn: `claude-bus.${LAB_DOMAIN}`, log });
  });
  afterAll(() => runTeardown());

  it("runs systemd as PID 1 of its own PID namespace, reached over SSH as root", async () => {
    const r = await lab.ssh.ssh("cat /proc/1/comm; id -un; systemctl is-system-running; . /etc/os-release; echo $VERSION_ID; hostname; stat -c %a /root");
    expect(r.stderr).toBe("");
    const version = { bookworm: "12", trixie: "13" }[SUITE];
    expect(r.stdout.trim().split("\n")).toEqual(["systemd", "root", "running", version, "claude-bus-lab", "700"]);
  });

  it("runs sandboxed units as a real machine does: PrivateUsers=, ProtectSystem=strict", async () => {
    const r = await lab.ssh.ssh(
      "systemd-run --quiet --wait --pipe -p PrivateUsers=yes -p ProtectSystem=strict -p User=nobody " + "/bin/sh -c 'id -un; touch /etc/x 2>&1 || true'",
    );
    expect(r.stdout).toBe("nobody\ntouch: cannot touch '/etc/x': Read-only file system\n");
    expect(r.code).toBe(0);
  });

  it("resolves the test fqdn to loopback inside the host and serves Pebble's ACME directory", async () => {
    const r = await lab.ssh.ssh(`getent hosts ${lab.fqdn}; curl -sS --cacert /dev/stdin ${lab.acmeDirectoryUrl}`, lab.acmeServerCa);
    expect(r.stdout).toMatch(new RegExp(`^127\\.0\\.0\\.1\\s+${lab.fqdn.replace(/\./g, "\\.")}$`, "m"));
    expect(JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))).newOrder).toMatch(/^https:\/\/127\.0\.0\.1:14000\//);
  });

  it("keeps its writes to itself: a file made in the host is not on this machine", async () => {
    await lab.ssh.ssh("echo lab > /etc/claude-bus-lab-marker && touch /tmp/claude-bus-lab-marker");
    expect(lab.host.readFile("/etc/claude-bus-lab-marker")).toBe("lab\n");
    await expect(runOk("test", ["-e", "/etc/claude-bus-lab-marker"])).rejects.toThrow();
    await expect(runOk("test", ["-e", "/tmp/claude-bus-lab-marker"])).rejects.toThrow();
  });

  it("tears down completely: PID 1 gone, nothing mounted, no cgroup, sysctl, /dev entry or run dir left", async () => {
    const pid1 = lab.host.pid1;
    runTeardown();
    expect((await runOk("bash", ["-c", `test -e /proc/${pid1} && echo alive || echo gone`])).stdout.trim()).toBe("gone");
    expect(snapshotMachine(LAB_PORTS)).toEqual(before);
  });
});
