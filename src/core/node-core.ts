/**
 * Every decision nodewarden makes, in one place, from inputs alone:
 *
 *   input → journal record → machines (container, scheduler, monitor) → transitions, kills, effects
 *
 * The container machines, the ContainerScheduler and the ContainersMonitor
 * machine live here. Inputs arrive through add, dispatch, monitor and
 * recover; each is written to the journal as it is applied, then decided
 * run-to-completion from a queue (an event caused by another — a scheduler's
 * kill to make room, a monitor's kill — is handled after it, in order, and
 * is not an input). What comes out goes to `record`, `row` and `effect`.
 *
 * Two shells subclass this: the live Dispatcher (records and rows staged
 * for the group commit, effects run after it) and replay (records compared
 * with a journal's). They share this code, so they cannot decide differently.
 */
import type { Logger } from 'pino';
import { ContainerActor } from '../../state-machines/container-actor.js';
import { containerMachine } from '../../state-machines/container-machine.js';
import { ContainerScheduler, type Allocation, type SchedulerDecision } from '../../state-machines/container-scheduler.js';
import type { HostFacts, MonitorContext, MonitorEvent, MonitorKill, MonitorSettings } from '../../state-machines/containers-monitor.js';
import { ExitStatus } from '../../state-machines/exit-status.js';
import { MonitorActor } from '../../state-machines/monitor-actor.js';
import { recoveryPlan, type FoundProcess, type RecoveryPlan, type RestoredContainer } from '../../state-machines/recovery.js';
import type { ContainerEffect, ContainerEvent, ContainerEventType, ContainerSpec, ContainerState } from '../../state-machines/types.js';
import type { Config } from '../config/types.js';
import type { CallerRecord } from '../node/caller.js';
import { decodeMonitor, encodeMonitor, encodeSamples, type CheckpointRecord, type InputRecord, type OutputRecord } from '../journal/records.js';
import { checkEvent } from '../journal/validate.js';
import { contextFromRow, rowFromContext, type ContainerRow } from '../store/rows.js';

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
  /** Who launched it, and who asked for its kill (null: the daemon itself, or not known). Decides nothing. */
  launchedBy: CallerRecord | null;
  killedBy: CallerRecord | null;
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
    public launchedBy: CallerRecord | null = null,
    public killedBy: CallerRecord | null = null,
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

/** The ContainersMonitor's settings: the configuration plus the facts of the host its numbers come from. */
export function monitorSettings(config: Config, host: HostFacts): MonitorSettings {
  // YARN-8930: with strict memory in the kernel (and no elastic control) the polling checks are skipped, the
  // OOM killer takes care of it. Only where cgroups are in force (a host fact, journaled with the start).
  // A journal from before the fact was recorded: cgroups were in force then only where they were required.
  const inForce = host.cgroups ?? config.cgroups.enabled === 'true';
  const kernelEnforces = inForce && config.cgroups.memory.enabled && config.cgroups.memory.enforced;
  // Elastic memory control lets a container burst over its own limit while the node has room (YARN's stated
  // aim, which its polling pmem check would defeat at the next tick): the node's limit and the OOM handler
  // bound memory instead. See docs/how-it-works.md, "The node under memory pressure".
  const elastic = inForce && config.memoryPressure.elastic;
  return {
    pmemCheckEnabled: config.monitor.pmemCheckEnabled && !kernelEnforces && !elastic,
    vmemCheckEnabled: config.monitor.vmemCheckEnabled && !kernelEnforces,
    vmemPmemRatio: config.monitor.vmemPmemRatio,
    allowance: config.allowance,
    smapsBasedRss: config.monitor.smapsBasedRss,
    nodeVcores: config.node.vcores,
    cpuLimitPercent: config.node.cpuLimitPercent,
    logDirSizeLimitBytes: config.logMonitor.dirSizeLimitBytes,
    logTotalSizeLimitBytes: config.logMonitor.totalSizeLimitBytes,
    pressure: { thresholdPercent: config.memoryPressure.preemptThresholdPercent, afterMs: config.memoryPressure.preemptAfterMs },
    host,
  };
}

/** Containers that were started and have not ended, or are on their way to: their room is as good as free. */
const DYING: ReadonlySet<ContainerState> = new Set(['KILLING', 'EXITED_WITH_SUCCESS', 'EXITED_WITH_FAILURE', 'CONTAINER_CLEANEDUP_AFTER_KILL']);

export const RECOVERY_DISABLED_DIAGNOSTICS =
  'Container killed at start: recovery is disabled (yarn.nodemanager.recovery.enabled=false), so it is not reacquired.';

export interface NodeCoreOptions {
  config: Config;
  /** Facts of the host the monitor's numbers depend on (recorded with each start). */
  host: HostFacts;
  log: Logger;
  /** This boot's id, stamped on every pid recorded (null: unknown). */
  bootId?: string | null;
}

/** What a record is before the journal numbers it. */
type Draft<R> = R extends unknown ? Omit<R, 'seq'> : never;

export abstract class NodeCore {
  readonly config: Config;
  readonly host: HostFacts;
  readonly scheduler: ContainerScheduler;
  readonly monitorSettings: MonitorSettings;
  protected readonly log: Logger;
  private monitorActor: MonitorActor;
  private readonly entries = new Map<string, ContainerEntry>();
  private readonly queue: Queued[] = [];
  private draining = false;
  private readonly bootId: string | null;

  constructor(opts: NodeCoreOptions) {
    this.config = opts.config;
    this.host = opts.host;
    this.log = opts.log;
    this.bootId = opts.bootId ?? null;
    this.scheduler = new ContainerScheduler(
      { memoryMb: this.config.node.memoryMb, milliVcores: this.config.node.vcores * 1000 },
      this.config.opportunisticQueueLength,
    );
    this.monitorSettings = monitorSettings(this.config, this.host);
    this.monitorActor = new MonitorActor(this.monitorSettings);
  }

  /** Whether input records are wanted (replay already has them: it only numbers them). */
  protected readonly keepsInputs: boolean = true;

  /** The next sequence number of the journal. */
  protected abstract nextSeq(): number;
  /** A journal record: an input as it is applied, a transition or kill as it is decided. */
  protected abstract record(record: InputRecord | OutputRecord): void;
  /** A container's row changed (`isNew`: its first). */
  protected abstract row(row: ContainerRow, isNew: boolean): void;
  /** Something a transition asks the world to do, once that transition is durable. */
  protected abstract effect(id: string, effect: ContainerEffect): void;
  /** Everything queued is decided. */
  protected abstract drained(): void;
  /** A finished container is forgotten: its row goes. */
  protected forgotten(_id: string): void {}

  get(id: string): ContainerEntry | undefined {
    return this.entries.get(id);
  }

  all(): IterableIterator<ContainerEntry> {
    return this.entries.values();
  }

  /** How many containers are known, finished ones included. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Forget finished containers (input): their retention is over. YARN's
   * NodeStatusUpdater drops stopped containers from the NM context after
   * duration-to-track-stopped-containers. Only DONE ones can go: they
   * decide nothing more. Returns the ids forgotten.
   */
  forget(ids: readonly string[], ts: number): string[] {
    const done = ids.filter((id) => this.entries.get(id)?.actor.state === 'DONE');
    if (done.length === 0) return [];
    this.input(() => ({ ts, type: 'forget', containers: done }));
    for (const id of done) {
      this.entries.delete(id);
      this.forgotten(id);
    }
    this.drained();
    return done;
  }

  get monitorContext(): MonitorContext {
    return this.monitorActor.context;
  }

  /** A launch request (input): the container's row, then the INIT_CONTAINER that starts it. `caller`: who asked (journaled; decides nothing). */
  add(spec: ContainerSpec, ts: number, caller?: CallerRecord): ContainerEntry {
    this.input(() => ({ ts, type: 'launch', container: spec.id, spec, ...(caller ? { caller } : {}) }));
    const actor = new ContainerActor({ spec, diagnosticsMaxSize: this.config.diagnosticsMaxSize });
    const entry = new Entry(spec, actor, this.log, ts, ts, 0, null, caller ?? null);
    this.entries.set(spec.id, entry);
    this.stageRow(entry, true);
    this.enqueue(spec.id, { type: 'INIT_CONTAINER', ts });
    this.drain();
    return entry;
  }

  /** A container read back from the store: its machine resumes in the state it was written in (not an input: `recover` is). */
  restore(row: ContainerRow): ContainerEntry {
    const actor = new ContainerActor(
      { spec: row.spec, diagnosticsMaxSize: this.config.diagnosticsMaxSize },
      { state: row.state, context: contextFromRow(row, this.config.diagnosticsMaxSize) },
    );
    const entry = new Entry(row.spec, actor, this.log, row.createdAt, row.updatedAt, row.launchAttempt, row.pidBootId, row.launchedBy ?? null, row.killedBy ?? null);
    this.entries.set(row.id, entry);
    return entry;
  }

  /** An event from outside the core (input): a request, or what the shell saw happen. One without the fields its type needs is refused, unrecorded. */
  dispatch(id: string, event: ContainerEvent, caller?: CallerRecord): void {
    const wrong = checkEvent(event);
    if (wrong !== null) {
      this.log.error({ container: id, event: event.type }, `event refused: bad ${wrong}`);
      return;
    }
    const entry = this.entries.get(id);
    if (entry) this.input(() => ({ ts: event.ts, type: 'event', container: id, event, ...(caller ? { caller } : {}) }));
    if (entry && caller && event.type === 'KILL_CONTAINER') entry.killedBy = caller;
    this.enqueue(id, event);
    this.drain();
  }

  /** KILL_CONTAINER to each of `entries` that a kill can still stop (each an input); how many were sent. */
  killAll(entries: Iterable<ContainerEntry>, kill: { ts: number; exitStatus: number; diagnostics: string }): number {
    let killed = 0;
    for (const e of [...entries]) {
      if (!killable(e.actor.state)) continue;
      this.dispatch(e.spec.id, { type: 'KILL_CONTAINER', ...kill });
      killed++;
    }
    return killed;
  }

  /**
   * An input of the ContainersMonitor: start or stop monitoring, a tick with
   * the trees sampled, a log tick. The kills it decides are recorded and
   * dispatched as KILL_CONTAINER (committed before any signal is sent).
   */
  monitor(event: MonitorEvent): MonitorKill[] {
    // A tick with nothing tracked decides nothing: it is not worth a record.
    const idle = this.monitorActor.context.tracking.size === 0;
    if (event.type === 'TICK') {
      if (!idle) {
        this.input(() => ({
          ts: event.ts,
          type: 'tick',
          samples: encodeSamples(event.samples),
          ...(event.oom ? { oom: { ...event.oom } } : {}),
          ...(event.pressure ? { pressure: event.pressure } : {}),
        }));
      }
    } else if (event.type === 'LOG_TICK') {
      if (!idle) this.input(() => ({ ts: event.ts, type: 'log-tick', logDirs: event.logDirs as Record<string, Array<{ dir: string; bytes: number }>> }));
    } else this.input(() => ({ ts: event.ts, type: 'monitor', event }));
    let kills: MonitorKill[];
    try {
      kills = this.monitorActor.step(event);
    } catch (err) {
      // As for a container event: nothing changed, the monitor goes on (and replay, from the same record, does the same).
      this.log.error({ err, event: event.type }, (err as Error).message);
      return [];
    }
    // Each kill on its own: the machine has already stopped tracking all of them.
    for (const kill of kills) this.kill('monitor', kill.id, { ts: event.ts, exitStatus: kill.exitStatus, diagnostics: kill.diagnostics });
    this.drain();
    return kills;
  }

  /** Carry the monitor on from a journal's monitor snapshot (replay, where older samples were pruned). */
  restoreMonitor(context: MonitorContext): void {
    this.monitorActor.stop();
    this.monitorActor = new MonitorActor(this.monitorSettings, context);
  }

  /** The monitor's state as a journal record (an input: replay carries on from it once older samples are pruned). */
  snapshotMonitor(ts: number): void {
    this.input(() => ({ ts, type: 'monitor-snapshot', ...encodeMonitor(this.monitorActor.context) }));
    this.drained();
  }

  /** Everything the core decides from, as it is now (between inputs: nothing is queued). */
  checkpointOf(ts: number): Omit<CheckpointRecord, 'seq'> {
    return {
      ts,
      type: 'checkpoint',
      host: this.host,
      config: this.config.effective,
      containers: [...this.entries.values()].map((e) => this.rowOf(e)),
      scheduler: this.scheduler.snapshot(),
      monitor: encodeMonitor(this.monitorActor.context),
    };
  }

  /** A checkpoint (input): the journal can be replayed from here, and what is older pruned. */
  checkpoint(ts: number): void {
    this.input(() => this.checkpointOf(ts));
    this.drained();
  }

  /** Take up a checkpoint's state: an empty core (replay starting at it). */
  restoreCheckpoint(r: CheckpointRecord): void {
    for (const row of r.containers) this.restore(row);
    this.scheduler.restore(r.scheduler);
    this.restoreMonitor(decodeMonitor(r.monitor, this.monitorSettings));
  }

  /**
   * A daemon start (input): the containers were restored as committed, and
   * `found` says what became of their processes. Each unfinished container
   * is carried on by the plan of state-machines/recovery.ts: the scheduler
   * counts what was started, the events are dispatched and the effects its
   * state still owes are performed again. With recovery disabled the
   * unfinished ones are killed instead.
   */
  recover(found: Readonly<Record<string, FoundProcess>>, ts: number): { plans: Map<string, RecoveryPlan>; killed: number } {
    const unfinished = [...this.entries.values()].filter((e) => e.actor.state !== 'DONE');
    // The finished ones are only counted: they decide nothing more, and replay has them already.
    this.input(() => ({
      ts,
      type: 'start',
      host: this.host,
      config: this.config.effective,
      containers: unfinished.map((e) => this.rowOf(e)),
      done: this.entries.size - unfinished.length,
      found: { ...found },
    }));
    // A container the scheduler had started holds its resources until DONE;
    // they are counted before anything waiting is scheduled again.
    for (const e of unfinished) {
      if (e.launchAttempt > 0) this.scheduler.restoreRunning(e.spec.id, allocationOf(e.spec, this.config), e.spec.executionType, DYING.has(e.actor.state));
    }
    const plans = new Map<string, RecoveryPlan>();
    for (const entry of unfinished) {
      const id = entry.spec.id;
      const plan = recoveryPlan(restoredOf(entry), found[id] ?? { kind: 'none' });
      plans.set(id, plan);
      // Recovery disabled: what runs is reacquired only to be killed below; nothing else is resumed.
      if (!this.config.recovery.enabled && killable(entry.actor.state)) continue;
      for (const event of plan.events) this.enqueue(id, { ...event, ts });
      this.drain();
      for (const effect of plan.effects) this.route(entry, effect, ts);
      this.drain();
    }
    let killed = 0;
    if (!this.config.recovery.enabled) {
      for (const e of unfinished) {
        if (!killable(e.actor.state)) continue;
        this.enqueue(e.spec.id, { type: 'KILL_CONTAINER', ts, exitStatus: ExitStatus.ABORTED, diagnostics: RECOVERY_DISABLED_DIAGNOSTICS });
        killed++;
      }
    }
    this.drain();
    return { plans, killed };
  }

  /** The row a container is written as. */
  rowOf(entry: ContainerEntry): ContainerRow {
    return {
      id: entry.spec.id,
      spec: entry.spec,
      state: entry.actor.state,
      ...rowFromContext(entry.actor.context),
      launchAttempt: entry.launchAttempt,
      pidBootId: entry.pidBootId,
      launchedBy: entry.launchedBy,
      killedBy: entry.killedBy,
      createdAt: entry.createdAt,
      updatedAt: entry.updatedAt,
    };
  }

  private journal(draft: Draft<OutputRecord>): void {
    this.record({ seq: this.nextSeq(), ...draft } as OutputRecord);
  }

  /** An input takes its place in the journal; its record is built only when it is kept. */
  private input(draft: () => Draft<InputRecord>): void {
    const seq = this.nextSeq();
    if (this.keepsInputs) this.record({ seq, ...draft() } as InputRecord);
  }

  /** A kill the core decided itself: recorded, then queued like any KILL_CONTAINER. */
  protected kill(by: 'monitor' | 'scheduler', id: string, kill: { ts: number; exitStatus: number; diagnostics: string }): void {
    this.journal({ ts: kill.ts, type: 'kill', container: id, by, exitStatus: kill.exitStatus, diagnostics: kill.diagnostics });
    this.enqueue(id, { type: 'KILL_CONTAINER', ...kill });
  }

  private enqueue(id: string, event: ContainerEvent): void {
    this.queue.push({ id, event });
  }

  /** Decide what is queued (one event caused by another is handled after it). */
  protected drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) this.step(next);
    } finally {
      this.draining = false;
    }
    this.drained();
  }

  private step({ id, event }: Queued): void {
    const entry = this.entries.get(id);
    if (!entry) {
      this.log.warn({ container: id, event: event.type }, 'event for an unknown container ignored');
      return;
    }
    const pidBefore = entry.actor.context.pid;
    let step;
    try {
      step = entry.actor.step(event);
    } catch (err) {
      // A machine that cannot digest an event is a bug or a doctored journal: nothing changed; the rest goes on.
      entry.log.error({ err, event: event.type }, (err as Error).message);
      return;
    }
    const { from, to, handled, effects } = step;
    if (!handled) {
      // YARN: "Can't handle this event at current state" — logged, never thrown.
      entry.log.warn({ state: from, event: event.type }, `event ${event.type} ignored in state ${from}`);
      return;
    }
    if (from !== to && this.log.isLevelEnabled('info')) entry.log.info({ from, to, event: event.type }, `container ${id} transitioned from ${from} to ${to}`);
    entry.updatedAt = event.ts;
    if (entry.actor.context.pid !== pidBefore) entry.pidBootId = this.bootId;
    this.journal({ ts: event.ts, type: 'transition', container: id, from, to, event });
    this.stageRow(entry);
    for (const effect of effects) this.route(entry, effect, event.ts);
  }

  /** Scheduler requests are answered here; the rest go out. */
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
    this.effect(id, effect);
  }

  private decide(decisions: SchedulerDecision[], ts: number): void {
    for (const d of decisions) {
      const entry = this.entries.get(d.id);
      if (!entry) continue;
      if (d.type === 'KILL_CONTAINER') {
        // Caused by the event being handled, so it carries that event's time.
        this.kill('scheduler', d.id, { ts, exitStatus: d.exitStatus, diagnostics: d.diagnostics });
      } else if (entry.actor.state === 'SCHEDULED') {
        const attempt = entry.actor.context.attempt + 1;
        this.markLaunch(entry, attempt);
        this.effect(d.id, { type: 'LAUNCH_CONTAINER', attempt });
      }
    }
  }

  /** The launch marker: written with the decision, before the launcher may spawn. */
  private markLaunch(entry: ContainerEntry, attempt: number): void {
    entry.launchAttempt = attempt;
    this.stageRow(entry);
  }

  private stageRow(entry: ContainerEntry, isNew = false): void {
    this.row(this.rowOf(entry), isNew);
  }
}

/** A container as recovery sees it. */
export function restoredOf(e: ContainerEntry): RestoredContainer {
  return { state: e.actor.state, context: e.actor.context, launchAttempt: e.launchAttempt, updatedAt: e.updatedAt };
}
