/**
 * docs/API.md's curl lines work, and the README's summary of them: each ```sh block, verbatim, against the
 * real bus, with the env file sourced as the documents say (ids 41-43 exist, ME has unread messages, LAST=0),
 * in a directory that holds the files the examples send (build.zip, dataset.tar).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { startBus, type TestBus } from "../support/bus";
import { PASS, postJson, USER } from "../support/http";
import { requireTool } from "../support/requireTool";
import { tempDir } from "../support/tempDir";

const read = (file: string) => fs.readFileSync(path.join(__dirname, "../..", file), "utf8");
const shBlocks = (text: string) => [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).filter((block) => block.includes("curl "));
const readme = read("README.md");
const summary = readme.slice(readme.indexOf("### Beyond the team page's four routes"), readme.indexOf("### Storage"));
const blocks = [
  ...shBlocks(read("docs/API.md")),
  ...shBlocks(summary).map((b) => b.replace(/^source ~\/.secrets\/claude-bus.env; ME=\$\(hostname -s\); LAST=0\n/, "")),
];

let bus: TestBus;
let envFile: string;
beforeAll(async () => {
  requireTool("curl");
  requireTool("jq");
  // The documents' ntfy topic is on the internet, which a test never reaches: this bus sends no notification.
  bus = await startBus({ notify: { concurrency: 0 } });
  for (let i = 1; i <= 45; i++)
    await postJson(bus.url, "/post", { from: "ccwhitebee", to: i % 2 ? "doc-reader" : "any", body: `message ${i}`, tags: ["build"] });
  envFile = path.join(tempDir("home"), "claude-bus.env");
  fs.writeFileSync(envFile, `BUS_USER=${USER}\nBUS_PASS=${PASS}\nBUS_URL=${bus.url}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(path.dirname(envFile), "build.zip"), randomBytes(200_000));
  fs.writeFileSync(path.join(path.dirname(envFile), "dataset.tar"), randomBytes(2_500_000));
});
afterAll(() => bus.close());

it("has curl examples for every route", () => {
  for (const route of [
    "/live",
    "/health",
    "/post",
    "/messages",
    "/ack/",
    '/ack"',
    "/machines",
    "wait=",
    "thread=",
    "Idempotency-Key",
    "/invites",
    "/enroll",
    "/files?name=",
    "-X PUT",
    "Content-Range",
    "/files/$SHA",
    "-C -",
    "/session",
    "/session/enroll",
    "?q=",
    "/settings/notify",
    '/claims"',
    "/claims/release",
    "claims?resource=",
    "/receipt?",
  ]) {
    expect([route, blocks.some((b) => b.includes(route))]).toEqual([route, true]);
  }
});

/** bash with the bus in this same process: asynchronously, so the bus can answer. */
const bash = (script: string) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      "bash",
      ["-c", script],
      { env: { PATH: process.env.PATH, HOME: path.dirname(envFile) }, cwd: path.dirname(envFile), timeout: 20_000 },
      (error, stdout, stderr) => resolve({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });

it.each(blocks.map((block, i) => [i + 1, block]))("block %i runs as written and every answer is JSON, none an error", async (_n, block) => {
  const run = await bash(`set -e\nsource "${envFile}"\nME=doc-reader\nLAST=0\n${block}`);
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  const answers = run.stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"));
  for (const answer of answers) expect(JSON.parse(answer)).not.toHaveProperty("error");
  expect(run.stdout.trim()).not.toBe("");
});
