/** The claude-bus CLI as a child process against the real bus: health, post, inbox, ack, errors, exit codes. */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { EXIT_CODES } from "../../cli/exitCodes";
import { COMMANDS as TYPED_COMMANDS, type CommandSpec, CREDENTIAL_NOTE } from "../../cli/usage";
import { startFlakyProxy } from "../support/flakyProxy";
import { cliPerTest, closedPort, envText, runCli, startTestBus, type TestBus, writeHomeEnv } from "./harness";

/** Looked up by a name from the command line: any string. */
const COMMANDS: Record<string, CommandSpec> = TYPED_COMMANDS;
let cli: string;
let bus: TestBus;
let home: string;
cliPerTest({ startBus: () => startTestBus() }, (set) => ({ cli, bus, home } = set));

const run = (args: string[], extra: { env?: Record<string, string>; stdin?: string } = {}) => runCli(cli, args, { home, ...extra });

describe("health", () => {
  it("reports the message count with the env file's credential", async () => {
    const result = await run(["health"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^ok: ${bus.url.replace(/[.]/g, "\\.")} holds \\d+ messages`));
  });

  it("--json prints the server's health object", async () => {
    const result = await run(["health", "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ok: true, count: expect.any(Number), now: expect.stringMatching(/Z$/), oldest: null, bytes: 0 });
  });
});

describe("post, inbox and ack between two machines", () => {
  it("delivers a direct message and a broadcast once, acking them", async () => {
    const sent = await run(["post", "--me", "alpha", "--to", "bravo", "--tag", "build", "--tag", "green", "--json", "Build finished, see /opt/foo"]);
    expect(sent.code).toBe(0);
    const message = JSON.parse(sent.stdout);
    expect(message).toMatchObject({ from: "alpha", to: "bravo", body: "Build finished, see /opt/foo", tags: ["build", "green"] });

    const broadcast = await run(["post", "--me", "alpha", "all hands"]);
    expect(broadcast.code).toBe(0);
    expect(broadcast.stdout).toMatch(/^posted #\d+ from alpha to any$/m);

    const inbox = await run(["inbox"], { env: { BUS_ME: "bravo" } });
    expect(inbox.code).toBe(0);
    const lines = inbox.stdout.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] alpha: Build finished, see \/opt\/foo$/),
      expect.stringMatching(/^\[.+Z\] alpha: all hands$/),
    ]);

    const again = await run(["inbox", "--me", "bravo"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain("no unread messages for bravo");

    // the direct message is not in a third machine's inbox, the broadcast is
    const charlie = await run(["inbox", "--me", "charlie", "--json"]);
    expect(JSON.parse(charlie.stdout).map((m: { body: string }) => m.body)).toEqual(["all hands"]);
  });

  it("inbox --no-ack leaves messages unread; ack ID marks one read and is idempotent", async () => {
    const sent = JSON.parse((await run(["post", "--me", "delta", "--to", "echo", "--json", "ping"])).stdout);
    const peek = await run(["inbox", "--me", "echo", "--no-ack", "--json"]);
    expect(JSON.parse(peek.stdout).map((m: { id: string }) => m.id)).toEqual([sent.id]);
    const stillThere = await run(["inbox", "--me", "echo", "--no-ack", "--json"]);
    expect(JSON.parse(stillThere.stdout)).toHaveLength(1);

    const ack = await run(["ack", "--me", "echo", sent.id]);
    expect(ack.code).toBe(0);
    expect(ack.stdout.trim()).toBe(`acked #${sent.id} as echo`);
    const ackAgain = await run(["ack", "--me", "echo", sent.id]);
    expect(ackAgain.stdout.trim()).toBe(`already acked #${sent.id} as echo`);
    expect(JSON.parse((await run(["inbox", "--me", "echo", "--json"])).stdout)).toEqual([]);
  });

  it("inbox pages past the server's 500-message limit", async () => {
    const client = (await import("../../client/index")).createBusClient(bus);
    for (let batch = 0; batch < 503; batch += 50) {
      const size = Math.min(50, 503 - batch);
      await Promise.all(Array.from({ length: size }, (_, i) => client.post({ from: "foxtrot", to: "golf", body: `m${batch + i}` })));
    }
    const inbox = await run(["inbox", "--me", "golf"]);
    expect(inbox.code).toBe(0);
    const lines = inbox.stdout.trim().split("\n");
    expect(lines).toHaveLength(503);
    expect(new Set(lines.map((line) => line.replace(/^.*foxtrot: /, ""))).size).toBe(503);
    expect(await client.messages({ to: "golf", unread_by: "golf" })).toEqual([]);
  });

  it("inbox acks everything it printed with one batch ack, however many messages", async () => {
    const client = (await import("../../client/index")).createBusClient(bus);
    for (let i = 0; i < 7; i++) await client.post({ from: "foxtrot", to: "hotel", body: `n${i}` });
    const proxy = await startFlakyProxy(bus.url);
    try {
      const inbox = await run(["inbox", "--me", "hotel"], { env: { BUS_URL: proxy.url } });
      expect(inbox.code).toBe(0);
      expect(inbox.stdout.trim().split("\n")).toHaveLength(7);
      expect(proxy.seen.filter((r) => r.method === "POST").map((r) => r.path)).toEqual(["/ack"]);
      expect(await client.messages({ to: "hotel", unread_by: "hotel" })).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("inbox shows the control bytes of a body (ESC, OSC, BEL, CR, DEL, C1) and invisible characters as visible escapes; line breaks stay", async () => {
    const client = (await import("../../client/index")).createBusClient(bus);
    await client.post({ from: "lima", to: "kilo", body: "\x1b]0;pwned\x07\x1b]52;c;cm0gLXJmIC8=\x1b\\\rall good\x1b[1A\x9b2K\x7f\u200b\r\nsecond line\tend" });
    const inbox = await run(["inbox", "--me", "kilo"]);
    expect(inbox.code).toBe(0);
    expect(inbox.stdout).toMatch(
      /^\[[^\]]+Z\] lima: \\x1b\]0;pwned\\x07\\x1b\]52;c;cm0gLXJmIC8=\\x1b\\\\rall good\\x1b\[1A\\x9b2K\\x7f\\u\{200b\}\nsecond line\tend\n$/,
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters
    expect(inbox.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b]/);
  });

  it("post --reply-to answers a message in its thread", async () => {
    const question = JSON.parse((await run(["post", "--me", "india", "--to", "juliet", "--json", "ready?"])).stdout);
    const reply = await run(["post", "--me", "juliet", "--to", "india", "--reply-to", question.id, "--json", "ready"]);
    expect(reply.code).toBe(0);
    expect(JSON.parse(reply.stdout)).toMatchObject({ reply_to: question.id, thread: question.thread, body: "ready" });
    const missing = await run(["post", "--me", "juliet", "--reply-to", "987654", "nobody asked"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/400/);
  });

  it("every post carries an Idempotency-Key, and a post the proxy cut off after the bus stored it is stored once", async () => {
    const proxy = await startFlakyProxy(bus.url, ["reset-after"]);
    try {
      const sent = await run(["post", "--me", "kilo", "--json", "once only"], { env: { BUS_URL: proxy.url } });
      expect(sent.code).toBe(0);
      expect(proxy.seen.map((r) => r.headers["idempotency-key"])).toEqual([expect.any(String), proxy.seen[0].headers["idempotency-key"]]);
      const client = (await import("../../client/index")).createBusClient(bus);
      expect((await client.messages({ from: "kilo" })).map((m) => m.body)).toEqual(["once only"]);
    } finally {
      await proxy.close();
    }
  });

  it("post reads the body from stdin, dropping one trailing newline", async () => {
    const sent = await run(["post", "--me", "hotel", "--json"], { stdin: "line one\nline two\n" });
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.stdout).body).toBe("line one\nline two");
  });

  it("the machine name defaults to hostname -s", async () => {
    const os = await import("node:os");
    const sent = await run(["post", "--json", "who am i"]);
    expect(JSON.parse(sent.stdout).from).toBe(os.hostname().split(".")[0]);
  });

  it("an unknown id is the server's 404 text and exit 1", async () => {
    const result = await run(["ack", "--me", "india", "999999"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/404/);
  });
});

describe("usage errors exit 1", () => {
  it.each([
    [["frobnicate"], /unknown command "frobnicate"/],
    [[], /usage: claude-bus/],
    [["post", "--me", "x", "a", "b"], /one BODY argument/],
    [["post", "--me", "x", "--bogus", "hi"], /post: unknown option --bogus/],
    [["post", "--me", "x"], /body is empty/],
    [["ack"], /exactly one message ID/],
    [["inbox", "extra"], /takes no arguments/],
    [["health", "--pass", "secret"], /there is no --pass flag/],
    [["post", "--me", "bad name!", "hi"], /machine name "bad name!" from --me must be 1-64 characters: letters/],
  ])("%j", async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it("--help prints the usage and exits 0", async () => {
    const result = await run(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("bootstrap");
  });

  it("the usage lists every command and every exit code from the one table", async () => {
    const { stdout } = await run(["--help"]);
    for (const name of Object.keys(COMMANDS))
      expect(stdout).toMatch(new RegExp(`^  ${name} +${COMMANDS[name].summary.slice(0, 20).replace(/[()]/g, "\\$&")}`, "m"));
    for (const { code, meaning } of Object.values(EXIT_CODES)) expect(stdout).toContain(`  ${code}  ${meaning}`);
  });

  it.each(Object.keys(COMMANDS))("%s --help lists that command's own options and exits 0", async (name) => {
    const result = await run([name, "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^usage: claude-bus ${name}\\b`));
    for (const option of Object.keys(COMMANDS[name].options)) expect(result.stdout).toMatch(new RegExp(`^  --${option}\\b`, "m"));
  });

  it("the credential precedence the help states is the one README.md states", async () => {
    const readme = await fs.readFile(path.join(__dirname, "../../README.md"), "utf8");
    expect(readme.replace(/\s+/g, " ")).toContain(CREDENTIAL_NOTE);
    expect((await run(["health", "--help"])).stdout).toContain(CREDENTIAL_NOTE);
  });

  it("serve is dispatched to service/main and reports a port in use", async () => {
    const net = await import("node:net");
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as import("node:net").AddressInfo;
    try {
      const result = await run(["serve", "--port", String(port), "--data", path.join(home, "data")], {
        env: { BUS_USER: "claude", BUS_PASS: "ServePassw0rdServePassw0rd12" },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("EADDRINUSE");
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("provision is dispatched to provision/ssh with its own options", async () => {
    const help = await run(["provision", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage: claude-bus provision --target");
    const bad = await run(["provision"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("usage: claude-bus provision");
  });
});

describe("credential problems", () => {
  it("a wrong password exits 2", async () => {
    const result = await run(["health"], { env: { BUS_PASS: "wrong-password" } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("rejected the credential (401)");
  });

  it("an env file others can read still works, with a warning that says chmod 600", async () => {
    const file = await writeHomeEnv(home, envText(bus));
    await fs.chmod(file, 0o644);
    const result = await run(["health"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: ${file} holds the bus password and others can read it (mode 0644): chmod 600 ${file}`);
    await fs.chmod(file, 0o600);
    expect((await run(["health"])).stderr).toBe("");
  });

  it("the environment overrides the file and flags override the environment", async () => {
    await writeHomeEnv(home, `BUS_USER=${bus.user}\nBUS_PASS=wrong\nBUS_URL=http://127.0.0.1:1\n`);
    const viaEnv = await run(["health"], { env: { BUS_PASS: bus.pass, BUS_URL: "http://127.0.0.1:2" } });
    expect(viaEnv.code).toBe(3); // env's URL won over the file's, still unreachable
    const viaFlag = await run(["health", "--url", bus.url], { env: { BUS_PASS: bus.pass, BUS_URL: "http://127.0.0.1:2" } });
    expect(viaFlag.code).toBe(0);
  });

  it("a missing env file is a clear error naming the file, exit 1", async () => {
    await fs.rm(path.join(home, ".secrets"), { recursive: true });
    const result = await run(["health"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(home, ".secrets", "claude-bus.env")} not found`);
    expect(result.stderr).toContain("claude-bus bootstrap");
  });

  it("without a file, the environment alone is enough", async () => {
    await fs.rm(path.join(home, ".secrets"), { recursive: true });
    const result = await run(["health"], { env: { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass } });
    expect(result.code).toBe(0);
  });

  it.each([
    ["BUS_USER=claude\nthis line is wrong\n", ":2: expected KEY=VALUE"],
    ["BUS_USER=claude\nBUS_PASS=abc def\n", ":2: BUS_PASS: unquoted value contains spaces"],
    ["BUS_USER=claude\r\nBUS_PASS=x\r\n", ":1: has Windows (CRLF) line endings"],
    ["BUS_USER=claude\nBUS_PASSWORD=x\n", ":2: unknown key BUS_PASSWORD"],
    ["BUS_URL=ftp://example.com\n", ":1: BUS_URL must be an http(s) URL"],
    ["BUS_USER=a\nBUS_USER=b\n", ":2: BUS_USER is set twice"],
  ])("a malformed env file %j names the file and line", async (text, message) => {
    const file = await writeHomeEnv(home, text);
    const result = await run(["health"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(file + message);
  });

  it.each([
    [["health", "--url", "ftp://example.com"], {}, "BUS_URL from --url must be an http(s) URL"],
    [["health"], { BUS_URL: "ftp://example.com" }, "BUS_URL from the environment must be an http(s) URL"],
    [["health", "--user", "a:b"], {}, "BUS_USER from --user must not contain ':'"],
    [["health"], { BUS_USER: "a b" }, "BUS_USER from the environment must not contain ':'"],
    [["health"], { BUS_PASS: "has space" }, "BUS_PASS from the environment must not contain whitespace"],
  ])("an invalid value is reported against where it came from: %j %j", async (args, env, message) => {
    const result = await run(args, { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
  });

  it("a malformed line is not echoed (it may be a pasted password)", async () => {
    await writeHomeEnv(home, "BUS_USER=claude\nSuperSecretPasted pass\n");
    const result = await run(["health"]);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain("SuperSecretPasted");
  });

  it("the seed's shell-sourceable quoting is accepted", async () => {
    await writeHomeEnv(home, `# bus\nexport BUS_USER='${bus.user}'\nBUS_PASS="${bus.pass}"\n\nBUS_URL=${bus.url}\n`);
    expect((await run(["health"])).code).toBe(0);
  });
});

describe("plain http to another host", () => {
  // 0.0.0.0 reaches this machine's listeners, but by name it is not loopback: as another host would be.
  const elsewhere = () => bus.url.replace("127.0.0.1", "0.0.0.0");

  it("is refused before the credential is sent, saying how to do it right", async () => {
    const result = await run(["health"], { env: { BUS_URL: elsewhere() } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`refusing to send the bus credential unencrypted to ${elsewhere()}: use its https:// URL`);
  });

  it("works with --insecure-http, and says what that costs", async () => {
    const result = await run(["health", "--insecure-http"], { env: { BUS_URL: elsewhere() } });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`warning: --insecure-http: the bus password goes to ${elsewhere()} unencrypted`);
  });
});

describe("an unreachable bus exits 3", () => {
  it("names the URL and the reason", async () => {
    const port = await closedPort();
    const result = await run(["health"], { env: { BUS_URL: `http://127.0.0.1:${port}` } });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`cannot reach the bus at http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it("also for post and inbox", async () => {
    const port = await closedPort();
    const env = { BUS_URL: `http://127.0.0.1:${port}`, BUS_ME: "juliet" };
    expect((await run(["post", "hi"], { env })).code).toBe(3);
    expect((await run(["inbox"], { env })).code).toBe(3);
  });
});
