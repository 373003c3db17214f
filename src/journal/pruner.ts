/**
 * Keeps the monitor's samples for the retention window
 * (nodewarden.journal.retention-hours) and drops older ones. Samples are
 * nearly all of the journal's bytes; everything else — requests, notices,
 * transitions, kills — is kept.
 *
 * Replay must still decide exactly after a cut, so each pass first journals
 * a snapshot of the monitor's state, and a cut is only ever made at such a
 * snapshot: replay carries the monitor on from there. The rows go a slice of
 * about 2 MB at a time, the event loop free in between, so a tick waits at
 * most for one slice.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { NodeCore } from '../core/node-core.js';
import type { Store } from '../store/store.js';

/** Rows go in slices of about this many bytes (a slice is one transaction on the event loop). */
const SLICE_BYTES = 2 * 1024 * 1024;
const MAX_SLICE_ROWS = 500;
const HOUR_MS = 3_600_000;

export interface JournalPrunerOptions {
  store: Store;
  core: Pick<NodeCore, 'snapshotMonitor'>;
  clock: Clock;
  log: Logger;
  retentionHours: number;
}

export class JournalPruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private closed = false;
  /** How often a pass runs: samples are kept between one and 1.25 windows. */
  readonly intervalMs: number;

  constructor(private readonly opts: JournalPrunerOptions) {
    this.intervalMs = Math.max(1, Math.min((opts.retentionHours * HOUR_MS) / 4, HOUR_MS));
  }

  start(): void {
    this.timer = setInterval(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }

  /** One pass: a snapshot now, then every sample older than the window, up to the newest snapshot in it. Resolves to rows deleted. */
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
    const { store, core, clock, log, retentionHours } = this.opts;
    const now = clock.now();
    core.snapshotMonitor(now);
    const cut = store.snapshotBefore(now - retentionHours * HOUR_MS);
    if (cut === null) return 0;
    let deleted = 0;
    try {
      // A tick holds every monitored tree: with many containers a few rows are megabytes.
      const slice = Math.max(1, Math.min(MAX_SLICE_ROWS, Math.floor(SLICE_BYTES / Math.max(1, store.lastTickBytes()))));
      for (;;) {
        await new Promise((resolve) => setImmediate(resolve));
        if (this.closed) break;
        const n = store.pruneSamples(cut.seq, slice);
        deleted += n;
        if (n < slice) break;
      }
    } catch (err) {
      log.error({ err }, 'pruning the journal failed; it is tried again next pass');
      return deleted;
    }
    if (deleted > 0) log.info({ deleted, samplesFrom: cut.seq, retentionHours }, `journal: pruned ${deleted} monitor sample record(s) older than ${retentionHours} h`);
    return deleted;
  }
}
