/**
 * The journal stays bounded (nodewarden.journal.retention-hours): each pass
 * of the pruner journals a checkpoint and deletes every record — inputs,
 * samples, transitions, kills — before the newest checkpoint older than the
 * window, a slice at a time with the event loop free in between. Replay and
 * export start at that checkpoint and stay exact; the database file and its
 * WAL stop growing once the window is full.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostFacts } from '../state-machines/containers-monitor.js';
import type { ProcessSample } from '../state-machines/process-tree.js';
import type { ContainerEffect } from '../state-machines/types.js';
import { createBus } from '../src/bus.js';
import { resolveConfig } from '../src/config/load.js';
import { Dispatcher } from '../src/core/dispatcher.js';
import { exportJournal, exportLines } from '../src/journal/export.js';
import { JournalPruner } from '../src/journal/pruner.js';
import { replayLines } from '../src/journal/replay.js';
import { Store } from '../src/store/store.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { containerSpec } from './helpers/spec.js';

const run = promisify(execFile);
const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');
const log = pino({ level: 'silent' });
const HOST: HostFacts = { processors: 2, pageSize: 4096, clockTicks: 100 };
const HOUR = 3_600_000;

let dir: string | undefined;
let daemonDir: DaemonDir | undefined;
afterEach(async () => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  await daemonDir?.cleanup();
  daemonDir = undefined;
});

/** One process of `pages` resident pages, its CPU time growing with the clock. */
const tree = (pid: number, pages: number, ts: number): ProcessSample[] => [
  { pid, ppid: 1, pgrp: pid, session: pid, comm: 'sh', state: 'S', utime: Math.floor(ts / 1000) % 1_000_000, stime: 0, numThreads: 1, startTime: 1, vsize: pages * 4096, rssPages: pages },
];

/**
 * A node on a stepped clock, driven through the live path (Dispatcher, a real
 * SQLite file): containers launched, monitored, ticked, ended and forgotten,
 * the shell's answers given the way the effect runner gives them.
 */
class SteppedNode {
  now = 1_700_000_000_000;
  readonly store: Store;
  readonly core: Dispatcher;
  readonly pruner: JournalPruner;
  private pid = 1000;
  private effects: Array<{ id: string; effect: ContainerEffect }> = [];

  constructor(
    readonly file: string,
    settings: Record<string, string | number | boolean>,
  ) {
    const config = resolveConfig([{ 'yarn.nodemanager.vmem-check-enabled': false, ...settings }]);
    this.store = new Store(file);
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

const records = (lines: string[]) => lines.slice(1).map((l) => JSON.parse(l) as { seq: number; type: string; container?: string });

describe('journal pruning', () => {
  it('cuts every record before the newest checkpoint older than the window; export starts there and replays exactly', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-prune-'));
    const file = path.join(dir, 'db.sqlite');
    const node = new SteppedNode(file, { 'nodewarden.journal.retention-hours': 1 });
    for (const id of ['early', 'early2', 'late', 'queued-kill']) node.launch(id);
    await node.settle();
    await node.run(HOUR / 2);
    // Two over the limit in the same tick (64 + 32 MiB = 24,576 pages): their kills will be pruned.
    await node.run(5000, { early: 30_000, early2: 30_000 });
    expect(node.core.get('early')!.actor.state).toBe('DONE');
    expect(await node.pruner.run()).toBe(0); // its checkpoint is the first: nothing is older than the window
    await node.settle();
    const first = node.store.checkpointBefore(node.now)!;
    await node.run(HOUR + 60_000);

    // An export under way while a pass cuts reads one snapshot of the database: everything, nothing cut.
    let during = '';
    await exportJournal(file, 0, async (chunk) => {
      if (during === '') {
        expect(JSON.parse(chunk).prunedBefore).toBeUndefined();
        expect(await node.pruner.run()).toBeGreaterThan(0);
      }
      during += chunk;
    });
    const duringLines = during.trimEnd().split('\n');
    expect(records(duringLines)[0]).toMatchObject({ type: 'start' });
    expect(replayLines(duringLines, { check: true }).divergence).toBeNull();
    await node.settle();
    expect(node.store.prunedBefore()).toBe(first.seq);

    // Everything before the cut is gone from the database, transitions and kills too.
    const cut = await exportLines(file);
    const header = JSON.parse(cut[0]!);
    expect(header).toMatchObject({ prunedBefore: first.seq, recorded: header.config });
    expect(records(cut)[0]).toMatchObject({ seq: first.seq, type: 'checkpoint' });
    expect(records(cut).filter((r) => r.seq < first.seq)).toEqual([]);
    expect(node.store.transitions().every((t) => t.seq > first.seq)).toBe(true);
    expect(node.store.transitionsOf('early')).toEqual([]);

    // The next pass, while the event loop keeps turning between slices.
    await node.run(HOUR);
    const pass = node.pruner.run();
    let done = false;
    void pass.then(() => (done = true));
    const turnedWhilePruning = await new Promise<boolean>((resolve) => setImmediate(() => resolve(!done)));
    expect(await pass).toBeGreaterThan(500);
    expect(turnedWhilePruning).toBe(true);

    // Kept: a kill decided after the cut, and one of a container queued behind it.
    await node.run(60_000, { late: 30_000 });
    node.core.dispatch('queued-kill', { type: 'KILL_CONTAINER', ts: node.now, exitStatus: -105, diagnostics: 'by the API' });
    await node.settle();
    await node.close();

    const lines = await exportLines(file);
    const kept = records(lines);
    expect(kept[0]!.type).toBe('checkpoint');
    expect(kept.filter((r) => r.type === 'kill').map((r) => r.container)).toEqual(['late']);
    const summary = replayLines(lines, { check: true });
    expect(summary).toMatchObject({ divergence: null, from: kept[0]!.seq, skipped: 0 });
    expect(summary.transitions).toBe(kept.filter((r) => r.type === 'transition').length);

    // Replay really decides from the checkpoint on: the kept kill diverges when its limit is raised.
    const raised = { ...JSON.parse(lines[0]!), config: { ...JSON.parse(lines[0]!).config, 'nodewarden.executor.allowance.memory-mb': 1000 } };
    expect(replayLines([JSON.stringify(raised), ...lines.slice(1)], { check: true }).divergence).toMatchObject({ container: 'late' });
  });

  it("replay's check compares its own state with each checkpoint it passes", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-prune-'));
    const file = path.join(dir, 'db.sqlite');
    const node = new SteppedNode(file, { 'nodewarden.journal.retention-hours': 24, 'yarn.nodemanager.resource.memory-mb': 256 });
    node.launch('runs', 96);
    node.launch('waits', 96); // 2 × (96 + 32) = 256: the second fits; a third waits in the queue
    node.launch('queued', 96);
    await node.settle();
    await node.run(30_000);
    node.core.checkpoint(node.now);
    await node.run(30_000);
    await node.close();
    const lines = await exportLines(file);
    expect(replayLines(lines, { check: true }).divergence).toBeNull();
    const at = lines.findIndex((l) => l.includes('"type":"checkpoint"'));
    const checkpoint = JSON.parse(lines[at]!);
    expect(checkpoint.scheduler.queuedGuaranteed.map((h: { id: string }) => h.id)).toEqual(['queued']);

    const doctored = (change: (c: typeof checkpoint) => void) => {
      const c = structuredClone(checkpoint);
      change(c);
      return replayLines([...lines.slice(0, at), JSON.stringify(c), ...lines.slice(at + 1)], { check: true }).divergence;
    };
    expect(doctored((c) => (c.containers[0].state = 'DONE'))).toMatchObject({ seq: checkpoint.seq, container: 'runs' });
    expect(doctored((c) => (c.scheduler.queuedGuaranteed = []))).toMatchObject({ seq: checkpoint.seq, expected: expect.stringContaining('the scheduler') });
    expect(doctored((c) => c.monitor.tracking.pop())).toMatchObject({ seq: checkpoint.seq, expected: expect.stringContaining('the monitor') });
  });

  it('the database file and its WAL stop growing once the window is full (an accelerated run on a stepped clock)', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-prune-'));
    const file = path.join(dir, 'db.sqlite');
    // A window of 10 minutes, a pass every 2.5; a wave of 10 containers every 2 minutes, each living 4.
    const node = new SteppedNode(file, { 'nodewarden.journal.retention-hours': 1 / 6, 'nodewarden.journal.prune-interval-ms': 150_000 });
    const sizes: number[] = [];
    const exported: number[] = [];
    let wave = 0;
    const living: string[][] = [];
    for (let minute = 0; minute < 120; minute += 2) {
      const ids = Array.from({ length: 10 }, (_, i) => `w${wave}-${i}`);
      wave++;
      for (const id of ids) node.launch(id);
      living.push(ids);
      if (living.length > 2) for (const id of living.shift()!) node.core.dispatch(id, { type: 'KILL_CONTAINER', ts: node.now, exitStatus: -105, diagnostics: 'done' });
      await node.run(60_000);
      node.forgetDone();
      await node.run(60_000);
      if (minute % 5 === 4 || minute % 5 === 3) {
        await node.pruner.run();
        await node.settle();
      }
      if (minute % 10 === 8) {
        sizes.push(node.bytesOnDisk());
        exported.push((await exportLines(file)).length);
      }
    }
    await node.close();
    // Before the window is full the journal grows; from 20 minutes on (the window and an interval) the file
    // sizes and the journal's length are flat, while six times as many containers run by the end.
    const [firstLines, fullLines, ...laterLines] = exported;
    expect(fullLines!).toBeGreaterThan(firstLines! * 1.2);
    for (const n of laterLines) expect(n).toBeLessThanOrEqual(fullLines! * 1.25);
    const [, , full, ...later] = sizes;
    for (const s of later) expect(s).toBeLessThanOrEqual(full! * 1.1);
    expect(replayLines(await exportLines(file), { check: true }).divergence).toBeNull();
  });

  it('the daemon checkpoints and prunes on its own timer; export starts at a checkpoint, refuses a --since that is gone, and replays with --check', async () => {
    daemonDir = new DaemonDir();
    const d = daemonDir;
    // A window of ~0.7 s, a pass every 100 ms.
    await d.start({ set: { 'nodewarden.journal.retention-hours': 0.0002, 'nodewarden.journal.prune-interval-ms': 100, 'yarn.nodemanager.container-monitor.interval-ms': 50 } });
    await d.launch('sleeper', ['sleep', '600']);
    await d.until('sleeper', 'RUNNING');
    const exportNow = async (...args: string[]) => (await run(process.execPath, [BIN, 'journal', 'export', '--db', d.db, ...args], { maxBuffer: 64 * 2 ** 20 })).stdout;
    let lines: string[] = [];
    for (let i = 0; i < 600 && JSON.parse(lines[0] ?? '{}').prunedBefore === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      lines = (await exportNow()).trimEnd().split('\n');
    }
    const header = JSON.parse(lines[0]!);
    expect(header.prunedBefore).toBeGreaterThan(1);
    expect(records(lines)[0]).toMatchObject({ seq: header.prunedBefore, type: 'checkpoint' });
    // The daemon's start is gone: a --since before the cut says so, and what to do.
    const gone = await run(process.execPath, [BIN, 'journal', 'export', '--db', d.db, '--since', '1']).catch((e: { code: number; stderr: string }) => e);
    expect(gone).toMatchObject({ code: 1, stderr: expect.stringMatching(/records after seq 1 up to seq \d+ are gone: the journal was pruned to its retention window \(nodewarden\.journal\.retention-hours\)/) });
    await d.current!.client.post('/v1/containers/sleeper/kill', {});
    await d.until('sleeper', 'DONE');
    await d.stop();
    const file = path.join(d.dir, 'journal.ndjson');
    fs.writeFileSync(file, await exportNow());
    const check = await run(process.execPath, [BIN, 'replay', file, '--check']);
    expect(check.stdout).toMatch(/^replay matches the journal: /);
  }, 60_000);
});
