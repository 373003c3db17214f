/**
 * The process-tree math of YARN's ProcfsBasedProcessTree, pure: which
 * processes belong to a tree, how old each is, and what the tree adds up to.
 * The procfs reading is the shell's (src/procfs); the library's
 * ProcfsProcessTree and the daemon's one-scan-per-tick monitor both build
 * their trees and sums with these functions, so their numbers are the same.
 */

/** One process from the first line of `/proc/<pid>/stat` (YARN ProcessInfo). */
export interface ProcessStat {
  pid: number;
  /** Executable name, without the parentheses. */
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** User and system time, in clock ticks (jiffies). */
  utime: number;
  stime: number;
  numThreads: number;
  /** Clock ticks since boot when the process started: pid + startTime names a process. */
  startTime: number;
  /** Virtual memory, bytes. */
  vsize: number;
  /** Resident set, pages. */
  rssPages: number;
}

/**
 * A process as the monitor samples it: its stat; its command line as the dump
 * prints it, read only for a tree over a limit (the only trees whose dump can
 * be asked for); and in smaps mode the `Anonymous:` kB of its private
 * mappings (undefined when smaps could not be read).
 */
export interface ProcessSample extends ProcessStat {
  cmdline?: string;
  anonymousKb?: number;
}

/** pid → age: how many consecutive updates each member of the tree has been seen. */
export type Ages = ReadonlyMap<number, number>;

/** A zombie (Z) or a dead task (X, x) has exited: it is no member of anything any more. */
export function isDeadState(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

/** Sizes and CPU are UNAVAILABLE (-1) for a tree with no process. */
export const UNAVAILABLE = -1;

/**
 * Parent → children over one scan. Every process except pid 1 is its ppid's
 * child, except that an orphan adopted by init (ppid 1) that is not a session
 * leader belongs to its session leader: a daemonized grandchild stays in its
 * container's tree.
 */
export function indexChildren<P extends ProcessStat>(all: ReadonlyMap<number, P>): Map<number, P[]> {
  const children = new Map<number, P[]>();
  for (const p of all.values()) {
    if (p.pid === 1) continue;
    const parent = p.ppid === 1 && p.pid !== p.session ? p.session : p.ppid;
    if (!all.has(parent)) continue;
    const list = children.get(parent);
    if (list === undefined) children.set(parent, [p]);
    else list.push(p);
  }
  return children;
}

/**
 * The tree under `rootPid`, breadth-first from the root; empty when the root
 * is not in the scan. Each process is taken once, so a ppid cycle in a
 * corrupt procfs cannot loop.
 */
export function collectTree<P extends ProcessStat>(rootPid: number, all: ReadonlyMap<number, P>, children: ReadonlyMap<number, P[]>): P[] {
  const root = all.get(rootPid);
  if (root === undefined) return [];
  const tree = [root];
  const seen = new Set<number>([rootPid]);
  for (let i = 0; i < tree.length; i++) {
    const kids = children.get(tree[i]!.pid);
    if (kids === undefined) continue;
    for (const kid of kids) {
      if (seen.has(kid.pid)) continue;
      seen.add(kid.pid);
      tree.push(kid);
    }
  }
  return tree;
}

/**
 * A container's tree when a cgroup says who its members are: those of the
 * scan, root first (when it is still a member), then by pid. A member the
 * scan did not see (gone since, or a corrupt line) is left out, as in a walk.
 */
export function collectMembers<P extends ProcessStat>(rootPid: number, members: readonly number[], all: ReadonlyMap<number, P>): P[] {
  const tree: P[] = [];
  const root = members.includes(rootPid) ? all.get(rootPid) : undefined;
  if (root !== undefined) tree.push(root);
  for (const pid of [...new Set(members)].sort((a, b) => a - b)) {
    const p = pid === rootPid ? undefined : all.get(pid);
    if (p !== undefined) tree.push(p);
  }
  return tree;
}

/** YARN updateAge: a process in the previous tree is one update older; a new one is 1. */
export function ageTree(previous: Ages, members: readonly ProcessStat[]): Map<number, number> {
  const ages = new Map<number, number>();
  for (const p of members) ages.set(p.pid, (previous.get(p.pid) ?? 0) + 1);
  return ages;
}

function ageOf(ages: Ages, pid: number): number {
  return ages.get(pid) ?? 1;
}

/** YARN getVirtualMemorySize(olderThanAge): Σ vsize of members older than the age; -1 for an empty tree. */
export function virtualMemorySize(members: readonly ProcessStat[], ages: Ages, olderThanAge = 0): number {
  if (members.length === 0) return UNAVAILABLE;
  let total = 0;
  for (const p of members) if (ageOf(ages, p.pid) > olderThanAge) total += p.vsize;
  return total;
}

/**
 * YARN getRssMemorySize(olderThanAge): Σ rss pages × page size, or in smaps
 * mode Σ `Anonymous:` kB × 1024 of the mappings that are not `r--s`/`r-xs`
 * (the memory a kill gives back). -1 for an empty tree.
 */
export function rssMemorySize(
  members: readonly ProcessSample[] | readonly ProcessStat[],
  ages: Ages,
  olderThanAge: number,
  opts: { pageSize: number; smaps: boolean },
): number {
  if (members.length === 0) return UNAVAILABLE;
  let total = 0;
  for (const p of members) {
    if (ageOf(ages, p.pid) <= olderThanAge) continue;
    total += opts.smaps ? ((p as ProcessSample).anonymousKb ?? 0) : p.rssPages;
  }
  return opts.smaps ? total * 1024 : total * opts.pageSize;
}

/** Σ (utime + stime) in clock ticks: what the CPU tracker is fed. */
export function totalJiffies(members: readonly ProcessStat[]): number {
  let total = 0;
  for (const p of members) total += p.utime + p.stime;
  return total;
}
