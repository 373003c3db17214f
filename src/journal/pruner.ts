/**
 * Keeps the journal to its retention window (nodewarden.journal.retention-hours),
 * so the database stops growing once the window is full: each pass journals a
 * checkpoint (everything the core decides from), then deletes every record
 * — inputs, samples, transitions and kills alike — before the newest
 * checkpoint older than the window. Replay and export start at that
 * checkpoint as they would at a daemon start. Freed pages are reused by
 * SQLite, and the WAL is checkpointed after each pass.
 *
 * The rows go a slice of about 2 MB at a time, oldest first, the event loop
 * free in between, so a tick waits at most for one slice; a crash between
 * slices leaves every record from the cut on, and the mark of where the
 * journal starts.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Store } from '../store/store.js';

/** Rows go in slices of about this many bytes (a slice is one transaction on the event loop). */
const SLICE_BYTES = 2 * 1024 * 1024;
const MAX_SLICE_ROWS = 500;
const HOUR_MS = 3_600_000;

export interface JournalPrunerOptions {
  store: Store;
  /** Journal a checkpoint now (staged with the next group commit). */
  checkpoint: (ts: number) => void;
  /** Whether the database cannot commit right now: no checkpoint is staged, nothing pruned. */
  storeFaulted: () => boolean;
  clock: Clock;
  log: Logger;
  retentionHours: number;
  /** nodewarden.journal.prune-interval-ms; 0: a quarter of the window, at most an hour. */
  intervalMs: number;
}

/** How often a pass runs: records are kept for the window plus at most one interval. */
export function pruneInterval(retentionHours: number, intervalMs: number): number {
  return intervalMs > 0 ? intervalMs : Math.max(1, Math.min((retentionHours * HOUR_MS) / 4, HOUR_MS));
}

export class JournalPruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private closed = false;
  readonly intervalMs: number;

  constructor(private readonly opts: JournalPrunerOptions) {
    this.intervalMs = pruneInterval(opts.retentionHours, opts.intervalMs);
  }

  start(): void {
    this.timer = setInterval(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }

  /** One pass: a checkpoint now, then every record before the newest checkpoint older than the window. Resolves to rows deleted. */
  run(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<number> {
    const { store, clock, log, retentionHours } = this.opts;
    // During a store fault a checkpoint would only wait, staged, with the rest: the next pass makes one.
    if (this.opts.storeFaulted()) return 0;
    const now = clock.now();
    let deleted = 0;
    let cut: { seq: number; ts: number } | null = null;
    try {
      this.opts.checkpoint(now);
      cut = store.checkpointBefore(now - retentionHours * HOUR_MS);
      // Nearly every row is a tick, which holds every monitored tree: with many containers a few are megabytes.
      // (A checkpoint, one a pass, may be bigger: a slice holds at most a couple.)
      const slice = Math.max(1, Math.min(MAX_SLICE_ROWS, Math.floor(SLICE_BYTES / Math.max(1, store.lastTickBytes()))));
      while (cut !== null) {
        await new Promise((resolve) => setImmediate(resolve));
        if (this.closed) break;
        const n = store.pruneBefore(cut.seq, slice);
        deleted += n;
        // Each table gives at most a slice: fewer in all means both are done.
        if (n < slice) break;
      }
    } catch (err) {
      log.error({ err }, 'pruning the journal failed; it is tried again next pass');
      return deleted;
    }
    try {
      store.checkpointWal();
    } catch (err) {
      log.warn({ err }, 'checkpointing the WAL failed; SQLite checkpoints it by itself as it grows');
    }
    if (cut !== null && deleted > 0) {
      log.info({ deleted, from: cut.seq, retentionHours }, `journal: pruned ${deleted} record(s) older than ${retentionHours} h; it starts at the checkpoint at seq ${cut.seq}`);
    }
    return deleted;
  }
}
