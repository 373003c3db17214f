/**
 * The ContainersMonitor tick on the real /proc with 200 containers of ~10
 * real processes each (≈2,000 processes), next to, in the same run:
 *
 * - the floor: listing /proc and reading every /proc/<pid>/stat once, nothing else;
 * - YARN's way: one ProcfsBasedProcessTree per container, each rebuilding its
 *   tree from a full procfs scan (C scans per tick).
 *
 * Then the daemon's own CPU use while it monitors the containers, idle, at
 * the default 3 s interval.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { resolveConfig } from '../src/config/load.js';
import { NodeWarden } from '../src/node/nodewarden.js';
import { ProcfsProcessTree } from '../src/procfs/procfs-process-tree.js';
import { ProcfsReader } from '../src/procfs/procfs-reader.js';
import { collectTree, indexChildren } from '../state-machines/process-tree.js';
import { figure, type Figure } from './stats.js';

const SLEEPERS = 8; // + the wrapper and its bash: 10 processes a container

/** The floor: every /proc/<pid>/stat read once, with the cheapest calls there are. */
function readEveryStat(buf: Buffer): number {
  let bytes = 0;
  for (const name of fs.readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 49 || c > 57) continue; // not a pid
    let fd: number;
    try {
      fd = fs.openSync(`/proc/${name}/stat`, 'r');
    } catch {
      continue;
    }
    try {
      bytes += fs.readSync(fd, buf, 0, buf.length, 0);
    } catch {
      // gone
    } finally {
      fs.closeSync(fd);
    }
  }
  return bytes;
}

function timeMs(fn: () => unknown): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function countProcesses(): number {
  return fs.readdirSync('/proc').filter((n) => /^[1-9][0-9]*$/.test(n)).length;
}

async function until(what: string, fn: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface MonitorBenchResult {
  description: string;
  containers: number;
  processesInTrees: number;
  processesOnMachine: number;
  tickMs: Figure;
  floorMs: Figure;
  yarnRescanMs: Figure;
  tickToFloor: Figure;
  yarnToTick: Figure;
  idleCpu: { intervalMs: number; windowMs: number; ticks: number; percentOfOneCore: number };
  goals: { tickToFloorMax: number; yarnToTickMin: number; idleCpuPercentMax: number };
  met: { tickToFloor: boolean; yarnToTick: boolean; idleCpu: boolean };
}

export async function monitorBench(opts: { quick: boolean; runs: number }): Promise<MonitorBenchResult> {
  const containers = 200;
  const cpuWindowMs = opts.quick ? 9_000 : 30_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-bench-monitor-'));
  const config = resolveConfig([
    {
      'yarn.nodemanager.resource.memory-mb': 65536,
      'yarn.nodemanager.resource.cpu-vcores': 512,
      'yarn.nodemanager.container-monitor.interval-ms': 3000,
      'yarn.nodemanager.sleep-delay-before-sigkill.ms': 100,
    },
  ]);
  const node = new NodeWarden({ config, dbPath: path.join(dir, 'db.sqlite'), workDir: path.join(dir, 'var'), log: pino({ level: 'warn' }) });
  const pgids: number[] = [];
  try {
    const script = `for i in $(seq ${SLEEPERS}); do sleep 100000 & done; wait`;
    for (let i = 0; i < containers; i++) {
      await node.launch({ id: `bench-${i}`, command: ['bash', '-c', script], resources: { memoryMb: 64, vcores: 1 } });
    }
    await until('every container RUNNING', () => node.list().every((v) => v.state === 'RUNNING'));
    for (const v of node.list()) pgids.push(v.pid!);
    // Every tree complete: wrapper + bash + sleepers.
    const roots = node.list().map((v) => String(v.pid));
    const reader = new ProcfsReader('/proc');
    await until('every tree to hold its processes', () => {
      const { processes } = reader.scan();
      const children = indexChildren(processes);
      return roots.every((root) => collectTree(Number(root), processes, children).length >= SLEEPERS + 2);
    });
    const yarnTrees = roots.map((r) => new ProcfsProcessTree(r));
    const yarnTick = () => {
      // ContainersMonitorImpl per container: update (a full scan), sizes, CPU.
      for (const t of yarnTrees) {
        t.update();
        t.virtualMemorySize();
        t.rssMemorySize();
        t.cpuUsagePercent();
      }
    };
    const buf = Buffer.allocUnsafe(4096);
    // Warm-up: JIT, dentry cache.
    for (let i = 0; i < 3; i++) {
      readEveryStat(buf);
      node.monitor.tick();
    }
    yarnTick();

    const tick: number[] = [];
    const floor: number[] = [];
    const yarn: number[] = [];
    const tickToFloor: number[] = [];
    const yarnToTick: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      // Interleaved: the three see the same processes and caches. Several fast
      // samples per run, their median, so one scheduler hiccup does not decide.
      const f = figure(Array.from({ length: 9 }, () => timeMs(() => readEveryStat(buf)))).median;
      const t = figure(Array.from({ length: 9 }, () => timeMs(() => node.monitor.tick()))).median;
      const y = timeMs(yarnTick);
      floor.push(f);
      tick.push(t);
      yarn.push(y);
      tickToFloor.push(t / f);
      yarnToTick.push(y / t);
    }
    const inTrees = node.monitor.statistics().reduce((s, e) => s + e.statistics.processes, 0);
    const onMachine = countProcesses();

    // The daemon's CPU while it watches the idle containers on its own timer,
    // once the ticks timed above are committed and one interval has passed:
    // the steady state, not the tail of this benchmark's own burst.
    await node.durable();
    await new Promise((r) => setTimeout(r, 3000));
    const ticksBefore = node.monitor.tickCount();
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    await new Promise((r) => setTimeout(r, cpuWindowMs));
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - wallBefore;
    const percentOfOneCore = ((cpu.user + cpu.system) / 1000 / wall) * 100;

    const goals = { tickToFloorMax: 1.5, yarnToTickMin: 20, idleCpuPercentMax: 2 };
    const r = {
      tickMs: figure(tick),
      floorMs: figure(floor),
      yarnRescanMs: figure(yarn),
      tickToFloor: figure(tickToFloor),
      yarnToTick: figure(yarnToTick),
    };
    return {
      description: `monitor tick with ${containers} containers of ${SLEEPERS + 2} real processes, vs reading every /proc/<pid>/stat once (floor) and YARN's per-container rescan`,
      containers,
      processesInTrees: inTrees,
      processesOnMachine: onMachine,
      ...r,
      idleCpu: { intervalMs: 3000, windowMs: Math.round(wall), ticks: node.monitor.tickCount() - ticksBefore, percentOfOneCore },
      goals,
      met: {
        tickToFloor: r.tickToFloor.median <= goals.tickToFloorMax,
        yarnToTick: r.yarnToTick.median >= goals.yarnToTickMin,
        idleCpu: percentOfOneCore < goals.idleCpuPercentMax,
      },
    };
  } finally {
    await node.close();
    for (const pgid of pgids) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
