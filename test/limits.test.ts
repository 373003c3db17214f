/**
 * Bounds on what a long-running daemon holds (issue 9): a maximum of known
 * containers and of containers waiting to run, each refused with 503 and
 * changing nothing; finished containers forgotten after their retention,
 * rows and directories with them, as a journaled input that replay takes.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../src/clock.js';
import { NodewardenError } from '../src/core/errors.js';
import { exportLines } from '../src/journal/export.js';
import { lastStartConfig, replayLines } from '../src/journal/replay.js';
import { startDaemon, type TestDaemon } from './helpers/daemon.js';
import { refusal } from './helpers/refusal.js';

let d: TestDaemon | null = null;
afterEach(async () => {
  await d?.stop();
  d = null;
});

const request = (id: string, command: string[] = ['true'], memoryMb = 64) => ({ id, command, resources: { memoryMb, vcores: 1 } });

const refusedWith = (p: Promise<unknown>) => refusal(p, NodewardenError);

function rows(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT id FROM containers ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
  } finally {
    db.close();
  }
}

/** A clock the test moves forward. */
function steppedClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => (offset += ms) };
}

describe('limits', () => {
  it('a launch beyond nodewarden.containers.max-known is refused with 503 and changes nothing', async () => {
    d = startDaemon({ 'nodewarden.containers.max-known': 3 });
    for (const id of ['a', 'b', 'c']) await d.node.launch(request(id));
    const err = await refusedWith(d.node.launch(request('d')));
    expect(err.status).toBe(503);
    expect(err.code).toBe('TOO_MANY_CONTAINERS');
    expect(err.message).toMatch(/already knows 3 containers \(nodewarden.containers.max-known\)/);
    expect(() => d!.node.view('d')).toThrow(/not found/);
    // The same request again for a known id is still answered (idempotent), not refused.
    expect((await d.node.launch(request('a'))).created).toBe(false);
    expect(d.node.nodeReport().limits).toMatchObject({ known: 3, maxKnown: 3 });
  });

  it('a launch beyond nodewarden.containers.max-queued is refused; room again once one starts', async () => {
    // 64 MB + 32 MB allowance each: two fit in 200 MB, the rest wait.
    d = startDaemon({ 'nodewarden.containers.max-queued': 2, 'yarn.nodemanager.resource.memory-mb': 200 });
    for (const id of ['run1', 'run2', 'wait1', 'wait2']) await d.node.launch(request(id, ['sleep', '600']));
    await d.until('run1', 'RUNNING');
    await d.until('run2', 'RUNNING');
    expect(d.node.view('wait1').state).toBe('SCHEDULED');
    const err = await refusedWith(d.node.launch(request('wait3', ['sleep', '600'])));
    expect(err).toMatchObject({ status: 503, code: 'QUEUE_FULL' });
    expect(err.message).toMatch(/2 containers are already waiting to run \(nodewarden.containers.max-queued\)/);
    expect(() => d!.node.view('wait3')).toThrow(/not found/);

    await d.node.kill('run1');
    await d.until('wait1', 'RUNNING');
    expect((await d.node.launch(request('wait3', ['sleep', '600']))).created).toBe(true);
    expect(d.node.view('wait3').state).toBe('SCHEDULED');
  });
});

describe('finished containers are forgotten after nodewarden.containers.finished-retention-ms', () => {
  it('row, directory and memory go once the retention is over; the id can be used again; replay agrees', async () => {
    const clock = steppedClock();
    // The clock also runs with real time: a retention of minutes leaves the steps below
    // wide margins on a slow machine, and puts the GC's own timer (every min(60 s,
    // retention / 2)) past the test's end, so only the test's passes run.
    d = startDaemon({ 'nodewarden.containers.finished-retention-ms': 600_000 }, { clock });
    await d.node.launch(request('old', ['sh', '-c', 'echo hello']));
    await d.node.launch(request('young', ['true']));
    await d.node.launch(request('running', ['sleep', '600']));
    await d.until('old', 'DONE');
    await d.until('young', 'DONE');
    await d.until('running', 'RUNNING');
    const oldDir = d.node.view('old').workDir;
    expect(fs.readFileSync(`${oldDir}/logs/stdout`, 'utf8')).toBe('hello\n');

    clock.advance(400_000);
    await d.node.launch(request('young2', ['true']));
    await d.until('young2', 'DONE');
    // Nothing is due yet.
    expect(await d.node.gc.run()).toEqual([]);

    clock.advance(300_000);
    // 'old' and 'young' finished 700 s ago, 'young2' 300 s ago; 'running' never finished.
    const forgotten = await d.node.gc.run();
    expect(forgotten.sort()).toEqual(['old', 'young']);
    expect(() => d!.node.view('old')).toThrow(/not found/);
    expect(fs.existsSync(oldDir)).toBe(false);
    expect(rows(d.dbPath)).toEqual(['running', 'young2']);
    expect(d.node.view('running').state).toBe('RUNNING');

    // A forgotten id is free: the same request makes a new container.
    expect((await d.node.launch(request('old', ['sh', '-c', 'echo again']))).created).toBe(true);
    await d.until('old', 'DONE');
    expect(fs.readFileSync(`${oldDir}/logs/stdout`, 'utf8')).toBe('again\n');
    // Its transitions are its own, not the forgotten container's too.
    const transitions = await d.node.transitions('old');
    expect(transitions.filter((t) => t.from === 'NEW')).toHaveLength(1);
    expect(transitions.at(-1)?.to).toBe('DONE');

    await d.node.close();
    const lines = await exportLines(d.dbPath);
    expect(lines.some((l) => l.includes('"type":"forget"'))).toBe(true);
    const summary = replayLines(lines, { check: true, lastStartConfig: lastStartConfig(lines) });
    expect(summary.divergence).toBeNull();
  });

  it('a directory no known container owns is removed, unless its wrapper still runs in it', async () => {
    d = startDaemon({ 'nodewarden.containers.finished-retention-ms': 60_000 });
    const containers = `${d.workDir}/containers`;
    // A wrapper SIGKILLed (it ignored SIGTERM) leaves its pid file and no exit code.
    fs.mkdirSync(`${containers}/sigkilled/logs`, { recursive: true });
    fs.writeFileSync(`${containers}/sigkilled/sigkilled.pid`, String(process.pid));
    fs.mkdirSync(`${containers}/still-running`);
    const running = spawn('sleep', ['600'], { cwd: `${containers}/still-running`, stdio: 'ignore' });
    try {
      fs.writeFileSync(`${containers}/still-running/still-running.pid`, String(running.pid));
      fs.mkdirSync(`${containers}/not an id`);
      await d.node.gc.run();
      expect(fs.readdirSync(containers).sort()).toEqual(['not an id', 'still-running']);
    } finally {
      running.kill('SIGKILL');
    }
  });
});
