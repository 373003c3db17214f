/**
 * Monitor samples are kept for nodewarden.journal.retention-hours, then
 * pruned — a slice at a time, the event loop free between slices — and
 * replay stays exact: it carries the monitor on from the snapshot the cut
 * was made at, and takes the kills decided from pruned samples as recorded.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostFacts } from '../state-machines/containers-monitor.js';
import type { ProcessSample } from '../state-machines/process-tree.js';
import { createBus } from '../src/bus.js';
import { resolveConfig } from '../src/config/load.js';
import { Dispatcher } from '../src/core/dispatcher.js';
import { exportJournal, exportLines } from '../src/journal/export.js';
import { JournalPruner } from '../src/journal/pruner.js';
import { replayLines } from '../src/journal/replay.js';
import { Store } from '../src/store/store.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { containerSpec } from './helpers/spec.js';

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

describe('journal pruning', () => {
  it('drops samples older than the window at a snapshot; replay stays exact across the cut', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-prune-'));
    const file = path.join(dir, 'db.sqlite');
    const store = new Store(file);
    const config = resolveConfig([{ 'nodewarden.journal.retention-hours': 1, 'yarn.nodemanager.vmem-check-enabled': false }]);
    const core = new Dispatcher(store, createBus(log), config, log, { host: HOST });
    let now = 1_700_000_000_000;
    const clock = { now: () => now };
    const pruner = new JournalPruner({ store, core, clock, log, retentionHours: 1 });
    core.recover({}, now);

    // Three containers running and monitored (limit 64 + 32 MiB = 24,576 pages).
    for (const [id, pid] of [['early', 100], ['early2', 150], ['late', 200]] as const) {
      core.add(containerSpec(id, { resources: { memoryMb: 64, vcores: 1 } }), now);
      core.dispatch(id, { type: 'CONTAINER_LAUNCHED', ts: now, pid, startTime: 1 });
      core.monitor({ type: 'START_MONITORING', ts: now, id, pid, resources: { memoryMb: 64, vcores: 1 } });
    }
    const tick = (pages: Record<string, number>) => {
      const samples: Record<string, ProcessSample[]> = {};
      for (const t of core.monitorContext.tracking.values()) samples[t.id] = tree(t.pid, pages[t.id] ?? 1000, now);
      core.monitor({ type: 'TICK', ts: now, samples });
    };
    const run = async (ms: number, pages: Record<string, number> = {}) => {
      for (const end = now + ms; now < end; now += 5000) tick(pages);
      await core.durable();
    };

    await run(HOUR / 2);
    // Two over the limit in the same tick: killed from samples that will be pruned.
    await run(5000, { early: 30_000, early2: 30_000 });
    expect(core.get('early')!.actor.state).toBe('KILLING');
    expect(core.get('early2')!.actor.state).toBe('KILLING');
    await run(HOUR);
    expect(await pruner.run()).toBe(0); // the first snapshot is not yet out of the window
    await core.durable();
    const firstSnapshot = store.snapshotBefore(now)!;
    await run(HOUR + 60_000);

    // An export that is under way when the cut is made reads one snapshot: all of the samples, none pruned.
    let during = '';
    await exportJournal(file, 0, async (chunk) => {
      if (during === '') {
        expect(JSON.parse(chunk).samplesFrom).toBeNull();
        expect(await new JournalPruner({ store, core, clock, log, retentionHours: 1 }).run()).toBeGreaterThan(0);
      }
      during += chunk;
    });
    const duringLines = during.trimEnd().split('\n');
    expect(duringLines.filter((l) => l.includes('"type":"tick"')).length).toBeGreaterThan(1000);
    expect(replayLines(duringLines, { check: true }).divergence).toBeNull();
    await core.durable();

    // The cut (again, for what came since): a pass while the event loop keeps turning between slices.
    await run(HOUR); // more than one slice (500 rows) to go
    const pass = pruner.run();
    let done = false;
    void pass.then(() => (done = true));
    const turnedWhilePruning = await new Promise<boolean>((resolve) => setImmediate(() => resolve(!done)));
    const deleted = await pass;
    expect(turnedWhilePruning).toBe(true);
    expect(deleted).toBeGreaterThan(500);
    await core.durable();
    const cutAt = store.samplesFrom()!;
    expect(cutAt).toBeGreaterThanOrEqual(firstSnapshot.seq);

    await run(60_000, { late: 30_000 }); // killed from samples that are kept
    expect(core.get('late')!.actor.state).toBe('KILLING');
    await pruner.close();
    core.close();
    store.close();

    const lines = await exportLines(file);
    const header = JSON.parse(lines[0]!);
    expect(header.samplesFrom).toBe(cutAt);
    const records = lines.slice(1).map((l) => JSON.parse(l));
    expect(records.filter((r) => r.type === 'tick' && r.seq < cutAt)).toEqual([]);
    expect(records.filter((r) => r.type === 'tick').length).toBeGreaterThan(700); // the window's ticks are kept
    // Both kills of the same tick are recorded before either is handled.
    expect(records.filter((r) => r.type === 'kill').map((r) => r.container)).toEqual(['early', 'early2', 'late']);
    const firstKill = records.findIndex((r) => r.type === 'kill');
    expect(records[firstKill + 1]).toMatchObject({ type: 'kill', container: 'early2' });

    const summary = replayLines(lines, { check: true });
    expect(summary.divergence).toBeNull();
    expect(summary.kills).toBe(3);

    // Replay really decides after the cut: the kept kill diverges when its limit is raised.
    const raised = { ...header, config: { ...header.config, 'nodewarden.executor.allowance.memory-mb': 1000 } };
    const diverged = replayLines([JSON.stringify(raised), ...lines.slice(1)], { check: true }).divergence;
    expect(diverged).toMatchObject({ container: 'late' });
  });

  it('the daemon prunes on its own timer, and its export replays', async () => {
    daemonDir = new DaemonDir();
    const d = daemonDir;
    // A window of ~0.7 s: a pass every ~180 ms.
    await d.start({ set: { 'nodewarden.journal.retention-hours': 0.0002, 'yarn.nodemanager.container-monitor.interval-ms': 50 } });
    await d.launch('sleeper', ['sleep', '600']);
    await d.until('sleeper', 'RUNNING');
    const exportNow = () => spawnSync(process.execPath, ['bin/nodewarden.js', 'journal', 'export', '--db', d.db], { encoding: 'utf8' }).stdout;
    type Exported = { header: { samplesFrom: number | null }; records: Array<{ seq: number; type: string }> };
    const exported = (lines: string[]): Exported => ({ header: JSON.parse(lines[0]!), records: lines.slice(1).map((l) => JSON.parse(l)) });
    let cut: Exported = { header: { samplesFrom: null }, records: [] };
    for (let i = 0; i < 200 && cut.header.samplesFrom === null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      cut = exported(exportNow().trimEnd().split('\n'));
    }
    expect(cut.header.samplesFrom).not.toBeNull();
    // The ticks after the cut are kept. Looked at in this export, taken while sleeper is monitored (a tick every
    // 50 ms, the cut ≥ 0.7 s old): once it is killed nothing is ticked, and a stop that comes a window later
    // on a slow machine finds every tick pruned.
    const firstTick = cut.records.find((r) => r.type === 'tick');
    expect(firstTick?.seq).toBeGreaterThan(cut.header.samplesFrom!);
    await d.current!.client.post('/v1/containers/sleeper/kill', {});
    await d.until('sleeper', 'DONE');
    await d.stop();
    const lines = exportNow().trimEnd().split('\n');
    const after = exported(lines);
    expect(after.header.samplesFrom).toBeGreaterThanOrEqual(cut.header.samplesFrom!);
    expect(replayLines(lines, { check: true }).divergence).toBeNull();
  }, 60_000); // a daemon start, a container, CLI exports and a stop: room for a loaded machine
});
