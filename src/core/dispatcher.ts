/**
 * The live shell around the NodeCore: every record and row the core puts out
 * is staged, and committed together once per turn of the event loop (group
 * commit); the effects a batch asked for are emitted on the bus only after
 * that batch is committed — persist before acting.
 *
 *   input → NodeCore (journal record, machines, pure) → staged → group commit → effects out
 */
import type { Logger } from 'pino';
import type { HostFacts } from '../../state-machines/containers-monitor.js';
import type { ContainerEffect } from '../../state-machines/types.js';
import type { Bus } from '../bus.js';
import type { Config } from '../config/types.js';
import type { InputRecord, OutputRecord } from '../journal/records.js';
import { hostFacts } from '../procfs/host-facts.js';
import type { ContainerRow, Store, TransitionRow } from '../store/store.js';
import { NodewardenError } from './errors.js';
import { NodeCore } from './node-core.js';

export { allocationOf, killable, stateAccepts, stateIgnores, type ContainerEntry } from './node-core.js';

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

  protected nextSeq(): number {
    return this.store.nextSeq();
  }

  protected record(record: InputRecord | OutputRecord): void {
    this.store.stageRecord(record);
  }

  protected row(row: ContainerRow, isNew: boolean): void {
    this.store.stageContainer(row, isNew);
  }

  protected effect(id: string, effect: ContainerEffect): void {
    this.effects.push({ id, effect });
  }

  protected drained(): void {
    if (this.flushImmediate || this.retryTimer || this.closed) return;
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
      // Nothing of this batch is durable, so none of its effects run: they
      // wait, the rows stay staged, and the commit is tried again. The
      // requesters hear 503: their request may still take effect then.
      this.log.error({ err }, 'commit failed: effects held back until the batch is durable; retrying in 1 s');
      const unavailable = new NodewardenError(
        503,
        'STORE_UNAVAILABLE',
        `the database could not commit (${(err as Error).message}); the request is not durable yet and may take effect once the database recovers`,
      );
      for (const w of waiters) w.reject(unavailable);
      if (!this.closed) this.retryTimer = setTimeout(() => this.flush(), 1000);
      return;
    }
    const effects = this.effects;
    this.effects = [];
    for (const w of waiters) w.resolve();
    // Observers hear of the transitions before their effects run; the bus
    // guards every subscriber, so none of them can stop the effects.
    if (committed.length > 0) this.bus.emit('transitions', committed);
    for (const e of effects) this.bus.emit('effect', e);
  }
}
