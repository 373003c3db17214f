/**
 * Containment: how far a runaway allocator gets past its limit before it is
 * stopped, as a multiple of that limit, side by side in one run:
 *
 * - nodewarden with cgroups (the kernel's backstop at twice the limit);
 * - nodewarden with cgroups in YARN's strict mode (the limit itself);
 * - nodewarden with process groups (the monitor's next tick);
 * - pm2's `max_memory_restart` (its worker's next check).
 *
 * The same Node program allocates 1.5 GB in 8 MB steps, each touched, as fast
 * as it can; its anonymous memory (RssAnon, what a cgroup charges) is read
 * from /proc every 2 ms until it is gone. Every tool checks every
 * `intervalMs`. The cgroup rows need root and cgroup v1 or v2 with the
 * controllers; elsewhere they are n/a.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerView } from '../src/node/container-view.js';
import { CgroupV1 } from '../src/containment/cgroup-v1.js';
import { detectContainment } from '../src/containment/detect.js';
import { atExit, benchDir, killByCommandLine } from './cleanup.js';
import { BenchDaemon, waitUntil } from './daemon.js';
import { Pm2Daemon } from './pm2-daemon.js';

const LIMIT_MB = 128;
const LIMIT_BYTES = LIMIT_MB * 2 ** 20;
/** 1.5 GB in 8 MB steps, touched; the last argument (ignored) marks its command line for the cleanup. */
const ALLOCATE = 'const h = []; for (let i = 0; i < 192; i++) h.push(Buffer.alloc(8 << 20, 1)); setInterval(() => h.length, 1 << 30);';

export interface RunawayPeak {
  tool: string;
  /** Peak anonymous memory ÷ the limit; null where the tool could not run here. */
  peakMultiple: number | null;
  /** How it ended: the exit status nodewarden reported, or pm2's kill. */
  ended: string;
}

export interface ContainmentBenchResult {
  description: string;
  intervalMs: number;
  limitBytes: number;
  runs: RunawayPeak[];
  goals: { defaultMax: number; strictMax: number };
  met: { default: boolean | null; strict: boolean | null };
}

/** RssAnon of every process whose command line holds `marker`, summed. */
function anonBytesOf(marker: string): number {
  let sum = 0;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[1-9][0-9]*$/.test(name)) continue;
    try {
      if (!fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) continue;
      const m = /^RssAnon:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${name}/status`, 'utf8'));
      if (m) sum += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return sum;
}

/** The peak of anonBytesOf(marker), every 2 ms, from when `started` resolves until `ended` does. */
async function peakWhile(marker: string, ended: Promise<unknown>): Promise<number> {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, anonBytesOf(marker))), 2);
  try {
    await ended;
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, anonBytesOf(marker));
}

async function underNodewarden(tool: string, sets: Record<string, string | number | boolean>, dir: string, intervalMs: number): Promise<RunawayPeak> {
  const marker = path.join(dir, tool.replace(/\W+/g, '-'));
  const d = await BenchDaemon.start({
    'yarn.nodemanager.container-monitor.interval-ms': intervalMs,
    'yarn.nodemanager.vmem-check-enabled': false, // Node reserves far more address space than it uses
    'nodewarden.executor.allowance.memory-mb': 0, // the limit is exactly the request, like max_memory_restart
    ...sets,
  });
  try {
    await d.client.post('/v1/containers', { id: 'runaway', command: [process.execPath, '-e', ALLOCATE, marker], resources: { memoryMb: LIMIT_MB, vcores: 1 } });
    let view!: ContainerView;
    const done = waitUntil('the runaway to be stopped', async () => (view = await d.client.get<ContainerView>('/v1/containers/runaway')).state === 'DONE', 60_000, 5);
    const peak = await peakWhile(marker, done);
    return { tool, peakMultiple: peak / LIMIT_BYTES, ended: `exit status ${view.exitStatus}` };
  } finally {
    await d.stop();
    killByCommandLine(marker);
  }
}

async function underPm2(dir: string, intervalMs: number): Promise<RunawayPeak> {
  const marker = path.join(dir, 'pm2');
  const pm2 = await Pm2Daemon.start({ workerIntervalMs: intervalMs });
  try {
    await pm2.start({ name: 'runaway', script: process.execPath, args: ['-e', ALLOCATE, marker], interpreter: 'none', max_memory_restart: LIMIT_BYTES, autorestart: false });
    const [first] = await pm2.describe('runaway');
    const pid = first?.pid;
    const gone = waitUntil('pm2 to stop the runaway', async () => pid === undefined || !fs.existsSync(`/proc/${pid}`) || /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), 60_000, 5);
    const peak = await peakWhile(marker, gone);
    return { tool: 'pm2 max_memory_restart', peakMultiple: peak / LIMIT_BYTES, ended: 'stopped by pm2' };
  } finally {
    await pm2.delete('runaway').catch(() => undefined);
    await pm2.stop();
    killByCommandLine(marker);
  }
}

/** Cgroups this run made (a hierarchy of its own), emptied and removed whatever happened. */
function ownHierarchy(): { hierarchy: string; cleanup: () => void } | null {
  if (process.getuid?.() !== 0) return null;
  const d = detectContainment({ setting: 'auto', procfsRoot: '/proc', isRoot: true });
  if (d.mode !== 'cgroup-v1') return null; // the v2 rows need a v2 machine with memory delegated: n/a here
  const hierarchy = `nodewarden-bench-${process.pid}`;
  const driver = new CgroupV1(d.own, hierarchy);
  const cleanup = () => {
    for (const id of driver.list()) {
      for (const pid of driver.members(id)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      driver.remove(id);
    }
    for (const dir of Object.values(d.own)) {
      try {
        fs.rmdirSync(path.join(dir, hierarchy));
      } catch {
        // gone, or still busy
      }
    }
  };
  return { hierarchy, cleanup };
}

export async function containmentBench({ intervalMs }: { intervalMs: number }): Promise<ContainmentBenchResult> {
  const { dir, remove } = benchDir('nw-bench-containment-');
  const forget = atExit(() => killByCommandLine(dir));
  const cgroups = ownHierarchy();
  const forgetCgroups = cgroups ? atExit(cgroups.cleanup) : () => undefined;
  const runs: RunawayPeak[] = [];
  try {
    if (cgroups) {
      const sets = { 'nodewarden.cgroups.enabled': 'true', 'yarn.nodemanager.linux-container-executor.cgroups.hierarchy': cgroups.hierarchy };
      runs.push(await underNodewarden('nodewarden, cgroups', sets, dir, intervalMs));
      runs.push(await underNodewarden('nodewarden, cgroups, YARN strict memory', { ...sets, 'yarn.nodemanager.resource.memory.enabled': true }, dir, intervalMs));
    } else {
      runs.push({ tool: 'nodewarden, cgroups', peakMultiple: null, ended: 'n/a: needs root and cgroup v1 here' });
      runs.push({ tool: 'nodewarden, cgroups, YARN strict memory', peakMultiple: null, ended: 'n/a: needs root and cgroup v1 here' });
    }
    runs.push(await underNodewarden('nodewarden, process groups', { 'nodewarden.cgroups.enabled': 'false' }, dir, intervalMs));
    runs.push(await underPm2(dir, intervalMs));
  } finally {
    killByCommandLine(dir);
    cgroups?.cleanup();
    forgetCgroups();
    forget();
    remove();
  }
  const goals = { defaultMax: 2.0, strictMax: 1.05 };
  const [withCgroups, strict] = runs;
  return {
    description: `a Node program allocating 1.5 GB as fast as it can against a ${LIMIT_MB} MB limit, every tool checking every ${intervalMs} ms: its peak anonymous memory as a multiple of the limit`,
    intervalMs,
    limitBytes: LIMIT_BYTES,
    runs,
    goals,
    met: {
      default: withCgroups!.peakMultiple === null ? null : withCgroups!.peakMultiple <= goals.defaultMax,
      strict: strict!.peakMultiple === null ? null : strict!.peakMultiple <= goals.strictMax,
    },
  };
}
