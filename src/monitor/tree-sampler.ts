/**
 * One procfs scan per tick for every tracked container: read every
 * /proc/<pid>/stat once, index parent → children once, then walk each
 * container's tree from its root. The cost is one scan plus the trees, not
 * containers × scan as in YARN (where each ProcfsBasedProcessTree rescans).
 *
 * Command lines are read only for processes in a tracked tree and only when
 * first seen (or after an exec changed the name): they feed the dump in a
 * kill message, and reading every one every tick would double the scan.
 */
import type { Logger } from 'pino';
import { collectTree, indexChildren, type ProcessSample, type ProcessStat } from '../../state-machines/process-tree.js';
import { ProcfsReader } from '../procfs/procfs-reader.js';

interface CmdlineEntry {
  startTime: number;
  comm: string;
  cmdline: string;
}

export interface TreeSamplerOptions {
  procfsRoot: string;
  smapsBasedRss: boolean;
  log: Logger;
}

export class TreeSampler {
  readonly reader: ProcfsReader;
  private readonly smaps: boolean;
  private readonly log: Logger;
  private readonly cmdlines = new Map<number, CmdlineEntry>();
  /** Corrupt stat lines are reported once per pid, not every tick. */
  private readonly reportedCorrupt = new Set<number>();

  constructor(opts: TreeSamplerOptions) {
    this.reader = new ProcfsReader(opts.procfsRoot, { keepOpen: true });
    this.smaps = opts.smapsBasedRss;
    this.log = opts.log;
  }

  /** container id → its tree (root first; empty when the root is gone), all from one scan. */
  sample(roots: ReadonlyMap<string, number>): Record<string, ProcessSample[]> {
    const { processes, corrupt } = this.reader.scan();
    this.reportCorrupt(corrupt);
    const samples: Record<string, ProcessSample[]> = {};
    if (roots.size === 0) return samples;
    const children = indexChildren(processes);
    const seen = new Set<number>();
    for (const [id, pid] of roots) {
      samples[id] = collectTree(pid, processes, children).map((p) => {
        seen.add(p.pid);
        return this.enrich(p);
      });
    }
    for (const pid of this.cmdlines.keys()) if (!seen.has(pid)) this.cmdlines.delete(pid);
    return samples;
  }

  /** Adds the command line (and smaps) to a process of this scan, in place: the scan's objects are fresh each tick. */
  private enrich(p: ProcessStat): ProcessSample {
    let entry = this.cmdlines.get(p.pid);
    if (entry === undefined || entry.startTime !== p.startTime || entry.comm !== p.comm) {
      entry = { startTime: p.startTime, comm: p.comm, cmdline: this.reader.readCmdline(p.pid) };
      this.cmdlines.set(p.pid, entry);
    }
    const sample = p as ProcessSample;
    sample.cmdline = entry.cmdline;
    if (this.smaps) sample.anonymousKb = this.reader.readAnonymousKb(p.pid);
    return sample;
  }

  /** Release the stat files held open between scans. */
  close(): void {
    this.reader.close();
  }

  private reportCorrupt(corrupt: number[]): void {
    for (const pid of corrupt) {
      if (this.reportedCorrupt.has(pid)) continue;
      this.reportedCorrupt.add(pid);
      this.log.warn({ pid, procfsRoot: this.reader.root }, 'unparsable stat line: process skipped');
    }
    if (this.reportedCorrupt.size > 10_000) this.reportedCorrupt.clear();
  }
}
