/**
 * What a later `pulumi up` (or `pulumi destroy`) does to a deployed stack, planned by the mock engine
 * (engine.ts) against the state an earlier run left: which edits keep the data volume, which replace the
 * droplet, that a replaced droplet gets every host step again even after a failed run, and that an
 * unchanged program is a no-op.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planDestroy, type StackState } from "./engine";
import { baseConfig, bootHostKeyOf, FAKE_FINGERPRINT, FAKE_HOST_KEY, FAKE_PUBLIC_KEY_2, runStack, type StackRun } from "./harness";

const bundleDir = mkdtempSync(join(tmpdir(), "claude-bus-infra-lifecycle-"));
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

const commands = (run: StackRun) => run.resources.filter((r) => r.type.startsWith("command:remote:")).map((r) => r.name);
/** Every resource the run does something to, with what it does. */
const changes = (run: StackRun) => Object.fromEntries(run.resources.filter((r) => r.op !== "same").map((r) => [r.name, r.op]));
const opOf = (run: StackRun, name: string) => run.get(name).op;
const short = (urn: string) => urn.split("::").pop()!;
/** Where a step is in the run's execution order (throws when it is not there). */
function at(run: StackRun, step: string): number {
  const i = run.order.indexOf(step);
  if (i < 0) throw new Error(`no step "${step}" in:\n${run.order.join("\n")}`);
  return i;
}

let first: StackRun;
beforeAll(async () => {
  first = await runStack(baseConfig(), bundleDir);
}, 60_000);

describe("an unchanged stack", () => {
  it("is a no-op the second time: nothing created, updated, replaced or deleted", async () => {
    const second = await runStack(baseConfig(), bundleDir, first.state);
    expect(changes(second)).toEqual({});
    expect([second.deleted, second.errors]).toEqual([[], []]);
  });
});

describe("edits that replace the droplet", () => {
  it.each([
    ["a new image", { image: "debian-12-x64" }],
    ["a new droplet size with a new image", { image: "ubuntu-24-04-x64", size: "s-2vcpu-2gb" }],
  ])("keep the data volume through %s, re-attach it and run every host step on the new droplet", async (_what, edit) => {
    const next = await runStack({ ...baseConfig(), ...edit }, bundleDir, first.state);
    expect(next.errors).toEqual([]);
    expect(opOf(next, "claude-bus-droplet")).toBe("replace");
    expect(opOf(next, "claude-bus-data")).toBe("same");
    expect(next.state["claude-bus-data"].id).toBe(first.state["claude-bus-data"].id);
    expect(opOf(next, "claude-bus-data-attachment")).toBe("replace");
    expect(next.get("claude-bus-data-attachment").deleteBeforeReplace).toBe(true);
    for (const name of commands(next)) expect([name, opOf(next, name)]).toEqual([name, "replace"]);
    expect(next.deleted).toEqual([]);
  });

  describe("a replacement's order (a new image)", () => {
    let next: StackRun;
    beforeAll(async () => {
      next = await runStack({ ...baseConfig(), image: "debian-12-x64" }, bundleDir, first.state);
    }, 60_000);

    it("releases the volume on the old droplet (its delete runs, not skipped) before the attachment is deleted", () => {
      expect(next.order).not.toContain("skip delete claude-bus-release");
      expect(at(next, "delete claude-bus-release")).toBeLessThan(at(next, "delete claude-bus-data-attachment"));
      expect(at(next, "delete claude-bus-data-attachment")).toBeLessThan(at(next, "create claude-bus-data-attachment"));
      // The release connects to the old droplet, as the previous state recorded it.
      expect(first.state["claude-bus-release"].inputs.connection).toMatchObject({ host: first.state["claude-bus-droplet"].outputs.ipv4Address });
    });

    it("keeps the old bus serving while the new droplet installs its packages: the volume moves after the steps that need none", () => {
      for (const step of ["claude-bus-wait-ssh", "claude-bus-packages", "claude-bus-updates"]) {
        expect([step, at(next, `create ${step}`) < at(next, "delete claude-bus-release")]).toEqual([step, true]);
      }
      expect(at(next, "create claude-bus-data-attachment")).toBeLessThan(at(next, "create claude-bus-volume"));
    });

    it("never deletes or replaces the data volume", () => {
      expect(next.order.filter((step) => step.endsWith(" claude-bus-data"))).toEqual([]);
    });

    it("moves the reserved IP only once the new droplet passed its health step, and deletes the old droplet after that", () => {
      expect(next.get("claude-bus-ip-assignment").dependencies.map(short)).toContain("claude-bus-health");
      expect(next.get("claude-bus-certificate").dependencies.map(short)).not.toContain("claude-bus-ip-assignment");
      expect(at(next, "create claude-bus-health")).toBeLessThan(at(next, "create claude-bus-ip-assignment"));
      expect(at(next, "create claude-bus-ip-assignment")).toBeLessThan(at(next, "delete claude-bus-droplet"));
      expect(opOf(next, "claude-bus-ip")).toBe("same");
    });

    it("has the new droplet inside the unchanged firewall from creation, by the stack's tag", () => {
      expect(opOf(next, "claude-bus-firewall")).toBe("same");
      expect(opOf(next, "claude-bus-tag")).toBe("same");
      const tags = next.state["claude-bus-firewall"].outputs.tags as string[];
      expect(tags).toEqual(["claude-bus-test"]);
      expect(next.get("claude-bus-droplet").inputs.tags).toEqual(expect.arrayContaining(tags));
    });

    it("pins the steps before the volume step to the key the new droplet booted with, and the later ones and the release to the volume's", () => {
      const keyOf = (name: string) => (next.state[name].inputs.connection as { hostKey?: string }).hostKey;
      const newDroplet = next.state["claude-bus-droplet"].id;
      expect(newDroplet).not.toBe(first.state["claude-bus-droplet"].id);
      for (const name of ["claude-bus-bundle-upload", "claude-bus-packages", "claude-bus-updates", "claude-bus-volume"])
        expect([name, keyOf(name)]).toEqual([name, bootHostKeyOf(newDroplet)]);
      for (const name of ["claude-bus-release", "claude-bus-accounts", "claude-bus-credentials", "claude-bus-health"])
        expect([name, keyOf(name)]).toEqual([name, FAKE_HOST_KEY]);
      expect(next.errors).toEqual([]);
    });

    it("after it, a change to a step before the volume step learns the host's key again, so that step is pinned to the volume's", async () => {
      const later = await runStack({ ...baseConfig(), image: "debian-12-x64", sshPublicKey: FAKE_PUBLIC_KEY_2 }, bundleDir, next.state);
      expect(later.errors).toEqual([]);
      expect(opOf(later, "claude-bus-wait-ssh")).toBe("replace");
      expect((later.state["claude-bus-ssh-keys"].inputs.connection as { hostKey: string }).hostKey).toBe(FAKE_HOST_KEY);
    });

    it("starts the uptime check's probes on the new droplet only after the IP moved", () => {
      expect(next.get("claude-bus-uptime").dependencies.map(short)).toEqual(expect.arrayContaining(["claude-bus-health", "claude-bus-ip-assignment"]));
    });
  });
});

describe("a re-created attachment on the same droplet (refresh found the volume detached)", () => {
  it("re-runs the volume step and every later one, not the steps before it, and releases nothing", async () => {
    // The previous attachment's id, as the commands recorded it in their triggers, differs from the next one's.
    const earlier = JSON.parse(JSON.stringify(first.state).replaceAll('"claude-bus-data-attachment-id"', '"an-earlier-attachment-id"')) as StackState;
    delete earlier["claude-bus-data-attachment"];
    const next = await runStack(baseConfig(), bundleDir, earlier);
    expect(next.errors).toEqual([]);
    const volumeSteps = commands(next).slice(commands(next).indexOf("claude-bus-volume"));
    expect(volumeSteps).toEqual(expect.arrayContaining(["claude-bus-volume", "claude-bus-service", "claude-bus-health"]));
    expect(changes(next)).toEqual({
      "claude-bus-data-attachment": "create",
      ...Object.fromEntries(volumeSteps.filter((name) => name !== "claude-bus-release").map((name) => [name, "replace"])),
    });
    expect(next.order.filter((step) => step.endsWith(" claude-bus-release"))).toEqual([]);
  });
});

describe("edits that keep the droplet", () => {
  it("a new deploy public key: a new DigitalOcean key and the ssh-keys step, not a new droplet", async () => {
    const next = await runStack({ ...baseConfig(), sshPublicKey: FAKE_PUBLIC_KEY_2 }, bundleDir, first.state);
    expect(next.errors).toEqual([]);
    // The first contact learns the host key again (a step before the volume step is to run again).
    expect(changes(next)).toEqual({ "claude-bus-ssh-key": "replace", "claude-bus-wait-ssh": "replace", "claude-bus-ssh-keys": "replace" });
  });

  it("the same existing key named by fingerprint, then by id", async () => {
    const { sshPublicKey: _k, ...rest } = baseConfig();
    const byFingerprint = await runStack({ ...rest, sshKeyFingerprint: FAKE_FINGERPRINT }, bundleDir);
    const byId = await runStack({ ...rest, sshKeyFingerprint: "41781234" }, bundleDir, byFingerprint.state);
    expect(byId.errors).toEqual([]);
    expect(changes(byId)).toEqual({});
  });

  it("a bigger volume grows in place; a smaller one is refused, as the provider refuses it", async () => {
    const grown = await runStack({ ...baseConfig(), volumeSizeGib: "20" }, bundleDir, first.state);
    expect(changes(grown)).toEqual({ "claude-bus-data": "update" });
    const shrunk = await runStack({ ...baseConfig(), volumeSizeGib: "2" }, bundleDir, grown.state);
    expect(shrunk.errors).toEqual(["claude-bus-data: volumes `size` can only be expanded and not shrunk"]);
  });

  it("a password rotation: the generator, and the credentials and health steps (which read it on stdin), only", async () => {
    const rotated = await runStack({ ...baseConfig(), rotation: "2026-06-01" }, bundleDir, first.state);
    expect(changes(rotated)).toEqual({ "claude-bus-password": "replace", "claude-bus-credentials": "update", "claude-bus-health": "update" });
  });
});

describe("protection of the data", () => {
  it("stops a change that would replace the volume or the reserved IP (a new region) instead of deleting the messages", async () => {
    const moved = await runStack({ ...baseConfig(), region: "fra1" }, bundleDir, first.state);
    expect(moved.errors.sort()).toEqual([
      expect.stringMatching(/^claude-bus-data: unable to replace resource as it is currently marked for protection/),
      expect.stringMatching(/^claude-bus-ip: unable to replace resource as it is currently marked for protection/),
    ]);
  });

  it("stops pulumi destroy at the volume unless allowDataDestroy is on (and applied by a pulumi up first), and always at the reserved IP", async () => {
    expect(planDestroy(first.state)).toEqual([
      "claude-bus-ip: unable to delete resource as it is currently marked for protection",
      "claude-bus-data: unable to delete resource as it is currently marked for protection",
    ]);
    const allowed = await runStack({ ...baseConfig(), allowDataDestroy: "true" }, bundleDir, first.state);
    expect(changes(allowed)).toEqual({});
    expect(planDestroy(allowed.state)).toEqual(["claude-bus-ip: unable to delete resource as it is currently marked for protection"]);
  });
});

describe("a failed run during a replacement", () => {
  it("leaves the steps that did not run to the next pulumi up, which runs them on the new droplet", async () => {
    const edit = { ...baseConfig(), image: "debian-12-x64" };
    const replaced = await runStack(edit, bundleDir, first.state);
    // The certificate step failed on the new droplet: a failed create stores nothing, so it and every
    // step after it keep the state they had on the old droplet.
    const names = commands(replaced);
    const failedFrom = names.indexOf("claude-bus-certificate");
    const afterFailure: StackState = { ...replaced.state };
    for (const name of names.slice(failedFrom)) afterFailure[name] = first.state[name];
    const retry = await runStack(edit, bundleDir, afterFailure);
    expect(changes(retry)).toEqual(Object.fromEntries(names.slice(failedFrom).map((name) => [name, "replace"])));
  });
});
