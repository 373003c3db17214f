/**
 * A node on a stepped clock, driven through the live path (Dispatcher, a real
 * SQLite file, the journal pruner): for tests of the journal over hours of
 * simulated time.
 */
import fs from 'node:fs';
import { pino } from 'pino';
import type { HostFacts } from '../../state-machines/containers-monitor.js';
import type { ProcessSample } from '../../state-machines/process-tree.js';
import type { ContainerEffect } from '../../state-machines/types.js';
import { createBus } from '../../src/bus.js';
import { resolveConfig } from '../../src/config/load.js';
import { Dispatcher } from '../../src/core/dispatcher.js';
import { JournalPruner } from '../../src/journal/pruner.js';
import { Store } from '../../src/store/store.js';
import { containerSpec } from './spec.js';

const log = pino({ level: 'silent' });
const HOST: HostFacts = { processors: 2, pageSize: 4096, clockTicks: 100 };

/** One process of `pages` resident pages, its CPU time growing with the clock. */
export const tree = (pid: number, pages: number, ts: number): ProcessSample[] => [
  { pid, ppid: 1, pgrp: pid, session: pid, comm: 'sh', state: 'S', utime: Math.floor(ts / 1000) % 1_000_000, stime: 0, numThreads: 1, startTime: 1, vsize: pages * 4096, rssPages: pages },
];

/**
 * A node on a stepped clock, driven through the live path (Dispatcher, a real
 * SQLite file): containers launched, monitored, ticked, ended and forgotten,
 * the shell's answers given the way the effect runner gives them.
 */
export class SteppedNode {
  now = 1_700_000_000_000;
  readonly store: Store;
  readonly core: Dispatcher;
  readonly pruner: JournalPruner;
  private pid = 1000;
  private effects: Array<{ id: string; effect: ContainerEffect }> = [];

  constructor(
    readonly file: string,
    settings: Record<string, string | number | boolean>,
    store: Store = new Store(file),
  ) {
    const config = resolveConfig([{ 'yarn.nodemanager.vmem-check-enabled': false, ...settings }]);
    this.store = store;
    const bus = createBus(log);
    bus.on('effect', (e) => this.effects.push(e));
    this.core = new Dispatcher(this.store, bus, config, log, { host: HOST });
    this.pruner = new JournalPruner({
      store: this.store,
      checkpoint: (ts) => this.core.checkpoint(ts),
      storeFaulted: () => this.core.storeFault !== null,
      clock: { now: () => this.now },
      log,
      retentionHours: config.journal.retentionHours,
      intervalMs: config.journal.pruneIntervalMs,
    });
    this.core.recover({}, this.now);
  }

  launch(id: string, memoryMb = 64): void {
    this.core.add(containerSpec(id, { resources: { memoryMb, vcores: 1 } }), this.now);
  }

  /** Commit, then answer what was asked (localize, launch, kill, clean up, monitor) until nothing more is. */
  async settle(): Promise<void> {
    for (;;) {
      await this.core.durable();
      const effects = this.effects;
      this.effects = [];
      if (effects.length === 0) return;
      for (const { id, effect } of effects) this.answer(id, effect);
    }
  }

  private answer(id: string, effect: ContainerEffect): void {
    const ts = this.now;
    switch (effect.type) {
      case 'LAUNCH_CONTAINER':
      case 'RELAUNCH_CONTAINER': {
        const pid = ++this.pid;
        this.core.dispatch(id, { type: 'CONTAINER_LAUNCHED', ts, pid, startTime: 1 });
        return;
      }
      case 'CLEANUP_CONTAINER':
        this.core.dispatch(id, { type: 'CONTAINER_KILLED_ON_REQUEST', ts, exitCode: 137, diagnostics: 'killed' });
        return;
      case 'CLEANUP_CONTAINER_RESOURCES':
        this.core.dispatch(id, { type: 'CONTAINER_RESOURCES_CLEANEDUP', ts });
        return;
      case 'START_MONITORING':
        this.core.monitor({ type: 'START_MONITORING', ts, id, pid: effect.pid, resources: this.core.get(id)!.spec.resources });
        return;
      case 'STOP_MONITORING':
        this.core.monitor({ type: 'STOP_MONITORING', ts, id });
        return;
      default:
        return;
    }
  }

  /** One monitor tick of every tracked tree (`pages` by id; 1000 resident pages otherwise). */
  tick(pages: Record<string, number> = {}): void {
    const samples: Record<string, ProcessSample[]> = {};
    for (const t of this.core.monitorContext.tracking.values()) samples[t.id] = tree(t.pid, pages[t.id] ?? 1000, this.now);
    this.core.monitor({ type: 'TICK', ts: this.now, samples });
  }

  /** Answer what the shell was asked without waiting for a commit (a store fault: only the safe effects come). */
  async answerUncommitted(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const effects = this.effects;
    this.effects = [];
    for (const { id, effect } of effects) this.answer(id, effect);
  }

  /** Ticks every 5 s for `ms`. */
  async run(ms: number, pages: Record<string, number> = {}): Promise<void> {
    for (const end = this.now + ms; this.now < end; this.now += 5000) this.tick(pages);
    await this.settle();
  }

  /** Finished containers forgotten, as the ContainerGc does once their retention is over. */
  forgetDone(): void {
    this.core.forget([...this.core.all()].filter((e) => e.actor.state === 'DONE').map((e) => e.spec.id), this.now);
  }

  bytesOnDisk(): number {
    return [this.file, `${this.file}-wal`].reduce((sum, f) => sum + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
  }

  async close(): Promise<void> {
    await this.pruner.close();
    await this.settle();
    this.core.close();
    this.store.close();
  }
}

/** A database that fails every commit while `failing` (SQLITE_FULL, as a full disk gives it). */
export class FailingStore extends Store {
  failing = false;
  override commit(): ReturnType<Store['commit']> {
    if (this.failing) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    return super.commit();
  }
}
