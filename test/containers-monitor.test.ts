/**
 * The ContainersMonitor machine, pure: samples in, kills out. Exact limits,
 * messages, the first-sample and aged rules, vmem before pmem, kill once,
 * utilization, resource changes, the log monitor — and the daemon's
 * one-scan sampler giving the same numbers as ProcfsProcessTree.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ExitStatus } from '../state-machines/exit-status.js';
import { mayExceedLimit, type MonitorSettings } from '../state-machines/containers-monitor.js';
import { MonitorActor } from '../state-machines/monitor-actor.js';
import { rssMemorySize, virtualMemorySize, type ProcessSample } from '../state-machines/process-tree.js';
import { processTreeDump } from '../state-machines/process-tree-dump.js';
import { ProcfsProcessTree } from '../src/procfs/procfs-process-tree.js';
import { TreeSampler } from '../src/monitor/tree-sampler.js';
import { FakeProcfs, smapsMapping } from './helpers/fake-procfs.js';

const MB = 2 ** 20;
const PAGE = 4096;

const settings = (over: Partial<MonitorSettings> = {}): MonitorSettings => ({
  pmemCheckEnabled: true,
  vmemCheckEnabled: true,
  vmemPmemRatio: 2.1,
  allowance: { memoryMb: 32, cpus: 0.1 },
  smapsBasedRss: false,
  nodeVcores: 8,
  cpuLimitPercent: 100,
  logDirSizeLimitBytes: 1000,
  logTotalSizeLimitBytes: 10_000,
  pressure: { thresholdPercent: 0, afterMs: 10_000 },
  host: { processors: 2, pageSize: PAGE, clockTicks: 100 },
  ...over,
});

function proc(pid: number, over: Partial<ProcessSample> = {}): ProcessSample {
  return {
    pid,
    comm: 'p',
    state: 'S',
    ppid: 1,
    pgrp: 100,
    session: 100,
    utime: 0,
    stime: 0,
    numThreads: 1,
    startTime: 5,
    vsize: 0,
    rssPages: 0,
    cmdline: `p ${pid}`,
    ...over,
  };
}

/** A container tracked with memoryMb 64 → pmem limit 96 MB, vmem limit 211392912. */
function monitor(over: Partial<MonitorSettings> = {}): MonitorActor {
  const m = new MonitorActor(settings(over));
  m.step({ type: 'START_MONITORING', ts: 0, id: 'c1', pid: 100, resources: { memoryMb: 64, vcores: 1 } });
  return m;
}

const tick = (m: MonitorActor, ts: number, tree: ProcessSample[] | undefined, id = 'c1') =>
  m.step({ type: 'TICK', ts, samples: tree === undefined ? {} : { [id]: tree } });

describe('ContainersMonitor machine', () => {
  it('tracks with limits = request + executor allowance, vmem in float32', () => {
    const m = monitor();
    const t = m.context.tracking.get('c1')!;
    expect(t.limits).toEqual({ pmemBytes: 96 * MB, vmemBytes: 211392912, cpus: 1.1 });
  });

  it('never kills on the first sample, however far over: CPU is not known yet', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const huge = [proc(100, { rssPages: (500 * MB) / PAGE })];
    expect(tick(m, 1000, huge)).toEqual([]);
    expect(m.context.tracking.get('c1')!.usage).toBeNull();
    const kills = tick(m, 4000, huge);
    expect(kills).toHaveLength(1);
    expect(kills[0]!.exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_PMEM);
  });

  it('kills over the pmem limit with YARN\'s exact message and dump', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const tree = [
      proc(100, { ppid: 50, comm: 'bash', utime: 1, stime: 2, vsize: 10 * MB, rssPages: 256, cmdline: 'bash launch_container.sh' }),
      proc(101, { ppid: 100, comm: 'hog (1)', utime: 300, stime: 40, vsize: 300 * MB, rssPages: 25600, cmdline: 'node hog.js 100 ' }),
    ];
    tick(m, 1000, tree);
    const kills = tick(m, 4000, tree);
    // pmem = (256 + 25600) × 4096 = 105906176 = 101 MB; limit 96 MB; delta 5242880.
    expect(kills).toEqual([
      {
        type: 'KILL_CONTAINER',
        id: 'c1',
        exitStatus: -104,
        // Recorded before the check, as YARN's recordUsage: the figures of the killing tick.
        usage: { timestamp: 4000, pmemBytes: 105906176, vmemBytes: 310 * MB, cpuPercent: expect.any(Number), milliVcores: expect.any(Number) },
        measure: expect.objectContaining({ pmemBytes: 105906176, vmemBytes: 310 * MB }),
        diagnostics:
          "Container [pid=100,containerID=c1] is running 5242880B beyond the 'PHYSICAL' memory limit. " +
          'Current usage: 101 MB of 96 MB physical memory used; 310 MB of 201.6 MB virtual memory used. Killing container.\n' +
          'Dump of the process-tree for c1 :\n' +
          '\t|- PID PPID PGRPID SESSID CMD_NAME USER_MODE_TIME(MILLIS) SYSTEM_TIME(MILLIS) VMEM_USAGE(BYTES) RSSMEM_USAGE(PAGES) FULL_CMD_LINE\n' +
          '\t|- 100 50 100 100 (bash) 1 2 10485760 256 bash launch_container.sh\n' +
          '\t|- 101 100 100 100 (hog (1)) 300 40 314572800 25600 node hog.js 100 \n',
      },
    ]);
  });

  it('checks vmem before pmem: both over → -103 with the VIRTUAL message', () => {
    const m = monitor();
    const tree = [proc(100, { vsize: 500 * MB, rssPages: (200 * MB) / PAGE })];
    tick(m, 1000, tree);
    const [kill] = tick(m, 4000, tree);
    expect(kill!.exitStatus).toBe(ExitStatus.KILLED_EXCEEDED_VMEM);
    expect(kill!.diagnostics).toMatch(
      /^Container \[pid=100,containerID=c1\] is running 312895088B beyond the 'VIRTUAL' memory limit\. Current usage: 200 MB of 96 MB physical memory used; 500 MB of 201\.6 MB virtual memory used\. Killing container\.\n/,
    );
  });

  it('with both checks off nothing is killed', () => {
    const m = monitor({ vmemCheckEnabled: false, pmemCheckEnabled: false });
    const tree = [proc(100, { vsize: 5000 * MB, rssPages: (2000 * MB) / PAGE })];
    for (let i = 1; i <= 5; i++) expect(tick(m, i * 3000, tree)).toEqual([]);
    expect(m.context.tracking.get('c1')!.usage!.pmemBytes).toBe(2000 * MB);
  });

  it('gives a process that just appeared one more tick unless the tree is over twice the limit', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const base = proc(100, { rssPages: (50 * MB) / PAGE });
    tick(m, 1000, [base]);
    expect(tick(m, 4000, [base])).toEqual([]);
    // A new child takes the tree to 150 MB: over 96 MB, under 192 MB, and the child is 1 tick old.
    const child = proc(101, { ppid: 100, rssPages: (100 * MB) / PAGE });
    expect(tick(m, 7000, [base, child])).toEqual([]);
    // Next tick it is aged: killed.
    expect(tick(m, 10_000, [base, child]).map((k) => k.exitStatus)).toEqual([-104]);

    // A new process taking the tree over twice the limit is killed at once.
    const m2 = monitor({ vmemCheckEnabled: false });
    tick(m2, 1000, [base]);
    tick(m2, 4000, [base]);
    const big = proc(101, { ppid: 100, rssPages: (150 * MB) / PAGE });
    expect(tick(m2, 7000, [base, big]).map((k) => k.exitStatus)).toEqual([-104]);
  });

  it('removes a container from tracking when it kills it: killed once', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const tree = [proc(100, { rssPages: (300 * MB) / PAGE })];
    tick(m, 1000, tree);
    expect(tick(m, 4000, tree)).toHaveLength(1);
    expect(m.context.tracking.has('c1')).toBe(false);
    expect(tick(m, 7000, tree)).toEqual([]);
    // The STOP_MONITORING that follows the container's DONE is harmless.
    m.step({ type: 'STOP_MONITORING', ts: 8000, id: 'c1' });
    expect(tick(m, 9000, tree)).toEqual([]);
  });

  it('skips a tree that cannot be read (-1) and one not sampled this tick', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const tree = [proc(100, { rssPages: (300 * MB) / PAGE })];
    tick(m, 1000, tree);
    expect(tick(m, 4000, [])).toEqual([]); // root gone: memory unavailable
    expect(tick(m, 5000, undefined)).toEqual([]); // not in this scan
    // Back again: ages restarted, CPU known → the 2× rule applies.
    expect(tick(m, 8000, tree)).toHaveLength(1);
  });

  it('after a gap the tree is young again: over the limit but under twice it, killed only once aged', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const tree = [proc(100, { rssPages: (150 * MB) / PAGE })];
    tick(m, 1000, tree);
    tick(m, 4000, []); // gone for a tick
    expect(tick(m, 7000, tree)).toEqual([]); // back, age 1: the aged sum is 0
    expect(tick(m, 10_000, tree).map((k) => k.exitStatus)).toEqual([-104]);
  });

  it('an event the machine cannot digest is an error to the caller; the monitor goes on as before', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const tree = [proc(100, { rssPages: (300 * MB) / PAGE })];
    tick(m, 1000, tree);
    const bad = { type: 'TICK', ts: 2000, samples: { c1: 42 } } as unknown as Parameters<MonitorActor['step']>[0];
    expect(() => m.step(bad)).toThrow(/could not process TICK/);
    expect(m.context.tracking.has('c1')).toBe(true);
    expect(tick(m, 4000, tree).map((k) => k.exitStatus)).toEqual([-104]);
  });

  it('records usage and node utilization (Σ pmem MB, Σ vmem MB, Σ vcores)', () => {
    const m = new MonitorActor(settings({ vmemCheckEnabled: false }));
    m.step({ type: 'START_MONITORING', ts: 0, id: 'a', pid: 100, resources: { memoryMb: 1024, vcores: 1 } });
    m.step({ type: 'START_MONITORING', ts: 0, id: 'b', pid: 200, resources: { memoryMb: 1024, vcores: 1 } });
    const a = (utime: number) => [proc(100, { utime, vsize: 100 * MB + 5, rssPages: (10 * MB) / PAGE + 1 })];
    const b = (utime: number) => [proc(200, { utime, vsize: 50 * MB, rssPages: (20 * MB) / PAGE })];
    m.step({ type: 'TICK', ts: 1000, samples: { a: a(0), b: b(0) } });
    expect(m.context.utilization).toEqual({ timestamp: 1000, pmemMb: 0, vmemMb: 0, vcores: 0 });
    // a: 150 jiffies = 1500 ms in 3 s → 50 %; b: 300 jiffies → 100 %.
    m.step({ type: 'TICK', ts: 4000, samples: { a: a(150), b: b(300) } });
    const ua = m.context.tracking.get('a')!.usage!;
    expect(ua).toEqual({ timestamp: 4000, pmemBytes: 10 * MB + PAGE, vmemBytes: 100 * MB + 5, cpuPercent: 50, milliVcores: 2000 });
    expect(m.context.tracking.get('b')!.usage!.milliVcores).toBe(4000);
    expect(m.context.utilization).toEqual({ timestamp: 4000, pmemMb: 30, vmemMb: 150, vcores: 6 });
  });

  it('adds vcores in float32, as YARN\'s ResourceUtilization does', () => {
    const m = new MonitorActor(settings());
    m.step({ type: 'START_MONITORING', ts: 0, id: 'a', pid: 100, resources: { memoryMb: 1024, vcores: 1 } });
    m.step({ type: 'START_MONITORING', ts: 0, id: 'b', pid: 200, resources: { memoryMb: 1024, vcores: 1 } });
    m.step({ type: 'TICK', ts: 1000, samples: { a: [proc(100)], b: [proc(200)] } });
    // 10 and 20 jiffies over 4 s: 2.5 % and 5 % → 100 and 200 milliVcores → 0.1 + 0.2 vcores.
    m.step({ type: 'TICK', ts: 5000, samples: { a: [proc(100, { utime: 10 })], b: [proc(200, { utime: 20 })] } });
    expect(m.context.tracking.get('a')!.usage!.milliVcores).toBe(100);
    expect(m.context.tracking.get('b')!.usage!.milliVcores).toBe(200);
    expect(m.context.utilization.vcores).toBe(Math.fround(Math.fround(0.1) + Math.fround(0.2)));
    expect(m.context.utilization.vcores).not.toBe(0.1 + 0.2);
  });

  it('recomputes limits when the container\'s resources change', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const tree = [proc(100, { rssPages: (150 * MB) / PAGE })];
    m.step({ type: 'CHANGE_MONITORING_CONTAINER_RESOURCE', ts: 500, id: 'c1', resources: { memoryMb: 256, vcores: 2 } });
    expect(m.context.tracking.get('c1')!.limits).toEqual({ pmemBytes: 288 * MB, vmemBytes: 634178752, cpus: 2.1 });
    tick(m, 1000, tree);
    expect(tick(m, 4000, tree)).toEqual([]);
    m.step({ type: 'CHANGE_MONITORING_CONTAINER_RESOURCE', ts: 4500, id: 'c1', resources: { memoryMb: 64, vcores: 1 } });
    expect(tick(m, 7000, tree)).toHaveLength(1);
    // An untracked container's change is ignored.
    m.step({ type: 'CHANGE_MONITORING_CONTAINER_RESOURCE', ts: 8000, id: 'zz', resources: { memoryMb: 1, vcores: 1 } });
    expect(m.context.tracking.size).toBe(0);
  });

  it('a relaunch (START_MONITORING again) starts a fresh tree', () => {
    const m = monitor({ vmemCheckEnabled: false });
    const tree = [proc(100, { rssPages: (300 * MB) / PAGE })];
    tick(m, 1000, tree);
    m.step({ type: 'START_MONITORING', ts: 2000, id: 'c1', pid: 300, resources: { memoryMb: 64, vcores: 1 } });
    const t = m.context.tracking.get('c1')!;
    expect([t.pid, t.ages.size, t.usage]).toEqual([300, 0, null]);
    expect(tick(m, 4000, [proc(300, { rssPages: (300 * MB) / PAGE })])).toEqual([]); // a first sample again
  });

  it('the same samples always give the same kills', () => {
    const run = () => {
      const m = monitor();
      const out = [];
      for (let i = 0; i < 6; i++) {
        out.push(...tick(m, 1000 + i * 3000, [proc(100, { utime: i * 10, vsize: (100 + 30 * i) * MB, rssPages: ((20 + 20 * i) * MB) / PAGE })]));
      }
      return out;
    };
    const first = run();
    expect(first).toHaveLength(1);
    expect(run()).toEqual(first);
  });

  describe('log monitor', () => {
    it('kills a container whose log directory is over the limit with -109 and YARN\'s message', () => {
      const m = monitor();
      expect(m.step({ type: 'LOG_TICK', ts: 1, logDirs: { c1: [{ dir: '/w/c1/logs', bytes: 1000 }] } })).toEqual([]);
      expect(m.step({ type: 'LOG_TICK', ts: 2, logDirs: { c1: [{ dir: '/w/c1/logs', bytes: 1001 }] } })).toEqual([
        {
          type: 'KILL_CONTAINER',
          id: 'c1',
          exitStatus: -109,
          diagnostics:
            'Container [pid=100,containerID=c1] is logging beyond the container single log directory limit.\n' +
            'Limit: 1000 Log Directory Size: 1001 Log Directory: /w/c1/logs\nKilling container.\n',
        },
      ]);
      expect(m.context.tracking.has('c1')).toBe(false);
      expect(m.step({ type: 'LOG_TICK', ts: 3, logDirs: { c1: [{ dir: '/w/c1/logs', bytes: 5000 }] } })).toEqual([]);
    });

    it('kills when all log directories together are over the total limit', () => {
      const m = monitor({ logDirSizeLimitBytes: 1000, logTotalSizeLimitBytes: 1500 });
      const dirs = [
        { dir: '/a', bytes: 900 },
        { dir: '/b', bytes: 700 },
      ];
      const [kill] = m.step({ type: 'LOG_TICK', ts: 1, logDirs: { c1: dirs } });
      expect(kill!.diagnostics).toBe(
        'Container [pid=100,containerID=c1] is logging beyond the container total log limit.\nLimit: 1500 Total Size: >=1600\nKilling container.\n',
      );
    });
  });
});

describe('the one-scan sampler and ProcfsProcessTree agree', () => {
  let fake: FakeProcfs;
  beforeEach(() => {
    fake = new FakeProcfs();
  });
  afterEach(() => fake.cleanup());

  for (const smaps of [false, true]) {
    it(`builds every container's tree from one scan with the same members, ages, sums, CPU and dump${smaps ? ' (smaps)' : ''}`, () => {
      fake.set({ pid: 1, ppid: 0 });
      const build = (i: number) => {
        for (let c = 0; c < 5; c++) {
          const root = 1000 + c * 10;
          const anon = (kb: number) => smapsMapping('rw-p', kb) + smapsMapping('r--s', 999);
          fake.set({ pid: root, ppid: 1, session: root, utime: 10 * i, vsize: 100 + c, rssPages: 10 + c, cmdline: `bash\0c${c}\0`, smaps: anon(5 + c) });
          fake.set({ pid: root + 1, ppid: root, session: root, pgrp: root, vsize: 1000 * c, rssPages: c, utime: c + i, stime: 3 * i, cmdline: 'child', smaps: anon(7) });
          fake.set({ pid: root + 2, ppid: 1, session: root, pgrp: root, vsize: 7, rssPages: 1, comm: 'orphan (x)', smaps: anon(1) });
        }
        if (i >= 2) fake.set({ pid: 1003, ppid: 1000, session: 1000, vsize: 55, rssPages: 5, cmdline: 'late\0', smaps: smapsMapping('rw-p', 3) }); // a newcomer
      };
      const sampler = new TreeSampler({ procfsRoot: fake.root, smapsBasedRss: smaps, log: pino({ level: 'silent' }) });
      const roots = new Map([0, 1, 2, 3, 4].map((c) => [`c${c}`, 1000 + c * 10]));
      const m = new MonitorActor(settings({ vmemCheckEnabled: false, pmemCheckEnabled: false, smapsBasedRss: smaps }));
      for (const [id, pid] of roots) m.step({ type: 'START_MONITORING', ts: 0, id, pid, resources: { memoryMb: 64, vcores: 1 } });
      let now = 0;
      const trees = new Map(
        [...roots].map(([id, pid]) => [id, new ProcfsProcessTree(String(pid), { procfsRoot: fake.root, pageSize: PAGE, clockTicks: 100, smapsBasedRss: smaps, clock: () => now })]),
      );
      for (let i = 0; i < 4; i++) {
        build(i);
        now = 1000 * (i + 1);
        const samples = sampler.sample(roots);
        for (const tree of Object.values(samples)) sampler.addCommandLines(tree);
        m.step({ type: 'TICK', ts: now, samples });
        for (const [id, tree] of trees) {
          tree.update();
          const t = m.context.tracking.get(id)!;
          expect(samples[id]!.map((p) => String(p.pid))).toEqual(tree.pids());
          expect([...t.ages].map(([pid, age]) => [String(pid), age])).toEqual(tree.pids().map((pid) => [pid, tree.ageOf(pid)]));
          expect(t.measure!.vmemBytes).toBe(tree.virtualMemorySize());
          expect(t.measure!.pmemBytes).toBe(tree.rssMemorySize());
          expect(virtualMemorySize(samples[id]!, t.ages, 1)).toBe(tree.virtualMemorySize(1));
          expect(rssMemorySize(samples[id]!, t.ages, 1, { pageSize: PAGE, smaps })).toBe(tree.rssMemorySize(1));
          expect(t.cpu.percent).toBe(tree.cpuUsagePercent());
          expect(processTreeDump(samples[id]!)).toBe(tree.processTreeDump());
        }
      }
      expect(trees.get('c0')!.pids()).toEqual(['1000', '1001', '1002', '1003']);
      // c0 gains 10 + 1 + 3 jiffies (140 ms) a tick of 1000 ms.
      expect(m.context.tracking.get('c0')!.cpu.percent).toBe(14);
    });
  }

  it('reads command lines fresh, and only for trees over a limit', () => {
    fake.set({ pid: 100, ppid: 1, comm: 'bash', rssPages: 10, cmdline: 'bash\0launch_container.sh\0' });
    const s = settings({ vmemCheckEnabled: false });
    const limits = { pmemBytes: 20 * PAGE, vmemBytes: 0, cpus: 1 };
    const sampler = new TreeSampler({ procfsRoot: fake.root, smapsBasedRss: false, log: pino({ level: 'silent' }) });
    const roots = new Map([['c', 100]]);
    const under = sampler.sample(roots).c!;
    expect(mayExceedLimit(s, limits, under)).toBe(false);
    expect(under[0]!.cmdline).toBeUndefined();
    // exec into a program of the same name: the command line changes, the name and start time do not.
    fake.set({ pid: 100, ppid: 1, comm: 'bash', rssPages: 30, cmdline: 'bash\0-c\0python3 train.py\0' });
    const over = sampler.sample(roots).c!;
    expect(mayExceedLimit(s, limits, over)).toBe(true);
    sampler.addCommandLines(over);
    expect(over[0]!.cmdline).toBe('bash -c python3 train.py ');
    expect(mayExceedLimit(settings({ vmemCheckEnabled: false, pmemCheckEnabled: false }), limits, over)).toBe(false);
    sampler.close();
  });
});
