/**
 * The node's memory pressure (PSI): parsed from `/proc/pressure/memory`, in
 * GET /v1/node, and in /metrics. A fake procfs root gives exact figures (the
 * real file only rises under real scarcity); the real one is read too.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePressure, readMemoryPressure } from '../src/procfs/pressure.js';
import { ApiMetrics } from '../src/server/metrics.js';
import { startDaemon, type TestDaemon } from './helpers/daemon.js';
import { FakeProcfs } from './helpers/fake-procfs.js';
import { waitFor } from './helpers/proc.js';
import { exportLines } from '../src/journal/export.js';
import { replayLines } from '../src/journal/replay.js';
import { ExitStatus } from '../state-machines/exit-status.js';

const SAMPLE = 'some avg10=1.50 avg60=0.70 avg300=0.20 total=659318\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=488838\n';

describe('parsing /proc/pressure/memory', () => {
  it('some and full, each with its three averages (percent) and its total (µs)', () => {
    expect(parsePressure(SAMPLE)).toEqual({
      some: { avg10: 1.5, avg60: 0.7, avg300: 0.2, total: 659318 },
      full: { avg10: 0.25, avg60: 0, avg300: 0, total: 488838 },
    });
  });

  it('only some (an older kernel\'s cpu file): full is null; not PSI at all, or truncated: null', () => {
    expect(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n')).toEqual({ some: { avg10: 0, avg60: 0, avg300: 0, total: 1 }, full: null });
    expect(parsePressure('')).toBeNull();
    expect(parsePressure('some avg10=x avg60=0.00\n')).toBeNull();
    expect(parsePressure('\0\0garbage')).toBeNull();
  });

  it('the real file, where this kernel has PSI; none under a root without it', () => {
    const real = readMemoryPressure('/proc');
    if (fs.existsSync('/proc/pressure/memory')) expect(real?.some.total).toBeGreaterThanOrEqual(0);
    expect(readMemoryPressure(os.tmpdir())).toBeNull();
  });
});

describe('the daemon reports it', () => {
  let d: TestDaemon | undefined;
  let root: string | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('GET /v1/node → pressure.memory and /metrics, read when asked, from the procfs root', async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-psi-'));
    fs.mkdirSync(path.join(root, 'pressure'));
    const file = path.join(root, 'pressure', 'memory');
    fs.writeFileSync(file, SAMPLE);
    d = startDaemon({ 'nodewarden.procfs.root': root, 'yarn.nodemanager.container-monitor.interval-ms': 3_600_000 });
    expect(d.node.nodeReport().pressure.memory).toEqual(parsePressure(SAMPLE));
    const metrics = new ApiMetrics(d.node);
    let text = await metrics.text();
    expect(text).toContain('nodewarden_node_memory_pressure_percent{kind="some",window="10s"} 1.5\n');
    expect(text).toContain('nodewarden_node_memory_pressure_percent{kind="full",window="60s"} 0\n');
    expect(text).toContain('nodewarden_node_memory_pressure_stalled_seconds_total{kind="some"} 0.659318\n');
    // Read at each request: a later reading shows.
    fs.writeFileSync(file, SAMPLE.replace('avg10=1.50', 'avg10=42.00'));
    expect(d.node.nodeReport().pressure.memory?.some.avg10).toBe(42);
    text = await metrics.text();
    expect(text).toContain('nodewarden_node_memory_pressure_percent{kind="some",window="10s"} 42\n');
    // Gone (a kernel without PSI): null, and no series.
    fs.rmSync(file);
    expect(d.node.nodeReport().pressure.memory).toBeNull();
    expect(await metrics.text()).not.toContain('nodewarden_node_memory_pressure_percent{');
  });
});

describe('early preemption on memory pressure (a fake pressure file; real containers)', () => {
  let d: TestDaemon | undefined;
  let procfs: FakeProcfs | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    procfs?.cleanup();
    procfs = undefined;
  });

  const psi = (avg10: number) => `some avg10=${avg10.toFixed(2)} avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n`;

  it('pressure held over the threshold preempts in the OOM handler\'s order, one per preempt-after-ms: opportunistic ones (-108, latest first), then the guaranteed one over its request (-102); never one within it; and replays', async () => {
    procfs = new FakeProcfs();
    const pressureFile = path.join(procfs.root, 'pressure', 'memory');
    fs.mkdirSync(path.dirname(pressureFile));
    fs.writeFileSync(pressureFile, psi(0));
    d = startDaemon({
      // The monitor's trees are the fake procfs's (exact RSS per container); the processes are real.
      'nodewarden.procfs.root': procfs.root,
      'yarn.nodemanager.container-monitor.interval-ms': 50,
      'yarn.nodemanager.pmem-check-enabled': false,
      'yarn.nodemanager.vmem-check-enabled': false,
      'yarn.nodemanager.opportunistic-containers-max-queue-length': 10,
      'nodewarden.memory-pressure.preempt-threshold-percent': 40,
      'nodewarden.memory-pressure.preempt-after-ms': 200,
    });
    const containers: Array<[string, 'GUARANTEED' | 'OPPORTUNISTIC', number, number]> = [
      // id, type, request MB, RSS MB as the fake procfs says
      ['g-under', 'GUARANTEED', 400, 100],
      ['o-first', 'OPPORTUNISTIC', 100, 90],
      ['g-over', 'GUARANTEED', 100, 300],
      ['o-last', 'OPPORTUNISTIC', 100, 10],
    ];
    for (const [id, executionType, memoryMb, rssMb] of containers) {
      await d.node.launch({ id, command: ['sleep', '1000'], resources: { memoryMb, vcores: 1 }, executionType });
      await d.until(id, 'RUNNING');
      const pid = d.node.view(id).pid!;
      procfs.set({ pid, ppid: 1, rssPages: (rssMb * 2 ** 20) / 4096, vsize: rssMb * 2 ** 20 });
    }
    // Low pressure: ticks go by and nothing is preempted.
    const ticks = d.node.monitor.tickCount();
    await waitFor(() => d!.node.monitor.tickCount() >= ticks + 10, 10_000, 'ten ticks at low pressure');
    expect(d.node.list().every((c) => c.state === 'RUNNING')).toBe(true);

    fs.writeFileSync(pressureFile, psi(75));
    for (const id of ['o-last', 'o-first', 'g-over']) await d.until(id, 'DONE', 30_000);
    // Pressure stays high, but what is left is within its request: ticks go by, it stays.
    const after = d.node.monitor.tickCount();
    await waitFor(() => d!.node.monitor.tickCount() >= after + 10, 10_000, 'ten more ticks (twice preempt-after-ms)');
    expect(d.node.view('g-under').state).toBe('RUNNING');

    expect(d.node.view('o-last').exitStatus).toBe(ExitStatus.KILLED_BY_CONTAINER_SCHEDULER);
    expect(d.node.view('o-first').exitStatus).toBe(ExitStatus.KILLED_BY_CONTAINER_SCHEDULER);
    expect(d.node.view('g-over').exitStatus).toBe(ExitStatus.PREEMPTED);
    expect(d.node.view('g-over').diagnostics).toMatch(/preempted under node memory pressure: PSI memory "some" avg10 was 75\.00%, at or over 40% .* It was using 300 MB of its 100 MB request \(GUARANTEED\)/);

    // The readings are inputs: the order of the kills is in the journal, and replay decides them again.
    await d.node.durable();
    const lines = await exportLines(d.dbPath);
    const records = lines.map((l) => JSON.parse(l));
    expect(records.filter((r) => r.type === 'kill').map((r) => r.container)).toEqual(['o-last', 'o-first', 'g-over']);
    expect(records.some((r) => r.type === 'tick' && r.pressure?.some.avg10 === 75)).toBe(true);
    const replayed = replayLines(lines, { check: true });
    expect(replayed.divergence).toBeNull();
    expect(replayed.kills).toBe(3);
  }, 60_000);
});
