/**
 * The live path on a stepped clock, for the journal's benchmarks: the
 * Dispatcher on a real SQLite file, the shell's answers given the way the
 * effect runner and the monitor shell give them, and — for runs of days of
 * simulated time — the journal pruner and the container GC the daemon runs.
 * Nothing real is launched; the monitor's samples are made up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import type { TrackedContainer } from '../state-machines/containers-monitor.js';
import type { ProcessSample } from '../state-machines/process-tree.js';
import { NEVER_RETRY } from '../state-machines/retry-policy.js';
import type { ContainerEffect } from '../state-machines/types.js';
import { createBus } from '../src/bus.js';
import { resolveConfig } from '../src/config/load.js';
import { Dispatcher } from '../src/core/dispatcher.js';
import { JournalPruner } from '../src/journal/pruner.js';
import { ContainerGc } from '../src/node/container-gc.js';
import { Store } from '../src/store/store.js';

const log = pino({ level: 'silent' });

/** A container as a job would be: its wrapper (bash) and the command (python3) of `pages` resident pages, at tick `t` (its CPU time grows with it). */
export function jobTree(tracked: Pick<TrackedContainer, 'pid'>, t: number, pages: number): ProcessSample[] {
  const p = (pid: number, ppid: number, comm: string): ProcessSample => ({
    pid, ppid, pgrp: tracked.pid, session: tracked.pid, comm, state: 'S', utime: t * 30, stime: t * 2, numThreads: 4,
    startTime: tracked.pid, vsize: pages * 4096 * 2, rssPages: comm === 'bash' ? 800 : pages,
  });
  return [p(tracked.pid, 1, 'bash'), p(tracked.pid + 1, tracked.pid, 'python3')];
}

export class SteppedNode {
  now = 1_700_000_000_000;
  private readonly started = this.now;
  readonly store: Store;
  readonly core: Dispatcher;
  readonly pruner: JournalPruner;
  readonly gc: ContainerGc;
  private pid = 10_000;
  /** What the shell was asked and has not answered yet. */
  protected effects: Array<{ id: string; effect: ContainerEffect }> = [];

  /** `settings`: configuration keys over a node big enough that nothing waits for room. `store`: another (a failing one, in tests). */
  constructor(
    readonly file: string,
    settings: Record<string, string | number | boolean> = {},
    store?: Store,
  ) {
    const config = resolveConfig([{ 'yarn.nodemanager.vmem-check-enabled': false, 'yarn.nodemanager.resource.memory-mb': 1 << 20, 'yarn.nodemanager.resource.cpu-vcores': 1 << 16, ...settings }]);
    this.store = store ?? new Store(file);
    const bus = createBus(log);
    bus.on('effect', (e) => this.effects.push(e));
    this.core = new Dispatcher(this.store, bus, config, log, { host: { processors: 2, pageSize: 4096, clockTicks: 100 } });
    const clock = { now: () => this.now };
    this.pruner = new JournalPruner({
      store: this.store,
      checkpoint: (ts) => this.core.checkpoint(ts),
      storeFaulted: () => this.core.storeFault !== null,
      clock,
      log,
      retentionHours: config.journal.retentionHours,
      intervalMs: config.journal.pruneIntervalMs,
    });
    // No container has a directory here: a pass only forgets.
    this.gc = new ContainerGc({ core: this.core, workDir: path.dirname(file), retentionMs: config.limits.finishedRetentionMs, clock, log });
    this.core.recover({}, this.now);
  }

  /** A launch request for a job of `memoryMb`. */
  launch(id: string, memoryMb = 256): void {
    this.core.add({ id, command: ['python3', 'job.py'], env: {}, resources: { memoryMb, vcores: 1 }, executionType: 'GUARANTEED', localResources: [], retryPolicy: NEVER_RETRY }, this.now);
  }

  /** The job ended by itself (if it still runs). */
  exit(id: string): void {
    if (this.core.get(id)?.actor.state === 'RUNNING') this.core.dispatch(id, { type: 'CONTAINER_EXITED_WITH_SUCCESS', ts: this.now, exitCode: 0 });
  }

  /** One monitor tick: each tracked tree as `tree` samples it. */
  tick(tree: (tracked: TrackedContainer) => ProcessSample[]): void {
    const samples: Record<string, ProcessSample[]> = {};
    for (const tracked of this.core.monitorContext.tracking.values()) samples[tracked.id] = tree(tracked);
    this.core.monitor({ type: 'TICK', ts: this.now, samples });
  }

  /**
   * `ms` on, then a tick of `tree`, committed and answered; the container GC
   * and (unless `prune` is false) the pruner pass when their intervals come
   * round, as the daemon's timers would.
   */
  async step(ms: number, tree: (tracked: TrackedContainer) => ProcessSample[], { prune = true } = {}): Promise<void> {
    const before = this.now - this.started;
    this.now += ms;
    this.tick(tree);
    await this.settle();
    const due = (intervalMs: number) => Math.floor((before + ms) / intervalMs) > Math.floor(before / intervalMs);
    if (due(this.gc.intervalMs)) await this.gc.run();
    if (prune && due(this.pruner.intervalMs)) await this.pruner.run();
    await this.settle();
  }

  /** Commit, then answer what was asked (launch, monitor, kill, clean up) until nothing more is. */
  async settle(): Promise<void> {
    for (;;) {
      await this.core.durable();
      const effects = this.effects;
      this.effects = [];
      if (effects.length === 0) return;
      for (const { id, effect } of effects) this.answer(id, effect);
    }
  }

  /** Bytes of the database file and of its WAL. */
  onDisk(): { db: number; wal: number } {
    const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
    return { db: size(this.file), wal: size(`${this.file}-wal`) };
  }

  async close(): Promise<void> {
    await this.pruner.close();
    await this.gc.close();
    await this.settle();
    this.core.close();
    this.store.close();
  }

  protected answer(id: string, effect: ContainerEffect): void {
    const ts = this.now;
    if (effect.type === 'LAUNCH_CONTAINER' || effect.type === 'RELAUNCH_CONTAINER') this.core.dispatch(id, { type: 'CONTAINER_LAUNCHED', ts, pid: ++this.pid, startTime: this.pid });
    else if (effect.type === 'START_MONITORING') this.core.monitor({ type: 'START_MONITORING', ts, id, pid: effect.pid, resources: this.core.get(id)!.spec.resources });
    else if (effect.type === 'STOP_MONITORING') this.core.monitor({ type: 'STOP_MONITORING', ts, id });
    else if (effect.type === 'CLEANUP_CONTAINER') this.core.dispatch(id, { type: 'CONTAINER_KILLED_ON_REQUEST', ts, exitCode: 137, diagnostics: '' });
    else if (effect.type === 'CLEANUP_CONTAINER_RESOURCES') this.core.dispatch(id, { type: 'CONTAINER_RESOURCES_CLEANEDUP', ts });
  }
}
