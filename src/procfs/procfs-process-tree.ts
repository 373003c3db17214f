/**
 * YARN's ProcfsBasedProcessTree (SPEC §9): one process tree, re-read from
 * procfs on every update(), as a library. Like YARN, each update scans the
 * whole procfs; the daemon's monitor instead scans once per tick for all
 * containers (src/monitor/tree-sampler.ts) — both build and sum trees with
 * the same functions (state-machines/process-tree.ts), so their numbers agree.
 */
import { newCpuTracker, jiffyLengthMs, sampleCpu, type CpuTracker } from '../../state-machines/cpu-tracker.js';
import { processTreeDump } from '../../state-machines/process-tree-dump.js';
import {
  ageTree,
  collectTree,
  indexChildren,
  rssMemorySize,
  totalJiffies,
  UNAVAILABLE,
  virtualMemorySize,
  type Ages,
  type ProcessSample,
} from '../../state-machines/process-tree.js';
import { hostFacts } from './host-facts.js';
import { PID_PATTERN, ProcfsReader } from './procfs-reader.js';

export interface ProcfsProcessTreeOptions {
  /** Default '/proc'. */
  procfsRoot?: string;
  /** RSS from smaps (Anonymous of non-shared mappings). Default false. */
  smapsBasedRss?: boolean;
  /** ms; default Date.now. */
  clock?: () => number;
  /** Default `getconf PAGESIZE`. */
  pageSize?: number;
  /** CLK_TCK; default `getconf CLK_TCK`. */
  clockTicks?: number;
}

export class ProcfsProcessTree {
  private readonly rootPid: number | null;
  private readonly reader: ProcfsReader;
  private readonly smaps: boolean;
  private readonly clock: () => number;
  private readonly pageSize: number;
  private readonly jiffyMs: number;
  private members: ProcessSample[] = [];
  private ages: Ages = new Map();
  private cpu: CpuTracker;
  private cumulativeMs = UNAVAILABLE;

  /** A root pid that is not `^[1-9][0-9]*$` gives a tree that is always empty (YARN's deadPid). */
  constructor(rootPid: string, opts: ProcfsProcessTreeOptions = {}) {
    this.rootPid = PID_PATTERN.test(rootPid) ? Number(rootPid) : null;
    this.reader = new ProcfsReader(opts.procfsRoot ?? '/proc');
    this.smaps = opts.smapsBasedRss ?? false;
    this.clock = opts.clock ?? Date.now;
    this.pageSize = opts.pageSize ?? hostFacts().pageSize;
    this.jiffyMs = jiffyLengthMs(opts.clockTicks ?? hostFacts().clockTicks);
    this.cpu = newCpuTracker(this.jiffyMs);
  }

  /** Re-read procfs: rebuild the tree from the root, age the processes seen before. */
  update(): void {
    if (this.rootPid === null) return;
    const { processes } = this.reader.scan();
    const tree = collectTree<ProcessSample>(this.rootPid, processes, indexChildren<ProcessSample>(processes));
    this.ages = ageTree(this.ages, tree);
    // Command lines are read when dumped, as YARN does.
    if (this.smaps) for (const p of tree) p.anonymousKb = this.reader.readAnonymousKb(p.pid);
    this.members = tree;
    if (tree.length > 0) this.cumulativeMs = Math.max(this.cumulativeMs, totalJiffies(tree) * this.jiffyMs);
  }

  /** Σ vsize (bytes) of processes older than `olderThanAge` updates; -1 when the tree is empty. */
  virtualMemorySize(olderThanAge = 0): number {
    return virtualMemorySize(this.members, this.ages, olderThanAge);
  }

  /** Σ rss (bytes), or smaps Anonymous in smaps mode; -1 when the tree is empty. */
  rssMemorySize(olderThanAge = 0): number {
    return rssMemorySize(this.members, this.ages, olderThanAge, { pageSize: this.pageSize, smaps: this.smaps });
  }

  /** Σ (utime + stime) × jiffy ms of the tree, never decreasing; -1 until a process was seen. */
  cumulativeCpuTimeMs(): number {
    return this.cumulativeMs;
  }

  /** CPU percent since the last sample (100 = one core); -1 until a second sample. */
  cpuUsagePercent(): number {
    this.cpu = sampleCpu(this.cpu, totalJiffies(this.members), this.clock());
    return this.cpu.percent;
  }

  processTreeDump(): string {
    return processTreeDump(this.members.map((p) => ({ ...p, cmdline: this.reader.readCmdline(p.pid) })));
  }

  /** The tree's pids, root first (breadth-first). */
  pids(): string[] {
    return this.members.map((p) => String(p.pid));
  }

  /** The age of a member (updates it has been seen in a row), 0 if not in the tree. */
  ageOf(pid: string): number {
    return this.ages.get(Number(pid)) ?? 0;
  }
}
