import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { type FileText, type Header, LIB_SOURCE_LINE, renderHeader, stepFile } from "../../provision/compose";
import {
  type HostStep,
  bundleUploadScript,
  composeStep,
  dataCommandScript,
  hostStepPlans,
  hostSteps,
  releaseScript,
  rotationSteps,
} from "../../provision/steps";
import { requireTool } from "../support/requireTool";
import { BUNDLE_SHA, ED25519_KEY, GOLDEN_CFG, TEST_PEM, cfgOf } from "./fixtures";
import { expectGolden } from "./golden";

const ORDER = ["cloud-init", "ssh-keys", "packages", "updates", "accounts", "credentials", "service", "drop-dir", "certificate", "nginx", "health"];
const hashes = (steps: HostStep[]) => Object.fromEntries(steps.map((s) => [s.name, s.hash]));
/** The names of the steps whose hash differs between two step lists. */
const changedSteps = (a: HostStep[], b: HostStep[]) => a.filter((s, i) => s.hash !== b[i].hash).map((s) => s.name);
const isFileText = (v: unknown): v is FileText => typeof v === "object" && v !== null && !Array.isArray(v);

describe("hostSteps", () => {
  const base = () => hostSteps(cfgOf(), { sha256: BUNDLE_SHA });

  it("lists the steps in order, each a strict bash script hashed by its sha256 (health: with the hashes of what it checks)", () => {
    const steps = base();
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const by = hashes(steps);
    expect(steps.map((s) => s.name)).toEqual(ORDER);
    for (const s of steps) {
      expect(s.script.startsWith("#!/bin/bash\n")).toBe(true);
      expect(s.script).toContain("\nset -euo pipefail\n");
      const expected = s.name === "health" ? sha([sha(s.script), by.service, by.nginx].join("\n")) : sha(s.script);
      expect([s.name, s.hash]).toEqual([s.name, expected]);
      expect(s.description.length).toBeGreaterThan(10);
    }
  });

  it("gives the credentials env text on stdin exactly to the steps that need it", () => {
    expect(
      base()
        .filter((s) => s.stdin === "credentials")
        .map((s) => s.name),
    ).toEqual(["credentials", "health"]);
    expect(base().filter((s) => s.stdin !== undefined && s.stdin !== "credentials")).toEqual([]);
  });

  it("is the same, hash for hash, for an equal config built separately (a re-run is a no-op for Pulumi)", () => {
    const copy = structuredClone(cfgOf());
    expect(hashes(base())).toEqual(hashes(hostSteps(copy, { sha256: BUNDLE_SHA })));
  });

  it.each([
    ["a new bundle", {}, "cd".repeat(32), ["service", "health"]],
    ["the rate limit", { rateLimit: { perSecond: 5, burst: 10 } }, BUNDLE_SHA, ["nginx", "health"]],
    ["HSTS", { hsts: false }, BUNDLE_SHA, ["nginx", "health"]],
    ["the body size", { maxBodyKiB: 1024 }, BUNDLE_SHA, ["nginx", "health"]],
    ["client SSH keys", { clientSshKeys: [ED25519_KEY] }, BUNDLE_SHA, ["drop-dir"]],
    ["the drop dir's max age", { sharedDir: { maxAgeDays: 30 } }, BUNDLE_SHA, ["drop-dir"]],
    ["the largest file", { maxFileMiB: 500 }, BUNDLE_SHA, ["service", "nginx", "health"]],
    ["the file quota", { fileQuotaMiB: 1024 }, BUNDLE_SHA, ["service", "health"]],
    ["each credential's limits", { uploaderMaxFiles: 200, maxLongPolls: 64 }, BUNDLE_SHA, ["service", "health"]],
    ["the files' age, which the drop dir's follows", { fileMaxAgeDays: 7 }, BUNDLE_SHA, ["service", "drop-dir", "health"]],
    ["the files' age, the drop dir's set apart", { fileMaxAgeDays: 7, sharedDir: { maxAgeDays: 14 } }, BUNDLE_SHA, ["service", "health"]],
    ["the ACME server", { acmeServer: "https://acme-staging-v02.api.letsencrypt.org/directory" }, BUNDLE_SHA, ["certificate"]],
    ["the ACME CA bundle", { acmeCaBundle: TEST_PEM }, BUNDLE_SHA, ["certificate"]],
    ["the ACME email", { acmeEmail: "certs@example.com" }, BUNDLE_SHA, ["certificate"]],
    ["the bus user", { busUser: "agent" }, BUNDLE_SHA, ["credentials", "health"]],
    ["the service port", { servicePort: 9000 }, BUNDLE_SHA, ["service", "nginx", "health"]],
    ["the deploy keys", { rootSshKeys: [ED25519_KEY] }, BUNDLE_SHA, ["ssh-keys"]],
    ["the reboot time", { autoReboot: "never" }, BUNDLE_SHA, ["updates"]],
    ["the public address", { publicIpv4: "203.0.113.10" }, BUNDLE_SHA, ["certificate"]],
    ["the DNS-over-HTTPS resolver", { dohUrl: "https://dns.example.net/dns-query" }, BUNDLE_SHA, ["certificate"]],
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
    // health checks the service and nginx, so it runs again after either.
    expect(changedSteps(base(), withTemplate("../../provision/render/systemd", "renderServiceUnit"))).toEqual(["service", "health"]);
    expect(changedSteps(base(), withTemplate("../../provision/render/nginx", "renderNginxSite"))).toEqual(["nginx", "health"]);
    expect(changedSteps(base(), withTemplate("../../provision/render/files", "renderLogrotate"))).toEqual(["nginx", "health"]);
    expect(changedSteps(base(), withTemplate("../../provision/render/files", "renderTmpfiles"))).toEqual(["drop-dir"]);
  });

  it("embeds the rendered files verbatim, the bundle's sha256 and the config's values as readonly variables", () => {
    const steps = Object.fromEntries(hostSteps(GOLDEN_CFG(), { sha256: BUNDLE_SHA }).map((s) => [s.name, s.script]));
    expect(steps.service).toContain(`\nreadonly BUNDLE_SHA256='${BUNDLE_SHA}'\n`);
    expect(steps.service).toContain("\nIFS= read -r -d '' UNIT <<'CLAUDE_BUS_EOF' || true\n# Managed by claude-bus provision");
    expect(steps.service).toContain('\ninstall_file "$UNIT_PATH" 644 root:root daemon-reload "restart claude-bus" < <(printf \'%s\' "$UNIT")\n');
    expect(steps.nginx).toContain("\nreadonly SITE_PATH='/etc/nginx/sites-available/claude-bus.example.com'\n");
    expect(steps.nginx).toContain("\nIFS= read -r -d '' SITE <<'CLAUDE_BUS_EOF' || true\n# Managed by claude-bus provision");
    expect(steps.nginx).toContain("\nIFS= read -r -d '' SITE_LEGACY_HTTP2 <<'CLAUDE_BUS_EOF' || true\n# Managed by claude-bus provision");
    expect(steps.nginx).toContain("\nif http2_directive_known; then rendered=$SITE; else rendered=$SITE_LEGACY_HTTP2; fi\n");
    expect(steps.nginx).toContain('\ninstall_file "$SITE_PATH" 644 root:root "reload nginx" < <(printf \'%s\' "$rendered")\n');
    // The handler it notifies checks the configuration before nginx loads it.
    expect(steps.nginx).toContain('    "reload nginx")\n      nginx -t -q\n      systemctl reload-or-restart nginx\n');
    expect(steps["drop-dir"]).toContain(`restrict,command="internal-sftp" ${ED25519_KEY}\n`);
    expect(steps.certificate).toContain(`\nIFS= read -r -d '' ACME_CA <<'CLAUDE_BUS_EOF' || true\n${TEST_PEM}CLAUDE_BUS_EOF\n`);
    expect(steps.certificate).toContain("\nreadonly ACME_CA_PATH='/etc/claude-bus/acme-ca.pem'\n");
    expect(steps.certificate).toContain("\n  export REQUESTS_CA_BUNDLE=$ACME_CA_PATH\n");
    expect(steps.certificate).toContain("\nreadonly FQDN='claude-bus.example.com'\n");
    expect(steps.certificate).toContain("\nreadonly ACME_WEBROOT='/var/www/claude-bus-acme'\n");
    expect(steps.certificate).toContain('\n  certbot certonly --webroot -w "$ACME_WEBROOT" -d "$FQDN" --cert-name "$FQDN"');
  });

  it("gives bash every header value back byte for byte: file texts with their final newline, quotes and $ kept", () => {
    const plans = hostStepPlans(GOLDEN_CFG(), { sha256: BUNDLE_SHA });
    const tricky: Header = { QUOTED: 'it\'s $HOME `id` \\ "q"', TEXT: { text: "a $b `c`\n\n'd'\\\n" }, LIST: ["x y", "it's"] };
    for (const header of [...plans.map((p) => p.header), tricky]) {
      for (const [name, value] of Object.entries(header)) {
        const print = Array.isArray(value) ? `printf '%s\\n' "\${${name}[@]}"` : `printf '%s' "$${name}"`;
        const r = spawnSync("bash", ["-c", `set -euo pipefail\n${renderHeader(header)}\n${print}`], { encoding: "utf8" });
        const expected = Array.isArray(value) ? value.map((v) => `${v}\n`).join("") : isFileText(value) ? value.text : String(value);
        expect([name, r.stderr, r.stdout]).toEqual([name, "", expected]);
      }
    }
  });

  it("adds the final newline a PEM was given without, as a text file has", () => {
    const pem = TEST_PEM.trimEnd();
    const certificate = hostStepPlans(cfgOf({ acmeCaBundle: pem }), { sha256: BUNDLE_SHA }).find((p) => p.name === "certificate")!;
    expect(certificate.header.ACME_CA).toEqual({ text: `${pem}\n` });
  });

  it("mounts the data volume, when there is one, before the steps that make the dirs on it", () => {
    const names = hostSteps(cfgOf({ volume: { device: "/dev/disk/by-id/scsi-0DO_Volume_x" } }), { sha256: BUNDLE_SHA }).map((s) => s.name);
    expect(names).toEqual([...ORDER.slice(0, 4), "volume", ...ORDER.slice(4)]);
  });

  it("refuses a bundle hash that is not a sha256", () => {
    expect(() => hostSteps(cfgOf(), { sha256: "nope" })).toThrow(/bundle\.sha256/);
  });

  it("names in each step file's opening comment every header variable the step gets, and reads no other", () => {
    const fromLib = ["BUS_PASS", "CREDENTIALS", "SERVICE"];
    for (const plan of hostStepPlans(GOLDEN_CFG(), { sha256: BUNDLE_SHA })) {
      const text = fs.readFileSync(stepFile(plan.name), "utf8");
      const comment = text.slice(0, text.indexOf("\nsource "));
      expect(comment).toMatch(new RegExp(`^# shellcheck shell=bash\\n# Step "${plan.name}": `));
      for (const name of Object.keys(plan.header)) expect([plan.name, comment]).toEqual([plan.name, expect.stringMatching(new RegExp(`\\b${name}\\b`))]);
      const read = [...text.replace(LIB_SOURCE_LINE, "").matchAll(/\$\{?([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]);
      expect([plan.name, read.filter((name) => !(name in plan.header) && !fromLib.includes(name))]).toEqual([plan.name, []]);
    }
  });
});

describe("rotation: the credentials and health steps, as Pulumi runs them after a password change", () => {
  const rotation = (extra = {}) => rotationSteps(cfgOf(extra));
  const hashOf = (steps: HostStep[]) => steps.map((s) => s.hash).join(",");

  it("is exactly the credentials and health steps of hostSteps (their scripts), credentials on stdin", () => {
    const [credentials, health] = rotation();
    const all = hostSteps(cfgOf(), { sha256: BUNDLE_SHA });
    const scripts = (steps: HostStep[]) => steps.map((s) => [s.name, s.script, s.stdin]);
    expect(scripts(rotation())).toEqual(scripts(all.filter((s) => s.name === "credentials" || s.name === "health")));
    expect([credentials.name, credentials.stdin, health.name, health.stdin]).toEqual(["credentials", "credentials", "health", "credentials"]);
    expect(credentials.script).not.toMatch(/systemctl reload nginx|notify "reload nginx"/);
  });

  it("has the same hashes for an equal config built separately", () => {
    const copy = structuredClone(cfgOf());
    expect(copy).toEqual(cfgOf());
    expect(hashOf(rotationSteps(copy))).toBe(hashOf(rotation()));
  });

  // It writes the credentials for the bus user and port, then checks /health at the public name.
  it.each([
    ["the bus user", { busUser: "agent" }, ["credentials", "health"]],
    ["the subdomain", { subdomain: "bus" }, ["credentials", "health"]],
    ["the domain", { domain: "example.org" }, ["credentials", "health"]],
  ])("changes its hash with %s", (_what, extra, changed) => {
    expect(changedSteps(rotation(), rotation(extra))).toEqual(changed);
  });

  it.each([
    ["the rate limit", { rateLimit: { perSecond: 5, burst: 10 } }],
    ["the service port", { servicePort: 9000 }],
    ["HSTS", { hsts: false }],
    ["client SSH keys", { clientSshKeys: [ED25519_KEY] }],
    ["the ACME email", { acmeEmail: "certs@example.com" }],
  ])("keeps its hash with %s, which it does not use", (_what, extra) => {
    expect(hashOf(rotation(extra))).toBe(hashOf(rotation()));
  });
});

// The generated part of each step: lib.sh and the step bodies are plain files in provision/steps/ already.
describe("golden step headers", () => {
  it.each(hostStepPlans(GOLDEN_CFG(), { sha256: BUNDLE_SHA }).map((p) => [p.name, renderHeader(p.header)]))(
    "%s is byte for byte the golden file",
    (name, header) => {
      expectGolden(path.join("step-headers", `${name}.sh`), `${header}\n`);
    },
  );
});

describe("shellcheck", () => {
  const shellcheck = (args: string[], input?: string) => spawnSync(requireTool("shellcheck"), args, { input, encoding: "utf8" });
  const composed = [
    ...hostSteps(cfgOf(), { sha256: BUNDLE_SHA }),
    ...hostSteps(GOLDEN_CFG(), { sha256: BUNDLE_SHA }),
    { name: "upload-bundle", script: bundleUploadScript() },
    { name: "data-command restore", script: dataCommandScript(cfgOf(), "restore", ["--force"]) },
    { name: "data-command import", script: dataCommandScript(cfgOf(), "import", []) },
    { name: "release", script: releaseScript(cfgOf({ volume: { device: "/dev/disk/by-id/scsi-0DO_Volume_x" } })) },
  ];
  it.each(composed.map((s, i) => [`${s.name} #${i}`, s.script]))("is clean on the composed script %s", (_name, script) => {
    const r = shellcheck(["--shell=bash", "-"], script);
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  const files = fs.readdirSync(path.dirname(stepFile("lib"))).filter((f) => f.endsWith(".sh"));
  it.each(files)("is clean on provision/steps/%s as it is, following its source of lib.sh", (file) => {
    const r = shellcheck(["-x", path.join(path.dirname(stepFile("lib")), file)]);
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it("flags a bad script, so the checks above can fail", () => {
    const r = shellcheck(["--shell=bash", "-"], "#!/bin/bash\nrm -rf $dir/\n");
    expect(r.status).not.toBe(0);
  });

  // (A header variable a step reads but does not get is the opening-comment test's: shellcheck takes an
  // unassigned UPPER_CASE variable for an environment variable.)
  it("flags a header variable the step does not read", () => {
    const nginx = hostStepPlans(cfgOf(), { sha256: BUNDLE_SHA }).find((p) => p.name === "nginx")!;
    expect(shellcheck(["-"], composeStep({ ...nginx, header: { ...nginx.header, UNUSED: "x" } }).script).stdout).toMatch(/UNUSED appears unused/);
  });
});
