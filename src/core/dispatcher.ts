/**
 * The live shell around the NodeCore: every record and row the core puts out
 * is staged, and committed together once per turn of the event loop (group
 * commit); the effects a batch asked for are emitted on the bus only after
 * that batch is committed — persist before acting.
 *
 *   input → NodeCore (journal record, machines, pure) → staged → group commit → effects out
 *
 * When the database cannot commit (disk full, read-only, I/O error) the node
 * is in a store fault until a retry succeeds: nothing is lost (the batch
 * stays staged and is retried every second), new launches are refused with
 * 503 (see NodeWarden.launch), and the effects that only stop or watch
 * something — signals to a container being killed, start and stop of
 * monitoring — run at once instead of waiting: a runaway tree is killed on a
 * full disk too. Spawns, relaunches and pauses wait for the commit, as ever.
 * A crash before the commit loses only decisions nobody was told of; the
 * recovery of the next start reads what the kill left (the exit-code file).
 */
import type { Logger } from 'pino';
import type { HostFacts, MonitorEvent, MonitorKill } from '../../state-machines/containers-monitor.js';
import type { ContainerEffect } from '../../state-machines/types.js';
import type { Bus } from '../bus.js';
import type { Config } from '../config/types.js';
import type { InputRecord, OutputRecord } from '../journal/records.js';
import { hostFacts } from '../procfs/host-facts.js';
import type { ContainerRow, TransitionRow } from '../store/rows.js';
import type { Store } from '../store/store.js';
import { unavailable, type NodewardenError } from './errors.js';
import { NodeCore } from './node-core.js';

export { allocationOf, killable, stateAccepts, stateIgnores, type ContainerEntry } from './node-core.js';

/** Effects that stop or watch what already runs: safe to perform before they are durable (they start nothing). */
const RUN_DURING_STORE_FAULT: ReadonlySet<ContainerEffect['type']> = new Set([
  'CLEANUP_CONTAINER',
  'CLEANUP_CONTAINER_RESOURCES',
  'START_MONITORING',
  'STOP_MONITORING',
]);

/** Monitor samples kept staged during a store fault before they collapse into a snapshot. */
const MAX_STAGED_SAMPLES = 8;

/** A failed commit is tried again after 1 s, then twice as long each time, up to 15 s. */
const STORE_RETRY_MS = 1000;
const STORE_RETRY_MAX_MS = 15_000;

/** Why the database cannot commit, since when (ms). */
export interface StoreFault {
  code: string;
  message: string;
  since: number;
}

export interface DispatcherOptions {
  /** This boot's id, stamped on every pid recorded (null: unknown). */
  bootId?: string | null;
  /** Default: this machine's. */
  host?: HostFacts;
}

export class Dispatcher extends NodeCore {
  private effects: Array<{ id: string; effect: ContainerEffect }> = [];
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  /** The group commit of this turn of the event loop. */
  private flushImmediate: NodeJS.Immediate | null = null;
  /** A commit that failed is tried again after a pause. */
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private fault: StoreFault | null = null;
  private retryMs = STORE_RETRY_MS;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    config: Config,
    log: Logger,
    opts: DispatcherOptions = {},
  ) {
    super({ config, log, host: opts.host ?? hostFacts(), bootId: opts.bootId ?? null });
  }

  /** Resolves once everything dispatched so far is committed. */
  durable(): Promise<void> {
    if (!this.store.hasStaged()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * Shutdown: commit what was decided, but start nothing new. Effects not yet
   * run (a launch, a kill) stay recorded — the launch marker, the KILLING
   * state — for recovery to finish on the next start.
   */
  close(): void {
    this.closed = true;
    this.cancelTimers();
    if (this.effects.length > 0) this.log.info({ effects: this.effects.length }, 'shutting down: pending effects left to recovery');
    this.effects = [];
    if (this.store.hasStaged()) this.flush();
  }

  /** Why commits fail right now (null: the database is writable). */
  get storeFault(): StoreFault | null {
    return this.fault;
  }

  /**
   * During a store fault every tick is staged until the database commits
   * again: past a few, they collapse into a snapshot of the monitor (the
   * store's collapseStagedSamples), so a fault of hours holds a bounded
   * batch and each retry inserts only that.
   */
  override monitor(event: MonitorEvent): MonitorKill[] {
    if (this.fault !== null && (event.type === 'TICK' || event.type === 'LOG_TICK') && this.store.stagedSamples() >= MAX_STAGED_SAMPLES) {
      this.snapshotMonitor(event.ts);
      this.store.collapseStagedSamples();
    }
    return super.monitor(event);
  }

  protected nextSeq(): number {
    return this.store.nextSeq();
  }

  protected record(record: InputRecord | OutputRecord): void {
    this.store.stageRecord(record);
  }

  protected row(row: ContainerRow, isNew: boolean): void {
    this.store.stageContainer(row, isNew);
  }

  protected override forgotten(id: string): void {
    this.store.stageForget(id);
  }

  protected effect(id: string, effect: ContainerEffect): void {
    this.effects.push({ id, effect });
  }

  protected drained(): void {
    if (this.closed) return;
    // During a store fault the batch waits for the retry, but a kill does not.
    if (this.fault) this.flushImmediate ??= setImmediate(() => this.runSafeEffects());
    if (this.flushImmediate || this.retryTimer) return;
    this.flushImmediate = setImmediate(() => this.flush());
  }

  private cancelTimers(): void {
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.flushImmediate = null;
    this.retryTimer = null;
  }

  private flush(): void {
    this.cancelTimers();
    const waiters = this.waiters;
    this.waiters = [];
    let committed: TransitionRow[];
    try {
      committed = this.store.commit();
    } catch (err) {
      // Nothing of this batch is durable: it stays staged and is tried again.
      // The requesters hear 503; their request takes effect once it commits.
      const unavailable = this.storeFailed(err as Error);
      for (const w of waiters) w.reject(unavailable);
      this.runSafeEffects();
      if (!this.closed) this.retryTimer = setTimeout(() => this.flush(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, STORE_RETRY_MAX_MS);
      return;
    }
    this.retryMs = STORE_RETRY_MS;
    if (this.fault) {
      this.log.info({ failedForMs: Date.now() - this.fault.since }, 'the database commits again: launches accepted, held effects run');
      this.fault = null;
    }
    const effects = this.effects;
    this.effects = [];
    for (const w of waiters) w.resolve();
    // Observers hear of the transitions before their effects run; the bus
    // guards every subscriber, so none of them can stop the effects.
    if (committed.length > 0) this.bus.emit('transitions', committed);
    for (const e of effects) this.bus.emit('effect', e);
  }

  /** Enter (or stay in) the store fault; the error each waiting request is answered with. */
  private storeFailed(err: Error): NodewardenError {
    const code = (err as { code?: unknown }).code;
    const fault = { code: typeof code === 'string' ? code : 'UNKNOWN', message: err.message };
    if (this.fault === null) {
      this.fault = { ...fault, since: Date.now() };
      this.log.error(
        { err },
        `the database cannot commit (${fault.code}: ${fault.message}): new launches are refused, kills and monitoring go on; retrying (every ${STORE_RETRY_MS / 1000} s at first, then up to ${STORE_RETRY_MAX_MS / 1000} s)`,
      );
    } else {
      this.fault = { ...fault, since: this.fault.since };
      this.log.debug({ code: fault.code }, 'the database still cannot commit');
    }
    return storeUnavailable(this.fault, 'the request is not durable yet; it takes effect once the database commits again');
  }

  /** During a store fault: perform the effects that start nothing now; the rest wait for the commit. */
  private runSafeEffects(): void {
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    this.flushImmediate = null;
    const held: typeof this.effects = [];
    const now: typeof this.effects = [];
    for (const e of this.effects) (RUN_DURING_STORE_FAULT.has(e.effect.type) ? now : held).push(e);
    this.effects = held;
    for (const e of now) this.bus.emit('effect', e);
  }
}

/** 503: the database cannot commit; `what` says what became of the request. */
export function storeUnavailable(fault: StoreFault, what: string): NodewardenError {
  return unavailable(
    'STORE_UNAVAILABLE',
    `the database cannot be written (${fault.code}: ${fault.message}) since ${new Date(fault.since).toISOString()}; ${what}. ` +
      `${remedy(fault.code)}: nodewarden retries by itself.`,
  );
}

/** What the operator can do about a commit error, by its SQLite code. */
function remedy(code: string): string {
  if (code === 'SQLITE_FULL') return 'Free space on its file system';
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) {
    return 'Make the database file, its -wal file and its directory writable (and check the disk)';
  }
  return 'See the daemon\'s log for the error';
}
