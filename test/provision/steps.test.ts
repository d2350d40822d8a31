import { spawnSync } from "child_process";
import { createHash } from "crypto";
import { HostStep, hostSteps, rotationStep } from "../../provision/steps";
import { BUNDLE_SHA, ED25519_KEY, TEST_PEM, cfgOf } from "./fixtures";

const ORDER = ["cloud-init", "packages", "accounts", "credentials", "service", "drop-dir", "certificate", "nginx", "health"];
const hashes = (steps: HostStep[]) => Object.fromEntries(steps.map((s) => [s.name, s.hash]));
/** The names of the steps whose hash differs between two step lists. */
const changedSteps = (a: HostStep[], b: HostStep[]) => a.filter((s, i) => s.hash !== b[i].hash).map((s) => s.name);

describe("hostSteps", () => {
  const base = () => hostSteps(cfgOf(), { sha256: BUNDLE_SHA });

  it("lists the steps in order, each a strict bash script hashed by its sha256", () => {
    const steps = base();
    expect(steps.map((s) => s.name)).toEqual(ORDER);
    for (const s of steps) {
      expect(s.script.startsWith("#!/bin/bash\n")).toBe(true);
      expect(s.script).toContain("\nset -euo pipefail\n");
      expect(s.hash).toBe(createHash("sha256").update(s.script).digest("hex"));
      expect(s.description.length).toBeGreaterThan(10);
    }
  });

  it("gives the password on stdin exactly to the steps that need it", () => {
    expect(base().filter((s) => s.stdin === "busPassword").map((s) => s.name)).toEqual(["credentials", "health"]);
    expect(rotationStep(cfgOf()).stdin).toBe("busPassword");
  });

  it("is the same, hash for hash, for an equal config built separately (a re-run is a no-op for Pulumi)", () => {
    const copy = structuredClone(cfgOf());
    expect(hashes(base())).toEqual(hashes(hostSteps(copy, { sha256: BUNDLE_SHA })));
  });

  it.each([
    ["a new bundle", {}, "cd".repeat(32), ["service"]],
    ["the rate limit", { rateLimit: { perSecond: 5, burst: 10 } }, BUNDLE_SHA, ["nginx"]],
    ["HSTS", { hsts: false }, BUNDLE_SHA, ["nginx"]],
    ["the body size", { maxBodyKiB: 1024 }, BUNDLE_SHA, ["nginx"]],
    ["client SSH keys", { clientSshKeys: [ED25519_KEY] }, BUNDLE_SHA, ["drop-dir"]],
    ["the drop dir's max age", { sharedDir: { maxAgeDays: 30 } }, BUNDLE_SHA, ["drop-dir"]],
    ["the ACME server", { acmeServer: "https://acme-staging-v02.api.letsencrypt.org/directory" }, BUNDLE_SHA, ["certificate"]],
    ["the ACME CA bundle", { acmeCaBundle: TEST_PEM }, BUNDLE_SHA, ["certificate"]],
    ["the ACME email", { acmeEmail: "certs@example.com" }, BUNDLE_SHA, ["certificate"]],
    ["the bus user", { busUser: "agent" }, BUNDLE_SHA, ["credentials", "health"]],
    ["the service port", { servicePort: 9000 }, BUNDLE_SHA, ["credentials", "service", "nginx"]],
  ])("changes only the affected steps for %s", (_what, extra, sha, expected) => {
    expect(changedSteps(base(), hostSteps(cfgOf(extra), { sha256: sha }))).toEqual(expected);
  });

  it("changes only the service step when the unit template changes, only nginx when the site template does", () => {
    const withTemplate = (module: string, name: string): HostStep[] => {
      let steps: HostStep[] = [];
      jest.isolateModules(() => {
        const real = jest.requireActual(module);
        jest.doMock(module, () => ({ ...real, [name]: (...args: unknown[]) => `${real[name](...args)}# edited template\n` }));
        steps = require("../../provision/steps").hostSteps(cfgOf(), { sha256: BUNDLE_SHA });
        jest.dontMock(module);
      });
      return steps;
    };
    expect(changedSteps(base(), withTemplate("../../provision/render/systemd", "renderServiceUnit"))).toEqual(["service"]);
    expect(changedSteps(base(), withTemplate("../../provision/render/nginx", "renderNginxSite"))).toEqual(["nginx"]);
    expect(changedSteps(base(), withTemplate("../../provision/render/files", "renderLogrotate"))).toEqual(["nginx"]);
    expect(changedSteps(base(), withTemplate("../../provision/render/files", "renderTmpfiles"))).toEqual(["drop-dir"]);
  });

  it("embeds the rendered files verbatim and the bundle's sha256", () => {
    const steps = Object.fromEntries(hostSteps(cfgOf({ acmeCaBundle: TEST_PEM, clientSshKeys: [ED25519_KEY] }), { sha256: BUNDLE_SHA }).map((s) => [s.name, s.script]));
    expect(steps.service).toContain(`want=${BUNDLE_SHA}\n`);
    expect(steps.service).toContain("install_file /etc/systemd/system/claude-bus.service 644 root:root <<'CLAUDE_BUS_EOF'\n# Managed by claude-bus provision");
    expect(steps.nginx).toContain("install_file /etc/nginx/sites-available/claude-bus.example.com 644 root:root <<'CLAUDE_BUS_EOF'\n");
    expect(steps.nginx).toContain("nginx -t -q");
    expect(steps["drop-dir"]).toContain(`restrict ${ED25519_KEY}\n`);
    expect(steps.certificate).toContain(TEST_PEM);
    expect(steps.certificate).toContain("export REQUESTS_CA_BUNDLE=/etc/claude-bus/acme-ca.pem");
    expect(steps.certificate).toContain("certbot certonly --webroot -w /var/www/claude-bus-acme -d claude-bus.example.com");
  });

  it("refuses a bundle hash that is not a sha256", () => {
    expect(() => hostSteps(cfgOf(), { sha256: "nope" })).toThrow(/bundle\.sha256/);
  });
});

describe("rotationStep", () => {
  const base = rotationStep(cfgOf());

  it("is a strict bash script hashed by its sha256", () => {
    expect(base.name).toBe("rotate-credentials");
    expect(base.script.startsWith("#!/bin/bash\n")).toBe(true);
    expect(base.hash).toBe(createHash("sha256").update(base.script).digest("hex"));
  });

  it("has the same hash for an equal config built separately", () => {
    const copy = structuredClone(cfgOf());
    expect(copy).toEqual(cfgOf());
    expect(rotationStep(copy).hash).toBe(base.hash);
  });

  // It writes the credentials for the bus user and port, then checks /health at the public name.
  it.each([
    ["the bus user", { busUser: "agent" }],
    ["the service port", { servicePort: 9000 }],
    ["the subdomain", { subdomain: "bus" }],
    ["the domain", { domain: "example.org" }],
  ])("changes its hash with %s", (_what, extra) => {
    expect(rotationStep(cfgOf(extra)).hash).not.toBe(base.hash);
  });

  it.each([
    ["the rate limit", { rateLimit: { perSecond: 5, burst: 10 } }],
    ["HSTS", { hsts: false }],
    ["client SSH keys", { clientSshKeys: [ED25519_KEY] }],
    ["the ACME email", { acmeEmail: "certs@example.com" }],
  ])("keeps its hash with %s, which it does not use", (_what, extra) => {
    expect(rotationStep(cfgOf(extra)).hash).toBe(base.hash);
  });
});

describe("shellcheck", () => {
  const all = [
    ...hostSteps(cfgOf(), { sha256: BUNDLE_SHA }),
    ...hostSteps(cfgOf({ acmeCaBundle: TEST_PEM, clientSshKeys: [ED25519_KEY], sharedDir: { maxAgeDays: 3 } }), { sha256: BUNDLE_SHA }),
    rotationStep(cfgOf()),
  ];
  it.each(all.map((s, i) => [`${s.name} #${i}`, s.script]))("is clean on %s", (_name, script) => {
    const r = spawnSync("shellcheck", ["--shell=bash", "-"], { input: script, encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it("flags a bad script, so the checks above can fail", () => {
    const r = spawnSync("shellcheck", ["--shell=bash", "-"], { input: "#!/bin/bash\nrm -rf $dir/\n", encoding: "utf8" });
    expect(r.status).not.toBe(0);
  });
});
