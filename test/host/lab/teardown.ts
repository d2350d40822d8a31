/**
 * Teardown registry: every resource the lab creates registers a synchronous undo here, so it runs from
 * afterAll, and also when the test process exits or is interrupted before afterAll got its chance.
 */
const undos: Array<{ what: string; fn: () => void }> = [];
let hooked = false;

export function onTeardown(what: string, fn: () => void): void {
  undos.push({ what, fn });
  if (hooked) return;
  hooked = true;
  process.once("exit", runTeardown);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      runTeardown();
      process.exit(130);
    });
  }
}

/** Runs every registered undo, newest first, once each; errors are reported and do not stop the rest. */
export function runTeardown(): void {
  while (undos.length) {
    const { what, fn } = undos.pop()!;
    try {
      fn();
    } catch (e) {
      process.stderr.write(`lab teardown: ${what} failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
}
