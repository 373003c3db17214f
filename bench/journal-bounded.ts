/**
 * The journal kept to its retention window (issue 23): the database stops
 * growing, the pruner does not hold up the event loop, and a day's journal
 * replays in bounded memory. Everything runs through the live path on a
 * stepped clock (SteppedNode: the Dispatcher on a real SQLite file, the
 * journal pruner and the container GC on their intervals).
 *
 * Growth: short jobs without end — one arrives every tick (3 s) and runs a
 * minute — under a 3-minute window, a pass every 45 s, finished containers
 * forgotten after 30 s. The database file and its WAL, and the export's
 * lines, after 10×, 100× and 1,000× the window's worth of containers.
 *
 * A day: 200 jobs at all times, each running 30 min to 2 h and replaced as
 * it ends, one in ten killed for memory at its end, at the default settings
 * (a 24 h window, a pass every hour, finished containers kept 3 h). Its
 * journal is exported and replayed with --check by the CLI in a child
 * process (wall time, peak RSS). Then the day goes on, and each pass of the
 * pruner cuts the oldest hour of it: timed, with the event-loop delay it
 * causes (perf_hooks). The database then holds a full window: its bytes per
 * container-hour.
 * --quick runs up to 30× the window, and a "day" of 15 minutes (a 15 min
 * window, one pass).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { TrackedContainer } from '../state-machines/containers-monitor.js';
import type { ProcessSample } from '../state-machines/process-tree.js';
import { exportJournal, exportLines } from '../src/journal/export.js';
import { atExit, benchDir, killQuietly } from './cleanup.js';
import { prng } from './prng.js';
import { figure, type Figure } from './stats.js';
import { jobTree, SteppedNode } from './stepped-node.js';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'nodewarden.js');
const TICK_MS = 3000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** Growth: a 3-minute window; a job arrives every tick and runs a minute. */
const GROWTH = { retentionHours: 0.05, finishedRetentionMs: 30_000, lifeMs: MINUTE_MS };
const PER_WINDOW = (GROWTH.retentionHours * HOUR_MS) / TICK_MS;

/** The day: jobs at all times, and how long each runs. */
const DAY_JOBS = 200;
const LIFE_MS = { min: 30 * MINUTE_MS, max: 120 * MINUTE_MS };
/** Resident pages of a job (under its 256 MiB + 32 MiB limit), and of one that grows past it in its last minutes. */
const PAGES = 20_000;
const HOG_PAGES = 200_000;

/** The event-loop delay goal while a pass runs (p99, ms). */
const DELAY_P99_MS_MAX = 20;
/** Flat: the database at the last point within this of the first. */
const FLAT_MAX = 1.1;

export interface GrowthPoint {
  /** The window's worth of containers run so far, times. */
  windows: number;
  containers: number;
  dbBytes: number;
  walBytes: number;
  /** dbBytes + walBytes over the containers of one window. */
  bytesPerWindowContainer: number;
  exportLines: number;
}

export interface BoundedBenchResult {
  description: string;
  growth: {
    retentionHours: number;
    pruneIntervalMs: number;
    finishedRetentionMs: number;
    tickMs: number;
    /** A job arrives every tick and runs this long. */
    lifeMs: number;
    containersPerWindow: number;
    points: GrowthPoint[];
    /** The database at the last point over the first. */
    lastToFirst: number;
    goal: number;
    met: boolean;
  };
  replay: {
    hours: number;
    containers: number;
    tickMs: number;
    records: number;
    bytes: number;
    wallMs: number;
    peakRssMb: number;
    output: string;
  };
  pruner: {
    containers: number;
    /** Each pass cuts this much of the oldest records. */
    cutMs: number;
    passes: number;
    rowsPerPass: Figure;
    passMs: Figure;
    delayP99Ms: Figure;
    delayMaxMs: Figure;
    /** Database and WAL once the window is full (the window and an interval of records), and that per container-hour. */
    fullBytes: number;
    bytesPerContainerHour: number;
    goal: number;
    met: boolean;
  };
}

export async function journalBoundedBench({ quick, runs }: { quick: boolean; runs: number }): Promise<BoundedBenchResult> {
  const { dir, remove } = benchDir('nw-bench-bounded-');
  try {
    // Quick: the suite runs it (test/bench.test.ts), so a few seconds; goals are judged on the full run.
    const growth = await growthBench(path.join(dir, 'growth.sqlite'), quick ? [10, 30] : [10, 100, 1000]);
    const { replay, pruner } = await dayBench(dir, quick ? 0.25 : 24, quick ? 1 : runs);
    return {
      description: 'the journal kept to its window: database bytes and export lines as containers run; a pass of the pruner and the event-loop delay with 200 containers monitored; replay --check of a day of 200 containers by the CLI',
      growth,
      replay,
      pruner,
    };
  } finally {
    remove();
  }
}

/** Short jobs without end; the database and the export at each multiple of the window's worth of containers. */
async function growthBench(file: string, windows: number[]): Promise<BoundedBenchResult['growth']> {
  const node = new SteppedNode(file, { 'nodewarden.journal.retention-hours': GROWTH.retentionHours, 'nodewarden.containers.finished-retention-ms': GROWTH.finishedRetentionMs });
  const living: Array<{ id: string; until: number }> = [];
  const points: GrowthPoint[] = [];
  let launched = 0;
  for (const w of windows) {
    while (launched < w * PER_WINDOW) {
      while (living.length > 0 && living[0]!.until <= node.now) node.exit(living.shift()!.id);
      const id = `job_${launched++}`;
      node.launch(id);
      living.push({ id, until: node.now + GROWTH.lifeMs });
      // A job a tick: `launched` counts the ticks too.
      await node.step(TICK_MS, (t) => jobTree(t, launched, PAGES));
    }
    const { db, wal } = node.onDisk();
    points.push({ windows: w, containers: launched, dbBytes: db, walBytes: wal, bytesPerWindowContainer: Math.round((db + wal) / PER_WINDOW), exportLines: (await exportLines(file)).length });
  }
  const intervalMs = node.pruner.intervalMs;
  await node.close();
  const bytes = (p: GrowthPoint) => p.dbBytes + p.walBytes;
  const lastToFirst = bytes(points.at(-1)!) / bytes(points[0]!);
  return {
    ...GROWTH,
    pruneIntervalMs: intervalMs,
    tickMs: TICK_MS,
    containersPerWindow: PER_WINDOW,
    points,
    lastToFirst,
    goal: FLAT_MAX,
    met: lastToFirst <= FLAT_MAX,
  };
}

/**
 * 200 jobs at all times on the default settings, for `hours`; the journal
 * exported and replayed by the CLI; then, `runs` times, another interval of
 * the day and a pass of the pruner that cuts the oldest one.
 */
async function dayBench(dir: string, hours: number, runs: number): Promise<Pick<BoundedBenchResult, 'replay' | 'pruner'>> {
  const file = path.join(dir, 'day.sqlite');
  const day = new Day(new SteppedNode(file, { 'nodewarden.journal.retention-hours': hours }));
  await day.run(hours * HOUR_MS, true);
  const journal = path.join(dir, 'day.ndjson');
  const records = await exportTo(file, journal);
  const passes: Pass[] = [];
  const cutMs = day.node.pruner.intervalMs;
  for (let r = 0; r < runs; r++) {
    await day.run(cutMs, false);
    passes.push(await day.timedPass());
  }
  // The window and an interval: the most the database holds at these settings.
  const { db, wal } = day.node.onDisk();
  const fullBytes = db + wal;
  await day.node.close();
  const replayed = await replayInChild(journal);
  const delayP99Ms = figure(passes.map((p) => p.p99));
  return {
    replay: { hours, containers: DAY_JOBS, tickMs: TICK_MS, records, bytes: fs.statSync(journal).size, ...replayed },
    pruner: {
      containers: DAY_JOBS,
      cutMs,
      passes: runs,
      rowsPerPass: figure(passes.map((p) => p.rows)),
      passMs: figure(passes.map((p) => p.ms)),
      delayP99Ms,
      delayMaxMs: figure(passes.map((p) => p.max)),
      fullBytes,
      bytesPerContainerHour: Math.round(fullBytes / DAY_JOBS / ((hours * HOUR_MS + cutMs) / HOUR_MS)),
      goal: DELAY_P99_MS_MAX,
      met: delayP99Ms.max < DELAY_P99_MS_MAX,
    },
  };
}

interface Pass {
  ms: number;
  rows: number;
  /** Event-loop delay during the pass, ms. */
  p99: number;
  max: number;
}

/** The day's jobs: each slot holds one, replaced when its time is up; one in ten outgrows its limit at the end. */
class Day {
  private readonly random = prng(23);
  private readonly slots: Array<{ id: string; until: number }> = [];
  /** The jobs that outgrow their limit: when they end. */
  private readonly hogs = new Map<string, number>();
  private launched = 0;
  private readonly started: number;

  constructor(readonly node: SteppedNode) {
    this.started = node.now;
  }

  /** `ms` more of the day, a tick at a time (`prune`: the pruner passes on its interval, as the daemon's would). */
  async run(ms: number, prune: boolean): Promise<void> {
    for (const end = this.node.now + ms; this.node.now < end; ) {
      this.turnOver();
      await this.node.step(TICK_MS, (t) => this.tree(t), { prune });
    }
  }

  /**
   * One pass of the pruner, with the event-loop delay it causes: the slices
   * of its cut, the commit of its checkpoint (every container known, the
   * monitor's 200 trees) and of the WAL.
   */
  async timedPass(): Promise<Pass> {
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const started = performance.now();
    const rows = await this.node.pruner.run();
    const ms = performance.now() - started;
    delay.disable();
    await this.node.settle();
    return { ms, rows, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 };
  }

  /** Jobs whose time is up end (those killed for memory already have), and new ones take their slots. */
  private turnOver(): void {
    const now = this.node.now;
    for (let i = 0; i < DAY_JOBS; i++) {
      const slot = this.slots[i];
      if (slot !== undefined && slot.until > now) continue;
      if (slot !== undefined) {
        this.node.exit(slot.id);
        this.hogs.delete(slot.id);
      }
      const id = `job_${this.launched++}`;
      this.node.launch(id);
      // The first ones end at random times, so the turnover is even from the start.
      const life = LIFE_MS.min + this.random() * (LIFE_MS.max - LIFE_MS.min);
      const until = now + (slot === undefined ? this.random() * life : life);
      this.slots[i] = { id, until };
      if (this.launched % 10 === 7) this.hogs.set(id, until);
    }
  }

  private tree(t: TrackedContainer): ProcessSample[] {
    const tick = (this.node.now - this.started) / TICK_MS;
    const hogging = (this.hogs.get(t.id) ?? Infinity) - this.node.now < 2 * MINUTE_MS;
    return jobTree(t, tick, hogging ? HOG_PAGES : PAGES + (tick % 100));
  }
}

/** The journal as `journal export` writes it, streamed to a file; how many records. */
async function exportTo(db: string, file: string): Promise<number> {
  const out = fs.createWriteStream(file);
  const records = await exportJournal(db, 0, (chunk) => new Promise<void>((resolve) => (out.write(chunk) ? resolve() : out.once('drain', resolve))));
  await new Promise((resolve) => out.end(resolve));
  return records;
}

/** Written to stderr as the CLI exits: its peak RSS, from its own rusage. */
const MAX_RSS_HOOK = `data:text/javascript,import fs from "node:fs"; process.on("exit", () => fs.writeSync(2, "\\nmax-rss-kb " + process.resourceUsage().maxRSS + "\\n"))`;

/** `nodewarden replay FILE --check` in a child process: its wall time, peak RSS and report. */
async function replayInChild(journal: string): Promise<{ wallMs: number; peakRssMb: number; output: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', MAX_RSS_HOOK, BIN, 'replay', journal, '--check'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const forget = atExit(() => killQuietly(child.pid));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const wallMs = performance.now() - started;
  forget();
  const rss = /max-rss-kb (\d+)/.exec(stderr);
  if (code !== 0 || !stdout.startsWith('replay matches the journal') || rss === null) throw new Error(`bench: replay --check of the day's journal failed (exit ${code}): ${stdout}${stderr}`);
  return { wallMs, peakRssMb: Number(rss[1]) / 1024, output: stdout.trim() };
}
