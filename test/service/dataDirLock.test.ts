/** One bus per data dir: a second one is refused before it touches anything, and a dead holder's lock is free again. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { DataDirLockedError, lockDataDir, LOCK_FILE } from "../../service/dataDir/dataDirLock";
import { startBus } from "../support/bus";
import { postJson } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

describe("the data dir lock", () => {
  it("refuses a second bus on the same dir, naming the dir and the holder's pid, and changes nothing", async () => {
    const first = await startBus();
    try {
      for (const body of ["one", "two", "three"]) expect((await postJson(first.url, "/post", { from: "a", body })).status).toBe(201);
      const file = path.join(first.dataDir, "bus.jsonl");
      const before = { text: fs.readFileSync(file, "utf8"), mtime: fs.statSync(file).mtimeMs, entries: fs.readdirSync(first.dataDir).sort() };

      const second = startBus({ dataDir: first.dataDir });
      await expect(second).rejects.toThrow(new DataDirLockedError(first.dataDir, String(process.pid)).message);
      await expect(second).rejects.toThrow(`data dir ${first.dataDir} is in use by another claude-bus (pid ${process.pid})`);

      expect({ text: fs.readFileSync(file, "utf8"), mtime: fs.statSync(file).mtimeMs, entries: fs.readdirSync(first.dataDir).sort() }).toEqual(before);
      expect((await postJson(first.url, "/post", { from: "a", body: "four" })).json.id).toBe("4");
    } finally {
      await first.close();
    }
    const again = await startBus({ dataDir: first.dataDir });
    await again.close();
  });

  it("is no file in the dir on Linux, so a read-only data dir can still be locked", async () => {
    const dir = tempDir("lock");
    const lock = await lockDataDir(dir, "linux");
    try {
      expect(fs.readdirSync(dir)).toEqual([]);
      await expect(lockDataDir(dir, "linux")).rejects.toThrow(DataDirLockedError);
    } finally {
      await lock.release();
    }
    await (await lockDataDir(dir, "linux")).release();
  });

  describe("as a socket file, where there is no abstract namespace", () => {
    it("is exclusive while held and free once released", async () => {
      const dir = tempDir("lock");
      const lock = await lockDataDir(dir, "darwin");
      expect(fs.readdirSync(dir)).toEqual([LOCK_FILE]);
      await expect(lockDataDir(dir, "darwin")).rejects.toThrow(`(pid ${process.pid})`);
      await lock.release();
      await (await lockDataDir(dir, "darwin")).release();
    });

    it("replaces the file a kill -9'd holder left behind", async () => {
      const dir = tempDir("lock");
      const file = path.join(dir, LOCK_FILE);
      const holder = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(file)}, () => console.log("held"))`], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      holder.stdout.on("data", (d) => (out += d));
      await waitFor("the holder to listen", () => out.includes("held"));
      await expect(lockDataDir(dir, "darwin")).rejects.toThrow(DataDirLockedError);
      const exited = new Promise((resolve) => holder.on("exit", resolve));
      holder.kill("SIGKILL");
      await exited;
      expect(fs.existsSync(file)).toBe(true); // the dead holder's socket file is still there

      const lock = await lockDataDir(dir, "darwin");
      expect(fs.readdirSync(dir)).toEqual([LOCK_FILE]);
      await lock.release();
    });
  });
});
