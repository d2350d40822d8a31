/**
 * Claims (docs/API.md "Claims"), kept as events in claims.jsonl in the data dir, each fsynced before an
 * answer says it happened: `claimed` (a new claim, or a renewal under the same token), `released` (by its
 * holder, or broken with force, which the event records), and `tokens` (the last token given out, which a
 * compacted file starts with). The fencing token only grows: a new claim takes one more than the last
 * token given out, and every token given out is on disk before its answer, so a restart or a kill -9
 * never hands one out twice. Claims expire by time alone (nothing is written); memory holds the live ones
 * only. The file is rewritten as its live claims once most of it is history: at start (as every event log)
 * and while the bus runs, since claims churn.
 *
 * Requests about one resource are decided one at a time (each on what the one before it wrote); requests
 * about different resources share the log's group commit.
 */
import * as path from "node:path";
import { z } from "zod";
import type { Claim } from "../../contract/claims";
import { ClaimResource, ClaimToken } from "../../contract/claims";
import { MAX_CLAIM_NOTE_CHARS, MAX_CLAIMS_PER_HOLDER, MAX_LIVE_CLAIMS } from "../../contract/defaults";
import { MachineName } from "../../contract/names";
import { writeFileDurably } from "../../contract/durableFile";
import { WakeSets } from "../http/wakeSets";
import type { Log } from "../log";
import type { AppendLog } from "../store/appendLog";
import { openEventLog, snapshotOf } from "../store/eventLog";
import { jsonLine, parseJson } from "../store/jsonl";
import { READABLE_BY_THE_BUS } from "../store/startupFile";

export const CLAIMS_FILE = "claims.jsonl";
/** History lines the file may hold beyond twice its live claims before it is rewritten as them. */
const COMPACTION_SLACK_LINES = 1_024;

const Time = z.number().int().nonnegative();
const EventSchema = z.discriminatedUnion("event", [
  z.strictObject({
    event: z.literal("claimed"),
    resource: ClaimResource,
    holder: MachineName,
    token: ClaimToken,
    claimed: Time,
    expires: Time,
    note: z.string().max(MAX_CLAIM_NOTE_CHARS).optional(),
    time: Time,
  }),
  /** `by`: the name (or "~team") that released it; `forced` when that was not the holder. */
  z.strictObject({ event: z.literal("released"), resource: ClaimResource, token: ClaimToken, by: z.string(), forced: z.literal(true).optional(), time: Time }),
  z.strictObject({ event: z.literal("tokens"), last: z.number().int().nonnegative() }),
]);
type ClaimEvent = z.infer<typeof EventSchema>;

interface Live {
  resource: string;
  holder: string;
  token: number;
  claimed: number;
  expires: number;
  note?: string;
}

/** Why a claim or release cannot be done: the HTTP layer maps `reason` to an answer. */
export class ClaimRefusal extends Error {
  constructor(
    readonly reason: "held" | "full" | "notHolder" | "staleToken",
    message: string,
    /** The claim in the way (held, notHolder, staleToken). */
    readonly claim?: Claim,
  ) {
    super(message);
  }
}

const iso = (time: number) => new Date(time).toISOString();
export const claimView = (c: Live): Claim => ({
  resource: c.resource,
  holder: c.holder,
  token: c.token,
  claimed: iso(c.claimed),
  expires: iso(c.expires),
  ...(c.note !== undefined && { note: c.note }),
});

export class ClaimStore {
  private readonly live = new Map<string, Live>();
  private readonly perHolder = new Map<string, number>();
  /** The last token given out (on disk, or being written). */
  private lastToken = 0;
  /** The earliest time any live claim may expire (a sweep before it finds nothing). */
  private nextExpiry = Infinity;
  private log!: AppendLog;
  private lines = 0;
  private compacting = false;
  private closed = false;
  /** Per resource: the request being decided; the next one waits for it. */
  private readonly busy = new Map<string, Promise<unknown>>();
  /** Per resource: who waits for it to be free. */
  private readonly freed = new WakeSets<string>();

  private constructor(
    private readonly file: string,
    private readonly report: Log,
    private readonly now: () => number,
  ) {}

  /**
   * The claims of a data dir (service/store/eventLog.ts replays, compacts and opens it). A damaged whole
   * line is skipped and logged, and any token it still shows counts: skipping it may free a claim early,
   * never hand out a token twice.
   */
  static async open(dataDir: string, log: Log, now: () => number = Date.now): Promise<ClaimStore> {
    const store = new ClaimStore(path.join(dataDir, CLAIMS_FILE), log, now);
    const remedy = `it holds the claims and the last fencing token: ${READABLE_BY_THE_BUS}; removing it frees every claim and starts tokens from 1 again, which holders that check tokens would refuse`;
    store.log = await openEventLog(
      store.file,
      remedy,
      {
        replay: (text, lineNo) => store.replayLine(text, lineNo),
        replayed: () => store.sweep(),
        stateEvents: () => store.stateEvents(),
      },
      log,
    );
    return store;
  }

  /** Live claims, optionally one holder's or those whose resource starts with `prefix`, by resource. */
  list(filter: { holder?: string; prefix?: string; resource?: string } = {}): Claim[] {
    this.sweep();
    const chosen = filter.resource !== undefined ? [this.live.get(filter.resource)].filter((c) => c !== undefined) : [...this.live.values()];
    return chosen
      .filter((c) => (filter.holder === undefined || c.holder === filter.holder) && (filter.prefix === undefined || c.resource.startsWith(filter.prefix)))
      .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0))
      .map(claimView);
  }

  /** The live claim on `resource`, if any. */
  holderOf(resource: string): Claim | undefined {
    const claim = this.current(resource);
    return claim && claimView(claim);
  }

  /** How many claims are live. */
  get size(): number {
    this.sweep();
    return this.live.size;
  }

  /**
   * Claims `resource` for `holder` for `ttlMs`: a new claim takes the next token (`created`); the holder's
   * own live claim is renewed under its token, its note replaced when a new one is given.
   */
  claim(holder: string, resource: string, ttlMs: number, note?: string): Promise<{ claim: Claim; created: boolean }> {
    return this.oneAtATime(resource, async () => {
      const now = this.now();
      const held = this.current(resource);
      if (held && held.holder !== holder)
        throw new ClaimRefusal("held", `"${resource}" is claimed by "${held.holder}" until ${iso(held.expires)}`, claimView(held));
      if (!held) {
        this.sweep();
        if (this.live.size >= MAX_LIVE_CLAIMS)
          throw new ClaimRefusal("full", `the bus holds ${MAX_LIVE_CLAIMS} live claims, the most it keeps: release some, or wait for some to expire`);
        if ((this.perHolder.get(holder) ?? 0) >= MAX_CLAIMS_PER_HOLDER)
          throw new ClaimRefusal("full", `"${holder}" holds ${MAX_CLAIMS_PER_HOLDER} live claims, the most one holder may: release some first`);
      }
      const kept = note ?? held?.note;
      const event: ClaimEvent = {
        event: "claimed",
        resource,
        holder,
        token: held?.token ?? ++this.lastToken,
        claimed: held?.claimed ?? now,
        expires: now + ttlMs,
        ...(kept !== undefined && { note: kept }),
        time: now,
      };
      await this.append(event);
      return { claim: claimView(this.live.get(resource)!), created: !held };
    });
  }

  /**
   * Releases `resource`. `by` is who asks: the holder releases its own; anyone else only with `force`
   * (the caller checked it may). A `token` that is not the live claim's refuses, so an old holder cannot
   * release a newer claim. A resource that is free already answers `released: false`.
   */
  release(
    by: string,
    resource: string,
    opts: { token?: number; force?: boolean; asHolder?: string },
  ): Promise<{ released: boolean; forced: boolean; claim?: Claim }> {
    return this.oneAtATime(resource, async () => {
      const held = this.current(resource);
      if (!held) return { released: false, forced: false };
      const holder = opts.asHolder ?? by;
      const forced = held.holder !== holder;
      if (forced && !opts.force) {
        throw new ClaimRefusal(
          "notHolder",
          `"${resource}" is claimed by "${held.holder}", not "${holder}": only its holder releases it (the team credential may break it with "force": true)`,
          claimView(held),
        );
      }
      if (opts.token !== undefined && opts.token !== held.token) {
        throw new ClaimRefusal(
          "staleToken",
          `token ${opts.token} is not the live claim's on "${resource}" (${held.token}): that claim ended; nothing was released`,
          claimView(held),
        );
      }
      await this.append({ event: "released", resource, token: held.token, by, ...(forced && { forced: true as const }), time: this.now() });
      return { released: true, forced, claim: claimView(held) };
    });
  }

  /** Calls `wake` once when `resource` is released (or the store closes); returns the cancel function. Expiry is the waiter's own timer. */
  whenReleased(resource: string, wake: () => void): () => void {
    if (this.closed) {
      wake();
      return () => undefined;
    }
    return this.freed.add(resource, wake);
  }

  /** True once the store closes: waiters answer at once. */
  get closing(): boolean {
    return this.closed;
  }

  /** Wakes every waiter (shutdown), lets queued writes finish, and closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    this.freed.wakeAll();
    await Promise.all([...this.busy.values()].map((p) => p.catch(() => undefined)));
    await this.log.close();
  }

  /** claims.jsonl as the events the current state needs (what a backup holds, and compaction writes). */
  snapshot(): string {
    return snapshotOf(this.stateEvents());
  }

  /** The last token, then each live claim. */
  private stateEvents(): ClaimEvent[] {
    this.sweep();
    const events: ClaimEvent[] = [{ event: "tokens", last: this.lastToken }];
    for (const c of this.live.values()) events.push({ event: "claimed", ...c, time: c.claimed });
    return events;
  }

  /** One line of claims.jsonl at start. */
  private replayLine(text: string, lineNo: number): void {
    this.lines++;
    const parsed = EventSchema.safeParse(parseJson(text));
    if (parsed.success) {
      this.apply(parsed.data);
      return;
    }
    const token = Math.max(0, ...[...text.matchAll(/"(?:token|last)":(\d{1,16})/g)].map((m) => Number(m[1])));
    this.lastToken = Math.max(this.lastToken, token);
    this.report({ level: "error", msg: "damaged line kept in place and skipped", file: CLAIMS_FILE, line: lineNo, tokenSeen: token || undefined });
  }

  private current(resource: string): Live | undefined {
    const claim = this.live.get(resource);
    if (claim && claim.expires <= this.now()) {
      this.drop(resource);
      return undefined;
    }
    return claim;
  }

  /** Forgets expired claims (no write: expiry is by time alone), at most once per earliest expiry. */
  private sweep(): void {
    const now = this.now();
    if (now < this.nextExpiry) return;
    this.nextExpiry = Infinity;
    for (const c of [...this.live.values()]) {
      if (c.expires <= now) this.drop(c.resource);
      else this.nextExpiry = Math.min(this.nextExpiry, c.expires);
    }
  }

  private needsCompaction(): boolean {
    return this.lines > 2 * this.live.size + COMPACTION_SLACK_LINES;
  }

  private async append(event: ClaimEvent): Promise<void> {
    await this.log.append(
      () => jsonLine(event),
      () => {
        this.lines++;
        this.apply(event);
      },
    );
    if (this.needsCompaction() && !this.compacting) void this.compact();
  }

  /** Rewrites the file as its live claims, with writes held back meanwhile; a failure keeps the old file. */
  private async compact(): Promise<void> {
    this.compacting = true;
    try {
      await this.log.exclusive(async () => {
        const text = this.snapshot();
        await writeFileDurably(this.file, text, { tempSuffix: ".compact" });
        this.lines = this.live.size + 1;
        return { result: undefined, newLength: Buffer.byteLength(text) };
      });
    } catch (error) {
      this.report({ level: "warn", msg: `${CLAIMS_FILE} not compacted`, error: (error as Error).message });
    } finally {
      this.compacting = false;
    }
  }

  /** One event's effect: the same in replay and when it is first written. */
  private apply(event: ClaimEvent): void {
    switch (event.event) {
      case "tokens":
        this.lastToken = Math.max(this.lastToken, event.last);
        return;
      case "claimed": {
        this.lastToken = Math.max(this.lastToken, event.token);
        if (this.live.has(event.resource)) this.drop(event.resource);
        const { event: _e, time: _t, ...claim } = event;
        this.live.set(event.resource, claim);
        this.perHolder.set(claim.holder, (this.perHolder.get(claim.holder) ?? 0) + 1);
        this.nextExpiry = Math.min(this.nextExpiry, claim.expires);
        return;
      }
      case "released":
        this.lastToken = Math.max(this.lastToken, event.token);
        if (this.live.get(event.resource)?.token === event.token) {
          this.drop(event.resource);
          this.freed.wake(event.resource);
        }
    }
  }

  private drop(resource: string): void {
    const claim = this.live.get(resource);
    if (!claim) return;
    this.live.delete(resource);
    const count = (this.perHolder.get(claim.holder) ?? 1) - 1;
    if (count > 0) this.perHolder.set(claim.holder, count);
    else this.perHolder.delete(claim.holder);
  }

  /** Runs `change` once every earlier change to `resource` has settled (failed ones too). */
  private oneAtATime<T>(resource: string, change: () => Promise<T>): Promise<T> {
    const before = this.busy.get(resource) ?? Promise.resolve();
    const result = before.then(change, change);
    const settled = result.catch(() => undefined);
    this.busy.set(resource, settled);
    void settled.then(() => {
      if (this.busy.get(resource) === settled) this.busy.delete(resource);
    });
    return result;
  }
}
