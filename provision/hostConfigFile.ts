/** A host config JSON file (provision/host.example.json is one), read and validated. */
import * as fs from "node:fs";
import { type HostConfig, parseHostConfig } from "./config";

/** Reads and validates a host config JSON file; errors name the file and the bad key. */
export function loadHostConfigFile(file: string): HostConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`--config ${file}: ${(err as Error).message}`);
  }
  try {
    return parseHostConfig(raw);
  } catch (err) {
    throw new Error(`--config ${file}: ${(err as Error).message}`);
  }
}
