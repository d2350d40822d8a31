/**
 * One-shot wake functions by key, for long-polls that wait for one event (a claim released, a reader's
 * ack): `add` returns the cancel a waiter calls when it ends another way, `wake` calls a key's once.
 */
import { getOrCreate } from "../../contract/maps";

export class WakeSets<Key> {
  private readonly byKey = new Map<Key, Set<() => void>>();

  add(key: Key, wake: () => void): () => void {
    const set = getOrCreate(this.byKey, key, () => new Set<() => void>());
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
    };
  }

  wake(key: Key): void {
    const set = this.byKey.get(key);
    this.byKey.delete(key);
    for (const wake of set ?? []) wake();
  }

  /** Wakes every waiter (at shutdown: they answer what they have). */
  wakeAll(): void {
    for (const key of [...this.byKey.keys()]) this.wake(key);
  }
}
