/** The transfer progress bar: drawn in place on a terminal's stderr, nothing at all elsewhere. */
import { formatBytes } from "../../contract/byteSize";
import type { Io } from "../../cli/io";
import { progressBar } from "../../cli/progressBar";

const io = (status?: (text: string) => void) => ({ status }) as unknown as Io;

it("on a terminal: one line redrawn with the share done and the size, cleared at the end", () => {
  const drawn: string[] = [];
  const bar = progressBar(
    io((text) => drawn.push(text)),
    "uploading build.zip",
  );
  bar.update(0, 4 * 1024 * 1024);
  bar.update(4 * 1024 * 1024, 4 * 1024 * 1024);
  bar.done();
  expect(drawn).toEqual(["uploading build.zip [------------------------] 0% of 4.0 MiB", "uploading build.zip [########################] 100% of 4.0 MiB", ""]);
});

it("a count past the total (a file that grew while it was sent) draws a full bar, never a broken one", () => {
  const drawn: string[] = [];
  const bar = progressBar(
    io((text) => drawn.push(text)),
    "uploading log.txt",
  );
  expect(() => bar.update(2048 + 100, 2048)).not.toThrow();
  expect(drawn).toEqual(["uploading log.txt [########################] 100% of 2.0 KiB"]);
});

it("not on a terminal: nothing is drawn", () => {
  const bar = progressBar(io(), "uploading build.zip");
  expect(() => {
    bar.update(1, 2);
    bar.done();
  }).not.toThrow();
});

it("sizes read at a glance", () => {
  expect([0, 1023, 1024, 1536, 10 * 1024 * 1024 - 1, 35 * 1024 * 1024, 3 * 1024 ** 3].map(formatBytes)).toEqual([
    "0 B",
    "1023 B",
    "1.0 KiB",
    "1.5 KiB",
    "10 MiB",
    "35 MiB",
    "3.0 GiB",
  ]);
});
