/**
 * The live path on a stepped clock (bench/stepped-node.ts) with what the
 * journal's tests add: trees of a given size, runs of ticks, forgetting,
 * and answering the shell during a store fault.
 */
import type { ProcessSample } from '../../state-machines/process-tree.js';
import { SteppedNode as BenchNode } from '../../bench/stepped-node.js';
import { Store } from '../../src/store/store.js';

/** One process of `pages` resident pages, its CPU time growing with the clock. */
export const tree = (pid: number, pages: number, ts: number): ProcessSample[] => [
  { pid, ppid: 1, pgrp: pid, session: pid, comm: 'sh', state: 'S', utime: Math.floor(ts / 1000) % 1_000_000, stime: 0, numThreads: 1, startTime: 1, vsize: pages * 4096, rssPages: pages },
];

export class SteppedNode extends BenchNode {
  /** 64 MB: a tree of 30,000 pages (117 MB) is over its limit of 64 + 32 MB. */
  override launch(id: string, memoryMb = 64): void {
    super.launch(id, memoryMb);
  }

  /** One monitor tick of every tracked tree (`pages` by id; 1000 resident pages otherwise). */
  tickPages(pages: Record<string, number> = {}): void {
    this.tick((t) => tree(t.pid, pages[t.id] ?? 1000, this.now));
  }

  /** Ticks every 5 s for `ms`, then commit and answer. */
  async run(ms: number, pages: Record<string, number> = {}): Promise<void> {
    for (const end = this.now + ms; this.now < end; this.now += 5000) this.tickPages(pages);
    await this.settle();
  }

  /** Answer what the shell was asked without waiting for a commit (a store fault: only the safe effects come). */
  async answerUncommitted(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const effects = this.effects;
    this.effects = [];
    for (const { id, effect } of effects) this.answer(id, effect);
  }

  /** Finished containers forgotten, as the ContainerGc does once their retention is over. */
  forgetDone(): void {
    this.core.forget([...this.core.all()].filter((e) => e.actor.state === 'DONE').map((e) => e.spec.id), this.now);
  }

  bytesOnDisk(): number {
    const { db, wal } = this.onDisk();
    return db + wal;
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
