/**
 * Work-preserving restart (SPEC §8) with the real daemon: real containers,
 * the daemon SIGKILLed at chosen points — from outside, or from inside by a
 * failpoint (src/failpoints.ts) where the moment matters — and started again
 * on the same database. Every test checks that what was acknowledged is
 * there, nothing ran twice and no process is left behind.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode, ExitStatus } from '../state-machines/exit-status.js';
import { parseLaunchRequest } from '../src/core/launch-request.js';
import { exportLines } from '../src/journal/export.js';
import { replayLines } from '../src/journal/replay.js';
import { loadMigrations, openDatabase } from '../src/store/database.js';
import { DaemonDir, type ContainerJson } from './helpers/daemon-process.js';
import { isLive, isPaused, liveMembers, procStat, waitFor, waitForAsync } from './helpers/proc.js';

/** Appends its pid to `runs` (one line per start of the command), then sleeps. */
const SLEEPER = ['sh', '-c', 'echo $$ >> runs; exec sleep 600'];
/** Runs until a `go` file appears in its directory, then exits with `code`. */
const exitOnGo = (code: number) => ['sh', '-c', `echo $$ >> runs; while [ ! -e go ]; do sleep 0.02; done; exit ${code}`];
/** Ignores SIGTERM: only the SIGKILL after the delay ends it. */
const IGNORES_TERM = ['sh', '-c', 'trap "" TERM; echo $$ >> runs; exec sleep 600'];

let d: DaemonDir | undefined;
afterEach(async () => {
  await d?.cleanup();
  d = undefined;
});

/** Open the database read-only, run fn, close. */
function query<T>(db: string, fn: (db: Database.Database) => T): T {
  const conn = new Database(db, { readonly: true });
  try {
    return fn(conn);
  } finally {
    conn.close();
  }
}

/** After recovery: the container's process is ours, alive, and is what the view says. */
async function expectReacquired(dir: DaemonDir, view: ContainerJson): Promise<void> {
  expect(view.state).toBe('RUNNING');
  expect(isLive(view.pid!)).toBe(true);
  expect(procStat(view.pid!)!.pgrp).toBe(view.pid);
  // A wrapper launched a moment ago may not have written its pid file yet.
  const pidFile = path.join(dir.containerDir(view.id), `${view.id}.pid`);
  await waitFor(() => fs.existsSync(pidFile), 15_000, `${pidFile}`);
  expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(view.pid));
}

/** Every live process of the directory's containers belongs to one that is RUNNING, in its group. */
async function expectNoOrphans(dir: DaemonDir): Promise<void> {
  const running = new Map<number, string>();
  for (const id of dir.ids) {
    const v = await dir.view(id);
    if (v.pid !== null && v.state === 'RUNNING') running.set(v.pid, id);
  }
  for (const p of dir.containerProcesses()) expect(running.get(p.pgrp), `process ${p.pid} of ${p.id}`).toBe(p.id);
}

describe('work-preserving restart', () => {
  it('SIGKILL right after the replies: every acknowledged container is there, running ones keep their pid, none runs twice', async () => {
    d = new DaemonDir();
    await d.start();
    await d.launch('early-1', SLEEPER);
    await d.launch('early-2', SLEEPER);
    const before = [await d.until('early-1', 'RUNNING'), await d.until('early-2', 'RUNNING')];
    // Acknowledged, then the daemon dies at once: these may not have been spawned yet.
    for (const id of ['late-1', 'late-2', 'late-3']) expect((await d.launch(id, SLEEPER)).id).toBe(id);
    await d.crash();

    const started = await d.start();
    const node = await started.client.get<{ recovery: Record<string, unknown> }>('/v1/node');
    expect(node.recovery).toMatchObject({ containers: 5, rebooted: false, killed: 0 });
    for (const b of before) {
      const after = await d.until(b.id, 'RUNNING');
      expect(after.pid).toBe(b.pid);
      await expectReacquired(d, after);
    }
    for (const id of ['late-1', 'late-2', 'late-3']) await expectReacquired(d, await d.until(id, 'RUNNING'));
    await waitFor(() => [...d!.ids].every((id) => d!.runs(id) === 1), 15_000, 'every command to have started');
    for (const id of d.ids) expect(d.runs(id), id).toBe(1);
    await expectNoOrphans(d);

    // Monitored again: the Mesos statistics cover every reacquired container.
    await waitForAsync(async () => (await started.client.get<Array<{ executor_id: string }>>('/monitor/statistics')).length === 5, 15_000, 'statistics');
    // Killable again, though no longer our child.
    await started.client.post(`/v1/containers/early-1/kill`);
    const killed = await d.until('early-1', 'DONE');
    expect(killed.exitStatus).toBe(ExitStatus.KILLED_BY_APPMASTER);
    expect(liveMembers(before[0]!.pid!)).toEqual([]);
  });

  it('a paused container stays paused across a restart, and can be resumed by the new daemon', async () => {
    d = new DaemonDir();
    await d.start();
    const running = await (await d.launch('napping', SLEEPER), d.until('napping', 'RUNNING'));
    await waitFor(() => d!.runs('napping') === 1, 15_000, 'the command to start');
    await d.current!.client.post('/v1/containers/napping/pause');
    await d.until('napping', 'PAUSED');
    await d.crash();

    const started = await d.start();
    expect(await d.until('napping', 'PAUSED')).toMatchObject({ pid: running.pid });
    // Waited for, not read once: a SIGSTOP takes effect when the process is next scheduled (and PAUSING,
    // if the crash came before PAUSED was committed, is paused again by the new daemon). A SIGCONT from
    // the new daemon would discard it and the wait would time out.
    await waitFor(() => {
      const members = liveMembers(running.pid!);
      return members.length > 0 && members.every((pid) => isPaused(pid));
    }, 15_000, 'the group to be stopped');
    await started.client.post('/v1/containers/napping/resume');
    await d.until('napping', 'RUNNING');
    await waitFor(() => liveMembers(running.pid!).every((pid) => !isPaused(pid)), 15_000, 'the group to continue');
  });

  it('a crash between the commit of the launch marker and the spawn: launched on restart, once', async () => {
    d = new DaemonDir();
    await d.start({ env: { NODEWARDEN_FAILPOINTS: 'launch-committed' } });
    // The daemon dies before it can answer: the request is durable but not acknowledged.
    await expect(d.launch('marker', SLEEPER)).rejects.toThrow();
    expect((await d.crashed()).signal).toBe('SIGKILL');
    const row = query(d.db, (db) => db.prepare(`SELECT state, attempt, launch_attempt FROM containers WHERE id = 'marker'`).get());
    expect(row).toEqual({ state: 'SCHEDULED', attempt: 0, launch_attempt: 1 });
    expect(fs.existsSync(path.join(d.containerDir('marker'), 'marker.pid'))).toBe(false);

    await d.start();
    await expectReacquired(d, await d.until('marker', 'RUNNING'));
    await waitFor(() => d!.runs('marker') === 1, 15_000, 'the command to start');
    expect(d.runs('marker')).toBe(1);
  });

  it('a crash after the spawn, before CONTAINER_LAUNCHED is committed: the wrapper is reacquired, not launched again', async () => {
    d = new DaemonDir();
    await d.start({ env: { NODEWARDEN_FAILPOINTS: 'spawned' } });
    await expect(d.launch('spawned', SLEEPER)).resolves.toMatchObject({ id: 'spawned' });
    expect((await d.crashed()).signal).toBe('SIGKILL');
    expect(query(d.db, (db) => db.prepare(`SELECT state, pid FROM containers WHERE id = 'spawned'`).get())).toEqual({ state: 'SCHEDULED', pid: null });
    await waitFor(() => d!.runs('spawned') === 1, 15_000, 'the orphaned command to start');

    const started = await d.start();
    expect((await started.client.get<{ recovery: Record<string, number> }>('/v1/node')).recovery).toMatchObject({ reacquired: 1, launched: 0 });
    const view = await d.until('spawned', 'RUNNING');
    await expectReacquired(d, view);
    expect(d.runs('spawned')).toBe(1);
    const events = await started.client.get<Array<{ event: string }>>('/v1/containers/spawned/transitions');
    expect(events.map((t) => t.event)).toEqual(['INIT_CONTAINER', 'CONTAINER_LAUNCHED']);
    const launched = query(d.db, (db) => db.prepare(`SELECT payload FROM transitions WHERE event = 'CONTAINER_LAUNCHED'`).get()) as { payload: string };
    expect(JSON.parse(launched.payload)).toMatchObject({ pid: view.pid });
    await expectNoOrphans(d);
  });

  it('containers that end while the daemon is down carry their real exit code; one that left no code is LOST (154)', async () => {
    d = new DaemonDir();
    await d.start({ set: { 'yarn.nodemanager.container-executor.exit-code-file.timeout-ms': 300 } });
    await d.launch('ok', exitOnGo(0));
    await d.launch('fails', exitOnGo(3));
    await d.launch('lost', SLEEPER);
    await d.launch('orphaned', SLEEPER);
    await d.launch('stays', SLEEPER);
    const lost = await d.until('lost', 'RUNNING');
    const orphaned = await d.until('orphaned', 'RUNNING');
    for (const id of ['ok', 'fails', 'stays']) await d.until(id, 'RUNNING');
    await waitFor(() => d!.runs('orphaned') === 1, 15_000, 'the command to start');
    await d.crash();
    // While the daemon is down: two exit by themselves, one is SIGKILLed with its wrapper (no exit code written).
    for (const id of ['ok', 'fails']) fs.writeFileSync(path.join(d.containerDir(id), 'go'), '');
    for (const id of ['ok', 'fails']) await waitFor(() => fs.existsSync(path.join(d!.containerDir(id), `${id}.pid.exitcode`)), 15_000, `${id} to exit`);
    process.kill(-lost.pid!, 'SIGKILL');
    await waitFor(() => liveMembers(lost.pid!).length === 0, 15_000, 'lost to die');
    // Only the wrapper dies: its command runs on in the group, orphaned.
    process.kill(orphaned.pid!, 'SIGKILL');
    await waitFor(() => !isLive(orphaned.pid!), 15_000, 'the wrapper to die');
    expect(liveMembers(orphaned.pid!).length).toBeGreaterThan(0);

    const started = await d.start({ set: { 'yarn.nodemanager.container-executor.exit-code-file.timeout-ms': 300 } });
    expect((await started.client.get<{ recovery: Record<string, number> }>('/v1/node')).recovery).toMatchObject({ containers: 5, reacquired: 1, ended: 4 });
    const ok = await d.until('ok', 'DONE');
    expect([ok.exitCode, ok.exitStatus]).toEqual([0, 0]);
    const fails = await d.until('fails', 'DONE');
    expect([fails.exitCode, fails.exitStatus]).toEqual([3, 3]);
    expect(fails.diagnostics).toContain('Container exited with a non-zero exit code 3');
    const gone = await d.until('lost', 'DONE');
    expect([gone.exitCode, gone.exitStatus]).toEqual([ExitCode.LOST, ExitCode.LOST]);
    expect(gone.diagnostics).toContain('exited while nodewarden was not running and left no exit code (LOST)');
    // The orphaned command is the container's: it is LOST, and what it left in its group is ended.
    expect((await d.until('orphaned', 'DONE')).exitCode).toBe(ExitCode.LOST);
    await waitFor(() => liveMembers(orphaned.pid!).length === 0, 15_000, 'the orphaned command to be ended');
    await expectReacquired(d, await d.view('stays'));
    for (const id of d.ids) expect(d.runs(id), id).toBe(1);
    await expectNoOrphans(d);
  });

  it('a crash between noticing an exit and committing it: the exit code is read again on restart', async () => {
    d = new DaemonDir();
    await d.start({ env: { NODEWARDEN_FAILPOINTS: 'exit-noticed' } });
    await d.launch('quick', exitOnGo(7));
    await d.until('quick', 'RUNNING');
    fs.writeFileSync(path.join(d.containerDir('quick'), 'go'), '');
    expect((await d.crashed()).signal).toBe('SIGKILL');
    expect(query(d.db, (db) => db.prepare(`SELECT state FROM containers WHERE id = 'quick'`).get())).toEqual({ state: 'RUNNING' });

    await d.start();
    const done = await d.until('quick', 'DONE');
    expect([done.exitCode, done.exitStatus]).toEqual([7, 7]);
    expect(d.runs('quick')).toBe(1);
  });

  it('a crash during a kill (SIGTERM sent, SIGKILL not yet): the restarted daemon finishes it', async () => {
    d = new DaemonDir();
    // A long SIGTERM → SIGKILL delay, so the crash lands in between.
    await d.start({ set: { 'yarn.nodemanager.sleep-delay-before-sigkill.ms': 60_000 }, env: { NODEWARDEN_FAILPOINTS: 'kill-signalled' } });
    await d.launch('stubborn', IGNORES_TERM);
    const running = await d.until('stubborn', 'RUNNING');
    await waitFor(() => d!.runs('stubborn') === 1, 15_000, 'the trap to be set');
    await d.current!.client.post('/v1/containers/stubborn/kill').catch(() => undefined);
    expect((await d.crashed()).signal).toBe('SIGKILL');
    expect(query(d.db, (db) => db.prepare(`SELECT state FROM containers WHERE id = 'stubborn'`).get())).toEqual({ state: 'KILLING' });
    expect(liveMembers(running.pid!).length).toBeGreaterThan(0); // it ignored the TERM

    await d.start();
    const done = await d.until('stubborn', 'DONE');
    expect(done.exitStatus).toBe(ExitStatus.KILLED_BY_APPMASTER);
    expect(done.exitCode).toBe(ExitCode.FORCE_KILLED);
    expect(liveMembers(running.pid!)).toEqual([]);
  });

  it('a kill committed for a container never launched ends it DONE on restart, without running it', async () => {
    d = new DaemonDir();
    // 64 + 32 MB each on a 100 MB node: the second waits in the scheduler's queue.
    await d.start({ set: { 'yarn.nodemanager.resource.memory-mb': 100 }, env: { NODEWARDEN_FAILPOINTS: 'kill-committed' } });
    await d.launch('first', SLEEPER);
    await d.launch('queued', SLEEPER);
    await d.until('first', 'RUNNING');
    await d.current!.client.post('/v1/containers/queued/kill').catch(() => undefined);
    expect((await d.crashed()).signal).toBe('SIGKILL');
    expect(query(d.db, (db) => db.prepare(`SELECT state, launch_attempt FROM containers WHERE id = 'queued'`).get())).toEqual({ state: 'KILLING', launch_attempt: 0 });

    await d.start({ set: { 'yarn.nodemanager.resource.memory-mb': 100 } });
    const done = await d.until('queued', 'DONE');
    expect(done.exitStatus).toBe(ExitStatus.KILLED_BY_APPMASTER);
    expect(d.runs('queued')).toBe(0);
    await expectReacquired(d, await d.view('first'));
  });

  it('a crash while a failed container waits to be relaunched: relaunched once, the previous attempt’s pid file not taken for the new one', async () => {
    d = new DaemonDir();
    // The crash comes from inside, when the relaunch timer fires (the second launch), before anything
    // is spawned: a SIGKILL from outside after seeing RELAUNCHING could come after the 1.5 s interval
    // on a busy machine (a second run), or before RELAUNCHING was committed (the view is not durable).
    await d.start({ env: { NODEWARDEN_FAILPOINTS: 'launch-committed:2' } });
    // The first run fails; the second (and any later one) keeps running.
    const command = ['sh', '-c', 'echo $$ >> runs; [ "$(wc -l < runs)" -ge 2 ] || exit 5; exec sleep 600'];
    await d.launch('retry', command, { retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', maxRetries: 3, retryIntervalMs: 1500 } });
    expect((await d.crashed()).signal).toBe('SIGKILL');
    expect(query(d.db, (db) => db.prepare(`SELECT state FROM containers WHERE id = 'retry'`).get())).toEqual({ state: 'RELAUNCHING' });
    // What the first attempt left: its pid file and exit code.
    expect(fs.readFileSync(path.join(d.containerDir('retry'), 'retry.pid.exitcode'), 'utf8').trim()).toBe('5');
    expect(d.runs('retry')).toBe(1);

    const firstPid = Number(fs.readFileSync(path.join(d.containerDir('retry'), 'retry.pid'), 'utf8'));
    const seq = query(d.db, (db) => (db.prepare(`SELECT max(seq) AS s FROM transitions`).get() as { s: number }).s);

    await d.start();
    const view = await d.until('retry', 'RUNNING');
    await expectReacquired(d, view);
    await waitFor(() => d!.runs('retry') === 2, 15_000, 'the second run to start');
    expect(view.diagnostics).toContain('exit code 5');
    await d.durable('retry');
    // After the restart: one launch, a new process, no exit taken from the first attempt's files.
    const after = query(d.db, (db) => db.prepare(`SELECT event, payload FROM transitions WHERE container_id = 'retry' AND seq > ?`).all(seq)) as Array<{ event: string; payload: string }>;
    expect(after.map((t) => t.event)).toEqual(['CONTAINER_LAUNCHED']);
    expect(JSON.parse(after[0]!.payload).pid).not.toBe(firstPid);
  });

  it('a database of schema version 1 is migrated, and its containers are recovered', async () => {
    d = new DaemonDir();
    fs.mkdirSync(path.dirname(d.db), { recursive: true });
    const v1 = openDatabase(d.db, loadMigrations().filter((m) => m.version === 1));
    const insert = v1.prepare(`INSERT INTO containers (id, request, state, launch_attempt, exit_status, exit_code, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const [id, state, exit] of [['old-done', 'EXITED_WITH_SUCCESS', 0], ['old-queued', 'SCHEDULED', -1000]] as const) {
      d.ids.add(id);
      const spec = parseLaunchRequest({ id, command: SLEEPER, resources: { memoryMb: 64, vcores: 1 } }, () => id);
      insert.run(id, JSON.stringify(spec), state, state === 'SCHEDULED' ? 0 : 1, exit, exit, Date.now(), Date.now());
    }
    expect(v1.pragma('user_version', { simple: true })).toBe(1);
    v1.close();

    await d.start();
    expect(query(d.db, (db) => db.pragma('user_version', { simple: true }))).toBe(loadMigrations().at(-1)!.version);
    await expectReacquired(d, await d.until('old-queued', 'RUNNING'));
    expect((await d.until('old-done', 'DONE')).exitCode).toBe(0);
  });

  it('after a reboot no recorded pid is trusted, even one that is alive with the recorded start time', async () => {
    d = new DaemonDir();
    await d.start({ set: { 'yarn.nodemanager.container-executor.exit-code-file.timeout-ms': 100 } });
    const victim = await (await d.launch('victim', SLEEPER), d.until('victim', 'RUNNING'));
    // The row edited below is the committed RUNNING one, with its pid.
    await d.durable('victim');
    await d.crash();
    process.kill(-victim.pid!, 'SIGKILL');
    await waitFor(() => liveMembers(victim.pid!).length === 0, 15_000, 'the container to die');
    // As after a reboot: the recorded pid now names another live process (this test's), with the same start time.
    const me = procStat(process.pid)!;
    const db = new Database(d.db);
    db.prepare(`UPDATE containers SET pid = ?, pid_start_time = ? WHERE id = 'victim'`).run(process.pid, me.startTime);
    db.prepare(`UPDATE containers SET pid_boot_id = 'a-previous-boot' WHERE id = 'victim'`).run();
    db.close();

    const started = await d.start({ set: { 'yarn.nodemanager.container-executor.exit-code-file.timeout-ms': 100 } });
    expect((await started.client.get<{ recovery: Record<string, unknown> }>('/v1/node')).recovery).toMatchObject({ rebooted: true, reacquired: 0, ended: 1 });
    const done = await d.until('victim', 'DONE');
    expect(done.exitCode).toBe(ExitCode.LOST);
    expect(isLive(process.pid)).toBe(true);
  });

  it('a recovered container is monitored: going over its memory limit gets it killed (-104)', async () => {
    d = new DaemonDir();
    const hog = path.join(process.cwd(), 'test', 'fixtures', 'hog.mjs');
    // Waits for `go`, then holds 200 MiB against a 64 + 32 MiB limit.
    // Node's own address space is far over any vmem limit: only the pmem check is on.
    const set = { 'yarn.nodemanager.vmem-check-enabled': false };
    await d.start({ set });
    await d.launch('hungry', ['sh', '-c', `echo $$ >> runs; while [ ! -e go ]; do sleep 0.02; done; exec ${process.execPath} ${hog} 200 ready`]);
    await d.until('hungry', 'RUNNING');
    await d.crash();
    await d.start({ set });
    await d.until('hungry', 'RUNNING');
    fs.writeFileSync(path.join(d.containerDir('hungry'), 'go'), '');
    const done = await d.until('hungry', 'DONE', 30_000);
    expect(done.exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_PMEM);
    expect(done.diagnostics).toMatch(/is running \d+B beyond the 'PHYSICAL' memory limit/);
  }, 60_000); // two daemon starts and a 30 s wait for the kill: more than the default 30 s on a busy machine
});

describe('shutdown', () => {
  it('SIGTERM, supervised (the default): containers keep running and are reacquired; the database is closed cleanly', async () => {
    d = new DaemonDir();
    await d.start();
    const before = await (await d.launch('keeps', SLEEPER), d.until('keeps', 'RUNNING'));
    expect(await d.stop()).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(`${d.db}-wal`)).toBe(false); // the last connection checkpointed and closed
    expect(isLive(before.pid!)).toBe(true);
    await d.start();
    const after = await d.until('keeps', 'RUNNING');
    expect(after.pid).toBe(before.pid);
  });

  it('SIGTERM, not supervised: every container is killed and recorded before the daemon exits', async () => {
    d = new DaemonDir();
    const set = { 'yarn.nodemanager.recovery.supervised': false };
    await d.start({ set });
    await d.launch('a', SLEEPER);
    await d.launch('b', IGNORES_TERM);
    const pids = [(await d.until('a', 'RUNNING')).pid!, (await d.until('b', 'RUNNING')).pid!];
    const out = d.current!;
    expect(await d.stop()).toEqual({ code: 0, signal: null });
    expect(out.output()).toContain('killing the containers first');
    for (const pid of pids) expect(liveMembers(pid)).toEqual([]);
    expect(fs.existsSync(`${d.db}-wal`)).toBe(false); // closed cleanly (checked before this test opens it again)
    const rows = query(d.db, (db) => db.prepare(`SELECT id, state, exit_status, diagnostics FROM containers ORDER BY id`).all()) as Array<Record<string, unknown>>;
    for (const row of rows) {
      expect(row).toMatchObject({ state: 'DONE', exit_status: ExitStatus.KILLED_BY_RESOURCEMANAGER });
      expect(row.diagnostics).toContain('Container Killed on Shutdown');
    }
    // The kills on the way out are journaled inputs: the run replays.
    expect(replayLines(await exportLines(d.db), { check: true }).divergence).toBeNull();
  });

  it('recovery disabled: what was left running is killed at start and recorded (-100), not reacquired', async () => {
    d = new DaemonDir();
    await d.start();
    const before = await (await d.launch('left', SLEEPER), d.until('left', 'RUNNING'));
    await d.crash();
    const started = await d.start({ set: { 'yarn.nodemanager.recovery.enabled': false } });
    const done = await d.until('left', 'DONE');
    expect(done.exitStatus).toBe(ExitStatus.ABORTED);
    expect(done.diagnostics).toContain('recovery is disabled');
    expect(liveMembers(before.pid!)).toEqual([]);
    expect((await started.client.get<{ recovery: Record<string, number> }>('/v1/node')).recovery).toMatchObject({ killed: 1 });
    // Two starts, the second with recovery disabled killing at start: the run replays.
    const summary = replayLines(await exportLines(d.db), { check: true });
    expect(summary.divergence).toBeNull();
    expect(summary.transitions).toBeGreaterThan(4);
  });
});
