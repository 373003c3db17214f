/**
 * Process-tree sampling, per tick, side by side: at 1 / 50 / 200 / 1,000
 * containers of 10 real processes each (the bash wrapper, bash and 8
 * sleepers), and at 10,000 processes in 1,000 trees on a fake procfs.
 * In each run, interleaved, over the same trees:
 *
 * - nodewarden: the monitor tick (one scan for every tree, the limit
 *   decisions, the journal record staged; its commit follows, timed apart);
 * - the floor: list /proc and read every /proc/<pid>/stat once, nothing else,
 *   both ways there are — open/read/close, and with the files held open
 *   between ticks (one pread each, as the tick does, as many as it may hold);
 * - YARN: one ProcfsBasedProcessTree per container, each re-reading all of
 *   procfs on update();
 * - ps: `ps -e -o pid,ppid,rss,vsz,times` run and parsed, the trees summed
 *   (what procps-based tools do);
 * - pidusage + pidtree (pm2's packages): pidtree(root) per container, then
 *   one pidusage call over every pid of the trees — in a process of their own
 *   (bench/pidusage-worker.ts), as in pm2's daemon, with their own open files.
 *
 * The two per-container methods cost containers × a full scan: above 200
 * containers (20 with --quick) YARN's rescans are timed over 20 containers
 * spread evenly and scaled, and above 50 (20 with --quick) pidtree's (a
 * `ps` run each) over 5;
 * the results say which. ps and pidusage read the real /proc only, so on the
 * fake procfs they are not run.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { fileURLToPath } from 'node:url';
import { createBus } from '../src/bus.js';
import { systemClock } from '../src/clock.js';
import { resolveConfig } from '../src/config/load.js';
import { Dispatcher } from '../src/core/dispatcher.js';
import { ContainersMonitor } from '../src/monitor/containers-monitor.js';
import { NodeWarden } from '../src/node/nodewarden.js';
import { ProcfsProcessTree } from '../src/procfs/procfs-process-tree.js';
import { heldFilesCap, ProcfsReader } from '../src/procfs/procfs-reader.js';
import { Store } from '../src/store/store.js';
import { collectTree, indexChildren } from '../state-machines/process-tree.js';
import { atExit, benchDir, benchHierarchy, killContainerGroups, removeBenchHierarchy } from './cleanup.js';
import { figure, type Figure } from './stats.js';

const SLEEPERS = 8; // + the wrapper and its bash: 10 processes a container
const PER_TREE = SLEEPERS + 2;
/** Above `sampleAbove` containers, YARN's rescans are timed over this many containers, spread evenly, and scaled. */
const SAMPLE = 20;
/** pidtree runs ps once per container (~0.5 s each at 10,000 processes): timed over this many above 50 containers (or `sampleAbove`, if lower). */
const PIDTREE_SAMPLE = 5;
const PIDTREE_FULL_UP_TO = 50;
/** Fast methods: the median of this many back-to-back ticks is one run's figure. */
const REPEATS = 7;

export const METHODS = ['tick', 'tickCommit', 'floor', 'floorHeld', 'yarn', 'ps', 'pidusage'] as const;
export type Method = (typeof METHODS)[number];

export const METHOD_NAMES: Record<Method, string> = {
  tick: 'nodewarden monitor tick',
  tickCommit: 'nodewarden tick + its journal commit',
  floor: 'floor: every stat, open/read/close',
  floorHeld: 'floor: every stat, files held (pread)',
  yarn: "YARN's per-container rescan",
  ps: 'ps -e -o pid,ppid,rss,vsz,times, parsed',
  pidusage: 'pidtree per container + pidusage',
};

export interface SizeResult {
  label: string;
  procfs: 'real' | 'fake';
  containers: number;
  processesInTrees: number;
  processesOnMachine: number;
  /** ms per tick; null where the method cannot run (ps and pidusage on a fake procfs). */
  ms: Record<Method, Figure | null>;
  /** Each method's ms over the floor as the issue defines it (every stat read once: open, read, close), run by run. */
  toFloor: Record<Method, Figure | null>;
  /** The tick over the stricter floor that also holds the files open, run by run. */
  tickToHeldFloor: Figure;
  /** Each method's ms over the tick's, run by run. */
  toTick: Record<Method, Figure | null>;
  /** YARN's rescans timed over this many containers and scaled (null: all of them). */
  sampledOver: number | null;
  /** pidtree timed over this many containers and scaled (null: all of them). */
  pidtreeSampledOver: number | null;
}

export interface SamplingBenchResult {
  description: string;
  sizes: SizeResult[];
  goals: { tickToFloorMax: number; yarnToTickMinAt200: number };
  /** tickToFloor: against the floor as the issue defines it; tickToHeldFloor: against the stricter one, for the record. */
  met: { tickToFloor: boolean; tickToHeldFloor: boolean; yarnToTick: boolean | null };
}

function timeMs(fn: () => unknown): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

const medianOf = (n: number, fn: () => number) => figure(Array.from({ length: n }, fn)).median;

/** The floor, open/read/close: every stat read once with the cheapest calls there are. */
function floorOpenRead(root: string, buf: Buffer): number {
  let bytes = 0;
  for (const name of fs.readdirSync(root)) {
    const c = name.charCodeAt(0);
    if (c < 49 || c > 57) continue; // not a pid
    let fd: number;
    try {
      fd = fs.openSync(`${root}/${name}/stat`, 'r');
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

/**
 * The floor with each stat file held open between ticks, one pread per
 * process — as many files as the monitor's reader may hold (a quarter of the
 * open-files limit); the rest are opened and closed each time, as there.
 */
class HeldFloor {
  private readonly fds = new Map<string, number>();
  private readonly cap = heldFilesCap();

  constructor(private readonly root: string) {}

  read(buf: Buffer): number {
    let bytes = 0;
    const seen = new Set<string>();
    for (const name of fs.readdirSync(this.root)) {
      const c = name.charCodeAt(0);
      if (c < 49 || c > 57) continue;
      seen.add(name);
      let fd = this.fds.get(name);
      try {
        if (fd !== undefined) bytes += fs.readSync(fd, buf, 0, buf.length, 0);
        else {
          fd = fs.openSync(`${this.root}/${name}/stat`, 'r');
          if (this.fds.size < this.cap) this.fds.set(name, fd);
          try {
            bytes += fs.readSync(fd, buf, 0, buf.length, 0);
          } finally {
            if (!this.fds.has(name)) fs.closeSync(fd);
          }
        }
      } catch {
        this.drop(name);
      }
    }
    for (const name of this.fds.keys()) if (!seen.has(name)) this.drop(name);
    return bytes;
  }

  close(): void {
    for (const name of [...this.fds.keys()]) this.drop(name);
  }

  private drop(name: string): void {
    const fd = this.fds.get(name);
    this.fds.delete(name);
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** What procps-based tools do: run ps once, parse it, sum each tree. Returns the processes found in the trees. */
function psTick(roots: number[]): number {
  const out = execFileSync('ps', ['-e', '-o', 'pid,ppid,rss,vsz,times'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const rows = new Map<number, { ppid: number; rssKb: number; vszKb: number; cpuSeconds: number }>();
  const lines = out.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/);
    if (f.length < 5) continue;
    rows.set(Number(f[0]), { ppid: Number(f[1]), rssKb: Number(f[2]), vszKb: Number(f[3]), cpuSeconds: Number(f[4]) });
  }
  const children = new Map<number, number[]>();
  for (const [pid, r] of rows) {
    const list = children.get(r.ppid);
    if (list) list.push(pid);
    else children.set(r.ppid, [pid]);
  }
  let found = 0;
  for (const root of roots) {
    let rss = 0;
    let vsz = 0;
    let cpu = 0;
    const todo = rows.has(root) ? [root] : [];
    while (todo.length > 0) {
      const pid = todo.pop()!;
      const r = rows.get(pid)!;
      rss += r.rssKb;
      vsz += r.vszKb;
      cpu += r.cpuSeconds;
      found++;
      for (const c of children.get(pid) ?? []) todo.push(c);
    }
    if (rss < 0 || vsz < 0 || cpu < 0) throw new Error('unreachable: negative sums');
  }
  return found;
}

/** `count` items spread evenly over `all`. */
function spread<T>(all: T[], count: number): T[] {
  if (all.length <= count) return all;
  return Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)]!);
}

/** Every process on the machine under the procfs root. */
function countProcesses(root: string): number {
  return fs.readdirSync(root).filter((n) => /^[1-9][0-9]*$/.test(n)).length;
}

/** A tick source: the real daemon's monitor, or the same monitor over a fake procfs. */
interface Ticker {
  tick(): void;
  durable(): Promise<void>;
}

interface Subject {
  label: string;
  procfs: 'real' | 'fake';
  root: string;
  roots: number[];
  ticker: Ticker;
}

/** Time every method over one set of trees, `runs` times, interleaved. */
async function measure(s: Subject, runs: number, sampleAbove: number, pidusageWorker?: PidusageWorker): Promise<SizeResult> {
  const real = pidusageWorker !== undefined; // ps and pidusage read the real /proc only
  const per = s.roots.length > sampleAbove ? spread(s.roots, SAMPLE) : s.roots;
  const scale = s.roots.length / per.length;
  const perPidtree = s.roots.length > Math.min(sampleAbove, PIDTREE_FULL_UP_TO) ? spread(s.roots, PIDTREE_SAMPLE) : s.roots;
  const pidtreeScale = s.roots.length / perPidtree.length;
  const yarnTrees = per.map((r) => new ProcfsProcessTree(String(r), { procfsRoot: s.root }));
  const yarnTick = () => {
    for (const t of yarnTrees) {
      // ContainersMonitorImpl per container: update (a full scan), sizes, CPU.
      t.update();
      t.virtualMemorySize();
      t.rssMemorySize();
      t.cpuUsagePercent();
    }
  };
  // The pids pidusage is asked about: every process of every tree.
  const reader = new ProcfsReader(s.root);
  const { processes } = reader.scan();
  const children = indexChildren(processes);
  const treePids = s.roots.flatMap((r) => collectTree(r, processes, children).map((p) => p.pid));
  const pidusageTick = () => pidusageWorker!.tick(perPidtree, treePids);
  const held = new HeldFloor(s.root);
  const buf = Buffer.allocUnsafe(4096);

  // Warm-up (the JIT: at small sizes a cold tick costs twice a warm one), and
  // a check that every method sees the same trees.
  const warmUntil = performance.now() + 1000;
  for (let i = 0; i < 30 && (i < 3 || performance.now() < warmUntil); i++) {
    floorOpenRead(s.root, buf);
    held.read(buf);
    s.ticker.tick();
    await s.ticker.durable();
  }
  yarnTick();
  if (real) {
    const found = psTick(s.roots);
    if (found !== treePids.length) throw new Error(`bench: ps found ${found} processes in the trees, the procfs scan ${treePids.length}`);
    const viaPidtree = (await pidusageTick()).found;
    const inScan = perPidtree.reduce((n, root) => n + collectTree(root, processes, children).length, 0);
    if (viaPidtree !== inScan) throw new Error(`bench: pidtree found ${viaPidtree} processes in the trees, the procfs scan ${inScan}`);
    await pidusageTick();
  }

  const runsOf: Record<Method, number[]> = Object.fromEntries(METHODS.map((m) => [m, []])) as unknown as Record<Method, number[]>;
  try {
    for (let r = 0; r < runs; r++) {
      runsOf.floor.push(medianOf(REPEATS, () => timeMs(() => floorOpenRead(s.root, buf))));
      runsOf.floorHeld.push(medianOf(REPEATS, () => timeMs(() => held.read(buf))));
      const ticks: number[] = [];
      const commits: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        const t = performance.now();
        s.ticker.tick();
        ticks.push(performance.now() - t);
        await s.ticker.durable();
        commits.push(performance.now() - t);
      }
      runsOf.tick.push(figure(ticks).median);
      runsOf.tickCommit.push(figure(commits).median);
      runsOf.yarn.push(timeMs(yarnTick) * scale);
      if (real) {
        runsOf.ps.push(medianOf(3, () => timeMs(() => psTick(s.roots))));
        // pidtree calls scale with the containers; the one pidusage call covers them all.
        const { treesMs, usageMs } = await pidusageTick();
        runsOf.pidusage.push(treesMs * pidtreeScale + usageMs);
      }
    }
  } finally {
    held.close();
  }

  const ms = {} as Record<Method, Figure | null>;
  const toFloor = {} as Record<Method, Figure | null>;
  const toTick = {} as Record<Method, Figure | null>;
  for (const m of METHODS) {
    const v = runsOf[m];
    ms[m] = v.length > 0 ? figure(v) : null;
    toFloor[m] = v.length > 0 ? figure(v.map((x, i) => x / runsOf.floor[i]!)) : null;
    toTick[m] = v.length > 0 ? figure(v.map((x, i) => x / runsOf.tick[i]!)) : null;
  }
  return {
    label: s.label,
    procfs: s.procfs,
    containers: s.roots.length,
    processesInTrees: treePids.length,
    processesOnMachine: countProcesses(s.root),
    ms,
    toFloor,
    tickToHeldFloor: figure(runsOf.tick.map((t, i) => t / runsOf.floorHeld[i]!)),
    toTick,
    sampledOver: per.length < s.roots.length ? per.length : null,
    pidtreeSampledOver: real && perPidtree.length < s.roots.length ? perPidtree.length : null,
  };
}

/** bench/pidusage-worker.ts, forked once and driven tick by tick. */
class PidusageWorker {
  private child: ChildProcess | undefined;
  private readonly forget = atExit(() => this.child?.kill('SIGKILL'));

  tick(roots: number[], pids: number[]): Promise<{ treesMs: number; usageMs: number; found: number }> {
    this.child ??= fork(fileURLToPath(new URL('./pidusage-worker.js', import.meta.url)), [], { stdio: 'inherit' });
    const child = this.child;
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('bench: the pidusage worker exited'));
      child.once('exit', onExit);
      child.once('message', (m: { treesMs: number; usageMs: number; found: number } | { error: string }) => {
        child.off('exit', onExit);
        if ('error' in m) reject(new Error(`bench: pidusage worker: ${m.error}`));
        else resolve(m);
      });
      child.send({ roots, pids });
    });
  }

  stop(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
    this.forget();
  }
}

/** The real daemon's core and monitor in this process, containers added size by size. */
async function realSizes(sizes: number[], runs: number, sampleAbove: number, report: (r: SizeResult) => void): Promise<SizeResult[]> {
  const pidusageWorker = new PidusageWorker();
  const { dir, remove } = benchDir('nw-bench-sampling-');
  const workDir = path.join(dir, 'var');
  // The default containment (cgroups as root where the controllers are): the tick reads each container's
  // member list and OOM count from its cgroup. A hierarchy of the bench's own, emptied and removed after.
  const hierarchy = benchHierarchy();
  const forget = atExit(() => (killContainerGroups(workDir), removeBenchHierarchy(hierarchy))); // registered after the dir: runs before its removal
  const config = resolveConfig([
    {
      'yarn.nodemanager.linux-container-executor.cgroups.hierarchy': hierarchy,
      'yarn.nodemanager.resource.memory-mb': 1 << 20,
      'yarn.nodemanager.resource.cpu-vcores': 1 << 16,
      // Ticks only when the bench calls one: no timer tick inside a timed window.
      'yarn.nodemanager.container-monitor.interval-ms': 3_600_000,
      'yarn.nodemanager.sleep-delay-before-sigkill.ms': 100,
    },
  ]);
  const node = new NodeWarden({ config, dbPath: path.join(dir, 'db.sqlite'), workDir, log: pino({ level: 'warn' }) });
  const results: SizeResult[] = [];
  try {
    const script = `for i in $(seq ${SLEEPERS}); do sleep 100000 & done; wait`;
    const reader = new ProcfsReader('/proc');
    for (const size of sizes) {
      for (let i = node.list().length; i < size; i++) {
        await node.launch({ id: `c${i}`, command: ['bash', '-c', script], resources: { memoryMb: 64, vcores: 1 } });
      }
      await until(`${size} containers RUNNING with their trees`, () => {
        const views = node.list();
        if (!views.every((v) => v.state === 'RUNNING')) return false;
        const { processes } = reader.scan();
        const children = indexChildren(processes);
        return views.every((v) => collectTree(v.pid!, processes, children).length >= PER_TREE);
      });
      const roots = node.list().map((v) => v.pid!);
      const r = await measure({ label: `${size} container${size === 1 ? '' : 's'}${node.containment.mode === 'process-group' ? '' : ', cgroups'}`, procfs: 'real', root: '/proc', roots, ticker: { tick: () => node.monitor.tick(), durable: () => node.durable() } }, runs, sampleAbove, pidusageWorker);
      report(r);
      results.push(r);
    }
  } finally {
    pidusageWorker.stop();
    await node.close();
    killContainerGroups(workDir);
    removeBenchHierarchy(hierarchy);
    forget();
    remove();
  }
  return results;
}

/**
 * `trees` trees of 10 processes on a fake procfs, watched by the daemon's own
 * monitor (core and ContainersMonitor as the daemon wires them) with the
 * procfs root pointed at it.
 */
async function fakeSize(trees: number, runs: number, sampleAbove: number): Promise<SizeResult> {
  const { dir, remove } = benchDir('nw-bench-fakeproc-');
  const root = path.join(dir, 'proc');
  const store = new Store(path.join(dir, 'db.sqlite'));
  try {
    const roots: number[] = [];
    let pid = 1000;
    for (let t = 0; t < trees; t++) {
      const top = pid;
      roots.push(top);
      writeFakeProcess(root, { pid: pid++, ppid: 1, pgrp: top, comm: 'bash' });
      const shell = pid;
      writeFakeProcess(root, { pid: pid++, ppid: top, pgrp: top, comm: 'bash' });
      for (let s = 0; s < SLEEPERS; s++) writeFakeProcess(root, { pid: pid++, ppid: shell, pgrp: top, comm: 'sleep' });
    }
    const config = resolveConfig([{ 'nodewarden.procfs.root': root, 'yarn.nodemanager.container-monitor.interval-ms': 3_600_000 }]);
    const log = pino({ level: 'warn' });
    const bus = createBus(log);
    const core = new Dispatcher(store, bus, config, log);
    const monitor = new ContainersMonitor({ config, core, bus, clock: systemClock, log, workDir: dir });
    try {
      roots.forEach((p, i) => core.monitor({ type: 'START_MONITORING', ts: Date.now(), id: `f${i}`, pid: p, resources: { memoryMb: 64, vcores: 1 } }));
      await core.durable();
      return await measure({ label: `${trees * PER_TREE} processes, fake procfs`, procfs: 'fake', root, roots, ticker: { tick: () => monitor.tick(), durable: () => core.durable() } }, runs, sampleAbove);
    } finally {
      monitor.close();
      core.close();
    }
  } finally {
    store.close();
    remove();
  }
}

/** A process's stat line as the kernel writes it (52 fields), and its cmdline. */
function writeFakeProcess(root: string, p: { pid: number; ppid: number; pgrp: number; comm: string }): void {
  const fields = ['S', p.ppid, p.pgrp, p.pgrp, 0, -1, 4194560, 0, 0, 0, 0, 3, 1, 0, 0, 20, 0, 1, 0, 1000, 8_000_000, 500, ...Array<number>(30).fill(0)];
  const dir = path.join(root, String(p.pid));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'stat'), `${p.pid} (${p.comm}) ${fields.join(' ')}\n`);
  fs.writeFileSync(path.join(dir, 'cmdline'), `${p.comm}\0`);
}

async function until(what: string, fn: () => boolean, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `sampleAbove`: above this many containers, the per-container methods are timed over 20 containers and scaled. */
export async function samplingBench(opts: { sizes: number[]; fakeTrees: number; runs: number; sampleAbove: number; report: (r: SizeResult) => void }): Promise<SamplingBenchResult> {
  const sizes = await realSizes(opts.sizes, opts.runs, opts.sampleAbove, opts.report);
  const fake = await fakeSize(opts.fakeTrees, opts.runs, opts.sampleAbove);
  opts.report(fake);
  sizes.push(fake);
  const goals = { tickToFloorMax: 1.5, yarnToTickMinAt200: 20 };
  const at200 = sizes.find((s) => s.procfs === 'real' && s.containers === 200);
  return {
    description:
      'one tick over containers of 10 processes: nodewarden vs the floor (every stat read once: open, read, close; and stricter, with the files held open), YARN per-container rescans, ps, and pidtree + pidusage; ms per tick, and ratios to the floor run by run',
    sizes,
    goals,
    met: {
      tickToFloor: sizes.every((s) => s.toFloor.tick!.median <= goals.tickToFloorMax),
      tickToHeldFloor: sizes.every((s) => s.tickToHeldFloor.median <= goals.tickToFloorMax),
      yarnToTick: at200 ? at200.toTick.yarn!.median >= goals.yarnToTickMinAt200 : null,
    },
  };
}
