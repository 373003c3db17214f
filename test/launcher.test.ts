import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { containerPaths } from '../src/launcher/container-paths.js';
import { launchScript } from '../src/launcher/launch-script.js';
import {
  LaunchError,
  LOST_DIAGNOSTICS,
  ProcessLauncher,
  type ExitNotice,
  type LauncherOptions,
} from '../src/launcher/process-launcher.js';
import { ExitCode } from '../state-machines/exit-status.js';
import { isLive, killGroups, liveMembers, procStat, waitFor } from './helpers/proc.js';

// ---------------------------------------------------------------- helpers

const log = pino({ level: 'silent' });

let tmp: string;
let workDir: string;
let launchers: ProcessLauncher[];
let groups: Set<number>;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-launcher-'));
  workDir = path.join(tmp, 'work');
  launchers = [];
  groups = new Set();
});

afterEach(async () => {
  for (const l of launchers) l.close();
  await killGroups(groups);
  delete process.env.NW_SECRET_TEST;
  fs.rmSync(tmp, { recursive: true, force: true });
});

function mk(opts: Partial<LauncherOptions> = {}): ProcessLauncher {
  const l = new ProcessLauncher({
    workDir,
    sigkillDelayMs: 250,
    exitCodeFileTimeoutMs: 500,
    pollIntervalMs: 50,
    log,
    ...opts,
  });
  launchers.push(l);
  return l;
}

interface Started {
  id: string;
  pid: number;
  startTime: number;
  notices: ExitNotice[];
  exit: Promise<ExitNotice>;
}

function notifier(): { notices: ExitNotice[]; onExit: (n: ExitNotice) => void; exit: Promise<ExitNotice> } {
  const notices: ExitNotice[] = [];
  let resolve!: (n: ExitNotice) => void;
  const exit = new Promise<ExitNotice>((r) => (resolve = r));
  return {
    notices,
    exit,
    onExit: (n) => {
      notices.push(n);
      resolve(n);
    },
  };
}

async function start(
  l: ProcessLauncher,
  id: string,
  command: string[],
  env: Record<string, string> = {},
  hook?: (n: ExitNotice) => void,
): Promise<Started> {
  const n = notifier();
  const launched = (await l.launch(id, command, env, (x) => {
    hook?.(x);
    n.onExit(x);
  }))!;
  groups.add(launched.pid);
  return { id, ...launched, notices: n.notices, exit: n.exit };
}

function read(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

/** A node program that ignores SIGTERM and writes its pid to argv[2] once it does. */
function ignoreTermScript(): string {
  const file = path.join(tmp, 'ignore-term.cjs');
  fs.writeFileSync(
    file,
    [
      "const fs = require('fs');",
      "process.on('SIGTERM', () => {});",
      "fs.writeFileSync(process.argv[2] + '.tmp', String(process.pid));",
      "fs.renameSync(process.argv[2] + '.tmp', process.argv[2]);",
      'setInterval(() => {}, 1000);',
    ].join('\n'),
  );
  return file;
}

const SLEEP_TREE = ['sh', '-c', 'sleep 1000 & sleep 1000 & wait'];

// ---------------------------------------------------------------- tests

describe('container paths and launch script', () => {
  it('lays out <workDir>/containers/<id>/', () => {
    const p = containerPaths('/w', 'c_1.a-b');
    expect(p).toEqual({
      dir: '/w/containers/c_1.a-b',
      script: '/w/containers/c_1.a-b/launch_container.sh',
      pidFile: '/w/containers/c_1.a-b/c_1.a-b.pid',
      exitCodeFile: '/w/containers/c_1.a-b/c_1.a-b.pid.exitcode',
      logDir: '/w/containers/c_1.a-b/logs',
      stdout: '/w/containers/c_1.a-b/logs/stdout',
      stderr: '/w/containers/c_1.a-b/logs/stderr',
    });
    for (const bad of ['', '.', '..', 'a/b', '../x', 'a\nb']) {
      expect(() => containerPaths('/w', bad)).toThrow(/unsafe container id/);
    }
  });

  it('never puts the command in the script; quotes the id', () => {
    const s = launchScript('c1');
    expect(s).toContain('"$@"');
    expect(s).toContain("pid_file='c1.pid'");
    expect(s).toContain("exit_code_file='c1.pid.exitcode'");
    // A handler (inherited as the default action), not an ignore, while the command runs.
    const run = s.indexOf('exec "$@"');
    expect(s.indexOf("trap 'term=1' TERM")).toBeGreaterThan(-1);
    expect(s.indexOf("trap 'term=1' TERM")).toBeLessThan(run);
    expect(s.indexOf("trap '' TERM")).toBeGreaterThan(run);
    expect(() => launchScript('../x')).toThrow();
  });
});

describe('ProcessLauncher', () => {
  it('runs a command to success and records pid, exit code and logs', async () => {
    const l = mk();
    const c = await start(l, 'c1', ['sh', '-c', 'echo out; echo err >&2']);
    const n = await c.exit;
    expect(n).toEqual({ exitCode: 0, diagnostics: '' });
    const p = containerPaths(workDir, 'c1');
    expect(read(p.pidFile).trim()).toBe(String(c.pid));
    expect(read(p.exitCodeFile).trim()).toBe('0');
    expect(read(p.stdout)).toBe('out\n');
    expect(read(p.stderr)).toBe('err\n');
    expect(fs.statSync(p.dir).mode & 0o777).toBe(0o750);
    expect(fs.statSync(p.logDir).mode & 0o777).toBe(0o750);
    expect(fs.statSync(p.script).mode & 0o777).toBe(0o640);
    expect(read(p.script)).toBe(launchScript('c1'));
    expect(fs.existsSync(`${p.pidFile}.tmp`)).toBe(false);
    expect(fs.existsSync(`${p.exitCodeFile}.tmp`)).toBe(false);
    expect(c.notices).toHaveLength(1);
  });

  it('prepareDir is idempotent', async () => {
    const l = mk();
    const a = await l.prepareDir('c1');
    fs.writeFileSync(path.join(a.dir, 'keep'), 'x');
    const b = await l.prepareDir('c1');
    expect(b).toEqual(a);
    expect(read(path.join(a.dir, 'keep'))).toBe('x');
  });

  it('reports a failure exit code with the stderr tail', async () => {
    const l = mk();
    const a = await start(l, 'a', ['sh', '-c', 'echo oops >&2; exit 3']);
    expect(await a.exit).toEqual({
      exitCode: 3,
      diagnostics: 'Container exited with a non-zero exit code 3. Last 4096 bytes of stderr :\noops\n',
    });
    const b = await start(l, 'b', ['sh', '-c', 'exit 3']);
    expect(await b.exit).toEqual({ exitCode: 3, diagnostics: 'Container exited with a non-zero exit code 3' });
  });

  it('keeps only the last 4096 bytes of stderr', async () => {
    const l = mk();
    const c = await start(l, 'c', ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo "line $i ....................."; i=$((i+1)); done >&2; exit 9']);
    const n = await c.exit;
    expect(n.exitCode).toBe(9);
    const prefix = 'Container exited with a non-zero exit code 9. Last 4096 bytes of stderr :\n';
    expect(n.diagnostics.startsWith(prefix)).toBe(true);
    const tail = n.diagnostics.slice(prefix.length);
    expect(tail.length).toBe(4096);
    expect(tail.endsWith('line 299 .....................\n')).toBe(true);
  });

  it('a missing command exits 127', async () => {
    const l = mk();
    const c = await start(l, 'c', ['nodewarden-no-such-command', 'x']);
    const n = await c.exit;
    expect(n.exitCode).toBe(127);
    expect(n.diagnostics).toMatch(/^Container exited with a non-zero exit code 127\. Last 4096 bytes of stderr :\n/);
    expect(n.diagnostics).toContain('nodewarden-no-such-command');
    expect(read(containerPaths(workDir, 'c').exitCodeFile).trim()).toBe('127');
  });

  it('a command named like a shell builtin runs as a program, not inside the wrapper', async () => {
    const l = mk();
    const c = await start(l, 'c', ['exit', '3']);
    expect((await c.exit).exitCode).toBe(127);
    expect(read(containerPaths(workDir, 'c').exitCodeFile).trim()).toBe('127');
  });

  it('never shell-interprets argv or env values', async () => {
    process.env.NW_SECRET_TEST = 'leaked';
    const l = mk();
    const evil = '$(touch pwned); echo hi';
    const a = await start(l, 'a', ['printf', '%s\\n', evil, '`touch pwned2`', "it's \"quoted\"", '*']);
    expect((await a.exit).exitCode).toBe(0);
    const pa = containerPaths(workDir, 'a');
    expect(read(pa.stdout)).toBe(`${evil}\n\`touch pwned2\`\nit's "quoted"\n*\n`);
    expect(read(pa.script)).not.toContain('pwned');

    const b = await start(l, 'b', ['sh', '-c', 'printf "%s|%s|%s|%s\\n" "$FOO" "$BAR" "$CONTAINER_ID" "${NW_SECRET_TEST-unset}"'], {
      FOO: '$HOME',
      BAR: '$(touch pwned3)',
      CONTAINER_ID: 'spoofed',
    });
    expect((await b.exit).exitCode).toBe(0);
    const pb = containerPaths(workDir, 'b');
    expect(read(pb.stdout)).toBe('$HOME|$(touch pwned3)|b|unset\n');

    for (const dir of [pa.dir, pb.dir, tmp, process.cwd()]) {
      for (const f of ['pwned', 'pwned2', 'pwned3']) expect(fs.existsSync(path.join(dir, f))).toBe(false);
    }
  });

  it('runs in its own session and process group, in the container directory', async () => {
    const l = mk();
    const c = await start(l, 'c', SLEEP_TREE);
    await waitFor(() => liveMembers(c.pid).length === 4, 10_000, 'wrapper, sh and two sleeps');
    const s = procStat(c.pid)!;
    expect(s.session).toBe(c.pid);
    expect(s.pgrp).toBe(c.pid);
    expect(s.startTime).toBe(c.startTime);
    for (const m of liveMembers(c.pid)) expect(procStat(m)!.session).toBe(c.pid);
    expect(fs.readlinkSync(`/proc/${c.pid}/cwd`)).toBe(fs.realpathSync(containerPaths(workDir, 'c').dir));
    expect(fs.readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').split('\0').slice(0, 3)).toEqual([
      '/bin/bash',
      'launch_container.sh',
      'sh',
    ]);
    expect(l.isAlive(c.pid, c.startTime)).toBe(true);
    expect(l.isAlive(c.pid, c.startTime + 1)).toBe(false);
  });

  it('kill: SIGTERM to the group, notice once the whole tree is gone (no SIGKILL needed)', async () => {
    // A long delay, and the signals the launcher sends are watched: a SIGKILL would show
    // (no elapsed-time bound, which a busy machine could exceed). It also leaves the
    // wrapper all the time it needs to record the 143.
    const l = mk({ sigkillDelayMs: 10_000 });
    let membersAtNotice: number[] | undefined;
    const c = await start(l, 'c', SLEEP_TREE, {}, () => (membersAtNotice = liveMembers(c.pid)));
    await waitFor(() => liveMembers(c.pid).length === 4, 10_000, 'tree to start');
    const signals = vi.spyOn(process, 'kill');
    let n: ExitNotice;
    try {
      l.kill(c.id);
      l.kill(c.id); // idempotent
      n = await c.exit;
      expect(signals.mock.calls).toContainEqual([-c.pid, 'SIGTERM']); // the spy sees the launcher's signals
      expect(signals.mock.calls.filter(([, sig]) => sig === 'SIGKILL')).toEqual([]);
    } finally {
      signals.mockRestore();
    }
    expect(n.exitCode).toBe(ExitCode.TERMINATED);
    expect(n.diagnostics).toMatch(/^Container exited with a non-zero exit code 143/);
    expect(membersAtNotice).toEqual([]);
    expect(liveMembers(c.pid)).toEqual([]);
    expect(read(containerPaths(workDir, 'c').exitCodeFile).trim()).toBe('143');
    expect(c.notices).toHaveLength(1);
  });

  it('kill: a command that ignores SIGTERM is SIGKILLed after the delay (137)', async () => {
    const l = mk({ sigkillDelayMs: 200 });
    const script = ignoreTermScript();
    const ready = path.join(tmp, 'ready');
    let membersAtNotice: number[] | undefined;
    const c = await start(l, 'c', [process.execPath, script, ready], {}, () => (membersAtNotice = liveMembers(c.pid)));
    await waitFor(() => fs.existsSync(ready), 10_000, 'SIGTERM handler');
    const t0 = Date.now();
    l.kill(c.id);
    const n = await c.exit;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(195);
    expect(n.exitCode).toBe(ExitCode.FORCE_KILLED);
    expect(membersAtNotice).toEqual([]);
    expect(c.notices).toHaveLength(1);
  });

  it('kill: a grandchild that ignores SIGTERM holds the notice back until SIGKILL', async () => {
    // The wrapper must record sh's 143 before the SIGKILL ends it too: give it time on a busy machine.
    const delay = 1500;
    const l = mk({ sigkillDelayMs: delay });
    const script = ignoreTermScript();
    const ready = path.join(tmp, 'ready');
    let membersAtNotice: number[] | undefined;
    const c = await start(l, 'c', ['sh', '-c', '"$0" "$1" "$2" & wait', process.execPath, script, ready], {}, () => {
      membersAtNotice = liveMembers(c.pid);
    });
    await waitFor(() => fs.existsSync(ready), 10_000, 'SIGTERM handler');
    const grandchild = Number(read(ready));
    const t0 = Date.now();
    l.kill(c.id);
    const n = await c.exit;
    // sh died of the TERM (the wrapper recorded 143), but the notice waited for the SIGKILL.
    expect(n.exitCode).toBe(ExitCode.TERMINATED);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(delay - 5);
    expect(membersAtNotice).toEqual([]);
    expect(isLive(grandchild)).toBe(false);
  });

  it('a kill right after launch still ends the container, and nothing is left', async () => {
    const l = mk({ sigkillDelayMs: 250 });
    const started: Started[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await start(l, `k${i}`, SLEEP_TREE);
      started.push(c);
      l.kill(c.id);
    }
    for (const c of started) {
      // 143 unless the TERM landed in the microseconds between the wrapper's
      // last check and its fork of the command: then SIGKILL ends it (137).
      expect([ExitCode.TERMINATED, ExitCode.FORCE_KILLED]).toContain((await c.exit).exitCode);
      expect(liveMembers(c.pid)).toEqual([]);
    }
  });

  it('pause stops every process of the group, resume continues them', async () => {
    const l = mk();
    const c = await start(l, 'c', SLEEP_TREE);
    await waitFor(() => liveMembers(c.pid).length === 4, 10_000, 'tree to start');
    const members = liveMembers(c.pid);
    l.pause(c.id);
    await waitFor(() => members.every((m) => procStat(m)?.state === 'T'), 15_000, 'all members stopped');
    l.resume(c.id);
    await waitFor(() => members.every((m) => procStat(m)?.state === 'S'), 15_000, 'all members running');
    expect(c.notices).toHaveLength(0);
  });

  it('kill of a paused group works', async () => {
    const l = mk({ sigkillDelayMs: 5000 });
    const c = await start(l, 'c', SLEEP_TREE);
    await waitFor(() => liveMembers(c.pid).length === 4, 10_000, 'tree to start');
    const members = liveMembers(c.pid);
    l.pause(c.id);
    await waitFor(() => members.every((m) => procStat(m)?.state === 'T'), 15_000, 'all members stopped');
    l.kill(c.id);
    const n = await c.exit;
    expect(n.exitCode).toBe(ExitCode.TERMINATED);
    expect(liveMembers(c.pid)).toEqual([]);
  });

  it('terminates group members left behind by a command that exited, but reports at once', async () => {
    const l = mk({ sigkillDelayMs: 300 });
    const script = ignoreTermScript();
    const ready = path.join(tmp, 'ready');
    let leftoverAliveAtNotice: boolean | undefined;
    const c = await start(
      l,
      'c',
      ['sh', '-c', '"$0" "$1" "$2" & while [ ! -s "$2" ]; do sleep 0.02; done; exit 0', process.execPath, script, ready],
      {},
      () => (leftoverAliveAtNotice = isLive(Number(read(ready)))),
    );
    const n = await c.exit;
    expect(n).toEqual({ exitCode: 0, diagnostics: '' });
    const leftover = Number(read(ready));
    expect(leftoverAliveAtNotice).toBe(true);
    await waitFor(() => !isLive(leftover), 15_000, 'leftover to be SIGKILLed');
    expect(liveMembers(c.pid)).toEqual([]);

    // A plain leftover goes with the SIGTERM.
    const d = await start(l, 'd', ['sh', '-c', 'sleep 1000 & exit 4']);
    expect((await d.exit).exitCode).toBe(4);
    await waitFor(() => liveMembers(d.pid).length === 0, 15_000, 'background sleep to be terminated');
  });

  it('a relaunch does not read the previous attempt’s exit-code file', async () => {
    const l = mk();
    const a = await start(l, 'c', ['sh', '-c', 'exit 3']);
    expect((await a.exit).exitCode).toBe(3);
    const p = containerPaths(workDir, 'c');
    expect(fs.existsSync(p.exitCodeFile)).toBe(true);
    const b = await start(l, 'c', ['sleep', '1000']);
    expect(fs.existsSync(p.exitCodeFile)).toBe(false);
    await waitFor(() => fs.existsSync(p.pidFile) && read(p.pidFile).trim() === String(b.pid), 15_000, 'new pid file');
    process.kill(-b.pid, 'SIGKILL');
    expect((await b.exit).exitCode).toBe(ExitCode.FORCE_KILLED);
  });

  it('throws LaunchError when nothing can be started', async () => {
    // A long SIGKILL delay: the wrapper records the 143 after the TERM; an early SIGKILL would make it 137.
    const l = mk({ sigkillDelayMs: 10_000 });
    const noop = (): void => {};
    await expect(l.launch('c', [], {}, noop)).rejects.toThrow(LaunchError);
    await expect(l.launch('c', [''], {}, noop)).rejects.toThrow(LaunchError);
    await expect(l.launch('c', ['true'], { 'A=B': 'x' }, noop)).rejects.toThrow(LaunchError);
    await expect(l.launch('c', ['a\0b'], {}, noop)).rejects.toThrow(LaunchError);

    const c = await start(l, 'c', ['sleep', '1000']);
    await expect(l.launch('c', ['true'], {}, noop)).rejects.toThrow(/already running/);
    await waitFor(() => liveMembers(c.pid).length === 2, 10_000, 'sleep to start');

    fs.writeFileSync(path.join(tmp, 'file'), '');
    const bad = mk({ workDir: path.join(tmp, 'file') });
    await expect(bad.launch('x', ['true'], {}, noop)).rejects.toThrow(LaunchError);

    l.kill(c.id);
    expect((await c.exit).exitCode).toBe(ExitCode.TERMINATED);
    l.close();
    await expect(l.launch('d', ['true'], {}, noop)).rejects.toThrow(/closed/);
  });

  it('close() forgets containers without touching their processes', async () => {
    const l = mk();
    const go = path.join(tmp, 'go');
    // It ends when the test says, after close().
    const c = await start(l, 'c', ['sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.02; done; exit 6', go]);
    l.close();
    fs.writeFileSync(go, '');
    const p = containerPaths(workDir, 'c');
    await waitFor(() => fs.existsSync(p.exitCodeFile), 15_000, 'the container to finish by itself');
    expect(read(p.exitCodeFile).trim()).toBe('6');
    // Give a (wrong) late notice every chance to show up: wait until the wrapper,
    // our child, has been reaped (its /proc entry gone): Node emits the child's
    // 'exit' as it reaps it, and a notice would follow from that at once.
    await waitFor(() => procStat(c.pid)?.startTime !== c.startTime, 15_000, 'wrapper reaped');
    await new Promise((r) => setImmediate(r));
    expect(c.notices).toHaveLength(0);
  });
});

describe('ProcessLauncher.watch (processes that are not our child)', () => {
  it('reports the exit code file of a recovered container when it ends', async () => {
    const a = mk();
    const go = path.join(tmp, 'go');
    // It ends when the test says, once it is watched (not after a sleep that a busy machine could outlast).
    const c = await start(a, 'c', ['sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.02; done; exit 5', go]);
    a.close(); // the "old daemon" is gone
    const b = mk({ pollIntervalMs: 50 });
    expect(b.isAlive(c.pid, c.startTime)).toBe(true);
    const n = notifier();
    let aliveAtNotice: boolean | undefined;
    b.watch(c.id, c.pid, c.startTime, (x) => {
      aliveAtNotice = isLive(c.pid);
      n.onExit(x);
    });
    fs.writeFileSync(go, '');
    expect(await n.exit).toEqual({ exitCode: 5, diagnostics: 'Container exited with a non-zero exit code 5' });
    expect(aliveAtNotice).toBe(false);
    expect(n.notices).toHaveLength(1);
  });

  it('kill() of a watched container terminates its whole group', async () => {
    const a = mk();
    const c = await start(a, 'c', SLEEP_TREE);
    await waitFor(() => liveMembers(c.pid).length === 4, 10_000, 'tree to start');
    a.close();
    const b = mk({ pollIntervalMs: 1000, sigkillDelayMs: 5000 });
    const n = notifier();
    let membersAtNotice: number[] | undefined;
    b.watch(c.id, c.pid, c.startTime, (x) => {
      membersAtNotice = liveMembers(c.pid);
      n.onExit(x);
    });
    b.kill(c.id);
    const x = await n.exit;
    expect(x.exitCode).toBe(ExitCode.TERMINATED);
    expect(membersAtNotice).toEqual([]);
  });

  it('a watched container that ignores SIGTERM is SIGKILLed and reported 137 without waiting for a file', async () => {
    const a = mk();
    const script = ignoreTermScript();
    const ready = path.join(tmp, 'ready');
    const c = await start(a, 'c', [process.execPath, script, ready]);
    await waitFor(() => fs.existsSync(ready), 10_000, 'SIGTERM handler');
    a.close();
    const b = mk({ sigkillDelayMs: 200, exitCodeFileTimeoutMs: 20_000 });
    const n = notifier();
    b.watch(c.id, c.pid, c.startTime, n.onExit);
    b.kill(c.id);
    const x = await n.exit;
    expect(x.exitCode).toBe(ExitCode.FORCE_KILLED);
    expect(liveMembers(c.pid)).toEqual([]);
  });

  it('a dead pid with no exit-code file is LOST (154) after the timeout', async () => {
    const a = mk();
    const c = await start(a, 'c', ['sleep', '1000']);
    process.kill(-c.pid, 'SIGKILL');
    expect((await c.exit).exitCode).toBe(ExitCode.FORCE_KILLED);
    expect(fs.existsSync(containerPaths(workDir, 'c').exitCodeFile)).toBe(false);

    const b = mk({ exitCodeFileTimeoutMs: 300 });
    expect(b.isAlive(c.pid, c.startTime)).toBe(false);
    const n = notifier();
    const t0 = Date.now();
    b.watch(c.id, c.pid, c.startTime, n.onExit);
    const x = await n.exit;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(x).toEqual({ exitCode: ExitCode.LOST, diagnostics: LOST_DIAGNOSTICS });
  });

  it('an exit-code file that appears within the timeout is used', async () => {
    const a = mk();
    const c = await start(a, 'c', ['sleep', '1000']);
    process.kill(-c.pid, 'SIGKILL');
    await c.exit;
    const b = mk({ exitCodeFileTimeoutMs: 10_000 });
    const n = notifier();
    b.watch(c.id, c.pid, c.startTime, n.onExit);
    const file = containerPaths(workDir, 'c').exitCodeFile;
    setTimeout(() => fs.writeFileSync(file, '7\n'), 100);
    expect((await n.exit).exitCode).toBe(7);
  });

  it('a pid whose start time does not match is dead, and is never signalled', async () => {
    const a = mk();
    const c = await start(a, 'c', ['sleep', '1000']);
    await waitFor(() => liveMembers(c.pid).length === 2, 10_000, 'sleep to start');
    const b = mk({ exitCodeFileTimeoutMs: 200, sigkillDelayMs: 50 });
    expect(b.isAlive(c.pid, c.startTime + 1)).toBe(false);
    const n = notifier();
    b.watch(c.id, c.pid, c.startTime + 1, n.onExit);
    b.kill(c.id);
    b.pause(c.id);
    const x = await n.exit;
    expect(x.exitCode).toBe(ExitCode.LOST);
    // The real process (someone else's, as far as b can tell) was left alone.
    expect(a.isAlive(c.pid, c.startTime)).toBe(true);
    expect(liveMembers(c.pid).map((m) => procStat(m)!.state)).not.toContain('T');
    expect(c.notices).toHaveLength(0);
  });

  it('isAlive reads <procfsRoot>/<pid>/stat: zombies and other start times are dead', () => {
    const root = path.join(tmp, 'proc');
    const write = (pid: number, comm: string, state: string, start: number): void => {
      fs.mkdirSync(path.join(root, String(pid)), { recursive: true });
      // A whole line (52 fields, as the kernel writes): the parser wants at least 15 after rss.
      const rest = [state, 1, pid, pid, 0, -1, 4194560, 0, 0, 0, 0, 1, 2, 0, 0, 20, 0, 1, 0, start, 1000, 10, ...Array<number>(28).fill(0)];
      fs.writeFileSync(path.join(root, String(pid), 'stat'), `${pid} (${comm}) ${rest.join(' ')}\n`);
    };
    write(100, 'sleep', 'S', 4242);
    write(101, 'we) ird (name', 'R', 77);
    write(102, 'sleep', 'Z', 4242);
    const l = mk({ procfsRoot: root });
    expect(l.isAlive(100, 4242)).toBe(true);
    expect(l.isAlive(100, 4243)).toBe(false);
    expect(l.isAlive(101, 77)).toBe(true);
    expect(l.isAlive(102, 4242)).toBe(false);
    expect(l.isAlive(103, 4242)).toBe(false);
    expect(l.isAlive(-1, 0)).toBe(false);
  });
});
