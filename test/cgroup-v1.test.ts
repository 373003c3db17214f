/**
 * The cgroup v1 driver on the real kernel (root, v1 controllers mounted, as
 * on CI): cgroups made beneath the test's own cgroup, under a hierarchy of
 * this run's own, and every one of them removed after each test, members
 * killed first, whatever the test left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CgroupLimits } from '../src/containment/cgroup-driver.js';
import { CgroupV1 } from '../src/containment/cgroup-v1.js';
import { detectContainment, V1_CONTROLLERS, type Detection } from '../src/containment/detect.js';
import { procStat, waitFor } from './helpers/proc.js';

const detection: Detection | null = process.getuid?.() === 0 ? detectContainment({ setting: 'auto', procfsRoot: '/proc', isRoot: true }) : null;
const v1 = detection?.mode === 'cgroup-v1' ? detection : null;

const LIMITS: CgroupLimits = { memoryLimitBytes: null, memorySoftLimitBytes: null, swappiness: null, cpuShares: 1024, cpuQuota: null, pidsMax: null };

describe.runIf(v1 !== null)('cgroup v1 on the real kernel', () => {
  const hierarchy = `nodewarden-test-${process.pid}`;
  let cg: CgroupV1;
  let tmp: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    cg = new CgroupV1(v1!.own, hierarchy);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-cgv1-'));
  });

  afterEach(async () => {
    // Whatever the test left: every member killed, every cgroup and the hierarchy removed.
    try {
      for (const id of cg.list()) {
        await cg.signal(id, 'SIGKILL');
        await waitFor(() => cg.members(id).length === 0, 15_000, `${id} to be empty`);
        await waitFor(() => cg.remove(id), 15_000, `${id} to be removed`);
      }
    } finally {
      for (const c of V1_CONTROLLERS) {
        try {
          fs.rmdirSync(path.join(v1!.own[c], hierarchy)); // a cgroup: rmdir, never a recursive rm
        } catch {
          // already gone
        }
      }
      for (const c of children.splice(0)) c.kill('SIGKILL');
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  /** `sh -c SCRIPT` that waits for a go file before running SCRIPT, placed in the cgroup before it is let go. */
  function placed(id: string, script: string): ChildProcess {
    const go = path.join(tmp, `${id}.go`);
    const child = spawn('sh', ['-c', `while [ ! -e "$0" ]; do sleep 0.01; done; ${script}`, go], { detached: true, stdio: 'ignore', cwd: tmp });
    children.push(child);
    cg.place(id, child.pid!);
    fs.writeFileSync(go, '');
    return child;
  }

  const dirs = (id: string) => V1_CONTROLLERS.map((c) => path.join(v1!.own[c], hierarchy, id));
  const read = (c: (typeof V1_CONTROLLERS)[number], id: string, file: string) => fs.readFileSync(path.join(v1!.own[c], hierarchy, id, file), 'utf8').trim();

  it('create: a directory per controller beneath the own cgroup, with the limits written', () => {
    cg.create('limits', {
      memoryLimitBytes: 64 * 2 ** 20,
      memorySoftLimitBytes: 32 * 2 ** 20,
      swappiness: 0,
      cpuShares: 2048,
      cpuQuota: { quotaUs: 50_000, periodUs: 100_000 },
      pidsMax: 100,
    });
    for (const d of dirs('limits')) expect(fs.statSync(d).isDirectory(), d).toBe(true);
    expect(read('memory', 'limits', 'memory.limit_in_bytes')).toBe(String(64 * 2 ** 20));
    expect(read('memory', 'limits', 'memory.soft_limit_in_bytes')).toBe(String(32 * 2 ** 20));
    expect(read('memory', 'limits', 'memory.swappiness')).toBe('0');
    expect(read('cpu', 'limits', 'cpu.shares')).toBe('2048');
    expect(read('cpu', 'limits', 'cpu.cfs_quota_us')).toBe('50000');
    expect(read('cpu', 'limits', 'cpu.cfs_period_us')).toBe('100000');
    expect(read('pids', 'limits', 'pids.max')).toBe('100');
    expect(cg.list()).toEqual(['limits']);
    expect(cg.remove('limits')).toBe(true);
    for (const d of dirs('limits')) expect(fs.existsSync(d), d).toBe(false);
  });

  it('a setsid escapee is a member, and a SIGKILL to the cgroup takes it with the rest', async () => {
    cg.create('escape', LIMITS);
    const child = placed('escape', 'setsid -f sleep 1000; echo started > escaped; exec sleep 1000');
    await waitFor(() => fs.existsSync(path.join(tmp, 'escaped')) && cg.members('escape').length === 2, 15_000, 'the shell and its escapee');
    const members = cg.members('escape');
    expect(members).toContain(child.pid);
    const escapee = members.find((p) => p !== child.pid)!;
    // Out of the process group and the session: a signal to -pgid would miss it.
    expect(procStat(escapee)!.session).not.toBe(child.pid);
    expect(procStat(escapee)!.pgrp).not.toBe(child.pid);
    expect(cg.remove('escape')).toBe(false); // busy

    await cg.signal('escape', 'SIGKILL');
    await waitFor(() => cg.members('escape').length === 0, 15_000, 'the cgroup to be empty');
    expect(procStat(escapee)?.state ?? 'gone').toMatch(/^(gone|Z)$/);
    expect(cg.remove('escape')).toBe(true);
    for (const d of dirs('escape')) expect(fs.existsSync(d), d).toBe(false);
  });

  it('freeze stops every member, escaped ones included; thaw lets them run again', async () => {
    cg.create('frozen', LIMITS);
    placed('frozen', 'setsid -f sh -c "while :; do :; done"; echo started > loops; exec sleep 1000');
    await waitFor(() => fs.existsSync(path.join(tmp, 'loops')) && cg.members('frozen').length === 2, 15_000, 'the loop and the shell');
    expect(await cg.freeze('frozen')).toBe(true);
    expect(read('freezer', 'frozen', 'freezer.state')).toBe('FROZEN');
    // A frozen task shows as D (the freezer's uninterruptible wait), the busy loop included.
    for (const pid of cg.members('frozen')) expect(procStat(pid)!.state, `pid ${pid}`).toBe('D');
    cg.thaw('frozen');
    await waitFor(() => cg.members('frozen').every((pid) => procStat(pid)!.state !== 'D'), 15_000, 'the members to run again');
    expect(read('freezer', 'frozen', 'freezer.state')).toBe('THAWED');
  });

  it('a SIGTERM through the freezer reaches a member forked a moment before, and a member that ignores it stays', async () => {
    cg.create('term', LIMITS);
    // A shell forking short-lived children all the time, and one that ignores TERM.
    // The TERM-ignoring member says so once its trap is set: a TERM before that would end it too.
    placed('term', 'sh -c "trap \\"\\" TERM; touch ignoring; exec sleep 1000" & while :; do sleep 0.01; done');
    await waitFor(() => fs.existsSync(path.join(tmp, 'ignoring')) && cg.members('term').length >= 3, 15_000, 'the forking shell and the TERM-ignoring sleep');
    await cg.signal('term', 'SIGTERM');
    // Only the TERM-ignoring sleep is left: the forking shell and whatever it had forked went with the TERM.
    await waitFor(() => cg.members('term').length === 1, 15_000, 'only the TERM-ignoring member to be left');
    await cg.signal('term', 'SIGKILL');
    await waitFor(() => cg.members('term').length === 0, 15_000, 'the cgroup to be empty');
  });

  it('pids.max holds a fork bomb', async () => {
    cg.create('bomb', { ...LIMITS, pidsMax: 10 });
    // Forks until a fork fails; dash then gives up ("Cannot fork") and exits.
    const bomb = placed('bomb', 'while :; do sleep 1000 & done');
    const ended = new Promise((r) => bomb.once('exit', r));
    await ended;
    // What it forked is still there, no more than the limit; the kernel counted the refusal.
    expect(cg.members('bomb').length).toBeGreaterThan(0);
    expect(cg.members('bomb').length).toBeLessThanOrEqual(10);
    expect(Number(read('pids', 'bomb', 'pids.current'))).toBeLessThanOrEqual(10);
    expect(Number(/^max (\d+)$/m.exec(read('pids', 'bomb', 'pids.events'))?.[1])).toBeGreaterThan(0);
  });
});
