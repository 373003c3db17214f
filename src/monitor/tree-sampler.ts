/**
 * One procfs scan per tick for every tracked container: read every
 * /proc/<pid>/stat once, index parent → children once, then walk each
 * container's tree from its root (or, in a cgroup, take its members from
 * the same scan). The cost is one scan plus the trees, not containers × scan
 * as in YARN (where each ProcfsBasedProcessTree rescans).
 *
 * Command lines are only needed for the dump in a kill message, so they are
 * not read here: the monitor asks for them (fresh, as YARN reads them at dump
 * time) for the trees that are over a limit this tick.
 */
import type { Logger } from 'pino';
import { collectMembers, collectTree, indexChildren, type ProcessSample } from '../../state-machines/process-tree.js';
import { ProcfsReader } from '../procfs/procfs-reader.js';

export interface TreeSamplerOptions {
  procfsRoot: string;
  smapsBasedRss: boolean;
  /**
   * A container's members when something holds them (its cgroup's
   * cgroup.procs), or null to walk the tree from its root (process groups).
   */
  membersOf?: (id: string) => readonly number[] | null;
  log: Logger;
}

export class TreeSampler {
  readonly reader: ProcfsReader;
  private readonly smaps: boolean;
  private readonly membersOf: (id: string) => readonly number[] | null;
  private readonly log: Logger;
  /** Corrupt stat lines are reported once per pid, not every tick. */
  private readonly reportedCorrupt = new Set<number>();

  constructor(opts: TreeSamplerOptions) {
    this.reader = new ProcfsReader(opts.procfsRoot, { keepOpen: true });
    this.smaps = opts.smapsBasedRss;
    this.membersOf = opts.membersOf ?? (() => null);
    this.log = opts.log;
  }

  /** container id → its tree (root first; empty when the root is gone), all from one scan. */
  sample(roots: ReadonlyMap<string, number>): Record<string, ProcessSample[]> {
    const samples: Record<string, ProcessSample[]> = {};
    if (roots.size === 0) {
      this.reader.close(); // nothing to watch: hold no files
      return samples;
    }
    const { processes, corrupt } = this.reader.scan();
    this.reportCorrupt(corrupt);
    const children = indexChildren<ProcessSample>(processes);
    for (const [id, pid] of roots) {
      const members = this.membersOf(id);
      const tree = members === null ? collectTree<ProcessSample>(pid, processes, children) : collectMembers<ProcessSample>(pid, members, processes);
      if (this.smaps) for (const p of tree) p.anonymousKb = this.reader.readAnonymousKb(p.pid);
      samples[id] = tree;
    }
    return samples;
  }

  /** Read each process's command line now, into its sample (the scan's objects are fresh each tick). */
  addCommandLines(tree: ProcessSample[]): void {
    for (const p of tree) p.cmdline = this.reader.readCmdline(p.pid);
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
