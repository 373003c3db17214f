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
import { afterEach, describe, expect, it } from 'vitest';
import { exportJournal, exportLines } from '../src/journal/export.js';
import { replayLines } from '../src/journal/replay.js';
import { curl } from './helpers/curl.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { FailingStore, SteppedNode } from './helpers/stepped-node.js';
import { waitForAsync } from './helpers/proc.js';

const run = promisify(execFile);
const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');
const HOUR = 3_600_000;

let dir: string | undefined;
let daemonDir: DaemonDir | undefined;
afterEach(async () => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  await daemonDir?.cleanup();
  daemonDir = undefined;
});

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

  it('a crash in the middle of a prune loses nothing that was kept: the journal starts at the checkpoint, whole from there', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-prune-'));
    const file = path.join(dir, 'db.sqlite');
    const node = new SteppedNode(file, { 'nodewarden.journal.retention-hours': 0.25 });
    for (const id of ['a', 'b']) node.launch(id);
    await node.settle();
    await node.run(30 * 60_000);
    node.core.checkpoint(node.now);
    await node.run(30 * 60_000);
    node.core.checkpoint(node.now);
    await node.settle();
    const cut = node.store.checkpointBefore(node.now - 15 * 60_000)!;
    expect(cut.ts).toBe(node.now - 30 * 60_000);
    const before = records(await exportLines(file)).filter((r) => r.seq >= cut.seq);
    // Two slices of a pass, then SIGKILL: no close, no commit of anything staged after.
    node.store.pruneBefore(cut.seq, 3);
    node.store.pruneBefore(cut.seq, 3);
    // What the cut-short pass left below the cut (transitions among it) is not served: the events stream and
    // the transitions start at the checkpoint.
    expect(node.store.outputs(0, 10_000).filter((r) => r.seq < cut.seq)).toEqual([]);
    expect(node.store.transitionsOf('a')).toEqual([]);
    node.core.close();
    node.store.close();
    const lines = await exportLines(file);
    expect(JSON.parse(lines[0]!).prunedBefore).toBe(cut.seq);
    expect(records(lines)).toEqual(before);
    expect(replayLines(lines, { check: true }).divergence).toBeNull();
    // Records older than the cut are still in the file (the pass did not finish); the next one takes them.
    const reopened = new SteppedNode(file, { 'nodewarden.journal.retention-hours': 0.25 });
    reopened.now = node.now;
    expect(await reopened.pruner.run()).toBeGreaterThan(0);
    await reopened.close();
  });

  it('replay from a daemon start that only counted its finished containers takes them up at the next checkpoint', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-prune-'));
    const file = path.join(dir, 'db.sqlite');
    const first = new SteppedNode(file, {});
    first.launch('finished');
    await first.settle();
    first.core.dispatch('finished', { type: 'KILL_CONTAINER', ts: first.now, exitStatus: -105, diagnostics: 'done' });
    await first.settle();
    expect(first.core.get('finished')!.actor.state).toBe('DONE');
    await first.close();
    // A restart: its start record counts 'finished' without its row; then a checkpoint names it.
    const second = new SteppedNode(file, {});
    second.now += 60_000;
    second.launch('later');
    await second.settle();
    second.core.checkpoint(second.now);
    await second.run(30_000);
    await second.close();
    const lines = await exportLines(file);
    const starts = records(lines).filter((r) => r.type === 'start');
    const partial = await exportLines(file, starts[1]!.seq - 1);
    expect(replayLines(partial, { check: true })).toMatchObject({ divergence: null, from: starts[1]!.seq });
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
    // The events stream says the same to a reader that would miss records (the cut moves on with the timer:
    // a reader past it, or from the start, is served).
    const events = await curl(d.socket, ['http://localhost/v1/events?since=1']);
    expect(events.status).toBe(410);
    expect(events.json.error).toMatchObject({ code: 'GONE', message: expect.stringMatching(/^records after seq 1 up to seq \d+ are gone/) });
    expect((await curl(d.socket, ['http://localhost/v1/events?since=999999999'])).status).toBe(200);
    expect((await curl(d.socket, ['http://localhost/v1/events'])).status).toBe(200);
    await d.current!.client.post('/v1/containers/sleeper/kill', {});
    await d.until('sleeper', 'DONE');
    await d.stop();
    const file = path.join(d.dir, 'journal.ndjson');
    fs.writeFileSync(file, await exportNow());
    const check = await run(process.execPath, [BIN, 'replay', file, '--check']);
    expect(check.stdout).toMatch(/^replay matches the journal: /);
  }, 60_000);

  it('a store fault of many ticks stays bounded: staged ticks collapse into a snapshot, and what commits afterwards replays', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-prune-'));
    const file = path.join(dir, 'db.sqlite');
    const store = new FailingStore(file);
    const node = new SteppedNode(file, {}, store);
    for (const id of ['steady', 'grows', 'late']) node.launch(id);
    await node.settle();
    await node.run(60_000);

    // An hour of ticks while nothing commits: one container goes over its limit (killed from collapsed ticks).
    // The fault begins with a batch that holds a tick and a checkpoint: replay may start at that checkpoint,
    // so no gap may reach across it.
    store.failing = true;
    node.tickPages();
    node.core.checkpoint(node.now);
    node.now += 5000;
    await node.answerUncommitted();
    let most = 0;
    for (let i = 0; i < 720; i++) {
      node.tickPages(i === 300 ? { grows: 30_000 } : {});
      node.now += 5000;
      await node.answerUncommitted();
      most = Math.max(most, store.stagedRecordCount());
    }
    expect(node.core.storeFault?.code).toBe('SQLITE_FULL');
    expect(node.core.get('grows')!.actor.state).not.toBe('RUNNING');
    // 720 ticks, yet a handful of records staged: at most 8 ticks, a gap, a snapshot, and the kill's own records.
    expect(most).toBeLessThan(30);

    // The database commits again: the retry inserts what is staged, once.
    store.failing = false;
    await waitForAsync(async () => (node.core.storeFault === null && !store.hasStaged()) || undefined, 30_000, 'the retry to commit');
    await node.run(60_000, { late: 30_000 }); // a kill from ticks that are kept
    await node.close();
    const lines = await exportLines(file);
    const kept = records(lines);
    const gaps = kept.filter((r) => r.type === 'samples-gap');
    expect(gaps).toHaveLength(1);
    const checkpoint = kept.find((r) => r.type === 'checkpoint')!;
    expect(checkpoint.seq).toBeLessThan(gaps[0]!.seq);
    expect(kept.filter((r) => r.type === 'kill').map((r) => r.container)).toEqual(['grows', 'late']);
    expect(replayLines(lines, { check: true }).divergence).toBeNull();
    // And from the checkpoint on, as a journal pruned there would be replayed.
    const fromCheckpoint = await exportLines(file, checkpoint.seq - 1);
    expect(replayLines(fromCheckpoint, { check: true })).toMatchObject({ divergence: null, from: checkpoint.seq });
  });
});
