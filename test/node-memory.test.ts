/**
 * The node under memory pressure, decided (pure): DefaultOOMHandler's order,
 * the OOM handler's one victim per NODE_OOM, and the early preemption on a
 * pressure reading that stays over its threshold. The real kernel's side is
 * in elastic-memory.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { MonitorSettings } from '../state-machines/containers-monitor.js';
import { ExitStatus } from '../state-machines/exit-status.js';
import { MonitorActor } from '../state-machines/monitor-actor.js';
import { victimOrder, watchPressure, type Pressure, type VictimCandidate } from '../state-machines/node-memory.js';
import type { ProcessSample } from '../state-machines/process-tree.js';
import type { ExecutionType } from '../state-machines/types.js';

const MB = 2 ** 20;
const PAGE = 4096;

const settings = (over: Partial<MonitorSettings> = {}): MonitorSettings => ({
  pmemCheckEnabled: false,
  vmemCheckEnabled: false,
  vmemPmemRatio: 2.1,
  allowance: { memoryMb: 32, cpus: 0.1 },
  smapsBasedRss: false,
  nodeVcores: 8,
  cpuLimitPercent: 100,
  logDirSizeLimitBytes: 1000,
  logTotalSizeLimitBytes: 10_000,
  pressure: { thresholdPercent: 40, afterMs: 10_000 },
  host: { processors: 2, pageSize: PAGE, clockTicks: 100 },
  ...over,
});

const c = (id: string, executionType: ExecutionType, usageMb: number, requestMb: number): VictimCandidate => ({
  id,
  executionType,
  usageBytes: usageMb * MB,
  requestBytes: requestMb * MB,
});

const pressure = (avg10: number): Pressure => ({
  some: { avg10, avg60: 0, avg300: 0, total: 0 },
  full: { avg10: 0, avg60: 0, avg300: 0, total: 0 },
});

/** One process of `rssMb` resident, for a tick. */
const tree = (pid: number, rssMb: number, utime: number): ProcessSample[] => [
  { pid, comm: 'p', state: 'S', ppid: 1, pgrp: pid, session: pid, utime, stime: 0, numThreads: 1, startTime: 1, vsize: rssMb * MB, rssPages: (rssMb * MB) / PAGE },
];

/** Launched in this order: g-under (guaranteed, under its request), o (opportunistic), g-over (guaranteed, bursting). */
function threeContainers(over: Partial<MonitorSettings> = {}): MonitorActor {
  const m = new MonitorActor(settings(over));
  m.step({ type: 'START_MONITORING', ts: 0, id: 'g-under', pid: 100, resources: { memoryMb: 400, vcores: 1 }, executionType: 'GUARANTEED' });
  m.step({ type: 'START_MONITORING', ts: 0, id: 'o', pid: 200, resources: { memoryMb: 300, vcores: 1 }, executionType: 'OPPORTUNISTIC' });
  m.step({ type: 'START_MONITORING', ts: 0, id: 'g-over', pid: 300, resources: { memoryMb: 300, vcores: 1 }, executionType: 'GUARANTEED' });
  return m;
}

describe('victim order (YARN DefaultOOMHandler)', () => {
  it('OPPORTUNISTIC first, then over the request, then the most recently launched', () => {
    const launched = [c('g1', 'GUARANTEED', 100, 200), c('g2', 'GUARANTEED', 300, 200), c('o1', 'OPPORTUNISTIC', 10, 200), c('g3', 'GUARANTEED', 50, 200), c('o2', 'OPPORTUNISTIC', 300, 200), c('o3', 'OPPORTUNISTIC', 10, 200)];
    expect(victimOrder(launched).map((v) => v.id)).toEqual(['o2', 'o3', 'o1', 'g2', 'g3', 'g1']);
  });

  it('exactly at the request is not over it', () => {
    expect(victimOrder([c('a', 'GUARANTEED', 200, 200), c('b', 'GUARANTEED', 201, 200), c('z', 'GUARANTEED', 200, 200)]).map((v) => v.id)).toEqual(['b', 'z', 'a']);
  });
});

describe('NODE_OOM: one victim per notice', () => {
  const oom = (ts: number, usages: Record<string, number>) => ({ type: 'NODE_OOM' as const, ts, limitBytes: 1024 * MB, usageBytes: 1024 * MB, usages });

  it('takes the opportunistic one, then the guaranteed one over its request; never the one under it while another qualifies', () => {
    const m = threeContainers();
    const first = m.step(oom(1000, { 'g-under': 250 * MB, o: 200 * MB, 'g-over': 574 * MB }));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ id: 'o', exitStatus: ExitStatus.KILLED_BY_CONTAINER_SCHEDULER });
    expect(first[0]!.diagnostics).toContain("reached the node's memory limit of 1 GB (yarn.nodemanager.resource.memory-mb)");
    expect(first[0]!.diagnostics).toContain('using 200 MB of its 300 MB request (OPPORTUNISTIC)');
    expect(first[0]!.diagnostics).toContain('because it is OPPORTUNISTIC');

    const second = m.step(oom(2000, { 'g-under': 250 * MB, 'g-over': 774 * MB }));
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ id: 'g-over', exitStatus: ExitStatus.PREEMPTED });
    expect(second[0]!.diagnostics).toContain('using 774 MB of its 300 MB request (GUARANTEED)');
    expect(second[0]!.diagnostics).toContain('GUARANTEED and over its request');
    expect([...m.context.tracking.keys()]).toEqual(['g-under']);
  });

  it('all within their requests: the most recently launched goes; a relaunch counts as the latest', () => {
    const m = threeContainers();
    m.step({ type: 'START_MONITORING', ts: 5, id: 'g-under', pid: 101, resources: { memoryMb: 400, vcores: 1 }, executionType: 'GUARANTEED' });
    const kills = m.step({ ...oom(1000, { 'g-under': 10 * MB, 'g-over': 10 * MB }) });
    expect(kills.map((k) => k.id)).toEqual(['g-under']);
    expect(kills[0]!.diagnostics).toContain('the most recently launched');
  });

  it('a container id that is also an Object.prototype name is read from the notice only when the notice has it', () => {
    const m = new MonitorActor(settings());
    m.step({ type: 'START_MONITORING', ts: 0, id: 'constructor', pid: 1, resources: { memoryMb: 10, vcores: 1 }, executionType: 'OPPORTUNISTIC' });
    expect(m.step(oom(1000, {}))).toEqual([]);
  });

  it('a container with no cgroup to read is not a candidate; none at all decides nothing', () => {
    const m = threeContainers();
    expect(m.step(oom(1000, {}))).toEqual([]);
    expect(m.context.tracking.size).toBe(3);
    expect(m.step(oom(1001, { 'g-under': 5 * MB })).map((k) => k.id)).toEqual(['g-under']);
  });

  it('a START_MONITORING without an execution type (an older journal) is GUARANTEED', () => {
    const m = new MonitorActor(settings());
    m.step({ type: 'START_MONITORING', ts: 0, id: 'old', pid: 1, resources: { memoryMb: 10, vcores: 1 } });
    expect(m.context.tracking.get('old')!.executionType).toBe('GUARANTEED');
  });
});

describe('early preemption on memory pressure', () => {
  it('waits until pressure has stayed over the threshold for preempt-after-ms; a dip starts the wait again', () => {
    const s = { thresholdPercent: 40, afterMs: 10_000 };
    let w = watchPressure({ overSince: null }, s, pressure(50), 0);
    expect(w.preempt).toBeNull();
    w = watchPressure(w.watch, s, pressure(39.99), 3000);
    expect(w.watch.overSince).toBeNull();
    w = watchPressure(w.watch, s, pressure(40), 6000);
    w = watchPressure(w.watch, s, pressure(80), 15_999);
    expect(w.preempt).toBeNull();
    w = watchPressure(w.watch, s, pressure(80), 16_000);
    expect(w.preempt).toEqual({ avg10: 80, forMs: 10_000 });
    // After a preemption the next waits a whole interval more.
    expect(watchPressure(w.watch, s, pressure(80), 19_000).preempt).toBeNull();
  });

  it('ticks with nothing tracked (not journaled) do not move the watch; the first container after them is watched afresh', () => {
    const m = new MonitorActor(settings());
    for (let ts = 0; ts <= 60_000; ts += 3000) m.step({ type: 'TICK', ts, samples: {}, pressure: pressure(90) });
    expect(m.context.pressure.overSince).toBeNull();
    m.step({ type: 'START_MONITORING', ts: 61_000, id: 'o', pid: 1, resources: { memoryMb: 100, vcores: 1 }, executionType: 'OPPORTUNISTIC' });
    expect(m.step({ type: 'TICK', ts: 63_000, samples: { o: tree(1, 10, 0) }, pressure: pressure(90) })).toEqual([]);
    expect(m.step({ type: 'TICK', ts: 73_000, samples: { o: tree(1, 10, 1) }, pressure: pressure(90) }).map((k) => k.id)).toEqual(['o']);
  });

  it('threshold 0 is off, however high the pressure', () => {
    expect(watchPressure({ overSince: 0 }, { thresholdPercent: 0, afterMs: 1 }, pressure(100), 1e9).preempt).toBeNull();
  });

  it('the monitor preempts the opportunistic one (-108), then the guaranteed one over its request; one within its request never', () => {
    const m = threeContainers();
    const samples = (t: number, gOverMb: number) => ({ 'g-under': tree(100, 250, t), o: tree(200, 200, t), 'g-over': tree(300, gOverMb, t) });
    // The first sample only primes CPU; pressure starts counting at 3 s.
    expect(m.step({ type: 'TICK', ts: 0, samples: samples(0, 100) })).toEqual([]);
    expect(m.step({ type: 'TICK', ts: 3000, samples: samples(1, 100), pressure: pressure(60) })).toEqual([]);
    expect(m.step({ type: 'TICK', ts: 6000, samples: samples(2, 100), pressure: pressure(60) })).toEqual([]);
    const first = m.step({ type: 'TICK', ts: 13_000, samples: samples(3, 100), pressure: pressure(60) });
    expect(first.map((k) => [k.id, k.exitStatus])).toEqual([['o', ExitStatus.KILLED_BY_CONTAINER_SCHEDULER]]);
    expect(first[0]!.diagnostics).toContain('PSI memory "some" avg10 was 60.00%, at or over 40% (nodewarden.memory-pressure.preempt-threshold-percent) for 10000 ms');

    // Still high, but g-over is within its request: nothing more to take for pressure alone.
    expect(m.step({ type: 'TICK', ts: 23_000, samples: samples(4, 100), pressure: pressure(60) })).toEqual([]);
    // g-over bursts past its request; the wait started again at the last decision.
    expect(m.step({ type: 'TICK', ts: 26_000, samples: samples(5, 350), pressure: pressure(60) })).toEqual([]);
    const second = m.step({ type: 'TICK', ts: 33_000, samples: samples(6, 350), pressure: pressure(60) });
    expect(second.map((k) => [k.id, k.exitStatus])).toEqual([['g-over', ExitStatus.PREEMPTED]]);
    expect(m.step({ type: 'TICK', ts: 60_000, samples: { 'g-under': tree(100, 250, 7) }, pressure: pressure(99) })).toEqual([]);
    expect([...m.context.tracking.keys()]).toEqual(['g-under']);
  });
});

describe("the kernel's own OOM kill, below the container's own limit", () => {
  it('is a preemption for the node (-108 / -102), not -104: the node, or a cgroup above it, ran out', () => {
    const m = threeContainers();
    const kills = m.step({ type: 'TICK', ts: 1000, samples: {}, oom: { o: { kills: 1, peakBytes: 120 * MB, limitBytes: 2 ** 63 - 4096, atOwnLimit: false }, 'g-over': { kills: 1, peakBytes: 90 * MB, limitBytes: 2 ** 63 - 4096, atOwnLimit: false } } });
    expect(kills.map((k) => [k.id, k.exitStatus])).toEqual([
      ['o', ExitStatus.KILLED_BY_CONTAINER_SCHEDULER],
      ['g-over', ExitStatus.PREEMPTED],
    ]);
    expect(kills[1]!.diagnostics).toBe(
      "Container g-over killed by the kernel's OOM killer while the node, or a cgroup above the container, was out of memory; it had not reached its own cgroup limit. " +
        'It had used up to 90 MB of its 300 MB request (GUARANTEED); the kernel chose it by its oom_score_adj and size.',
    );
    // At its own limit it is YARN's -104, as before; so is a notice that does not say (a journal from before it was recorded).
    const at = threeContainers().step({ type: 'TICK', ts: 1000, samples: {}, oom: { o: { kills: 1, peakBytes: 640 * MB, limitBytes: 640 * MB, atOwnLimit: true }, 'g-over': { kills: 1, peakBytes: 9 * MB, limitBytes: 640 * MB } } });
    expect(at.map((k) => k.exitStatus)).toEqual([ExitStatus.KILLED_EXCEEDED_PMEM, ExitStatus.KILLED_EXCEEDED_PMEM]);
    // g-over's peak is under its limit (strict mode: the cgroup limit is the limit): 0 B beyond, never a negative figure.
    expect(at[1]!.diagnostics).toMatch(/^Container \[pid=300,containerID=g-over\] is running 0B beyond the 'PHYSICAL' memory limit\./);
  });
});
