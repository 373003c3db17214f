/**
 * The container lifecycle end to end: real processes, a real SQLite file, the
 * real dispatch path. Each test waits for states, never for time.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodewardenError } from '../src/core/errors.js';
import { containerPaths } from '../src/launcher/container-paths.js';
import { pino } from 'pino';
import { startDaemon, type TestDaemon } from './helpers/daemon.js';
import { isPaused, liveMembers, procStat, waitFor } from './helpers/proc.js';

let daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const d of daemons) await d.stop();
  daemons = [];
});

function daemon(settings: Record<string, string | number | boolean> = {}): TestDaemon {
  const d = startDaemon(settings);
  daemons.push(d);
  return d;
}

const small = { memoryMb: 64, vcores: 1 };
const states = async (d: TestDaemon, id: string) => (await d.node.transitions(id)).map((t) => `${t.from}>${t.to}`);

describe('lifecycle with real processes', () => {
  it('a kill that comes in while the launch files are being prepared: the process is never spawned', async () => {
    const lines: string[] = [];
    const d = startDaemon({}, { log: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) });
    daemons.push(d);
    const marker = path.join(d.dir, 'ran');
    // The launch effect has started (its files are prepared off the event loop) when the reply arrives.
    await d.node.launch({ id: 'early', command: ['sh', '-c', `touch ${marker}; sleep 60`], resources: small });
    expect(d.node.view('early').state).toBe('SCHEDULED');
    await d.node.kill('early');
    await d.until('early', 'DONE');
    expect(d.node.view('early')).toMatchObject({ pid: null, exitStatus: -105, exitCode: 143 });
    expect(d.node.view('early').diagnostics).toContain('Container terminated before launch.');
    expect(await states(d, 'early')).toEqual(['NEW>SCHEDULED', 'SCHEDULED>KILLING', 'KILLING>CONTAINER_CLEANEDUP_AFTER_KILL', 'CONTAINER_CLEANEDUP_AFTER_KILL>DONE']);
    // The launch's file work finishes after the kill, and then it must not spawn.
    await d.node.settled();
    expect(fs.existsSync(containerPaths(d.workDir, 'early').script)).toBe(true);
    const about = (msg: string) => lines.map((l) => JSON.parse(l)).filter((l) => l.container === 'early' && l.msg.startsWith(msg));
    expect(about('launch skipped')).toHaveLength(1);
    expect(about('container launched')).toHaveLength(0);
    expect(fs.existsSync(containerPaths(d.workDir, 'early').pidFile)).toBe(false);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('success: DONE with exit status 0, every transition in order in the database', async () => {
    const d = daemon();
    const { view, created } = await d.node.launch({ id: 'ok', command: ['sh', '-c', 'echo hello; echo oops >&2'], resources: small });
    expect(created).toBe(true);
    expect(['SCHEDULED', 'RUNNING']).toContain(view.state); // the launch may already have run
    await d.until('ok', 'DONE');
    const v = d.node.view('ok');
    expect(v).toMatchObject({ exitStatus: 0, exitCode: 0 });
    expect(await states(d, 'ok')).toEqual([
      'NEW>SCHEDULED',
      'SCHEDULED>RUNNING',
      'RUNNING>EXITED_WITH_SUCCESS',
      'EXITED_WITH_SUCCESS>DONE',
    ]);
    expect(fs.readFileSync(path.join(v.logDir, 'stdout'), 'utf8')).toBe('hello\n');
    expect(fs.readFileSync(path.join(v.logDir, 'stderr'), 'utf8')).toBe('oops\n');
    // The database, read on its own connection, holds the same story.
    const db = new Database(d.dbPath, { readonly: true });
    const rows = db.prepare(`SELECT seq, from_state, to_state, event FROM transitions WHERE container_id = 'ok' ORDER BY seq`).all();
    const row = db.prepare(`SELECT state, exit_status, exit_code FROM containers WHERE id = 'ok'`).get();
    db.close();
    expect(rows.map((r: any) => r.event)).toEqual([
      'INIT_CONTAINER',
      'CONTAINER_LAUNCHED',
      'CONTAINER_EXITED_WITH_SUCCESS',
      'CONTAINER_RESOURCES_CLEANEDUP',
    ]);
    expect(row).toEqual({ state: 'DONE', exit_status: 0, exit_code: 0 });
  });

  it('failure: DONE with the process exit code and the YARN diagnostic', async () => {
    const d = daemon();
    await d.node.launch({ id: 'bad', command: ['sh', '-c', 'echo broken >&2; exit 3'], resources: small });
    await d.until('bad', 'DONE');
    const v = d.node.view('bad');
    expect(v).toMatchObject({ exitStatus: 3, exitCode: 3 });
    expect(v.diagnostics).toContain('Container exited with a non-zero exit code 3');
    expect(v.diagnostics).toContain('broken');
  });

  it('a command that does not exist fails clearly (127), it does not hang', async () => {
    const d = daemon();
    await d.node.launch({ id: 'nocmd', command: ['/no/such/program'], resources: small });
    await d.until('nocmd', 'DONE');
    expect(d.node.view('nocmd')).toMatchObject({ exitStatus: 127, exitCode: 127 });
  });

  it('kill: exit status -105, and no process of the group is left, grandchildren included', async () => {
    // The 143 is written by the wrapper after the TERM ended its command: a SIGKILL
    // before it has (200 ms by default, little on a busy machine) would make it 137.
    // Nothing ignores the TERM here, so the long delay costs no time.
    const d = daemon({ 'yarn.nodemanager.sleep-delay-before-sigkill.ms': 10_000 });
    await d.node.launch({ id: 'k', command: ['sh', '-c', 'sleep 1000 & (sleep 1000 &) ; sleep 1000'], resources: small });
    await d.until('k', 'RUNNING');
    const pid = d.node.view('k').pid!;
    await waitFor(() => liveMembers(pid).length >= 4, 10_000, 'the tree to start');
    const v = await d.node.kill('k');
    expect(v.state).toBe('KILLING');
    await d.until('k', 'DONE');
    expect(d.node.view('k')).toMatchObject({ exitStatus: -105, exitCode: 143 });
    expect(d.node.view('k').diagnostics).toContain('Container killed by the ApplicationMaster.');
    expect(liveMembers(pid)).toEqual([]);
    expect(await states(d, 'k')).toEqual([
      'NEW>SCHEDULED',
      'SCHEDULED>RUNNING',
      'RUNNING>KILLING',
      'KILLING>CONTAINER_CLEANEDUP_AFTER_KILL',
      'CONTAINER_CLEANEDUP_AFTER_KILL>DONE',
    ]);
  });

  it('a container that ignores SIGTERM is SIGKILLed after the delay; the kill status stays -105', async () => {
    // vmem check off: Node reserves ~700 MB of address space, over 2.1 × 288 MB, and the
    // monitor would kill it (-103) on its own once two ticks (3 s each) came before the kill.
    const d = daemon({ 'yarn.nodemanager.vmem-check-enabled': false });
    const ready = path.join(d.dir, 'ready');
    const script = `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(ready)}, ''); setInterval(() => {}, 1000);`;
    await d.node.launch({ id: 'stubborn', command: [process.execPath, '-e', script], resources: { memoryMb: 256, vcores: 1 } });
    await waitFor(() => fs.existsSync(ready), 20_000, 'the SIGTERM handler');
    const pid = d.node.view('stubborn').pid!;
    await d.node.kill('stubborn');
    await d.until('stubborn', 'DONE');
    expect(d.node.view('stubborn')).toMatchObject({ exitStatus: -105, exitCode: 137 });
    expect(liveMembers(pid)).toEqual([]);
  });

  it('killed before launch: DONE with 143 and "Container terminated before launch."', async () => {
    // The node holds one container: the second waits in SCHEDULED, never launched.
    const d = daemon({ 'yarn.nodemanager.resource.memory-mb': 200 });
    await d.node.launch({ id: 'holder', command: ['sleep', '1000'], resources: { memoryMb: 150, vcores: 1 } });
    await d.node.launch({ id: 'waiter', command: ['sh', '-c', 'touch launched'], resources: { memoryMb: 150, vcores: 1 } });
    await d.until('holder', 'RUNNING');
    expect(d.node.view('waiter').state).toBe('SCHEDULED');
    await d.node.kill('waiter');
    await d.until('waiter', 'DONE');
    const v = d.node.view('waiter');
    expect(v).toMatchObject({ exitStatus: -105, exitCode: 143, pid: null });
    expect(v.diagnostics).toContain('Container terminated before launch.');
    expect(fs.existsSync(path.join(containerPaths(d.workDir, 'waiter').dir, 'launched'))).toBe(false);
    await d.node.kill('holder');
    await d.until('holder', 'DONE');
  });

  it('localization: resources are linked (or copied) into the container directory', async () => {
    const d = daemon();
    const src = path.join(d.dir, 'input.txt');
    fs.writeFileSync(src, 'data\n');
    await d.node.launch({
      id: 'loc',
      command: ['sh', '-c', 'cat input.txt copy.txt > out.txt'],
      resources: small,
      localResources: [{ source: src, name: 'input.txt' }, { source: src, name: 'copy.txt', copy: true }],
    });
    await d.until('loc', 'DONE');
    const dir = containerPaths(d.workDir, 'loc').dir;
    expect(d.node.view('loc').exitStatus).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('data\ndata\n');
    expect(fs.lstatSync(path.join(dir, 'input.txt')).isSymbolicLink()).toBe(true);
    expect(fs.lstatSync(path.join(dir, 'copy.txt')).isFile()).toBe(true);
    expect((await states(d, 'loc')).slice(0, 3)).toEqual(['NEW>LOCALIZING', 'LOCALIZING>LOCALIZING', 'LOCALIZING>SCHEDULED']);
  });

  it('localization failure: DONE with a diagnostic naming the missing source, never launched', async () => {
    const d = daemon();
    await d.node.launch({
      id: 'noloc',
      command: ['true'],
      resources: small,
      localResources: [{ source: '/definitely/not/here.jar', name: 'app.jar' }],
    });
    await d.until('noloc', 'DONE');
    const v = d.node.view('noloc');
    expect(v.diagnostics).toContain('/definitely/not/here.jar does not exist');
    expect(v.pid).toBeNull();
    expect(await states(d, 'noloc')).toEqual(['NEW>LOCALIZING', 'LOCALIZING>LOCALIZATION_FAILED', 'LOCALIZATION_FAILED>DONE']);
  });

  it('retry policy: relaunches after failures, then gives up', async () => {
    const d = daemon();
    await d.node.launch({
      id: 'retry',
      command: ['sh', '-c', 'echo run >> runs; exit 7'],
      resources: small,
      retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', maxRetries: 2, retryIntervalMs: 50 },
    });
    await d.until('retry', 'DONE');
    expect(d.node.view('retry')).toMatchObject({ exitStatus: 7, exitCode: 7 });
    expect(fs.readFileSync(path.join(containerPaths(d.workDir, 'retry').dir, 'runs'), 'utf8')).toBe('run\nrun\nrun\n');
    expect((await states(d, 'retry')).filter((s) => s === 'RUNNING>RELAUNCHING')).toHaveLength(2);
    expect((await states(d, 'retry')).filter((s) => s === 'RELAUNCHING>RUNNING')).toHaveLength(2);
  });

  it('pause stops the whole group and resume continues it', async () => {
    const d = daemon();
    await d.node.launch({ id: 'p', command: ['sh', '-c', 'sleep 1000 & sleep 1000'], resources: small });
    await d.until('p', 'RUNNING');
    const pid = d.node.view('p').pid!;
    const members = await waitFor(() => (liveMembers(pid).length === 4 ? liveMembers(pid) : null), 10_000, 'tree');
    await d.node.pause('p');
    await d.until('p', 'PAUSED');
    await waitFor(() => members.every((m) => isPaused(m)), 15_000, 'every member stopped');
    await d.node.resume('p');
    await d.until('p', 'RUNNING');
    await waitFor(() => members.every((m) => procStat(m)?.state === 'S'), 15_000, 'every member running');
    await d.node.kill('p');
    await d.until('p', 'DONE');
  });

  it('a paused container can be killed', async () => {
    const d = daemon();
    await d.node.launch({ id: 'pk', command: ['sleep', '1000'], resources: small });
    await d.until('pk', 'RUNNING');
    await d.node.pause('pk');
    await d.until('pk', 'PAUSED');
    await d.node.kill('pk');
    await d.until('pk', 'DONE');
    expect(d.node.view('pk').exitStatus).toBe(-105);
  });
});

describe('lifecycle: things going wrong', () => {
  it('a paused container whose processes are killed by someone else ends EXITED_WITH_FAILURE, not stuck', async () => {
    const d = daemon();
    await d.node.launch({ id: 'px', command: ['sleep', '1000'], resources: small });
    await d.until('px', 'RUNNING');
    await d.node.pause('px');
    await d.until('px', 'PAUSED');
    process.kill(-d.node.view('px').pid!, 'SIGKILL');
    if (d.node.containment.mode !== 'process-group') {
      // A frozen cgroup's tasks take a signal only once thawed (the v1 freezer): the kill waits for the resume.
      await d.node.resume('px');
      await d.until('px', 'DONE');
      expect(d.node.view('px')).toMatchObject({ exitStatus: 137, exitCode: 137 });
      return;
    }
    await d.until('px', 'DONE');
    expect(d.node.view('px')).toMatchObject({ exitStatus: 137, exitCode: 137 });
    expect(await states(d, 'px')).toContain('PAUSED>EXITED_WITH_FAILURE');
  });

  it('a kill while waiting to relaunch cancels the relaunch', async () => {
    const d = daemon();
    await d.node.launch({
      id: 'rk',
      command: ['sh', '-c', 'echo run >> runs; exit 9'],
      resources: small,
      retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', maxRetries: 5, retryIntervalMs: 600_000 },
    });
    await d.until('rk', 'RELAUNCHING');
    await d.node.kill('rk');
    await d.until('rk', 'DONE');
    expect(d.node.view('rk')).toMatchObject({ exitStatus: -105, exitCode: 143 });
    expect(fs.readFileSync(path.join(containerPaths(d.workDir, 'rk').dir, 'runs'), 'utf8')).toBe('run\n');
  });

  it('a launch that cannot happen fails the container with a clear diagnostic; the daemon goes on', async () => {
    const d = daemon();
    // A file where the container directory must go: mkdir fails.
    fs.mkdirSync(path.join(d.workDir, 'containers'), { recursive: true });
    fs.writeFileSync(containerPaths(d.workDir, 'blocked').dir, 'in the way');
    fs.writeFileSync(containerPaths(d.workDir, 'blocked2').dir, 'in the way');
    await d.node.launch({ id: 'blocked', command: ['true'], resources: small });
    await d.until('blocked', 'DONE');
    expect(d.node.view('blocked').diagnostics).toContain('Failed to launch container');
    expect(await states(d, 'blocked')).toEqual(['NEW>SCHEDULED', 'SCHEDULED>EXITED_WITH_FAILURE', 'EXITED_WITH_FAILURE>DONE']);
    // Same with local resources to localize first.
    const src = path.join(d.dir, 'r');
    fs.writeFileSync(src, 'x');
    await d.node.launch({ id: 'blocked2', command: ['true'], resources: small, localResources: [{ source: src, name: 'r' }] });
    await d.until('blocked2', 'DONE');
    expect(d.node.view('blocked2').diagnostics).toContain('cannot prepare the container directory');
    await d.node.launch({ id: 'fine', command: ['true'], resources: small });
    await d.until('fine', 'DONE');
    expect(d.node.view('fine').exitStatus).toBe(0);
  });
});

describe('scheduler with real processes', () => {
  it('GUARANTEED containers wait in order for room, and start when it is freed', async () => {
    const d = daemon({ 'yarn.nodemanager.resource.memory-mb': 300, 'nodewarden.executor.allowance.memory-mb': 0 });
    await d.node.launch({ id: 'a', command: ['sleep', '1000'], resources: { memoryMb: 200, vcores: 1 } });
    await d.node.launch({ id: 'b', command: ['sleep', '1000'], resources: { memoryMb: 200, vcores: 1 } });
    await d.node.launch({ id: 'c', command: ['sleep', '1000'], resources: { memoryMb: 50, vcores: 1 } });
    await d.until('a', 'RUNNING');
    expect([d.node.view('b').state, d.node.view('c').state]).toEqual(['SCHEDULED', 'SCHEDULED']);
    await d.node.kill('a');
    await d.until('b', 'RUNNING');
    await d.until('c', 'RUNNING');
    for (const id of ['b', 'c']) await d.node.kill(id);
    for (const id of ['b', 'c']) await d.until(id, 'DONE');
  });

  it('an OPPORTUNISTIC container is killed with -108 to make room for a GUARANTEED one', async () => {
    const d = daemon({ 'yarn.nodemanager.resource.memory-mb': 300, 'nodewarden.executor.allowance.memory-mb': 0 });
    await d.node.launch({ id: 'opp', command: ['sleep', '1000'], resources: { memoryMb: 200, vcores: 1 }, executionType: 'OPPORTUNISTIC' });
    await d.until('opp', 'RUNNING');
    await d.node.launch({ id: 'g', command: ['sleep', '1000'], resources: { memoryMb: 200, vcores: 1 } });
    await d.until('opp', 'DONE');
    expect(d.node.view('opp').exitStatus).toBe(-108);
    expect(d.node.view('opp').diagnostics).toContain('Container Killed to make room for Guaranteed Container.');
    await d.until('g', 'RUNNING');
    await d.node.kill('g');
    await d.until('g', 'DONE');
  });

  it('OPPORTUNISTIC containers queue up to the maximum; beyond it they are refused with -108', async () => {
    const d = daemon({
      'yarn.nodemanager.resource.memory-mb': 300,
      'nodewarden.executor.allowance.memory-mb': 0,
      'yarn.nodemanager.opportunistic-containers-max-queue-length': 1,
    });
    await d.node.launch({ id: 'g', command: ['sleep', '1000'], resources: { memoryMb: 300, vcores: 1 } });
    await d.node.launch({ id: 'q', command: ['true'], resources: { memoryMb: 100, vcores: 1 }, executionType: 'OPPORTUNISTIC' });
    await d.node.launch({ id: 'r', command: ['true'], resources: { memoryMb: 100, vcores: 1 }, executionType: 'OPPORTUNISTIC' });
    await d.until('r', 'DONE');
    expect(d.node.view('r').exitStatus).toBe(-108);
    expect(d.node.view('r').diagnostics).toContain('Opportunistic container queue is full.');
    expect(d.node.view('q').state).toBe('SCHEDULED');
    await d.node.kill('g');
    await d.until('q', 'DONE');
    expect(d.node.view('q').exitStatus).toBe(0);
  });
});

describe('bad input changes nothing', () => {
  it('unknown ids, malformed requests, impossible events and requests that can never fit are refused', async () => {
    // No monitor ticks: one between the two snapshots below would change held's usage in the list.
    const d = daemon({ 'yarn.nodemanager.resource.memory-mb': 1024, 'yarn.nodemanager.container-monitor.interval-ms': 3_600_000 });
    await d.node.launch({ id: 'held', command: ['sleep', '1000'], resources: { memoryMb: 900, vcores: 1 } });
    await d.node.launch({ id: 'waiting', command: ['true'], resources: { memoryMb: 900, vcores: 1 } });
    await d.until('held', 'RUNNING');
    const before = JSON.stringify({ list: d.node.list(), t: await d.node.transitions('waiting') });
    const refused = async (p: () => unknown, status: number, text: string) => {
      const err = await (async () => p())().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NodewardenError);
      expect((err as NodewardenError).status).toBe(status);
      expect((err as Error).message).toContain(text);
    };
    await refused(() => d.node.kill('nope'), 404, 'container nope not found');
    await refused(() => d.node.view('../etc'), 400, 'id must match');
    await refused(() => d.node.pause('waiting'), 409, 'waiting is SCHEDULED: PAUSE_CONTAINER is not possible');
    await refused(() => d.node.resume('held'), 409, 'RESUME_CONTAINER is not possible');
    await refused(() => d.node.launch({ id: 'x', command: 'sleep 1', resources: small }), 400, 'command must be a non-empty array');
    await refused(() => d.node.launch({ id: 'x', command: [], resources: small }), 400, 'command must be a non-empty array');
    await refused(() => d.node.launch({ id: 'x', command: ['true'], resources: { memoryMb: -5, vcores: 1 } }), 400, 'memoryMb');
    await refused(() => d.node.launch({ id: '..', command: ['true'], resources: small }), 400, 'id must match');
    await refused(() => d.node.launch({ id: 'a/b', command: ['true'], resources: small }), 400, 'id must match');
    await refused(() => d.node.launch({ id: 'x', command: ['true'], resources: small, memorymb: 3 }), 400, 'unknown field');
    await refused(() => d.node.launch({ id: 'huge', command: ['true'], resources: { memoryMb: 4096, vcores: 1 } }), 400, 'can never fit this node');
    await refused(() => d.node.launch({ id: 'held', command: ['sleep', '5'], resources: { memoryMb: 900, vcores: 1 } }), 409, 'different request');
    expect(JSON.stringify({ list: d.node.list(), t: await d.node.transitions('waiting') })).toBe(before);
    // The same request again is idempotent.
    const again = await d.node.launch({ id: 'held', command: ['sleep', '1000'], resources: { vcores: 1, memoryMb: 900 } });
    expect(again.created).toBe(false);
    await d.node.kill('held');
    await d.until('waiting', 'DONE');
  });
});
