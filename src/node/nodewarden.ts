/**
 * The daemon, wired: store, core (machines + scheduler), bus, and the shell
 * that performs effects. This is the in-process entry point: the socket API,
 * the CLI and the tests all drive a NodeWarden through these methods.
 *
 * Every request method resolves only once its effect on the state is durable.
 */
import { callerRecord, checkAccount, mayAccess, runAsCaller, type Caller } from './caller.js';
import { checkUserLimits } from './user-limits.js';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { ExitStatus } from '../../state-machines/exit-status.js';
import { CONTAINER_STATES, type ContainerEvent, type ContainerEventType, type ContainerSpec, type ContainerState } from '../../state-machines/types.js';
import { createBus, type Bus } from '../bus.js';
import { systemClock, type Clock } from '../clock.js';
import { keepsContainersOnShutdown, type Config } from '../config/types.js';
import { allocationOf, Dispatcher, stateAccepts, stateIgnores, storeUnavailable, type ContainerEntry, type StoreFault } from '../core/dispatcher.js';
import { badRequest, conflict, notFound, unavailable } from '../core/errors.js';
import { checkRunAs } from '../launcher/run-as.js';
import { checkId, parseLaunchRequest, sameSpec } from '../core/launch-request.js';
import { ProcessLauncher } from '../launcher/process-launcher.js';
import { ContainersMonitor, type ContainerFigures, type MesosStatistics } from '../monitor/containers-monitor.js';
import type { HostFacts, NodeUtilization } from '../../state-machines/containers-monitor.js';
import { JournalPruner } from '../journal/pruner.js';
import type { OutputRecord } from '../journal/records.js';
import { lockDatabase, type DbLock } from '../store/db-lock.js';
import type { TransitionRow } from '../store/rows.js';
import { Store } from '../store/store.js';
import { bootId, hostFacts } from '../procfs/host-facts.js';
import { readOomScoreAdj, setOwnOomScoreAdj } from '../procfs/oom-score-adj.js';
import { procMemoryPressureFile, readPressureFile, type Pressure } from '../procfs/pressure.js';
import { containerView, type ContainerUsage, type ContainerView } from './container-view.js';
import type { Containment } from '../containment/containment.js';
import type { CgroupStats } from '../containment/cgroup-driver.js';
import { createContainment, type ContainmentReport } from '../containment/create.js';
import { ElasticMemoryController, type ElasticMemoryStatus } from '../monitor/elastic-memory.js';
import { ContainerGc } from './container-gc.js';
import { EffectRunner } from './effect-runner.js';
import { recoverContainers, type RecoverySummary } from './recovery.js';

export interface NodeReport {
  capacity: { memoryMb: number; vcores: number };
  /** Requests plus the executor allowance of the containers the scheduler started. */
  allocated: { memoryMb: number; vcores: number };
  queued: { guaranteed: number; opportunistic: number };
  utilization: NodeUtilization;
  /** Containers known, by state. */
  containers: Partial<Record<ContainerState, number>>;
  monitor: { running: boolean; intervalMs: number; ticks: number };
  /** What this start found of the containers left unfinished, and did about them. */
  recovery: RecoverySummary;
  /** Whether the database commits; while it cannot, new launches are refused (503). */
  store: { writable: boolean; fault: StoreFault | null };
  /** Known and waiting containers against their limits. */
  limits: { known: number; maxKnown: number; waiting: number; maxQueued: number; finishedRetentionMs: number };
  /** What holds each container's processes: its cgroup, or its process group. */
  containment: ContainmentReport;
  /** The node's memory pressure (PSI, `/proc/pressure/memory` under the procfs root); null where the kernel has none. */
  pressure: { memory: Pressure | null };
  /** Elastic memory control: the node cgroup's limit and use, and its OOM episodes (null: off). */
  elastic: ElasticMemoryStatus | null;
  config: Config['effective'];
}

/** One container as /metrics reports it. */
export interface ContainerMetricFigures {
  id: string;
  spec: ContainerSpec;
  figures: ContainerFigures;
  /** Its cgroup's own figures (null: process groups, or the cgroup is gone). */
  cgroup: CgroupStats | null;
  /** The kernel's OOM kills in its cgroup. */
  oomKills: number;
}

export interface NodeWardenOptions {
  config: Config;
  /** SQLite file (SPEC default db/nodewarden.sqlite). */
  dbPath: string;
  /** Containers live under <workDir>/containers (SPEC default var/). */
  workDir: string;
  log?: Logger;
  clock?: Clock;
  /** Page size, clock ticks, processors; default this machine's. */
  host?: HostFacts;
}

/** YARN ContainerManagerImpl.stopContainerInternal's message. */
export const KILLED_BY_API = 'Container killed by the ApplicationMaster.';

/** YARN ContainerManagerImpl, FINISH_CONTAINERS on shutdown (exit status KILLED_BY_RESOURCEMANAGER). */
export const KILLED_ON_SHUTDOWN = 'Container Killed on Shutdown';

export class NodeWarden {
  readonly config: Config;
  readonly workDir: string;
  readonly bus: Bus;
  readonly log: Logger;
  private readonly clock: Clock;
  /** The database's, and the cgroup hierarchy's when cgroups are in force: one daemon each. */
  private readonly locks: DbLock[] = [];
  private readonly containmentHeld: Containment;
  private readonly store: Store;
  private readonly core: Dispatcher;
  private readonly launcher: ProcessLauncher;
  private readonly runner: EffectRunner;
  readonly monitor: ContainersMonitor;
  /** Drops monitor samples older than nodewarden.journal.retention-hours. */
  readonly pruner: JournalPruner;
  /** Forgets finished containers after nodewarden.containers.finished-retention-ms, directories and all. */
  readonly gc: ContainerGc;
  /** What the start found and did about the containers left unfinished. */
  readonly recovery: RecoverySummary;
  readonly containment: ContainmentReport;
  /** Where the node's memory pressure is read (memoryPressure()). */
  readonly memoryPressureFile: string;
  /** YARN's elastic memory control (null: off). */
  readonly elastic: ElasticMemoryController | null;
  private idCounter = 0;
  private closed = false;

  constructor(opts: NodeWardenOptions) {
    this.config = opts.config;
    this.workDir = path.resolve(opts.workDir);
    this.log = opts.log ?? pino({ name: 'nodewarden' });
    this.clock = opts.clock ?? systemClock;
    this.bus = createBus(this.log);
    // Before anything is opened: with nodewarden.cgroups.enabled=true and no cgroups, the start fails here.
    const { containment, report, lock, driver } = createContainment(this.config, this.log);
    this.containment = report;
    this.containmentHeld = containment;
    this.memoryPressureFile = driver?.memoryPressureFile ?? procMemoryPressureFile(this.config.monitor.procfsRoot);
    this.locks.push(...(lock ? [lock] : []));
    try {
      // One daemon per database: refused here, naming the holder, before anything is read.
      if (opts.dbPath !== ':memory:') this.locks.push(lockDatabase(opts.dbPath));
      this.store = new Store(opts.dbPath);
    } catch (err) {
      this.releaseLocks();
      throw err;
    }
    // Stamped on every pid recorded: a pid and start time name a process only within one boot.
    const boot = bootId();
    // Whether the kernel holds containers to their memory is a fact of this start, like the page size.
    const host: HostFacts = { ...(opts.host ?? hostFacts()), cgroups: report.mode !== 'process-group' };
    this.core = new Dispatcher(this.store, this.bus, this.config, this.log, { bootId: boot, host });
    this.launcher = new ProcessLauncher({
      workDir: this.workDir,
      sigkillDelayMs: this.config.sigkillDelayMs,
      exitCodeFileTimeoutMs: this.config.recovery.exitCodeFileTimeoutMs,
      // Always the real /proc: the configurable root is for the monitor's tree math in tests.
      containment,
      log: this.log,
    });
    // A container the kernel stopped at its cgroup limit: a tick first, so its kill (-104) comes before its exit.
    const oomBeforeExit = (id: string) => {
      if (this.monitor.oomKilled(id)) this.monitor.tick();
    };
    this.runner = new EffectRunner(this.core, this.launcher, this.clock, this.log, this.config, oomBeforeExit);
    this.bus.on('effect', (e) => this.runner.run(e));
    this.monitor = new ContainersMonitor({
      config: this.config,
      core: this.core,
      bus: this.bus,
      clock: this.clock,
      log: this.log,
      workDir: this.workDir,
      containment,
      memoryPressure: () => this.memoryPressure(),
    });
    let rows: ReturnType<Store['loadContainers']> = [];
    try {
      rows = this.store.loadContainers();
      for (const row of rows) this.core.restore(row);
      this.recovery = recoverContainers({
        core: this.core,
        runner: this.runner,
        launcher: this.launcher,
        config: this.config,
        clock: this.clock,
        log: this.log,
        bootId: boot,
      });
      // A container still known and unfinished keeps its cgroup; any other is emptied and removed.
      this.launcher.sweepContainment((id) => {
        const entry = this.core.get(id);
        return entry !== undefined && entry.actor.state !== 'DONE';
      });
    } catch (err) {
      // What recovery decided is committed, but nothing acted on it (its effects are dropped): the next start owes them again.
      this.abandonStart();
      throw err;
    }
    // Last in the kernel's OOM order (kubelet's -999); containers get theirs at launch (oom-score.ts).
    const oom = setOwnOomScoreAdj(this.config.oomScoreAdj);
    this.log.info(
      {
        db: opts.dbPath,
        workDir: this.workDir,
        oomScoreAdj: readOomScoreAdj('self'),
        containers: rows.length,
        capacity: { memoryMb: this.config.node.memoryMb, vcores: this.config.node.vcores },
        containment: report.mode,
        ...(report.mode === 'process-group' ? { notCgroups: report.missing } : { cgroups: report.cgroups }),
      },
      'nodewarden started',
    );
    if (!oom.ok) {
      this.log.warn(
        `cannot set the daemon's oom_score_adj to ${this.config.oomScoreAdj} (nodewarden.oom-score-adj): ${oom.reason}; ` +
          'under memory pressure the kernel may kill the daemon before the containers',
      );
    }
    // Elastic memory control (createContainment refused it without cgroups): after recovery, so a node left out of memory is resolved with every container known.
    this.elastic = driver && this.config.memoryPressure.elastic
      ? new ElasticMemoryController({
          driver,
          core: this.core,
          clock: this.clock,
          log: this.log,
          limitBytes: this.config.node.memoryMb * 2 ** 20,
          timeoutMs: this.config.memoryPressure.elasticTimeoutSec * 1000,
        })
      : null;
    try {
      this.elastic?.start();
    } catch (err) {
      // The containers keep running; the start fails as a whole, before any timer is set.
      this.abandonStart();
      throw err;
    }
    this.pruner = new JournalPruner({
      store: this.store,
      checkpoint: (ts) => this.core.checkpoint(ts),
      storeFaulted: () => this.core.storeFault !== null,
      clock: this.clock,
      log: this.log,
      retentionHours: this.config.journal.retentionHours,
      intervalMs: this.config.journal.pruneIntervalMs,
    });
    this.gc = new ContainerGc({ core: this.core, workDir: this.workDir, retentionMs: this.config.limits.finishedRetentionMs, clock: this.clock, log: this.log });
    this.monitor.start();
    this.pruner.start();
    this.gc.start();
  }

  /**
   * POST /v1/containers: 201-style `created: true`, or the same container
   * again for the same spec. `caller`: who asked, as the kernel says (none:
   * the daemon itself); anyone but an administrator runs as themselves.
   */
  async launch(body: unknown, caller?: Caller): Promise<{ view: ContainerView; created: boolean }> {
    const spec = runAsCaller(parseLaunchRequest(body, () => this.newId()), caller, this.config.access);
    const existing = this.core.get(spec.id);
    // Another user's id is taken, and says nothing more about it.
    if (existing && !mayAccess(caller, existing.spec)) throw conflict(`container ${spec.id} already exists`);
    if (existing) {
      if (!sameSpec(existing.spec, spec)) {
        throw conflict(`container ${spec.id} already exists with a different request`);
      }
      await this.core.durable();
      return { view: this.view(spec.id), created: false };
    }
    const need = allocationOf(spec, this.config);
    if (!this.core.scheduler.canEverFit(need)) {
      throw badRequest(
        `container ${spec.id} can never fit this node: it needs ${need.memoryMb} MB and ${need.milliVcores / 1000} vcores ` +
          `(request plus the executor allowance of ${this.config.allowance.memoryMb} MB and ${this.config.allowance.cpus} cpus); ` +
          `the node has ${this.config.node.memoryMb} MB and ${this.config.node.vcores} vcores`,
      );
    }
    // Before anything is touched (a refused launch changes nothing), and again below after the last await.
    checkUserLimits(spec, caller, this.core.all(), this.config.access.perUser);
    checkAccount(spec, caller, await checkRunAs(spec.user, this.config.runAs));
    // An id used again: its forgotten container's directory is not handed on.
    await this.gc.removeLeftover(spec.id);
    // The user lookup took a turn of the event loop: the same id may have come in meanwhile.
    if (this.core.get(spec.id)) return this.launch(body, caller);
    // After the last turn of the event loop, so that two launches at once cannot both pass.
    checkUserLimits(spec, caller, this.core.all(), this.config.access.perUser);
    this.admit(spec.id);
    this.core.add(spec, this.clock.now(), caller && callerRecord(caller));
    await this.core.durable();
    return { view: this.view(spec.id), created: true };
  }

  /**
   * Whether a new container can be taken now: the database commits, and the
   * node is under its limits of known and queued containers. Each refusal is
   * a 503 that says what to do; nothing is changed.
   */
  private admit(id: string): void {
    const fault = this.core.storeFault;
    if (fault) throw storeUnavailable(fault, `container ${id} is not accepted: new launches are refused until then`);
    const { maxKnown, maxQueued, finishedRetentionMs } = this.config.limits;
    const known = this.core.size;
    if (known >= maxKnown) {
      throw unavailable(
        'TOO_MANY_CONTAINERS',
        `container ${id} is not accepted: nodewarden already knows ${known} containers (nodewarden.containers.max-known); ` +
          `finished ones are forgotten ${finishedRetentionMs} ms after they finish (nodewarden.containers.finished-retention-ms) — try again later`,
      );
    }
    const waiting = this.waitingToRun();
    if (waiting >= maxQueued) {
      throw unavailable(
        'QUEUE_FULL',
        `container ${id} is not accepted: ${waiting} containers are already waiting to run (nodewarden.containers.max-queued); try again when some have started`,
      );
    }
  }

  /** Containers not started yet: queued by the scheduler, or on their way to it. */
  private waitingToRun(): number {
    const queued = this.core.scheduler.queued();
    let localizing = 0;
    for (const e of this.core.all()) if (e.actor.state === 'NEW' || e.actor.state === 'LOCALIZING') localizing++;
    return queued.guaranteed.length + queued.opportunistic.length + localizing;
  }

  /** KILL_CONTAINER with KILLED_BY_APPMASTER (-105). */
  kill(id: string, caller?: Caller): Promise<ContainerView> {
    return this.request(id, { type: 'KILL_CONTAINER', ts: this.clock.now(), exitStatus: ExitStatus.KILLED_BY_APPMASTER, diagnostics: KILLED_BY_API }, caller);
  }

  pause(id: string, caller?: Caller): Promise<ContainerView> {
    return this.request(id, { type: 'PAUSE_CONTAINER', ts: this.clock.now() }, caller);
  }

  resume(id: string, caller?: Caller): Promise<ContainerView> {
    return this.request(id, { type: 'RESUME_CONTAINER', ts: this.clock.now() }, caller);
  }

  view(id: string, caller?: Caller): ContainerView {
    return this.viewOf(this.entry(id, caller));
  }

  /** Every container the caller may see, with the monitor's figures: the cgroup's own are read for one container's view only (three files each). */
  list(caller?: Caller): ContainerView[] {
    return [...this.core.all()]
      .filter((e) => mayAccess(caller, e.spec))
      .map((e) => containerView(e, this.config, this.workDir, this.monitor.figuresOf(e.spec.id)?.usage ?? null));
  }

  /**
   * Whether the caller may see a container: an administrator, any; anyone
   * else, a known one of their own. `at`: a record's time — an id used again
   * after its first container was forgotten shows its owner only this
   * container's records, not the earlier one's (perhaps another user's).
   */
  visibleTo(caller: Caller | undefined, id: string, at?: number): boolean {
    if (caller === undefined || caller.admin) return true;
    const entry = this.core.get(id);
    return entry !== undefined && mayAccess(caller, entry.spec) && (at === undefined || at >= entry.createdAt);
  }

  /** Mesos `/monitor/statistics` of the containers being monitored that the caller may see. */
  statistics(caller?: Caller): MesosStatistics[] {
    return this.monitor.statistics().filter((s) => this.visibleTo(caller, s.executor_id));
  }

  /** Σ pmem, vmem and vcores used by the monitored containers, as of the last tick. */
  utilization(): NodeUtilization {
    return this.monitor.utilization();
  }

  /** The container's transitions from the database, once everything already decided is committed. */
  async transitions(id: string, caller?: Caller): Promise<TransitionRow[]> {
    const entry = this.entry(id, caller);
    await this.core.durable();
    // An id used again after its first container was forgotten: only this container's.
    return this.store.transitionsOf(id).filter((t) => t.ts >= entry.createdAt);
  }

  /** The newest transition or kill pruned with the journal (null: none was): the events stream after it is whole. */
  outputsPrunedThrough(): number | null {
    return this.store.outputsPrunedThrough();
  }

  /** Committed transitions and kill decisions after `sinceSeq`, oldest first, at most `limit` (the events stream pages through these). */
  outputsSince(sinceSeq: number, limit: number): OutputRecord[] {
    return this.store.outputs(sinceSeq, limit);
  }

  /** GET /v1/node: capacity, what the scheduler has handed out, what the monitor measured, the config in force. */
  nodeReport(): NodeReport {
    const allocated = this.core.scheduler.allocated();
    const queued = this.core.scheduler.queued();
    const states: Partial<Record<ContainerState, number>> = {};
    for (const [state, n] of this.stateCounts()) if (n > 0) states[state] = n;
    return {
      capacity: { memoryMb: this.config.node.memoryMb, vcores: this.config.node.vcores },
      allocated: { memoryMb: allocated.memoryMb, vcores: allocated.milliVcores / 1000 },
      queued: { guaranteed: queued.guaranteed.length, opportunistic: queued.opportunistic.length },
      utilization: this.monitor.utilization(),
      containers: states,
      monitor: { running: this.monitor.running.monitor, intervalMs: this.config.monitor.intervalMs, ticks: this.monitor.tickCount() },
      recovery: this.recovery,
      store: { writable: this.core.storeFault === null, fault: this.core.storeFault },
      limits: { known: this.core.size, maxKnown: this.config.limits.maxKnown, waiting: this.waitingToRun(), maxQueued: this.config.limits.maxQueued, finishedRetentionMs: this.config.limits.finishedRetentionMs },
      containment: this.containment,
      pressure: { memory: this.memoryPressure() },
      elastic: this.elastic?.status() ?? null,
      config: this.config.effective,
    };
  }

  /** The node's memory pressure now (PSI): the node cgroup's on v2, the kernel's /proc/pressure/memory otherwise; null without PSI. */
  memoryPressure(): Pressure | null {
    return readPressureFile(this.memoryPressureFile);
  }

  /** How many containers are in each state (every state, zeros included). */
  stateCounts(): Map<ContainerState, number> {
    const counts = new Map<ContainerState, number>(CONTAINER_STATES.map((s) => [s, 0]));
    for (const e of this.core.all()) counts.set(e.actor.state, counts.get(e.actor.state)! + 1);
    return counts;
  }

  /** The monitor's last usage of each container it has figures for (while running, and for unregister-delay-ms after). */
  *usages(): Generator<{ id: string; usage: ContainerUsage }> {
    for (const e of this.core.all()) {
      const usage = this.usageOf(e.spec.id);
      if (usage) yield { id: e.spec.id, usage };
    }
  }

  /**
   * Per container, what /metrics says of it: the monitor's figures (kept for
   * the unregister delay after it stops, so finished ones drop out), and
   * while it has a cgroup, the cgroup's own.
   */
  *metricFigures(): Generator<ContainerMetricFigures> {
    for (const e of this.core.all()) {
      const figures = this.monitor.figuresOf(e.spec.id);
      if (!figures || (figures.measure === null && figures.usage === null)) continue;
      const id = e.spec.id;
      yield { id, spec: e.spec, figures, cgroup: this.containmentHeld.stats(id), oomKills: this.containmentHeld.oom(id)?.kills ?? 0 };
    }
  }

  /** The monitor's figures, and with cgroups the cgroup's own memory figures, the same as /monitor/statistics reads. */
  private usageOf(id: string): ContainerUsage | null {
    const usage = this.monitor.figuresOf(id)?.usage;
    if (!usage) return null;
    const cg = this.containmentHeld.stats(id);
    if (cg === null) return usage;
    return { ...usage, cgroup: { rssBytes: cg.memRssBytes, cacheBytes: cg.memCacheBytes, totalBytes: cg.memTotalBytes, swapBytes: cg.memSwapBytes } };
  }

  /** Resolves once no launch is under way and what the launches decided is committed. */
  async settled(): Promise<void> {
    await this.runner.launchesSettled();
    await this.core.durable();
  }

  /** Why the database cannot commit right now (null: it can). */
  storeFault(): StoreFault | null {
    return this.core.storeFault;
  }

  /** Resolves once every transition decided so far is committed. */
  durable(): Promise<void> {
    return this.core.durable();
  }

  /**
   * Shutdown. Supervised with recovery on (the default), containers keep
   * running for the next start to reacquire; otherwise each is killed and
   * its end recorded first (YARN kills them unless the NodeManager is
   * supervised with recovery enabled). Either way what is pending is
   * committed and the database released. `keepContainers`: a start that
   * failed leaves alone what it reacquired, whatever the configuration.
   */
  async close(opts: { keepContainers?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!opts.keepContainers && !keepsContainersOnShutdown(this.config)) await this.killAll(ExitStatus.KILLED_BY_RESOURCEMANAGER, KILLED_ON_SHUTDOWN);
    this.monitor.close();
    this.elastic?.close();
    await this.pruner.close();
    await this.gc.close();
    this.runner.close();
    this.launcher.close();
    // A launch preparing its files finishes them (and spawns nothing): no file is written after close.
    await this.runner.launchesSettled();
    this.core.close();
    this.store.close();
    this.containmentHeld.close();
    this.releaseLocks();
    this.log.info('nodewarden stopped');
  }

  /** A start that fails after recovery: let go of what was opened, leave the containers to the next start. */
  private abandonStart(): void {
    this.runner.close();
    this.launcher.close();
    this.core.close();
    this.store.close();
    this.releaseLocks();
  }

  /** The database's and the cgroup hierarchy's: the next daemon may have them. */
  private releaseLocks(): void {
    for (const lock of this.locks.splice(0)) lock.release();
  }

  /** Kill every container that a kill can still stop, and wait (bounded) until all are DONE and committed. */
  private async killAll(exitStatus: number, diagnostics: string): Promise<void> {
    const killed = this.core.killAll(this.core.all(), { ts: this.clock.now(), exitStatus, diagnostics });
    const allDone = () => [...this.core.all()].every((e) => e.actor.state === 'DONE');
    if (!allDone()) {
      this.log.info({ containers: killed }, `shutting down: killing ${killed} container(s) (recovery is off or not supervised)`);
      // SIGTERM, SIGKILL after the delay, the group's drain, an exit-code file: then give up waiting.
      const limitMs = this.config.sigkillDelayMs + this.config.recovery.exitCodeFileTimeoutMs + 5000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.log.warn('shutting down: containers still not finished; their state is left for the next start');
          done();
        }, limitMs);
        const check = () => {
          if (allDone()) done();
        };
        const done = () => {
          clearTimeout(timer);
          this.bus.off('transitions', check);
          resolve();
        };
        this.bus.on('transitions', check);
      });
    }
    await this.core.durable().catch((err: unknown) => this.log.error({ err }, 'shutting down: the last kills could not be committed'));
  }

  private viewOf(entry: ContainerEntry): ContainerView {
    return containerView(entry, this.config, this.workDir, this.usageOf(entry.spec.id));
  }

  /** A container the caller may see; another user's is not found, as an unknown one, so that ids do not leak. */
  private entry(id: string, caller?: Caller): ContainerEntry {
    const entry = this.core.get(checkId(id));
    if (!entry || !mayAccess(caller, entry.spec)) throw notFound(id);
    return entry;
  }

  /** A request event: refused (409, nothing changed) when the container's state has no row for it. */
  private async request(id: string, event: ContainerEvent, caller?: Caller): Promise<ContainerView> {
    const entry = this.entry(id, caller);
    const state = entry.actor.state;
    // A container being killed or finished takes a kill as a no-op row (YARN's "self"); a user asking is told, and nothing is written.
    if (event.type === 'KILL_CONTAINER' && stateIgnores(state, 'KILL_CONTAINER')) {
      throw conflict(`container ${id} is ${state}: a kill has nothing left to do`);
    }
    if (!stateAccepts(state, event.type as ContainerEventType)) {
      throw conflict(`container ${id} is ${state}: ${event.type} is not possible in that state`);
    }
    this.core.dispatch(id, event, caller && callerRecord(caller));
    await this.core.durable();
    return this.view(id);
  }

  private newId(): string {
    let id: string;
    do {
      id = `container_${this.clock.now()}_${String(++this.idCounter).padStart(6, '0')}`;
    } while (this.core.get(id));
    return id;
  }
}
