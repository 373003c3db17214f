/**
 * Memory-limit enforcement, nodewarden against pm2's `max_memory_restart`:
 * the same hungry program (bench/hungry.ts) under each, with the same limit
 * and the same checking interval (nodewarden's monitor interval, pm2's
 * worker interval — 30 s by default, set with PM2_WORKER_INTERVAL).
 *
 * - Limit to kill: from the moment the program's RSS crossed the limit (it
 *   writes the time) to the moment its pid is gone (polled in /proc every
 *   2 ms). Runs interleaved, nodewarden then pm2, and the crossing falls at a
 *   different phase of the interval in each run.
 * - Child memory: the same program holding its memory in a child process.
 *   nodewarden sums the whole tree; pm2 samples the pid it started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContainerView } from '../src/node/container-view.js';
import { hostFacts } from '../src/procfs/host-facts.js';
import { ProcfsReader } from '../src/procfs/procfs-reader.js';
import { collectTree, indexChildren } from '../state-machines/process-tree.js';
import { atExit, benchDir, killByCommandLine } from './cleanup.js';
import { BenchDaemon, waitUntil } from './daemon.js';
import { Pm2Daemon } from './pm2-daemon.js';
import { figure, type Figure } from './stats.js';

const HUNGRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'hungry.js');
const LIMIT_MB = 256;
const LIMIT_BYTES = LIMIT_MB * 2 ** 20;
/** YARN's exit status for a container killed over its physical memory limit. */
const KILLED_EXCEEDED_PMEM = -104;

interface Crossing {
  pid: number;
  crossedAt: number;
}

/** The program's report: its pid and when its RSS crossed the limit. */
async function crossing(report: string, timeoutMs: number): Promise<Crossing> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return JSON.parse(fs.readFileSync(report, 'utf8')) as Crossing;
    } catch {
      if (Date.now() > deadline) throw new Error(`bench: the hungry program never crossed its limit (${report})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

const procfs = new ProcfsReader('/proc');

/** Gone: no /proc entry, or a zombie (it has exited; only the reaping is left). */
function isGone(pid: number): boolean {
  const stat = procfs.readStat(pid);
  return stat === undefined || stat?.state === 'Z';
}

/** When the pid was first seen gone (epoch ms), or null if it outlived `until`. */
async function goneAt(pid: number, until: number): Promise<number | null> {
  while (!isGone(pid)) {
    if (Date.now() > until) return null;
    await new Promise((r) => setTimeout(r, 2));
  }
  return performance.timeOrigin + performance.now();
}

/** RSS of a process and its descendants (what the limit is about), with the monitor's own scan and tree. */
function treeRssBytes(root: number): number {
  const { processes } = procfs.scan();
  const tree = collectTree(root, processes, indexChildren(processes));
  return tree.reduce((sum, p) => sum + p.rssPages, 0) * hostFacts().pageSize;
}

/**
 * The hungry program's arguments. `ancestors`: how many of its ancestors the
 * tool counts with it (nodewarden sums the launch wrapper's tree, pm2 the pid
 * alone), so that its crossing is the crossing the tool sees.
 */
const command = (report: string, delayMs: number, ancestors: number, child: boolean) => [
  HUNGRY, report, String(LIMIT_BYTES), String(Math.round(delayMs)), String(ancestors), ...(child ? ['--child'] : []),
];
/** Under nodewarden the program's parent is the launch wrapper, part of the tree the monitor sums. */
const NODEWARDEN_ANCESTORS = 1;
const PM2_ANCESTORS = 0;

interface Outcome {
  /** Crossing → gone, ms; null when it was not killed within the window. */
  limitToGoneMs: number | null;
  /** What the tool reported for the program's memory while over the limit. */
  reportedBytes: number | null;
  /** Child mode: the program's whole tree, from /proc, over the limit (0 otherwise). */
  treeBytes: number;
}

async function underNodewarden(d: BenchDaemon, id: string, dir: string, delayMs: number, windowMs: number, child = false): Promise<Outcome & { exitStatus: number }> {
  const report = path.join(dir, `nodewarden-${id}.json`);
  const { pid: root } = await d.client.post<ContainerView>('/v1/containers', {
    id,
    command: [process.execPath, ...command(report, delayMs, NODEWARDEN_ANCESTORS, child)],
    resources: { memoryMb: LIMIT_MB, vcores: 1 },
  });
  const c = await crossing(report, delayMs + 30_000);
  // The watch starts at once: nothing else runs between the crossing and the first look.
  const watching = goneAt(c.pid, c.crossedAt + windowMs);
  // The tree's size, for the child-memory line only: a walk of /proc that can
  // hold the watch's next look back by its own ~20 ms (not in the timed runs).
  const treeBytes = child ? treeRssBytes(root ?? c.pid) : 0;
  const gone = await watching;
  let view!: ContainerView;
  await waitUntil(`${id} to finish`, async () => (view = await d.client.get<ContainerView>(`/v1/containers/${id}`)).state === 'DONE', 30_000, 10);
  if (gone !== null && view.exitStatus !== KILLED_EXCEEDED_PMEM) throw new Error(`bench: ${id} ended with exit status ${view.exitStatus}, not killed for memory: ${view.diagnostics}`);
  return { limitToGoneMs: gone === null ? null : gone - c.crossedAt, reportedBytes: view.usage?.pmemBytes ?? null, treeBytes, exitStatus: view.exitStatus };
}

async function underPm2(pm2: Pm2Daemon, name: string, dir: string, delayMs: number, windowMs: number, child = false): Promise<Outcome> {
  const report = path.join(dir, `pm2-${name}.json`);
  await pm2.start({ name, script: process.execPath, args: command(report, delayMs, PM2_ANCESTORS, child), interpreter: 'none', max_memory_restart: LIMIT_BYTES });
  const c = await crossing(report, delayMs + 30_000);
  const gone = await goneAt(c.pid, c.crossedAt + windowMs);
  // Not killed: what pm2 says of the process now (it samples on each call), next to the tree's real RSS.
  const [after] = await pm2.describe(name);
  const root = gone === null ? (after?.pid ?? c.pid) : c.pid;
  const treeBytes = gone === null ? treeRssBytes(root) : 0;
  if (gone !== null) {
    // pm2 restarts it: let the restart finish, or a delete racing it orphans the new copy.
    await waitUntil(`pm2 to restart ${name}`, async () => {
      const [p] = await pm2.describe(name);
      return p !== undefined && p.pm2_env.status === 'online' && p.pid !== root;
    }, 30_000, 10);
  }
  await pm2.delete(name);
  return { limitToGoneMs: gone === null ? null : gone - c.crossedAt, reportedBytes: gone === null ? (after?.monit.memory ?? null) : null, treeBytes };
}

export interface EnforcementBenchResult {
  description: string;
  intervalMs: number;
  limitBytes: number;
  nodewarden: { limitToKillMs: Figure; exitStatus: number };
  pm2: { limitToKillMs: Figure; defaultWorkerIntervalMs: number };
  ratio: Figure;
  childMemory: {
    nodewarden: { seen: boolean; limitToKillMs: number | null; treeBytes: number };
    pm2: { seen: boolean; limitToKillMs: number | null; reportedBytes: number | null; treeBytes: number; observedMs: number };
  };
  goals: { limitToKillMsMax: number };
  met: { limitToKill: boolean; childMemorySeen: boolean };
}

/** `quick`: pm2 is watched for 1 s past three checks, not 5 s, to see that it never counts a child's memory (the figure that matters, what it reports against the tree, is the same). */
export async function enforcementBench({ runs, warmUp, intervalMs, quick = false }: { runs: number; warmUp: boolean; intervalMs: number; quick?: boolean }): Promise<EnforcementBenchResult> {
  const { dir, remove } = benchDir('nw-bench-hungry-');
  // Every copy of the program names this dir: none may outlive the bench, whoever lost track of it.
  const forget = atExit(() => killByCommandLine(dir));
  const d = await BenchDaemon.start({
    'yarn.nodemanager.container-monitor.interval-ms': intervalMs,
    'yarn.nodemanager.vmem-check-enabled': false, // Node reserves far more address space than it uses
    'nodewarden.executor.allowance.memory-mb': 0, // the limit is exactly the request, like max_memory_restart
  });
  let pm2: Pm2Daemon | undefined;
  // A kill that has not come 3 intervals after the crossing (and 5 s more, for a loaded machine) is not coming.
  const windowMs = 3 * intervalMs + 5000;
  try {
    pm2 = await Pm2Daemon.start({ workerIntervalMs: intervalMs });
    const nw: number[] = [];
    const pm: number[] = [];
    const ratio: number[] = [];
    let exitStatus = 0;
    for (let r = warmUp ? -1 : 0; r < runs; r++) {
      // Older than one tick when it crosses (nodewarden's aged-process rule), at a new phase each run.
      const delayMs = 1.5 * intervalMs + ((r + 1) / (runs + 1)) * intervalMs;
      const a = await underNodewarden(d, `self-${r + 1}`, dir, delayMs, windowMs);
      const b = await underPm2(pm2, `self-${r + 1}`, dir, delayMs, windowMs);
      if (a.limitToGoneMs === null || b.limitToGoneMs === null) {
        throw new Error(`bench: no kill within ${windowMs} ms of crossing the limit (nodewarden ${a.limitToGoneMs}, pm2 ${b.limitToGoneMs})`);
      }
      if (r < 0) continue; // warm-up
      exitStatus = a.exitStatus;
      nw.push(a.limitToGoneMs);
      pm.push(b.limitToGoneMs);
      ratio.push(b.limitToGoneMs / a.limitToGoneMs);
    }
    const delayMs = 2 * intervalMs;
    const nwChild = await underNodewarden(d, 'child', dir, delayMs, windowMs, true);
    const childWindowMs = quick ? 3 * intervalMs + 1000 : windowMs;
    const pmChild = await underPm2(pm2, 'child', dir, delayMs, childWindowMs, true);
    const goals = { limitToKillMsMax: intervalMs + 100 };
    const nwFigure = figure(nw);
    return {
      description:
        `the same program crossing a ${LIMIT_MB} MB limit under nodewarden (pmem check) and pm2 (max_memory_restart), both checking every ${intervalMs} ms: ` +
        'crossing → pid gone; then with the memory held by a child process',
      intervalMs,
      limitBytes: LIMIT_BYTES,
      nodewarden: { limitToKillMs: nwFigure, exitStatus },
      pm2: { limitToKillMs: figure(pm), defaultWorkerIntervalMs: 30_000 },
      ratio: figure(ratio),
      childMemory: {
        nodewarden: { seen: nwChild.limitToGoneMs !== null, limitToKillMs: nwChild.limitToGoneMs, treeBytes: nwChild.treeBytes },
        pm2: { seen: pmChild.limitToGoneMs !== null, limitToKillMs: pmChild.limitToGoneMs, reportedBytes: pmChild.reportedBytes, treeBytes: pmChild.treeBytes, observedMs: childWindowMs },
      },
      goals,
      met: { limitToKill: nwFigure.max <= goals.limitToKillMsMax, childMemorySeen: nwChild.limitToGoneMs !== null },
    };
  } finally {
    await pm2?.stop();
    await d.stop();
    killByCommandLine(dir);
    forget();
    remove();
  }
}
