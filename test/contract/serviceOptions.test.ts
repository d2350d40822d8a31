/**
 * The service's options table (contract/serviceOptions.ts) and every layer that reads it agree: the
 * stack config, the host config, the unit's serve arguments, serve's usage and serve's parsing take
 * the same values and refuse the same, default alike, and Pulumi.yaml and infra/README.md list them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { parseCommand } from "../../cli/args";
import { givenOptions } from "../../cli/commands/serve";
import { commandHelp } from "../../cli/usage";
import {
  DEPLOYED_OPTION_NAMES,
  flagPlaceholder,
  SERVICE_OPTION_DEFAULTS,
  SERVICE_OPTION_NAMES,
  serviceOption,
  type DeployedOptionName,
  type ServiceOption,
  type ServiceOptionValues,
} from "../../contract/serviceOptions";
import { hostConfigOf, parseStackConfig, STACK_CONFIG } from "../../infra/config";
import { parseHostConfig, type HostConfig } from "../../provision/config";
import { DATA_DIR } from "../../provision/paths";
import { renderServiceUnit } from "../../provision/render/systemd";
import { baseConfig, TEST_VOLUME_DEVICE } from "../infra/harness";
import { MINIMAL } from "../provision/fixtures";

type Value = number | string | boolean;

const accepted = (run: () => unknown) => {
  try {
    run();
    return true;
  } catch {
    return false;
  }
};

/** Each layer's verdict on one value of one option. */
function verdicts(name: DeployedOptionName, value: Value) {
  const option = serviceOption(name);
  const flagText = typeof value === "boolean" ? (option.kind === "switch" ? option.flagValues?.[value ? 0 : 1] : undefined) : String(value);
  const needs = option.needs ? [`--${serviceOption(option.needs as DeployedOptionName).flag}`, "1"] : [];
  return {
    stack: accepted(() => parseStackConfig({ ...baseConfig(), [name]: String(value) })),
    host: accepted(() => parseHostConfig({ ...MINIMAL, [name]: value })),
    serve: flagText !== undefined && accepted(() => givenOptions(parseCommand("serve", [...needs, `--${option.flag}`, flagText]))),
  };
}

/** The values at each edge of an option's range: those it takes, and those just beyond. */
function edges(option: ServiceOption): { good: Value[]; bad: Value[] } {
  switch (option.kind) {
    case "count":
      return { good: [option.min, option.max, option.default], bad: [option.min - 1, option.max + 1, option.min + 0.5] };
    case "choice":
      return { good: [...option.values], bad: ["", `${option.values[0]}x`] };
    case "switch":
      return { good: [true, false], bad: [] };
    case "text":
      return { good: ["x"], bad: [""] };
  }
}

/** The service options the unit gives serve, as serve reads them back. */
function serveReads(cfg: HostConfig): ServiceOptionValues {
  const execStart = /^ExecStart=\/usr\/bin\/node \S+ (.*)$/m.exec(renderServiceUnit(cfg))![1];
  return { ...SERVICE_OPTION_DEFAULTS, ...givenOptions(parseCommand("serve", execStart.split(" "))) };
}

const hostOptions = (cfg: HostConfig) => Object.fromEntries(DEPLOYED_OPTION_NAMES.map((name) => [name, cfg[name]]));
const deployedDefaults = Object.fromEntries(DEPLOYED_OPTION_NAMES.map((name) => [name, SERVICE_OPTION_DEFAULTS[name]]));

describe("the table", () => {
  it("keeps its own rules: defaults in range, 0 (and nothing else) the default of an option where 0 means none, `needs` naming such an option", () => {
    for (const name of SERVICE_OPTION_NAMES) {
      const option = serviceOption(name);
      if (option.kind === "count") {
        expect([name, option.min <= option.default && option.default <= option.max]).toEqual([name, true]);
        if (option.zero !== undefined) expect([name, option.min, option.default]).toEqual([name, 0, 0]);
        else expect([name, option.min > 0 || name === "port"]).toEqual([name, true]);
      }
      if (option.kind === "choice") expect([name, option.values.includes(option.default)]).toEqual([name, true]);
      if (option.needs !== undefined)
        expect([name, serviceOption(option.needs as DeployedOptionName)]).toEqual([name, expect.objectContaining({ zero: expect.any(String) })]);
      if (option.config === undefined) expect([name, ["host", "port", "data", "behindProxy"].includes(name)]).toEqual([name, true]);
    }
  });
});

describe("every layer takes what the table says, and refuses the rest", () => {
  it.each(DEPLOYED_OPTION_NAMES)("%s: stack config, host config and serve agree at each edge", (name) => {
    const { good, bad } = edges(serviceOption(name));
    for (const value of good) expect([name, value, verdicts(name, value)]).toEqual([name, value, { stack: true, host: true, serve: true }]);
    for (const value of bad) expect([name, value, verdicts(name, value)]).toEqual([name, value, { stack: false, host: false, serve: false }]);
  });

  it("serve alone refuses a flag whose option needs another that is 0 (none)", () => {
    expect(() => givenOptions(parseCommand("serve", ["--archive", "none"]))).toThrow("serve: --archive goes with --retain-days");
    expect(() => givenOptions(parseCommand("serve", ["--retain-days", "0", "--archive", "none"]))).toThrow("serve: --archive goes with --retain-days");
  });

  it("serve's own options (address, port, data dir) follow their rows too", () => {
    expect(givenOptions(parseCommand("serve", ["--port", "0", "--host", "::1", "--data", "d", "--behind-proxy"]))).toEqual({
      port: 0,
      host: "::1",
      data: "d",
      behindProxy: true,
    });
    expect(() => givenOptions(parseCommand("serve", ["--port", "65536"]))).toThrow("serve: --port must be a whole number from 0 to 65535");
    expect(() => givenOptions(parseCommand("serve", ["--host", ""]))).toThrow("serve: --host must not be empty");
  });
});

describe("defaults", () => {
  it("an unset stack config, an empty host config and serve without flags hold the table's defaults", () => {
    const fromStack = hostConfigOf(parseStackConfig(baseConfig()), TEST_VOLUME_DEVICE);
    const fromHost = parseHostConfig(MINIMAL);
    expect(hostOptions(fromStack)).toEqual(deployedDefaults);
    expect(hostOptions(fromHost)).toEqual(deployedDefaults);
    expect(givenOptions(parseCommand("serve", []))).toEqual({});
  });

  it("the defaults, set or unset, render the same serve arguments, which name no service option beyond address, port, data dir and proxy", () => {
    const unset = renderServiceUnit(parseHostConfig(MINIMAL));
    expect(renderServiceUnit(parseHostConfig({ ...MINIMAL, ...deployedDefaults }))).toBe(unset);
    const stackSet = Object.fromEntries(DEPLOYED_OPTION_NAMES.map((name) => [name, String(SERVICE_OPTION_DEFAULTS[name])]));
    expect(renderServiceUnit(hostConfigOf(parseStackConfig({ ...baseConfig(), ...stackSet }), TEST_VOLUME_DEVICE))).toBe(unset);
    expect(/^ExecStart=.*$/m.exec(unset)![0]).toBe(
      `ExecStart=/usr/bin/node /opt/claude-bus/app/claude-bus.js --host 127.0.0.1 --port 8787 --data ${DATA_DIR} --behind-proxy`,
    );
  });
});

describe("the unit's serve arguments", () => {
  it("give serve exactly what the host config says, at every edge of every option", () => {
    expect(serveReads(parseHostConfig(MINIMAL))).toEqual({ ...SERVICE_OPTION_DEFAULTS, host: "127.0.0.1", data: DATA_DIR, behindProxy: true });
    for (const name of DEPLOYED_OPTION_NAMES) {
      for (const value of edges(serviceOption(name)).good) {
        const cfg = parseHostConfig({ ...MINIMAL, retainDays: 1, [name]: value });
        expect([name, value, serveReads(cfg)]).toEqual([
          name,
          value,
          { ...SERVICE_OPTION_DEFAULTS, ...hostOptions(cfg), host: "127.0.0.1", data: DATA_DIR, behindProxy: true },
        ]);
      }
    }
  });

  it("leave out an option whose `needs` is 0: no --archive without retention", () => {
    expect(renderServiceUnit(parseHostConfig({ ...MINIMAL, archiveRemoved: false }))).not.toContain("--archive");
    expect(renderServiceUnit(parseHostConfig({ ...MINIMAL, retainDays: 3, archiveRemoved: false }))).toMatch(/ --retain-days 3 --archive none$/m);
  });
});

describe("what the table's rows are documented as", () => {
  const project = load(readFileSync(join(__dirname, "../../Pulumi.yaml"), "utf8")) as {
    config: Record<string, { type: string; default?: unknown; description: string }>;
  };

  it("Pulumi.yaml declares each deployed option with the table's type, default and description", () => {
    const types = { count: "integer", choice: "string", switch: "boolean", text: "string" };
    for (const name of DEPLOYED_OPTION_NAMES) {
      const option = serviceOption(name);
      expect([name, project.config[name]]).toEqual([name, { type: types[option.kind], default: option.default, description: option.config!.description }]);
      expect(STACK_CONFIG[name].description).toBe(option.config!.description);
    }
  });

  it("infra/README.md's key table has a row for each, with its default", () => {
    const readme = readFileSync(join(__dirname, "../../infra/README.md"), "utf8");
    for (const name of DEPLOYED_OPTION_NAMES) {
      expect([name, readme.includes(`| \`${name}\` | \`${SERVICE_OPTION_DEFAULTS[name]}\` |`)]).toEqual([name, true]);
    }
  });

  it("serve's help lists every option's flag, placeholder and help line, in the table's order", () => {
    const lines = commandHelp("serve").split("\n");
    const flagLines = SERVICE_OPTION_NAMES.map((name) => {
      const option = serviceOption(name);
      const placeholder = flagPlaceholder(option);
      return lines.findIndex((line) => line.startsWith(`  --${option.flag}${placeholder ? ` ${placeholder}` : ""} `) && line.endsWith(` ${option.help}`));
    });
    expect(flagLines.every((index) => index >= 0)).toBe(true);
    expect([...flagLines].sort((a, b) => a - b)).toEqual(flagLines);
  });
});
