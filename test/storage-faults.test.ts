/**
 * Storage faults (issue 9): the database on a small file system that fills
 * up, and a database whose files cannot be written. A real daemon process
 * over its socket, real containers. While the database cannot commit: new
 * launches are refused with 503 and the reason, changing nothing; the
 * monitor still kills a tree over its limit and a kill request still kills;
 * when the database can commit again, service resumes by itself and
 * everything decided meanwhile is committed — a restart finds it all.
 *
 * Mounting a tmpfs and `chattr +i` need root (CI runs as root).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../src/client/client.js';
import { exportLines } from '../src/journal/export.js';
import { lastStartConfig, replayLines } from '../src/journal/replay.js';
import { ExitStatus } from '../state-machines/exit-status.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { refusal } from './helpers/refusal.js';

const apiRefusal = (p: Promise<unknown>) => refusal(p, ApiError);
import { isLive, waitFor, waitForAsync } from './helpers/proc.js';

const HOG = path.resolve(import.meta.dirname, 'fixtures/hog.mjs');
const isRoot = process.getuid?.() === 0;
const SET = { 'yarn.nodemanager.vmem-check-enabled': false, 'yarn.nodemanager.container-monitor.interval-ms': 100 };

let d: DaemonDir | null = null;
const undo: Array<() => void> = [];

afterEach(async () => {
  await d?.crash();
  // Undo mounts and attributes before the directory can be removed.
  for (const f of undo.splice(0).reverse()) {
    try {
      f();
    } catch {
      /* already undone */
    }
  }
  await d?.cleanup();
  d = null;
});


async function health(dir: DaemonDir): Promise<{ status: string; store?: { code: string } }> {
  return dir.current!.client.get('/healthz');
}

/** A container that holds 100 MB against a 32 MB limit once `go` exists in its directory. */
function hogOnGo(): string[] {
  return ['sh', '-c', `while [ ! -e go ]; do sleep 0.02; done; exec "${process.execPath}" "${HOG}" 100 ready`];
}

/** Every decision made live, journaled during the fault included, is what replay decides from the inputs. */
async function replayAgrees(dir: DaemonDir): Promise<void> {
  const lines = await exportLines(dir.db);
  const summary = replayLines(lines, { check: true, lastStartConfig: lastStartConfig(lines) });
  expect(summary.divergence).toBeNull();
  expect(summary.kills).toBeGreaterThan(0);
}

describe.runIf(isRoot)('storage faults', () => {
  it('a full file system: launches refused with 503 and the reason, kills go on, service resumes by itself, nothing lost', async () => {
    d = new DaemonDir();
    const dbDir = path.dirname(d.db);
    fs.mkdirSync(dbDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dbDir]);
    const dbDirToUnmount = dbDir;
    undo.push(() => execFileSync('umount', ['-l', dbDirToUnmount]));
    await d.start({ set: SET });

    await d.launch('keeper', ['sleep', '600']);
    await d.launch('victim', ['sleep', '600']);
    await d.launch('hog', hogOnGo(), { resources: { memoryMb: 32, vcores: 1 } });
    const victim = await d.until('victim', 'RUNNING');
    await d.until('keeper', 'RUNNING');
    await d.until('hog', 'RUNNING');

    // Fill the file system: the monitor's next tick cannot commit.
    const filler = path.join(dbDir, 'filler');
    const fd = fs.openSync(filler, 'w');
    try {
      const chunk = Buffer.alloc(64 * 1024, 1);
      for (;;) fs.writeSync(fd, chunk);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    const degraded = await waitForAsync(async () => {
      const h = await health(d!);
      return h.status === 'degraded' ? h : undefined;
    }, 30_000, 'the daemon to notice the full disk');
    expect(degraded.store?.code).toBe('SQLITE_FULL');

    // A new launch is refused, with the reason and what to do, and is not taken.
    const refused = await apiRefusal(d.launch('refused', ['true']));
    expect(refused.status).toBe(503);
    expect(refused.code).toBe('STORE_UNAVAILABLE');
    expect(refused.message).toMatch(/container refused is not accepted/);
    expect(refused.message).toMatch(/SQLITE_FULL: database or disk is full/);
    expect(refused.message).toMatch(/Free space on its file system/);
    expect((await apiRefusal(d.view('refused'))).status).toBe(404);
    const node = await d.current!.client.get<{ store: { writable: boolean; fault: { code: string } } }>('/v1/node');
    expect(node.store).toMatchObject({ writable: false, fault: { code: 'SQLITE_FULL' } });

    // The monitor still kills a tree over its limit.
    fs.writeFileSync(path.join(d.containerDir('hog'), 'go'), '');
    const hog = await d.until('hog', 'DONE', 30_000); // a Node process to start and fill 100 MB first
    expect(hog.exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_PMEM);
    expect(isLive(hog.pid!)).toBe(false);

    // A kill request still kills; its answer says the kill is not durable yet.
    const kill = await apiRefusal(d.current!.client.post('/v1/containers/victim/kill', {}));
    expect(kill.status).toBe(503);
    expect(kill.message).toMatch(/not durable yet; it takes effect once the database commits again/);
    await waitFor(() => !isLive(victim.pid!), 30_000, 'the victim to be killed');
    expect((await d.until('victim', 'DONE')).exitStatus).toBe(ExitStatus.KILLED_BY_APPMASTER);

    // Space returns: the daemon commits by itself and takes launches again.
    fs.rmSync(filler);
    // The failed commit is retried after 1, 2, 4, 8, then every 15 s: the longer the fault lasted (a
    // busy machine), the longer until the next retry, up to 15 s.
    await waitForAsync(async () => ((await health(d!)).status === 'ok' ? true : undefined), 30_000, 'the daemon to commit again');
    expect((await d.launch('after', ['sleep', '600'])).id).toBe('after');
    await d.until('after', 'RUNNING');

    // Nothing decided during the fault was lost: a restart reads it all back.
    await d.stop();
    await d.start({ set: SET });
    expect((await d.view('hog')).exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_PMEM);
    expect((await d.view('victim')).exitStatus).toBe(ExitStatus.KILLED_BY_APPMASTER);
    expect((await d.view('keeper')).state).toBe('RUNNING');
    expect((await d.view('after')).state).toBe('RUNNING');
    expect((await apiRefusal(d.view('refused'))).status).toBe(404);
    await d.stop();
    await replayAgrees(d);
  }, 120_000); // daemon starts, a Node hog, up to 15 s of commit retry: more than 30 s on a busy machine

  it('a database that cannot be written (immutable files): launches refused, kills go on, service resumes when it is writable again', async () => {
    d = new DaemonDir();
    await d.start({ set: SET });
    await d.launch('keeper', ['sleep', '600']);
    await d.launch('hog', hogOnGo(), { resources: { memoryMb: 32, vcores: 1 } });
    const keeper = await d.until('keeper', 'RUNNING');
    await d.until('hog', 'RUNNING');

    // Not even root can write an immutable file. (The -shm file is memory-mapped and stays writable.)
    const files = [d.db, `${d.db}-wal`];
    execFileSync('chattr', ['+i', ...files]);
    undo.push(() => execFileSync('chattr', ['-i', ...files]));
    const degraded = await waitForAsync(async () => {
      const h = await health(d!);
      return h.status === 'degraded' ? h : undefined;
    }, 30_000, 'the daemon to notice the database cannot be written');
    expect(degraded.store?.code).toMatch(/^SQLITE_(IOERR|READONLY)/);

    const refused = await apiRefusal(d.launch('refused', ['true']));
    expect(refused).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' });
    expect((await apiRefusal(d.view('refused'))).status).toBe(404);

    fs.writeFileSync(path.join(d.containerDir('hog'), 'go'), '');
    expect((await d.until('hog', 'DONE', 30_000)).exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_PMEM);
    await apiRefusal(d.current!.client.post('/v1/containers/keeper/kill', {}));
    await waitFor(() => !isLive(keeper.pid!), 30_000, 'the keeper to be killed');

    execFileSync('chattr', ['-i', ...files]);
    // Up to 15 s until the next retry of the commit (see above).
    await waitForAsync(async () => ((await health(d!)).status === 'ok' ? true : undefined), 30_000, 'the daemon to commit again');
    expect((await d.launch('after', ['true'])).id).toBe('after');
    expect((await d.until('after', 'DONE')).exitCode).toBe(0);
    // The keeper's exit may be noticed only after the store recovered; it is committed before the crash.
    await d.until('keeper', 'DONE');
    await d.durable('keeper');

    await d.crash();
    await d.start({ set: SET });
    expect((await d.view('hog')).exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_PMEM);
    expect((await d.view('keeper')).exitStatus).toBe(ExitStatus.KILLED_BY_APPMASTER);
    await d.stop();
    await replayAgrees(d);
  }, 120_000); // daemon starts, a Node hog, up to 15 s of commit retry: more than 30 s on a busy machine
});
