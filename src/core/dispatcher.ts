/**
 * The one dispatch path every container event takes:
 *
 *   event in → machine transition (pure) → rows staged → group commit → effects out
 *
 * Events are processed run-to-completion from a queue, so an event caused by
 * another (a scheduler's kill to make room) is handled after it, in order.
 * The ContainerScheduler is part of this pure core: SCHEDULE_CONTAINER and
 * CONTAINER_COMPLETED are answered here, and its launch decisions are staged
 * as a durable launch marker in the same batch. Everything else a transition
 * asks for is emitted on the bus as an `effect`, and only after the batch that
 * holds the transition is committed: persist before acting.
 */
import type { Logger } from 'pino';
import { ContainerActor } from '../../state-machines/container-actor.js';
import { containerMachine } from '../../state-machines/container-machine.js';
import { ContainerScheduler, type Allocation, type SchedulerDecision } from '../../state-machines/container-scheduler.js';
import type { ContainerEffect, ContainerEvent, ContainerEventType, ContainerSpec, ContainerState } from '../../state-machines/types.js';
import type { Bus } from '../bus.js';
import type { Config } from '../config/types.js';
import { NodewardenError } from './errors.js';
import { contextFromRow, rowFromContext, type ContainerRow, type Store, type TransitionRow } from '../store/store.js';

export interface ContainerEntry {
  readonly spec: ContainerSpec;
  readonly actor: ContainerActor;
  /** Logger with the container id on every line. */
  readonly log: Logger;
  readonly createdAt: number;
  updatedAt: number;
  /** Launches decided (the durable launch marker); ahead of actor.context.attempt while one is under way. */
  launchAttempt: number;
  /** The boot id when the machine's pid was recorded (null: unknown). */
  pidBootId: string | null;
}

/** A container's entry, its logger made on first use (most containers never log past INFO transitions). */
class Entry implements ContainerEntry {
  private logger: Logger | undefined;
  constructor(
    readonly spec: ContainerSpec,
    readonly actor: ContainerActor,
    private readonly parentLog: Logger,
    readonly createdAt: number,
    public updatedAt: number,
    public launchAttempt: number,
    public pidBootId: string | null,
  ) {}

  get log(): Logger {
    return (this.logger ??= this.parentLog.child({ container: this.spec.id }));
  }
}

interface Queued {
  id: string;
  event: ContainerEvent;
}

/** What a container takes from the node: its request plus the executor allowance. */
export function allocationOf(spec: ContainerSpec, config: Config): Allocation {
  return {
    memoryMb: spec.resources.memoryMb + config.allowance.memoryMb,
    milliVcores: spec.resources.vcores * 1000 + Math.round(config.allowance.cpus * 1000),
  };
}

/** Whether a state has a row for an event type (the table in container-machine.ts is the only source). */
export function stateAccepts(state: ContainerState, type: ContainerEventType): boolean {
  if (type === 'UPDATE_DIAGNOSTICS_MSG') return true;
  const node = containerMachine.config.states?.[state] as { on?: Record<string, unknown> } | undefined;
  return node?.on !== undefined && type in node.on;
}

/** Whether the state takes the event as a no-op row (YARN's "self" transitions of finished states, e.g. a late kill). */
export function stateIgnores(state: ContainerState, type: ContainerEventType): boolean {
  const node = containerMachine.config.states?.[state] as { on?: Record<string, unknown> } | undefined;
  const row = node?.on?.[type];
  return typeof row === 'object' && row !== null && Object.keys(row).length === 0;
}

/** Whether a kill would still stop something in this state (a row for it, and not a no-op one). */
export function killable(state: ContainerState): boolean {
  return stateAccepts(state, 'KILL_CONTAINER') && !stateIgnores(state, 'KILL_CONTAINER');
}

export class Dispatcher {
  readonly scheduler: ContainerScheduler;
  private readonly entries = new Map<string, ContainerEntry>();
  private readonly queue: Queued[] = [];
  private draining = false;
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
    private readonly config: Config,
    private readonly log: Logger,
    /** This boot's id, stamped on every pid recorded (null: unknown). */
    private readonly bootId: string | null = null,
  ) {
    this.scheduler = new ContainerScheduler(
      { memoryMb: config.node.memoryMb, milliVcores: config.node.vcores * 1000 },
      config.opportunisticQueueLength,
    );
  }

  get(id: string): ContainerEntry | undefined {
    return this.entries.get(id);
  }

  all(): IterableIterator<ContainerEntry> {
    return this.entries.values();
  }

  /** A new container: its row is staged with the INIT_CONTAINER that starts it. */
  add(spec: ContainerSpec, ts: number): ContainerEntry {
    const actor = new ContainerActor({ spec, diagnosticsMaxSize: this.config.diagnosticsMaxSize });
    const entry = new Entry(spec, actor, this.log, ts, ts, 0, null);
    this.entries.set(spec.id, entry);
    this.stageRow(entry, true);
    this.dispatch(spec.id, { type: 'INIT_CONTAINER', ts });
    return entry;
  }

  /** A container read back from the store: its machine resumes in the state it was written in. */
  restore(row: ContainerRow): ContainerEntry {
    const actor = new ContainerActor(
      { spec: row.spec, diagnosticsMaxSize: this.config.diagnosticsMaxSize },
      { state: row.state, context: contextFromRow(row, this.config.diagnosticsMaxSize) },
    );
    const entry = new Entry(row.spec, actor, this.log, row.createdAt, row.updatedAt, row.launchAttempt, row.pidBootId);
    this.entries.set(row.id, entry);
    return entry;
  }

  /** Feed an event to a container's machine. Its effects run once the transition is durable. */
  dispatch(id: string, event: ContainerEvent): void {
    this.queue.push({ id, event });
    this.drain();
  }

  /**
   * Recovery: an effect a restored state still owes, handled as if the
   * transition that asked for it had just been committed — the scheduler
   * answers its own, the rest run after the next commit.
   */
  owe(id: string, effect: ContainerEffect, ts: number): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.route(entry, effect, ts);
    this.drain();
  }

  /** KILL_CONTAINER to each of `entries` that a kill can still stop; how many were sent. */
  killAll(entries: Iterable<ContainerEntry>, kill: { ts: number; exitStatus: number; diagnostics: string }): number {
    let killed = 0;
    for (const e of [...entries]) {
      if (!killable(e.actor.state)) continue;
      this.dispatch(e.spec.id, { type: 'KILL_CONTAINER', ...kill });
      killed++;
    }
    return killed;
  }

  /** Process queued events (one caused by another is handled after it), then commit at the end of the turn. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) this.step(next);
    } finally {
      this.draining = false;
    }
    this.scheduleFlush();
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

  private cancelTimers(): void {
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.flushImmediate = null;
    this.retryTimer = null;
  }

  private step({ id, event }: Queued): void {
    const entry = this.entries.get(id);
    if (!entry) {
      this.log.warn({ container: id, event: event.type }, 'event for an unknown container ignored');
      return;
    }
    const pidBefore = entry.actor.context.pid;
    const { from, to, handled, effects } = entry.actor.step(event);
    if (!handled) {
      // YARN: "Can't handle this event at current state" — logged, never thrown.
      entry.log.warn({ state: from, event: event.type }, `event ${event.type} ignored in state ${from}`);
      return;
    }
    if (from !== to && this.log.isLevelEnabled('info')) entry.log.info({ from, to, event: event.type }, `container ${id} transitioned from ${from} to ${to}`);
    entry.updatedAt = event.ts;
    if (entry.actor.context.pid !== pidBefore) entry.pidBootId = this.bootId;
    const transition: TransitionRow = { seq: this.store.nextSeq(), ts: event.ts, containerId: id, from, to, event };
    this.store.stageTransition(transition);
    this.stageRow(entry);
    for (const effect of effects) this.route(entry, effect, event.ts);
  }

  /** Scheduler requests are answered here; the rest wait for the commit. */
  private route(entry: ContainerEntry, effect: ContainerEffect, ts: number): void {
    const id = entry.spec.id;
    switch (effect.type) {
      case 'SCHEDULE_CONTAINER':
        this.decide(this.scheduler.schedule(id, allocationOf(entry.spec, this.config), entry.spec.executionType), ts);
        return;
      case 'CONTAINER_COMPLETED':
        this.decide(this.scheduler.completed(id), ts);
        return;
      case 'RELAUNCH_CONTAINER':
        this.markLaunch(entry, effect.attempt);
        break;
    }
    this.effects.push({ id, effect });
  }

  private decide(decisions: SchedulerDecision[], ts: number): void {
    for (const d of decisions) {
      const entry = this.entries.get(d.id);
      if (!entry) continue;
      if (d.type === 'KILL_CONTAINER') {
        // Caused by the event being handled, so it carries that event's time.
        this.queue.push({ id: d.id, event: { type: 'KILL_CONTAINER', ts, exitStatus: d.exitStatus, diagnostics: d.diagnostics } });
      } else if (entry.actor.state === 'SCHEDULED') {
        const attempt = entry.actor.context.attempt + 1;
        this.markLaunch(entry, attempt);
        this.effects.push({ id: d.id, effect: { type: 'LAUNCH_CONTAINER', attempt } });
      }
    }
  }

  /** The launch marker: durable in this batch, before the launcher may spawn. */
  private markLaunch(entry: ContainerEntry, attempt: number): void {
    entry.launchAttempt = attempt;
    this.stageRow(entry);
  }

  private stageRow(entry: ContainerEntry, isNew = false): void {
    this.store.stageContainer({
      id: entry.spec.id,
      spec: entry.spec,
      state: entry.actor.state,
      ...rowFromContext(entry.actor.context),
      launchAttempt: entry.launchAttempt,
      pidBootId: entry.pidBootId,
      createdAt: entry.createdAt,
      updatedAt: entry.updatedAt,
    }, isNew);
  }

  private scheduleFlush(): void {
    if (this.flushImmediate || this.retryTimer || this.closed) return;
    this.flushImmediate = setImmediate(() => this.flush());
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
