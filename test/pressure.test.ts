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
