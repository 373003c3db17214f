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
 *
 * Then, per tool, an escapee: `setsid -f` a Node process holding 100 MB, the
 * command sleeping on. Is its memory counted (the tool's own figure for the
 * container reaches 100 MB)? Is it killed with the container?
 *
 * And the cost of a cgroup per container: launches/s of `sleep 3600` with
 * cgroups against process groups, fresh daemons, runs interleaved.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerView } from '../src/node/container-view.js';
import { detectContainment } from '../src/containment/detect.js';
import { launchRun } from './api.js';
import { atExit, benchDir, killByCommandLine } from './cleanup.js';
import { BenchDaemon, waitUntil } from './daemon.js';
import { Pm2Daemon } from './pm2-daemon.js';
import { figure, type Figure } from './stats.js';

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

export interface EscapeeResult {
  tool: string;
  /** The tool's figure for the container reached the escapee's 100 MB; null: n/a here. */
  counted: boolean | null;
  /** The escapee was gone once the tool said the container was stopped; null: n/a here. */
  killed: boolean | null;
  /** The tool's highest memory figure for the container while the escapee held its memory. */
  seenBytes: number | null;
}

export interface LaunchCost {
  containers: number;
  /** Launches/s, per run. */
  withCgroups: Figure;
  withoutCgroups: Figure;
  /** Per run: 1 − with ÷ without, the share of launch throughput a cgroup per container costs. */
  cost: Figure;
}

export interface ContainmentBenchResult {
  description: string;
  intervalMs: number;
  limitBytes: number;
  runs: RunawayPeak[];
  escapees: EscapeeResult[];
  /** Null where cgroups cannot be used here. */
  launches: LaunchCost | null;
  goals: { defaultMax: number; strictMax: number; launchCostMax: number };
  met: { default: boolean | null; strict: boolean | null; launchCost: boolean | null };
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

/** Whether this run can have cgroups: root, cgroup v1 (the v2 rows need a v2 machine with memory delegated: n/a here). */
function cgroupsHere(): boolean {
  return process.getuid?.() === 0 && detectContainment({ setting: 'auto', procfsRoot: '/proc', isRoot: true }).mode === 'cgroup-v1';
}

const ESCAPEE_BYTES = 100 * 2 ** 20;
/** Holds 100 MB, touched. */
const HOLD = `const b = Buffer.alloc(${ESCAPEE_BYTES}, 1); setInterval(() => b.length, 1 << 30);`;
/** The command: an escapee in a session of its own (setsid -f), then a sleep. $0 node, $1 the program, $2 the marker. */
const ESCAPE = ['sh', '-c', 'setsid -f "$0" -e "$1" "$2"; exec sleep 1000', process.execPath, HOLD];

/** Whether `fn` comes true within `ms`, polled every 50 ms. */
async function within(ms: number, fn: () => Promise<boolean> | boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function escapeeUnderNodewarden(tool: string, sets: Record<string, string | number | boolean>, dir: string, intervalMs: number): Promise<EscapeeResult> {
  const marker = path.join(dir, `escapee-${tool.replace(/\W+/g, '-')}`);
  const d = await BenchDaemon.start({ 'yarn.nodemanager.container-monitor.interval-ms': intervalMs, 'yarn.nodemanager.vmem-check-enabled': false, ...sets });
  try {
    await d.client.post('/v1/containers', { id: 'escaper', command: [...ESCAPE, marker], resources: { memoryMb: 1024, vcores: 1 } });
    await waitUntil('the escapee to hold its memory', async () => anonBytesOf(marker) >= ESCAPEE_BYTES, 30_000, 20);
    let seen = 0;
    const counted = await within(3 * intervalMs + 1000, async () => {
      const v = await d.client.get<ContainerView>('/v1/containers/escaper');
      seen = Math.max(seen, v.usage?.pmemBytes ?? 0);
      return seen >= ESCAPEE_BYTES;
    });
    await d.client.post('/v1/containers/escaper/kill');
    await waitUntil('the container to be DONE', async () => (await d.client.get<ContainerView>('/v1/containers/escaper')).state === 'DONE', 60_000, 20);
    const killed = await within(1000, () => anonBytesOf(marker) === 0);
    return { tool, counted, killed, seenBytes: seen };
  } finally {
    await d.stop();
    killByCommandLine(marker);
  }
}

async function escapeeUnderPm2(dir: string, intervalMs: number): Promise<EscapeeResult> {
  const marker = path.join(dir, 'escapee-pm2');
  const pm2 = await Pm2Daemon.start({ workerIntervalMs: intervalMs });
  try {
    await pm2.start({ name: 'escaper', script: ESCAPE[0]!, args: [...ESCAPE.slice(1), marker], interpreter: 'none', autorestart: false });
    await waitUntil('the escapee to hold its memory', async () => anonBytesOf(marker) >= ESCAPEE_BYTES, 30_000, 20);
    let seen = 0;
    const counted = await within(3 * intervalMs + 1000, async () => {
      const [p] = await pm2.describe('escaper');
      seen = Math.max(seen, p?.monit.memory ?? 0);
      return seen >= ESCAPEE_BYTES;
    });
    await pm2.delete('escaper');
    const killed = await within(1000, () => anonBytesOf(marker) === 0);
    return { tool: 'pm2', counted, killed, seenBytes: seen };
  } finally {
    await pm2.delete('escaper').catch(() => undefined);
    await pm2.stop();
    killByCommandLine(marker);
  }
}

/** Launches/s of `count` `sleep 3600` with cgroups and with process groups, fresh daemons each run, which goes first alternating. */
async function launchCost(runs: number, count: number, warmUp: boolean): Promise<LaunchCost> {
  const withC: number[] = [];
  const without: number[] = [];
  const cost: number[] = [];
  for (let r = warmUp ? -1 : 0; r < runs; r++) {
    const once = async (enabled: 'true' | 'false') => {
      const d = await BenchDaemon.start({ 'nodewarden.cgroups.enabled': enabled });
      try {
        return (await launchRun(d, 'c', count, ['sleep', '3600'])).perSecond;
      } finally {
        await d.stop();
      }
    };
    const cgroupsFirst = r % 2 === 0;
    const b0 = cgroupsFirst ? undefined : await once('false');
    const a = await once('true');
    const b = b0 ?? (await once('false'));
    if (r < 0) continue; // warm-up
    withC.push(a);
    without.push(b);
    cost.push(1 - a / b);
  }
  return { containers: count, withCgroups: figure(withC), withoutCgroups: figure(without), cost: figure(cost) };
}

export async function containmentBench({ intervalMs, launchRuns, launches, warmUp }: { intervalMs: number; launchRuns: number; launches: number; warmUp: boolean }): Promise<ContainmentBenchResult> {
  const { dir, remove } = benchDir('nw-bench-containment-');
  const forget = atExit(() => killByCommandLine(dir));
  const cgroups = cgroupsHere();
  const runs: RunawayPeak[] = [];
  const escapees: EscapeeResult[] = [];
  let launchFigures: LaunchCost | null = null;
  try {
    if (cgroups) {
      // Each BenchDaemon has a cgroup hierarchy of its own, emptied and removed at its stop.
      const sets = { 'nodewarden.cgroups.enabled': 'true' };
      runs.push(await underNodewarden('nodewarden, cgroups', sets, dir, intervalMs));
      runs.push(await underNodewarden('nodewarden, cgroups, YARN strict memory', { ...sets, 'yarn.nodemanager.resource.memory.enabled': true }, dir, intervalMs));
    } else {
      runs.push({ tool: 'nodewarden, cgroups', peakMultiple: null, ended: 'n/a: needs root and cgroup v1 here' });
      runs.push({ tool: 'nodewarden, cgroups, YARN strict memory', peakMultiple: null, ended: 'n/a: needs root and cgroup v1 here' });
    }
    runs.push(await underNodewarden('nodewarden, process groups', { 'nodewarden.cgroups.enabled': 'false' }, dir, intervalMs));
    runs.push(await underPm2(dir, intervalMs));

    // The monitor's tick, for the escapees: how soon a tool's figure can count one (a count never comes for two of them).
    const escapeeInterval = Math.min(intervalMs, warmUp ? 500 : 200);
    escapees.push(
      cgroups
        ? await escapeeUnderNodewarden('nodewarden, cgroups', { 'nodewarden.cgroups.enabled': 'true' }, dir, escapeeInterval)
        : { tool: 'nodewarden, cgroups', counted: null, killed: null, seenBytes: null },
    );
    escapees.push(await escapeeUnderNodewarden('nodewarden, process groups', { 'nodewarden.cgroups.enabled': 'false' }, dir, escapeeInterval));
    escapees.push(await escapeeUnderPm2(dir, escapeeInterval));
    if (cgroups) launchFigures = await launchCost(launchRuns, launches, warmUp);
  } finally {
    killByCommandLine(dir);
    forget();
    remove();
  }
  const goals = { defaultMax: 2.0, strictMax: 1.05, launchCostMax: 0.2 };
  const [withCgroups, strict] = runs;
  return {
    description: `a Node program allocating 1.5 GB as fast as it can against a ${LIMIT_MB} MB limit, every tool checking every ${intervalMs} ms: its peak anonymous memory as a multiple of the limit`,
    intervalMs,
    limitBytes: LIMIT_BYTES,
    runs,
    escapees,
    launches: launchFigures,
    goals,
    met: {
      default: withCgroups!.peakMultiple === null ? null : withCgroups!.peakMultiple <= goals.defaultMax,
      strict: strict!.peakMultiple === null ? null : strict!.peakMultiple <= goals.strictMax,
      launchCost: launchFigures === null ? null : launchFigures.cost.median < goals.launchCostMax,
    },
  };
}
