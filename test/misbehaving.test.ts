/**
 * Misbehaving containers (issue 9, hardening), end to end against a real
 * daemon and real processes: one that ignores SIGTERM, one that forks as fast
 * as it can, one that closes its stdout (and stderr), one that exits before
 * anything could be asked of it (also across a crash between the spawn and
 * CONTAINER_LAUNCHED), one whose program does not exist or cannot be run.
 *
 * What the unit tests already pin (test/launcher.test.ts: SIGKILL after the
 * delay for one TERM-ignoring process, 127 for a missing command with its
 * name in the diagnostics; test/lifecycle.test.ts: -105/137 for an in-process
 * kill) is not repeated: here every case goes through the socket API and the
 * whole daemon, with trees rather than single processes.
 *
 * Every test waits for states, never for time; afterEach stops the daemon and
 * kills every process any of this file's containers started (found by the
 * CONTAINER_ID each one inherits), even when the test failed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ContainerView } from '../src/node/container-view.js';
import { ExitCode, ExitStatus } from '../state-machines/exit-status.js';
import type { TransitionRow } from '../src/store/rows.js';
import { startApiDaemon, type ApiTestDaemon } from './helpers/daemon.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { containerProcesses, liveMembers, waitFor, waitForAsync } from './helpers/proc.js';

/** Ids unique to this run: the cleanup finds processes by CONTAINER_ID, and other test files run at the same time. */
const RUN = `mis${process.pid.toString(36)}${Date.now().toString(36)}`;
let seq = 0;
const newId = (name: string) => `${RUN}-${name}-${++seq}`;

const small = { memoryMb: 64, vcores: 1 };

let tmp: string;
let d: ApiTestDaemon | undefined;
let dd: DaemonDir | undefined;
/** Every container id launched by the current test. */
let ids: Set<string>;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-misbehaving-'));
  ids = new Set();
});

afterEach(async () => {
  const failures: unknown[] = [];
  const attempt = async (fn: () => Promise<unknown> | undefined) => {
    try {
      await fn();
    } catch (err) {
      failures.push(err);
    }
  };
  await attempt(() => d?.stop());
  d = undefined;
  await attempt(() => dd?.cleanup());
  dd = undefined;
  // Whatever is left (a process that left its group would not be found by the above).
  await attempt(async () => {
    await waitFor(() => {
      const left = livePids(ids);
      for (const p of left) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      return left.length === 0;
    }, 10_000, 'every container process to be gone');
  });
  fs.rmSync(tmp, { recursive: true, force: true });
  if (failures.length > 0) throw failures[0];
});

// ---------------------------------------------------------------- helpers

/** Pids of live processes of these containers. */
const livePids = (ids: Set<string>): number[] => containerProcesses(ids).map((p) => p.pid);

/** Does the process ignore SIGTERM (bit 15 of SigIgn in /proc/<pid>/status)? undefined when it is gone. */
function ignoresTerm(pid: number): boolean | undefined {
  try {
    const m = /^SigIgn:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? (BigInt(`0x${m[1]}`) & (1n << 14n)) !== 0n : undefined;
  } catch {
    return undefined;
  }
}

async function api(settings: Record<string, string | number | boolean> = {}): Promise<ApiTestDaemon> {
  d = await startApiDaemon(settings);
  return d;
}

async function launch(id: string, command: string[], extra: Record<string, unknown> = {}): Promise<ContainerView> {
  ids.add(id);
  return d!.client.post<ContainerView>('/v1/containers', { id, command, resources: small, ...extra });
}

const view = (id: string) => d!.client.get<ContainerView>(`/v1/containers/${id}`);

/** Wait over the API until the container is in `state`; fails with its last view. */
async function until(id: string, state: string, timeoutMs = 20_000): Promise<ContainerView> {
  let last: ContainerView | undefined;
  try {
    return await waitForAsync(async () => {
      last = await view(id);
      return last.state === state ? last : undefined;
    }, timeoutMs, `${id} to reach ${state}`);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last view: ${JSON.stringify(last)}`);
  }
}

async function transitions(id: string): Promise<string[]> {
  const rows = await d!.client.get<Array<{ from: string; to: string }>>(`/v1/containers/${id}/transitions`);
  return rows.map((t) => `${t.from}>${t.to}`);
}

/**
 * Live members of the container's group at the moment the daemon commits the
 * transition out of `from` (KILLING, or RUNNING for a plain exit): what was
 * still running when the daemon took the container for finished.
 */
function membersWhenLeaving(id: string, from: string, pgid: () => number | null): { members?: number[] } {
  const seen: { members?: number[] } = {};
  d!.node.bus.on('transitions', (rows: TransitionRow[]) => {
    for (const r of rows) {
      const pid = pgid();
      if (r.containerId === id && r.from === from && seen.members === undefined && pid !== null) seen.members = liveMembers(pid);
    }
  });
  return seen;
}

/** Record what the daemon logs at warn level and above (the test daemon's logger is silent otherwise). */
function logged(d: ApiTestDaemon): Array<{ level: string; msg: string }> {
  const seen: Array<{ level: string; msg: string }> = [];
  for (const level of ['warn', 'error', 'fatal'] as const) {
    const original = d.node.log[level].bind(d.node.log);
    d.node.log[level] = ((...args: unknown[]) => {
      seen.push({ level, msg: args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(' ') });
      (original as (...a: unknown[]) => void)(...args);
    }) as typeof original;
  }
  return seen;
}

const file = (v: ContainerView, name: string) => path.join(v.workDir, name);
/** The diagnostics without the `[timestamp] ` each entry starts with (state-machines/diagnostics.ts). */
const diagnostics = (v: ContainerView) => v.diagnostics.replace(/^\[[^\]\n]+\] /gm, '');
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const read = (f: string) => fs.readFileSync(f, 'utf8');

// ---------------------------------------------------------------- 1. ignores SIGTERM

describe('a container that ignores SIGTERM', () => {
  it('a kill over the API ends it with SIGKILL after the delay: DONE, -105, 137, no member of its group left', async () => {
    // Long enough that the view right after the kill comes before the SIGKILL, even on a busy machine.
    const delay = 3000;
    await api({ 'yarn.nodemanager.sleep-delay-before-sigkill.ms': delay });
    const id = newId('deaf');
    // bash ignores TERM, and every child inherits the ignore: a sleep, and an sh with a sleep of its own.
    await launch(id, ['bash', '-c', 'trap "" TERM; sleep 600 & sh -c "sleep 600 & wait" & echo ready > ready; wait']);
    const running = await until(id, 'RUNNING');
    const pid = running.pid!;
    // wrapper, bash, sleep, sh, sleep
    await waitFor(() => fs.existsSync(file(running, 'ready')) && liveMembers(pid).length >= 5, 20_000, 'the TERM-ignoring tree');
    const command = liveMembers(pid).filter((m) => m !== pid);
    expect(command.length).toBeGreaterThanOrEqual(4);
    for (const m of command) expect(ignoresTerm(m), `member ${m} ignores TERM`).toBe(true);

    const atCleanup = membersWhenLeaving(id, 'KILLING', () => pid);
    const t0 = Date.now();
    await d!.client.post(`/v1/containers/${id}/kill`);
    // Until the SIGKILL, the TERM changed nothing.
    const killing = await view(id);
    expect(killing.state).toBe('KILLING');
    const done = await until(id, 'DONE');
    const elapsed = Date.now() - t0;

    expect(elapsed).toBeGreaterThanOrEqual(delay - 5);
    expect(done).toMatchObject({ exitStatus: ExitStatus.KILLED_BY_APPMASTER, exitCode: ExitCode.FORCE_KILLED });
    expect(done.diagnostics).toContain('Container killed by the ApplicationMaster.');
    expect(atCleanup.members).toEqual([]);
    expect(liveMembers(pid)).toEqual([]);
    expect(livePids(ids)).toEqual([]);
    // The wrapper was SIGKILLed with the rest: it wrote no exit code, the 137 is its wait status.
    expect(fs.existsSync(file(done, `${id}.pid.exitcode`))).toBe(false);
    expect(await transitions(id)).toEqual([
      'NEW>SCHEDULED',
      'SCHEDULED>RUNNING',
      'RUNNING>KILLING',
      'KILLING>CONTAINER_CLEANEDUP_AFTER_KILL',
      'CONTAINER_CLEANEDUP_AFTER_KILL>DONE',
    ]);
  }, 60_000);

  it('a monitor kill (over its memory limit) of a TERM-ignoring tree also ends with SIGKILL: -104, 137, nothing left', async () => {
    await api({
      'yarn.nodemanager.sleep-delay-before-sigkill.ms': 400,
      'yarn.nodemanager.container-monitor.interval-ms': 100,
      'yarn.nodemanager.vmem-check-enabled': false,
    });
    const id = newId('deafhog');
    // The memory is held by `tail` (it buffers a line that never ends), a grandchild that inherits the ignored TERM.
    // Limit: 64 + 32 MB; tail grows to 200 MB.
    await launch(id, ['bash', '-c', 'trap "" TERM; { head -c 200M /dev/zero; exec sleep 600; } | tail']);
    const running = await until(id, 'RUNNING');
    const pid = running.pid!;
    // When the monitor decides the kill, the tree is alive and ignores TERM: only the SIGKILL can end it.
    const atKill: { command?: Array<boolean | undefined> } = {};
    d!.node.bus.on('transitions', (rows: TransitionRow[]) => {
      for (const r of rows) {
        if (r.containerId === id && r.to === 'KILLING' && atKill.command === undefined) {
          // A member that ends between the scan and the read of its status (head, done writing) cannot be asked.
          atKill.command = liveMembers(pid)
            .filter((m) => m !== pid)
            .map(ignoresTerm)
            .filter((ignores) => ignores !== undefined);
        }
      }
    });
    const atCleanup = membersWhenLeaving(id, 'KILLING', () => pid);
    const done = await until(id, 'DONE', 30_000);

    expect(done.exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_PMEM);
    expect(done.diagnostics).toMatch(/is running \d+(\.\d+)? ?[KMG]?B beyond the 'PHYSICAL' memory limit/);
    // 143 had the TERM ended it (the wrapper records the command's status); 137: the SIGKILL did.
    expect(done.exitCode).toBe(ExitCode.FORCE_KILLED);
    expect(atKill.command?.length).toBeGreaterThanOrEqual(2);
    expect(atKill.command?.every((ignores) => ignores === true)).toBe(true);
    expect(atCleanup.members).toEqual([]);
    expect(liveMembers(pid)).toEqual([]);
    expect(livePids(ids)).toEqual([]);
    expect(await transitions(id)).toContain('RUNNING>KILLING');
  }, 60_000);
});

// ---------------------------------------------------------------- 2. forks quickly

describe('a container that forks as fast as it can', () => {
  it('the monitor keeps sampling, the daemon stays responsive, a kill takes the whole group and leaves nothing', async () => {
    // A long SIGKILL delay: the TERM must do it all (checked below), and the wrapper gets the time it needs to record the 143.
    await api({ 'yarn.nodemanager.container-monitor.interval-ms': 100, 'yarn.nodemanager.sleep-delay-before-sigkill.ms': 10_000 });
    const complaints = logged(d!);
    const id = newId('storm');
    // Two loops, each starting a child that starts a grandchild, both gone at once, over and over.
    const storm = 'spin() { while :; do sh -c "sh -c : & wait" & wait; done; }; spin & spin & echo started > started; wait';
    await launch(id, ['bash', '-c', storm], { resources: { memoryMb: 256, vcores: 1 } });
    const running = await until(id, 'RUNNING');
    const pid = running.pid!;
    await waitFor(() => fs.existsSync(file(running, 'started')), 10_000, 'the storm to start');

    // It is a storm: many different pids pass through the group.
    const seen = new Set<number>();
    await waitFor(() => {
      for (const m of liveMembers(pid)) seen.add(m);
      return seen.size >= 50;
    }, 20_000, '50 different processes in the group');

    // The monitor keeps sampling it (a tick that threw would not count, and would be logged), with fresh usage.
    const node = () => d!.client.get<{ monitor: { ticks: number } }>('/v1/node');
    const ticks0 = (await node()).monitor.ticks;
    const stamps = new Set<number>();
    await waitForAsync(async () => {
      const v = await view(id);
      expect(v.state).toBe('RUNNING');
      if (v.usage !== null && v.usage.pmemBytes > 0) stamps.add(v.usage.timestamp);
      return stamps.size >= 5 && (await node()).monitor.ticks >= ticks0 + 10;
    }, 30_000, 'ten monitor ticks and five fresh samples of the storm');
    const stats = await d!.client.get<Array<{ executor_id: string; statistics: { processes: number } }>>('/monitor/statistics');
    expect(stats.find((s) => s.executor_id === id)?.statistics.processes).toBeGreaterThanOrEqual(3);

    // The daemon still serves, and a second container launched during the storm runs to success.
    expect(await d!.client.get('/healthz')).toMatchObject({ status: 'ok' });
    const calm = newId('calm');
    await launch(calm, ['sh', '-c', 'echo fine']);
    const calmDone = await until(calm, 'DONE', 30_000);
    expect(calmDone).toMatchObject({ exitStatus: 0, exitCode: 0 });
    expect(read(path.join(calmDone.logDir, 'stdout'))).toBe('fine\n');
    expect((await view(id)).state).toBe('RUNNING');
    // Processes vanishing between the listing of /proc and the read of their stat are not errors.
    expect(complaints).toEqual([]);

    const atCleanup = membersWhenLeaving(id, 'KILLING', () => pid);
    // The daemon runs in this process: the signals its launcher sends are seen here.
    const signals = vi.spyOn(process, 'kill');
    let done: ContainerView;
    try {
      await d!.client.post(`/v1/containers/${id}/kill`);
      done = await until(id, 'DONE', 30_000);
      // The group at once; in a cgroup each member, frozen while it is signalled, the wrapper among them.
      expect(signals.mock.calls).toContainEqual([d!.node.containment.mode === 'process-group' ? -pid : pid, 'SIGTERM']);
      expect(signals.mock.calls.filter(([, sig]) => sig === 'SIGKILL')).toEqual([]);
    } finally {
      signals.mockRestore();
    }
    // Reported finished only once the whole group was gone, and nothing escaped the kill.
    expect(atCleanup.members).toEqual([]);
    expect(liveMembers(pid)).toEqual([]);
    expect(livePids(ids)).toEqual([]);
    // The loops died of the TERM (the wrapper recorded 143): no SIGKILL was needed.
    expect(done.exitStatus).toBe(ExitStatus.KILLED_BY_APPMASTER);
    expect(done.exitCode).toBe(ExitCode.TERMINATED);
    expect(complaints).toEqual([]);
  }, 150_000);
});

// ---------------------------------------------------------------- 3. closes its stdout

describe('a container that closes its stdout', () => {
  it('closing stdout: the exit code is recorded exactly, the log files exist with what was written', async () => {
    await api();
    const id = newId('nostdout');
    await launch(id, ['bash', '-c', 'echo before; exec 1>&-; echo after 2>/dev/null; echo "stderr still open" >&2; exit 5']);
    const done = await until(id, 'DONE');
    expect(done).toMatchObject({ exitStatus: 5, exitCode: 5 });
    expect(diagnostics(done)).toBe('Container exited with a non-zero exit code 5. Last 4096 bytes of stderr :\nstderr still open\n');
    expect(read(path.join(done.logDir, 'stdout'))).toBe('before\n');
    expect(read(path.join(done.logDir, 'stderr'))).toBe('stderr still open\n');
    expect(read(file(done, `${id}.pid.exitcode`)).trim()).toBe('5');
  });

  it('closing stdout and stderr, then running on: still RUNNING until it exits 3, recorded exactly; the daemon is unaffected', async () => {
    await api();
    const id = newId('mute');
    await launch(id, [
      'bash',
      '-c',
      'echo out; echo err >&2; exec 1>&- 2>&-; echo $$ > closed; while [ ! -e go ]; do sleep 0.02; done; exit 3',
    ]);
    const running = await until(id, 'RUNNING');
    const closed = file(running, 'closed');
    await waitFor(() => fs.existsSync(closed) && read(closed).endsWith('\n'), 20_000, 'the command to close stdout and stderr');
    const commandPid = Number(read(closed));
    expect(fs.existsSync(`/proc/${commandPid}/fd/1`)).toBe(false);
    expect(fs.existsSync(`/proc/${commandPid}/fd/2`)).toBe(false);
    // Closed output is not an exit: the daemon still has it running, and still serves.
    expect((await view(id)).state).toBe('RUNNING');
    expect(await d!.client.get('/healthz')).toMatchObject({ status: 'ok' });
    const other = newId('other');
    await launch(other, ['true']);
    expect(await until(other, 'DONE')).toMatchObject({ exitStatus: 0, exitCode: 0 });
    expect((await view(id)).state).toBe('RUNNING');

    fs.writeFileSync(file(running, 'go'), '');
    const done = await until(id, 'DONE');
    expect(done).toMatchObject({ exitStatus: 3, exitCode: 3 });
    expect(diagnostics(done)).toBe('Container exited with a non-zero exit code 3. Last 4096 bytes of stderr :\nerr\n');
    expect(read(path.join(done.logDir, 'stdout'))).toBe('out\n');
    expect(read(path.join(done.logDir, 'stderr'))).toBe('err\n');
    expect(read(file(done, `${id}.pid.exitcode`)).trim()).toBe('3');
    expect(await transitions(id)).toEqual(['NEW>SCHEDULED', 'SCHEDULED>RUNNING', 'RUNNING>EXITED_WITH_FAILURE', 'EXITED_WITH_FAILURE>DONE']);
  }, 60_000);
});

// ---------------------------------------------------------------- 4. exits at once

describe('a container that exits at once', () => {
  it('`true` and `exit 7`, many quick launches at once: the right exit code every time, launched once each', async () => {
    await api();
    const launches: Array<{ id: string; code: number }> = [];
    for (let i = 0; i < 15; i++) {
      launches.push({ id: newId('true'), code: 0 });
      launches.push({ id: newId('seven'), code: 7 });
    }
    await Promise.all(launches.map(({ id, code }) => launch(id, code === 0 ? ['true'] : ['sh', '-c', 'exit 7'])));
    for (const { id, code } of launches) {
      const done = await until(id, 'DONE', 20_000);
      expect(done, id).toMatchObject({ exitStatus: code, exitCode: code });
      expect(diagnostics(done), id).toBe(code === 0 ? '' : 'Container exited with a non-zero exit code 7\n');
      // The wrapper wrote its own pid before the command ran, and the command's status after.
      expect(read(file(done, `${id}.pid`)).trim(), id).toBe(String(done.pid));
      expect(read(file(done, `${id}.pid.exitcode`)).trim(), id).toBe(String(code));
      const end = code === 0 ? 'EXITED_WITH_SUCCESS' : 'EXITED_WITH_FAILURE';
      expect(await transitions(id), id).toEqual(['NEW>SCHEDULED', 'SCHEDULED>RUNNING', `RUNNING>${end}`, `${end}>DONE`]);
    }
    expect(livePids(ids)).toEqual([]);
  }, 90_000);

  it('a crash between the spawn and CONTAINER_LAUNCHED: on restart it ends with its real exit code from the file, launched once', async () => {
    dd = new DaemonDir();
    const id = newId('crashquick');
    await dd.start({ env: { NODEWARDEN_FAILPOINTS: 'spawned' } });
    // The daemon SIGKILLs itself right after the spawn; the reply may or may not have gone out.
    await dd.launch(id, ['sh', '-c', 'echo $$ >> runs; exit 7']).catch(() => undefined);
    ids.add(id);
    expect((await dd.crashed()).signal).toBe('SIGKILL');
    // The command ran and ended while no daemon was there: the wrapper left its pid and the exit code.
    const dir = dd.containerDir(id);
    await waitFor(() => fs.existsSync(path.join(dir, `${id}.pid.exitcode`)), 20_000, 'the orphaned wrapper to finish');
    expect(read(path.join(dir, `${id}.pid.exitcode`)).trim()).toBe('7');
    expect(dd.runs(id)).toBe(1);

    const started = await dd.start();
    expect((await started.client.get<{ recovery: Record<string, number> }>('/v1/node')).recovery).toMatchObject({ ended: 1, launched: 0, reacquired: 0 });
    const done = await dd.until(id, 'DONE');
    expect([done.exitStatus, done.exitCode]).toEqual([7, 7]);
    expect(done.diagnostics).toContain('Container exited with a non-zero exit code 7');
    expect(done.pid).toBe(Number(read(path.join(dir, `${id}.pid`))));
    const events = await started.client.get<Array<{ event: string }>>(`/v1/containers/${id}/transitions`);
    expect(events.map((t) => t.event)).toEqual(['INIT_CONTAINER', 'CONTAINER_LAUNCHED', 'CONTAINER_EXITED_WITH_FAILURE', 'CONTAINER_RESOURCES_CLEANEDUP']);
    expect(dd.runs(id)).toBe(1);
  }, 90_000);
});

// ---------------------------------------------------------------- 5. cannot be run

describe('a container whose program cannot be run', () => {
  const cases = [
    { name: 'missing', program: () => 'nodewarden-no-such-program', code: 127, says: 'not found' },
    { name: 'missingpath', program: () => path.join(tmp, 'no-such-dir', 'prog'), code: 127, says: 'No such file or directory' },
    { name: 'notexec', program: () => path.join(tmp, 'not-executable.sh'), code: 126, says: 'Permission denied' },
    { name: 'dir', program: () => path.join(tmp, 'a-directory'), code: 126, says: 'Is a directory' },
  ];

  it.each(cases)('$name: EXITED_WITH_FAILURE → DONE quickly, exit code $code, diagnostics that say what went wrong', async ({ name, program, code, says }) => {
    fs.writeFileSync(path.join(tmp, 'not-executable.sh'), '#!/bin/sh\necho should not run\n', { mode: 0o644 });
    fs.mkdirSync(path.join(tmp, 'a-directory'));
    await api();
    const id = newId(name);
    await launch(id, [program(), 'arg']);
    // "Quickly": it does not hang (the wait's bound); no elapsed-time check, which a busy machine could miss.
    const done = await until(id, 'DONE', 20_000);
    expect(done).toMatchObject({ exitStatus: code, exitCode: code });
    // The stderr tail is bash's own word from the wrapper's exec: the program, and why it could not run.
    expect(diagnostics(done)).toMatch(new RegExp(`^Container exited with a non-zero exit code ${code}\\. Last 4096 bytes of stderr :\n`));
    expect(diagnostics(done)).toMatch(new RegExp(`${escapeRegExp(program())}: ${says}\n`));
    expect(read(path.join(done.logDir, 'stdout'))).toBe('');
    expect(await transitions(id)).toEqual(['NEW>SCHEDULED', 'SCHEDULED>RUNNING', 'RUNNING>EXITED_WITH_FAILURE', 'EXITED_WITH_FAILURE>DONE']);
  });
});
