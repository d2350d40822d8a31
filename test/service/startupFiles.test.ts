/**
 * Every file the bus reads at start, damaged or unreadable: the start stops with an error that names the
 * file and says what to do (issue 19: a damaged compacted.json said only `Unexpected end of JSON input`).
 * Unreadable is a directory where the file should be (EISDIR): the tests run as root, whom no mode stops.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { startBus as startRealBus } from "../../service/http/server";
import { PASS, USER } from "../support/http";
import { startBus } from "../support/bus";
import { tempDir } from "../support/tempDir";

/** A data dir a bus ran on, with every start-up file present (those it did not write, written as it would). */
async function usedDataDir(): Promise<string> {
  const bus = await startBus();
  const dataDir = bus.dataDir;
  await bus.close();
  for (const [name, text] of [
    ["bus.jsonl", '{"id":"1","ts":"2026-01-01T00:00:00.000Z","from":"a","to":"any","body":"x"}\n'],
    ["acks.jsonl", ""],
    ["presence.json", "{}\n"],
    ["machines.jsonl", ""],
    ["files.jsonl", ""],
    ["claims.jsonl", ""],
    ["compacted.json", '{"first_id":1}\n'],
  ]) {
    if (!fs.existsSync(path.join(dataDir, name))) fs.writeFileSync(path.join(dataDir, name), text);
  }
  return dataDir;
}

const start = (dataDir: string) => startBus({ dataDir });

describe("a start-up file the bus cannot use", () => {
  it("compacted.json cut short: names the file and what to do, not only the parser's words", async () => {
    const dataDir = await usedDataDir();
    const file = path.join(dataDir, "compacted.json");
    fs.writeFileSync(file, '{"first_id": ');
    await expect(start(dataDir)).rejects.toThrow(
      `${file} is not valid JSON (Unexpected end of JSON input): it says which message id bus.jsonl starts at: make it readable by the user the bus runs as (on the host: chown claude-bus), or write it again as {"first_id": N} with N the id on the first line of bus.jsonl, or restore the data dir from a backup (claude-bus restore)`,
    );
    fs.writeFileSync(file, '{"first_id": 0}\n');
    await expect(start(dataDir)).rejects.toThrow(`${file} does not hold {"first_id": N} with N a whole number from 1: it says which message id`);
    fs.writeFileSync(file, '{"first_id": 1}\n');
    const bus = await start(dataDir);
    await bus.close();
  });

  it.each([
    ["compacted.json", "it says which message id bus.jsonl starts at"],
    ["bus.jsonl", "it holds the bus's messages or acks"],
    ["acks.jsonl", "it holds the bus's messages or acks"],
    ["presence.json", "it holds only when each machine was last seen"],
    ["machines.jsonl", "it holds the machines' own credentials"],
    ["files.jsonl", "it says which attached files the bus holds"],
    ["claims.jsonl", "it holds the claims and the last fencing token"],
  ])("%s unreadable: names the file, the error and what to do", async (name, remedy) => {
    const dataDir = await usedDataDir();
    const file = path.join(dataDir, name);
    fs.rmSync(file);
    fs.mkdirSync(file);
    await expect(start(dataDir)).rejects.toThrow(`${file} cannot be read (EISDIR: illegal operation on a directory): ${remedy}`);
  });

  it("the credentials file missing or without its lines: names it and what to do", async () => {
    const file = path.join(tempDir("credentials"), "credentials.env");
    const startWith = () => startRealBus({ port: 0, dataDir: tempDir("data"), credentials: { file }, log: () => {} });
    await expect(startWith()).rejects.toThrow(
      `${file} cannot be read (ENOENT: no such file or directory): it holds the team credential, the lines BUS_USER=... and BUS_PASS=...: make it readable by the user the bus runs as`,
    );
    fs.writeFileSync(file, `BUS_USER=${USER}\n`);
    await expect(startWith()).rejects.toThrow(`${file} needs BUS_USER and BUS_PASS: it holds the team credential`);
    fs.writeFileSync(file, `BUS_USER=${USER}\nBUS_PASS=${PASS}\n`);
    await (await startWith()).close();
  });
});
