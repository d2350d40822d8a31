/** lib.sh, run for real on temp paths: idempotent atomic writes, handlers, clean exits, the credential on stdin. */
import * as fs from "node:fs";
import * as path from "node:path";
import { HOST_PASSWORD_REGEX, HOST_PASSWORD_RULE } from "../../contract/password";
import { credentialsEnv } from "../../provision/credentials";
import { fileText } from "../../provision/compose";
import { tempDir } from "../support/tempDir";
import { cfgOf } from "./fixtures";
import { fakeSystem, libScript, modeOf, runScript, tempFilesIn } from "./stepHarness";

let dir: string;
beforeEach(() => (dir = tempDir("lib")));

describe("install_file", () => {
  const install = (file: string, fileMode: string, content: string, env?: NodeJS.ProcessEnv) =>
    runScript(
      libScript(`install_file "$DEST" ${fileMode} root:root < <(printf '%s' "$CONTENT")\necho "installed"`, { DEST: file, CONTENT: fileText(content) }),
      { env },
    );

  it("writes once, then changes nothing until content or mode differ, leaving no temp files", () => {
    const file = path.join(dir, "site.conf");
    const first = install(file, "640", "server {}\n");
    expect(first.changes).toEqual([`changed: ${file}`]);
    expect(fs.readFileSync(file, "utf8")).toBe("server {}\n");
    expect(modeOf(file)).toBe("640");

    expect(install(file, "640", "server {}\n").changes).toEqual([]);

    fs.chmodSync(file, 0o666);
    expect(install(file, "640", "server {}\n").changes).toEqual([`changed: ${file}`]);
    expect(modeOf(file)).toBe("640");
    expect(install(file, "640", "server { listen 80; }\n").changes).toEqual([`changed: ${file}`]);
    expect(fs.readFileSync(file, "utf8")).toBe("server { listen 80; }\n");
    expect(fs.readdirSync(dir)).toEqual(["site.conf"]);
  });

  it("keeps $, quotes, backslashes and trailing blank lines verbatim", () => {
    const file = path.join(dir, "x");
    const content = "return 301 https://$host$request_uri; echo '\"\\n' `id`\n\n";
    install(file, "644", content);
    expect(fs.readFileSync(file, "utf8")).toBe(content);
  });

  it("stops the script when it cannot write (set -e holds inside the helper)", () => {
    const r = install(path.join(dir, "missing-dir", "x"), "644", "x\n");
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toContain("installed");
  });

  it("removes its temp copy when it fails after making it", () => {
    const { env } = fakeSystem(dir, { chown: "exit 1" });
    const r = install(path.join(dir, "x"), "644", "secret-ish\n", env);
    expect(r.status).not.toBe(0);
    expect(r.changes).toEqual([]);
    expect(tempFilesIn(dir)).toEqual([]);
    expect(fs.existsSync(path.join(dir, "x"))).toBe(false);
  });
});

describe("remove_file", () => {
  it("removes a file once, reporting it and notifying its handlers; silent when it is gone", () => {
    const { env, calls } = fakeSystem(dir);
    const file = path.join(dir, "dropin.conf");
    fs.writeFileSync(file, "x");
    const run = () => runScript(libScript('remove_file "$FILE" daemon-reload', { FILE: file }), { env });
    expect(run().changes).toEqual([`changed: removed ${file}`, "changed: systemd re-read its unit files"]);
    expect(fs.existsSync(file)).toBe(false);
    expect(run().changes).toEqual([]);
    expect(calls()).toEqual(["systemctl daemon-reload"]);
  });
});

describe("ensure_dir", () => {
  it("creates a setgid dir, fixes a wrong mode, and is silent when all is in place", () => {
    const d = path.join(dir, "files");
    const run = () => runScript(libScript('ensure_dir "$DIR" 2770 root:root', { DIR: d }));
    expect(run().changes).toEqual([`changed: created ${d} (2770 root:root)`]);
    expect(modeOf(d)).toBe("2770");
    expect(run().changes).toEqual([]);
    fs.chmodSync(d, 0o755);
    expect(run().changes).toEqual([`changed: ${d} is now 2770 root:root`]);
  });
});

describe("handlers", () => {
  const files = (a: string, b: string) => ({ A: path.join(dir, "a"), B: path.join(dir, "b"), A_TEXT: fileText(a), B_TEXT: fileText(b) });
  const twoFiles = `install_file "$A" 644 root:root "reload nginx" daemon-reload < <(printf '%s' "$A_TEXT")
install_file "$B" 644 root:root daemon-reload "reload claude-bus" < <(printf '%s' "$B_TEXT")
echo "the body is done"`;

  it("run once each, in their declared order, after the body, and only when a change notified them", () => {
    const system = fakeSystem(dir);
    fs.writeFileSync(path.join(dir, "active-claude-bus-test"), "");
    const first = runScript(libScript(twoFiles, files("a\n", "b\n")), { env: system.env });
    expect(first.stderr).toBe("");
    expect(first.stdout.split("\n")).toEqual([
      `changed: ${dir}/a`,
      `changed: ${dir}/b`,
      "the body is done",
      "changed: systemd re-read its unit files",
      "changed: reloaded claude-bus-test: it re-read its credentials",
      "changed: reloaded nginx",
      "",
    ]);
    expect(system.calls()).toEqual([
      "systemctl daemon-reload",
      "systemctl is-active --quiet claude-bus-test",
      "systemctl reload claude-bus-test",
      "nginx -t -q",
      "systemctl reload-or-restart nginx",
    ]);

    // Nothing changed: nothing notified, nothing runs.
    const again = runScript(libScript(twoFiles, files("a\n", "b\n")), { env: system.env });
    expect(again.changes).toEqual([]);
    expect(system.calls()).toHaveLength(5);

    // Only b changed: only b's handlers.
    const onlyB = runScript(libScript(twoFiles, files("a\n", "b2\n")), { env: system.env });
    expect(onlyB.changes).toEqual([
      `changed: ${dir}/b`,
      "changed: systemd re-read its unit files",
      "changed: reloaded claude-bus-test: it re-read its credentials",
    ]);
  });

  it("notify works for any change; a restart of the bus makes its pending reload needless", () => {
    const system = fakeSystem(dir);
    const r = runScript(libScript('notify "reload claude-bus"\nnotify "restart claude-bus" "reload claude-bus"'), { env: system.env });
    expect(r.changes).toEqual(["changed: restarted claude-bus-test"]);
    expect(system.calls()).toEqual(["systemctl restart claude-bus-test"]);
  });

  it("skip the reload of a bus that is not running: it reads its credentials when it starts", () => {
    const system = fakeSystem(dir);
    expect(runScript(libScript('notify "reload claude-bus"'), { env: system.env }).changes).toEqual([]);
    expect(system.calls()).toEqual(["systemctl is-active --quiet claude-bus-test"]);
  });

  it("run at flush_handlers, and then not again at the end", () => {
    const system = fakeSystem(dir);
    const r = runScript(libScript('notify "reload nginx"\nflush_handlers\necho "after the flush"'), { env: system.env });
    expect(r.stdout).toBe("changed: reloaded nginx\nafter the flush\n");
    expect(system.calls()).toEqual(["nginx -t -q", "systemctl reload-or-restart nginx"]);
  });

  it("refuse a name that is not a declared handler, before the file is written", () => {
    const r = runScript(libScript('install_file "$A" 644 root:root "reload ngnix" < <(printf x)', { A: path.join(dir, "a") }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "no handler named 'reload ngnix' (the handlers are: daemon-reload restart claude-bus reload claude-bus reload nginx reload ssh)",
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("do not run when the step fails; its on_failure then on_exit functions do, and its temp files go", () => {
    const system = fakeSystem(dir);
    const body = `undo() { echo "undo ran"; }
cleanup() { echo "cleanup ran"; }
on_failure undo
on_exit cleanup
install_file "$A" 644 root:root "reload nginx" < <(printf 'a\\n')
temp_file scratch "$DIR"
echo "half done" > "$scratch"
false
echo "not reached"`;
    const r = runScript(libScript(body, { A: path.join(dir, "a"), DIR: dir }), { env: system.env });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`changed: ${dir}/a\nundo ran\ncleanup ran\n`);
    expect(system.calls()).toEqual([]);
    expect(tempFilesIn(dir)).toEqual([]);
  });

  it("fail the step when one fails (nginx -t rejecting the configuration): no reload, on_failure runs", () => {
    const system = fakeSystem(dir);
    fs.writeFileSync(path.join(dir, "nginx-t-fails"), "");
    const r = runScript(libScript('undo() { echo "undo ran"; }\non_failure undo\nnotify daemon-reload "reload nginx"'), { env: system.env });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("changed: systemd re-read its unit files\nundo ran\n");
    expect(r.stderr).toContain("rejected by the test");
    expect(system.calls()).toEqual(["systemctl daemon-reload", "nginx -t -q"]);
  });

  it("do not run when a signal ends the step, which still cleans up", () => {
    const system = fakeSystem(dir);
    const body = `cleanup() { echo "cleanup ran"; }
on_exit cleanup
notify "reload nginx"
temp_file scratch "$DIR"
kill -TERM $$
sleep 5`;
    const r = runScript(libScript(body, { DIR: dir }), { env: system.env });
    expect(r.status).toBe(143);
    expect(r.stdout).toBe("cleanup ran\n");
    expect(system.calls()).toEqual([]);
    expect(tempFilesIn(dir)).toEqual([]);
  });
});

describe("read_credentials", () => {
  const cfg = cfgOf();
  const header = { BUS_USER: cfg.busUser, BUS_URL: `https://${cfg.fqdn}`, PASSWORD_REGEX: HOST_PASSWORD_REGEX, PASSWORD_RULE: HOST_PASSWORD_RULE };
  const read = (input: string, out = "/dev/null") =>
    runScript(libScript(`read_credentials\necho "length \${#BUS_PASS}"\nprintf '%s' "$CREDENTIALS" > "$OUT"`, { ...header, OUT: out }), { input });

  it("takes the credentials env text the contract renders, verbatim, and its password", () => {
    const password = "Ends0With0An0Equals0Sign000=";
    const text = credentialsEnv(cfg, password);
    const out = path.join(dir, "out");
    const r = read(text, out);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("length 28\n");
    expect(fs.readFileSync(out, "utf8")).toBe(text);
  });

  it.each([
    ["nothing", "", "expected the bus credentials env text on stdin"],
    ["a bare password", "Abcdefghijklmnopqrstuvwxyz12\n", "stdin must be the credentials env text for claude at https://claude-bus.example.com"],
    ["another user", credentialsEnv(cfgOf({ busUser: "agent" }), "Abcdefghijklmnopqrstuvwxyz12"), "stdin must be the credentials env text"],
    ["another URL", credentialsEnv(cfgOf({ domain: "example.org" }), "Abcdefghijklmnopqrstuvwxyz12"), "stdin must be the credentials env text"],
    ["no final newline", credentialsEnv(cfg, "Abcdefghijklmnopqrstuvwxyz12").trimEnd(), "stdin must be the credentials env text"],
    [
      "an extra line",
      `${credentialsEnv(cfg, "Abcdefghijklmnopqrstuvwxyz12")}BUS_PASS_PREVIOUS=Abcdefghijklmnopqrstuvwxyz13\n`,
      "stdin must be the credentials env text",
    ],
    ["a password outside the rule", 'BUS_USER=claude\nBUS_PASS=has"quote!secret\nBUS_URL=https://claude-bus.example.com\n', `BUS_PASS ${HOST_PASSWORD_RULE}`],
  ])("refuses %s without echoing a password", (_what, input, message) => {
    const r = read(input);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stdout + r.stderr).not.toMatch(/Abcdefghijklmnopqrstuvwxyz1|quote!secret/);
  });
});

describe("enable_and_start", () => {
  const run = (env: NodeJS.ProcessEnv, reason = "") => runScript(libScript(`enable_and_start timer-x "${reason}"`), { env });

  it("enables and starts a unit once, then changes nothing", () => {
    const system = fakeSystem(dir);
    expect(run(system.env).changes).toEqual(["changed: enabled timer-x", "changed: started timer-x"]);
    fs.writeFileSync(path.join(dir, "active-timer-x"), "");
    expect(run(system.env).changes).toEqual([]);
    expect(system.calls()).toEqual([
      "systemctl is-enabled --quiet timer-x",
      "systemctl enable --quiet timer-x",
      "systemctl is-active --quiet timer-x",
      "systemctl start timer-x",
      "systemctl is-enabled --quiet timer-x",
      "systemctl is-active --quiet timer-x",
    ]);
  });

  it("restarts a running unit only when given a reason, and says it", () => {
    const system = fakeSystem(dir);
    fs.writeFileSync(path.join(dir, "active-timer-x"), "");
    expect(run(system.env, "its new schedule applies").changes).toEqual(["changed: restarted timer-x: its new schedule applies"]);
    expect(system.calls()).toEqual(["systemctl is-enabled --quiet timer-x", "systemctl is-active --quiet timer-x", "systemctl restart timer-x"]);
  });
});
