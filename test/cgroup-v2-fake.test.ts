/**
 * The cgroup v2 driver's file logic on a fake cgroup directory (this
 * machine's v2 hierarchy has no memory controller, so the real kernel cannot
 * run it): what it writes where, what it reads, and how it waits for the
 * freezer. The kernel's side (cgroup.procs, cgroup.events) is played by
 * the test writing those files.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CgroupV2, cpuWeightOf } from '../src/containment/cgroup-v2.js';
import { v2Base } from '../src/containment/create.js';
import type { CgroupLimits } from '../src/containment/cgroup-driver.js';
import { pino } from 'pino';
import { resolveConfig } from '../src/config/load.js';
import { monitorSettings } from '../src/core/node-core.js';
import { ElasticMemoryController } from '../src/monitor/elastic-memory.js';
import type { MonitorEvent } from '../state-machines/containers-monitor.js';
import { MonitorActor } from '../state-machines/monitor-actor.js';
import { waitFor } from './helpers/proc.js';

const LIMITS: CgroupLimits = { memoryLimitBytes: null, memorySoftLimitBytes: null, swappiness: null, cpuShares: 1024, cpuQuota: null, pidsMax: null };

describe('cgroup v2 on a fake cgroup directory', () => {
  let root: string;
  let own: string;
  let cg: CgroupV2;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-cgv2-'));
    own = path.join(root, 'nm.service');
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    fs.writeFileSync(path.join(own, 'cgroup.subtree_control'), '');
    cg = new CgroupV2(own, 'nodewarden');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const file = (...parts: string[]) => fs.readFileSync(path.join(own, ...parts), 'utf8');

  it('create: controllers enabled on the way down, then the limits in the container cgroup', () => {
    cg.create('c1', {
      memoryLimitBytes: 256 * 2 ** 20,
      memorySoftLimitBytes: 230 * 2 ** 20,
      swappiness: 0, // v2 has none: not written
      cpuShares: 2048,
      cpuQuota: { quotaUs: 150_000, periodUs: 100_000 },
      pidsMax: 4096,
    });
    expect(file('cgroup.subtree_control')).toBe('+memory +cpu +pids');
    expect(file('nodewarden', 'cgroup.subtree_control')).toBe('+memory +cpu +pids');
    expect(file('nodewarden', 'c1', 'memory.max')).toBe(String(256 * 2 ** 20));
    expect(file('nodewarden', 'c1', 'memory.low')).toBe(String(230 * 2 ** 20));
    expect(fs.existsSync(path.join(own, 'nodewarden', 'c1', 'memory.swappiness'))).toBe(false);
    expect(file('nodewarden', 'c1', 'cpu.weight')).toBe('200');
    expect(file('nodewarden', 'c1', 'cpu.max')).toBe('150000 100000');
    expect(file('nodewarden', 'c1', 'pids.max')).toBe('4096');
    expect(cg.list()).toEqual(['c1']);
  });

  it('controllers already enabled are left alone: subtree_control is written only when one is missing', () => {
    fs.mkdirSync(path.join(own, 'nodewarden'));
    fs.writeFileSync(path.join(own, 'cgroup.subtree_control'), 'cpu memory pids\n');
    fs.writeFileSync(path.join(own, 'nodewarden', 'cgroup.subtree_control'), 'cpu memory pids io\n');
    cg.create('c1', LIMITS);
    expect(file('cgroup.subtree_control')).toBe('cpu memory pids\n');
    expect(file('nodewarden', 'cgroup.subtree_control')).toBe('cpu memory pids io\n');
  });

  it('the node-level CPU quota is cpu.max on the hierarchy; none lifts one left before, and leaves "max" alone', () => {
    cg.limitHierarchyCpu({ quotaUs: 1_000_000, periodUs: 500_000 });
    expect(file('nodewarden', 'cpu.max')).toBe('1000000 500000');
    cg.limitHierarchyCpu(null);
    expect(file('nodewarden', 'cpu.max')).toBe('max');
    fs.writeFileSync(path.join(own, 'nodewarden', 'cpu.max'), 'max 100000\n');
    cg.limitHierarchyCpu(null);
    expect(file('nodewarden', 'cpu.max')).toBe('max 100000\n');
  });

  it('the daemon alone in its own cgroup moves itself into a leaf before the controllers are enabled; another process there is refused, and nothing is moved', () => {
    fs.writeFileSync(path.join(own, 'cgroup.procs'), '4242\n');
    const alone = new CgroupV2(own, 'nodewarden', 4242);
    alone.create('c1', LIMITS);
    expect(file('nodewarden.daemon', 'cgroup.procs')).toBe('4242');
    expect(alone.list()).toEqual(['c1']); // the leaf is beside the hierarchy, never taken for a container
    fs.rmSync(path.join(own, 'nodewarden.daemon'), { recursive: true });
    fs.writeFileSync(path.join(own, 'cgroup.procs'), '4242\n777\n');
    expect(() => new CgroupV2(own, 'nodewarden', 4242).create('c2', LIMITS)).toThrow(/holds processes other than the daemon \(4242 777\)/);
    expect(fs.existsSync(path.join(own, 'nodewarden.daemon'))).toBe(false);
  });

  it('a daemon started in the leaf it moves itself into (or systemd\'s DelegateSubgroup of that name) has its containers beside it, under the leaf\'s parent', () => {
    expect(v2Base('/sys/fs/cgroup/system.slice/nw.service/nodewarden.daemon', 'nodewarden')).toBe('/sys/fs/cgroup/system.slice/nw.service');
    expect(v2Base('/sys/fs/cgroup/system.slice/nw.service', 'nodewarden')).toBe('/sys/fs/cgroup/system.slice/nw.service');
    expect(v2Base('/sys/fs/cgroup/x/other.daemon', 'nodewarden')).toBe('/sys/fs/cgroup/x/other.daemon');
  });

  it('cpu.weight: 100 per vcore as YARN writes it, within 1–10000', () => {
    expect([cpuWeightOf(1024), cpuWeightOf(4096), cpuWeightOf(2), cpuWeightOf(1024 * 200)]).toEqual([100, 400, 1, 10_000]);
  });

  it('place writes the pid to cgroup.procs; members reads it back, skipping what is not a pid', () => {
    cg.create('c1', LIMITS);
    cg.place('c1', 4242);
    expect(file('nodewarden', 'c1', 'cgroup.procs')).toBe('4242');
    fs.writeFileSync(path.join(own, 'nodewarden', 'c1', 'cgroup.procs'), '4242\n17\nbogus\n-3\n\n');
    expect(cg.members('c1')).toEqual([4242, 17]);
    expect(cg.members('never-made')).toEqual([]);
  });

  it('freeze writes cgroup.freeze and waits for the kernel\'s "frozen 1"; thaw writes 0', async () => {
    cg.create('c1', LIMITS);
    const events = path.join(own, 'nodewarden', 'c1', 'cgroup.events');
    fs.writeFileSync(events, 'populated 1\nfrozen 0\n');
    // The kernel never confirms: false once the timeout is over.
    expect(await cg.freeze('c1', 50)).toBe(false);
    expect(file('nodewarden', 'c1', 'cgroup.freeze')).toBe('1');
    fs.writeFileSync(events, 'populated 1\nfrozen 1\n');
    expect(await cg.freeze('c1')).toBe(true);
    cg.thaw('c1');
    expect(file('nodewarden', 'c1', 'cgroup.freeze')).toBe('0');
  });

  it('SIGKILL is cgroup.kill; SIGTERM goes to each member while frozen, then thaws', async () => {
    cg.create('c1', LIMITS);
    const dir = path.join(own, 'nodewarden', 'c1');
    await cg.signal('c1', 'SIGKILL');
    expect(file('nodewarden', 'c1', 'cgroup.kill')).toBe('1');

    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    try {
      const ended = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), `${child.pid}\n`);
      fs.writeFileSync(path.join(dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
      await cg.signal('c1', 'SIGTERM');
      expect(await ended).toBe('SIGTERM');
      expect(file('nodewarden', 'c1', 'cgroup.freeze')).toBe('0'); // thawed after the signal
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('remove refuses while there are members; a missing cgroup counts as removed; ids that are not one name are refused', () => {
    cg.create('c1', LIMITS);
    fs.writeFileSync(path.join(own, 'nodewarden', 'c1', 'cgroup.procs'), '4242\n');
    expect(cg.remove('c1')).toBe(false);
    expect(cg.remove('never-made')).toBe(true);
    for (const bad of ['', '.', '..', 'a/b', '../x']) expect(() => cg.members(bad), bad).toThrow(/not a cgroup name/);
    expect(() => new CgroupV2(own, '../up')).toThrow(/not a cgroup name/);
  });

  it('stats: memory.current, memory.stat anon/file/file_mapped, swap, cpu.stat in µs; throttling only with a quota; null when unreadable', () => {
    cg.create('c1', LIMITS);
    const dir = path.join(own, 'nodewarden', 'c1');
    expect(cg.stats('c1')).toBeNull();
    fs.writeFileSync(path.join(dir, 'memory.current'), '7340032\n');
    fs.writeFileSync(path.join(dir, 'memory.stat'), 'anon 4194304\nfile 2097152\nkernel 65536\nfile_mapped 8192\nbogus line\n');
    fs.writeFileSync(path.join(dir, 'memory.swap.current'), '4096\n');
    fs.writeFileSync(path.join(dir, 'cpu.stat'), 'usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 250000\n');
    fs.writeFileSync(path.join(dir, 'cpu.max'), 'max 100000\n');
    const base = { memTotalBytes: 7340032, memRssBytes: 4194304, memCacheBytes: 2097152, memInactiveFileBytes: 0, memMappedFileBytes: 8192, memSwapBytes: 4096, cpuUserSecs: 2.5, cpuSystemSecs: 1 };
    expect(cg.stats('c1')).toEqual({ ...base, throttling: null });
    fs.writeFileSync(path.join(dir, 'cpu.max'), '50000 100000\n');
    expect(cg.stats('c1')).toEqual({ ...base, throttling: { periods: 10, throttled: 4, throttledSecs: 0.25 } });
    fs.writeFileSync(path.join(dir, 'memory.current'), 'garbage\n');
    expect(cg.stats('c1')).toBeNull();
  });

  it('oom: null until memory.events counts an oom_kill; then the kills, memory.peak (else memory.current) and memory.max', () => {
    cg.create('c1', { ...LIMITS, memoryLimitBytes: 335544320 });
    const dir = path.join(own, 'nodewarden', 'c1');
    expect(cg.oom('c1')).toBeNull();
    fs.writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n');
    fs.writeFileSync(path.join(dir, 'memory.current'), '1000\n');
    expect(cg.oom('c1')).toBeNull();
    fs.writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 2\n');
    expect(cg.oom('c1')).toEqual({ kills: 2, peakBytes: 1000, limitBytes: 335544320, atOwnLimit: true });
    fs.writeFileSync(path.join(dir, 'memory.peak'), '335540000\n');
    expect(cg.oom('c1')).toEqual({ kills: 2, peakBytes: 335540000, limitBytes: 335544320, atOwnLimit: true });
    // Killed with no OOM of its own counted (the node's, above it): not at its own limit, whatever the peak reads.
    fs.writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 1\n');
    expect(cg.oom('c1')).toMatchObject({ kills: 1, atOwnLimit: false });
  });
});

describe('elastic memory control on a fake cgroup v2 directory', () => {
  const MB = 2 ** 20;
  let root: string;
  let own: string;
  let cg: CgroupV2;
  let controller: ElasticMemoryController | undefined;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-cgv2-'));
    own = path.join(root, 'nm.service');
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, 'cgroup.controllers'), 'cpu memory pids\n');
    fs.writeFileSync(path.join(own, 'cgroup.subtree_control'), '');
    cg = new CgroupV2(own, 'nodewarden');
  });
  afterEach(() => {
    controller?.close();
    controller = undefined;
    fs.rmSync(root, { recursive: true, force: true });
  });

  const top = (...parts: string[]) => path.join(own, 'nodewarden', ...parts);
  /** The kernel's side: a container's members and charge. */
  const holds = (id: string, pids: number[], bytes: number) => {
    fs.writeFileSync(top(id, 'cgroup.procs'), pids.map((p) => `${p}\n`).join(''));
    fs.writeFileSync(top(id, 'memory.current'), `${bytes}\n`);
  };

  it('the node cgroup: memory.high is the limit (throttle, never kill), lifted to max; out of memory is memory.current at it; memory.events wakes the watcher', async () => {
    cg.limitHierarchyMemory(300 * MB);
    expect(fs.readFileSync(top('memory.high'), 'utf8')).toBe(String(300 * MB));
    // At memory.high with page cache: the kernel reclaims it; no OOM.
    fs.writeFileSync(top('memory.current'), `${300 * MB}\n`);
    fs.writeFileSync(top('memory.stat'), `anon ${100 * MB}\nfile ${200 * MB}\nkernel ${2 * MB}\nshmem 0\n`);
    expect(cg.hierarchyMemory()).toEqual({ usageBytes: 300 * MB, limitBytes: 300 * MB, underOom: false });
    // What cannot be reclaimed without swap (anon, shmem, kernel) at the limit: out of memory.
    fs.writeFileSync(top('memory.stat'), `anon ${280 * MB}\nfile ${4 * MB}\nkernel ${4 * MB}\nshmem ${10 * MB}\n`);
    expect(cg.hierarchyMemory()?.underOom).toBe(true);
    fs.writeFileSync(top('memory.current'), 'garbage\n');
    expect(cg.hierarchyMemory()).toBeNull();

    fs.writeFileSync(top('memory.events'), 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
    let notices = 0;
    const stop = cg.watchHierarchyOom(() => notices++, () => {});
    try {
      fs.writeFileSync(top('memory.events'), 'low 0\nhigh 1\nmax 0\noom 0\noom_kill 0\n');
      await waitFor(() => notices > 0, 5000, 'the inotify notice');
    } finally {
      stop();
    }
    cg.limitHierarchyMemory(null);
    expect(fs.readFileSync(top('memory.high'), 'utf8')).toBe('max');
    // Its PSI is the containers' own (v1 has none: the node's /proc/pressure/memory is read there).
    expect(cg.memoryPressureFile).toBe(top('memory.pressure'));
  });

  it('the OOM handler over it: one victim at a time in the order, each killed by cgroup.kill; past the timeout degraded, and still killing', async () => {
    cg.create('steady', LIMITS);
    cg.create('best-effort', LIMITS);
    holds('steady', [101], 100 * MB);
    holds('best-effort', [202], 150 * MB);
    cg.limitHierarchyMemory(300 * MB);
    fs.writeFileSync(top('memory.current'), `${300 * MB}\n`);
    fs.writeFileSync(top('memory.stat'), `anon ${300 * MB}\n`);
    fs.writeFileSync(top('memory.events'), 'high 1\n');

    const monitor = new MonitorActor({ ...monitorSettings(resolveConfig([]), { processors: 2, pageSize: 4096, clockTicks: 100, cgroups: true }) });
    monitor.step({ type: 'START_MONITORING', ts: 0, id: 'steady', pid: 101, resources: { memoryMb: 200, vcores: 1 }, executionType: 'GUARANTEED' });
    monitor.step({ type: 'START_MONITORING', ts: 0, id: 'best-effort', pid: 202, resources: { memoryMb: 200, vcores: 1 }, executionType: 'OPPORTUNISTIC' });
    const notices: MonitorEvent[] = [];
    const core = {
      monitor: (e: MonitorEvent) => {
        notices.push(e);
        return monitor.step(e);
      },
      get monitorContext() {
        return monitor.context;
      },
      durable: async () => {},
    };
    controller = new ElasticMemoryController({ driver: cg, core, clock: { now: () => Date.now() }, log: pino({ level: 'silent' }), limitBytes: 300 * MB, timeoutMs: 50 });
    controller.start();

    // At start the node is looked at once: the opportunistic one goes first.
    await waitFor(() => fs.existsSync(top('best-effort', 'cgroup.kill')), 5000, 'the first victim');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ type: 'NODE_OOM', limitBytes: 300 * MB, usageBytes: 300 * MB, usages: { steady: 100 * MB, 'best-effort': 150 * MB } });
    // Until its processes are gone nobody else is chosen, however long; past the timeout the node is degraded.
    await waitFor(() => controller!.status().unresolved, 5000, 'the timeout to pass');
    expect(notices).toHaveLength(1);
    expect(fs.existsSync(top('steady', 'cgroup.kill'))).toBe(false);

    // The kernel empties it; the node is still out of memory: the next by the order.
    holds('best-effort', [], 0);
    await waitFor(() => fs.existsSync(top('steady', 'cgroup.kill')), 5000, 'the second victim');
    expect(notices).toHaveLength(2);
    holds('steady', [], 0);
    fs.writeFileSync(top('memory.current'), `${10 * MB}\n`);
    fs.writeFileSync(top('memory.stat'), `anon ${10 * MB}\n`);
    await waitFor(() => !controller!.status().underOom, 5000, 'the OOM to be resolved');
    expect(controller.status()).toMatchObject({ unresolved: false, kills: 2, episodes: 1 });
  });

  it('a node cgroup that cannot be watched fails the start, saying why, with the limit lifted: nobody would answer the kernel', () => {
    const core = { monitor: () => [], monitorContext: new MonitorActor(monitorSettings(resolveConfig([]), { processors: 2, pageSize: 4096, clockTicks: 100, cgroups: true })).context, durable: async () => {} };
    // No memory.events: inotify has nothing to watch.
    controller = new ElasticMemoryController({ driver: cg, core, clock: { now: () => Date.now() }, log: pino({ level: 'silent' }), limitBytes: 300 * MB, timeoutMs: 5000 });
    expect(() => controller!.start()).toThrow(/yarn.nodemanager.elastic-memory-control.enabled is true, but the node cgroup cannot be held to 314572800 bytes and watched: .*ENOENT/);
    expect(fs.readFileSync(top('memory.high'), 'utf8')).toBe('max');
  });
});
