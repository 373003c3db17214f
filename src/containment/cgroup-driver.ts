/**
 * One container's cgroup, whichever the version: the operations the
 * launcher, the monitor, recovery and the GC need, behind one interface, as
 * Mesos puts each isolator behind one. cgroup-v1.ts and cgroup-v2.ts
 * implement it over their own files.
 *
 * Every container cgroup is `<own>/<hierarchy>/<id>`: beneath the daemon's
 * own cgroup, never above it.
 */

import type { OomNotice } from '../../state-machines/containers-monitor.js';

/** What a container's cgroup is limited to. Null: no limit written. */
export interface CgroupLimits {
  /** The kernel's hard limit (v1 memory.limit_in_bytes, v2 memory.max). */
  memoryLimitBytes: number | null;
  /** YARN's soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low). */
  memorySoftLimitBytes: number | null;
  /** v1 memory.swappiness (v2 has none). */
  swappiness: number | null;
  /** v1 cpu.shares (1024 × vcores; OPPORTUNISTIC 2). v2 gets cpu.weight from it. */
  cpuShares: number;
  /** CFS quota and period in µs (strict CPU), or null for none. */
  cpuQuota: { quotaUs: number; periodUs: number } | null;
  /** The most tasks it may have (pids.max): a fork bomb stops there. */
  pidsMax: number | null;
}

/** What a container's cgroup says of itself: Mesos's ResourceStatistics sources (SPEC §10). */
export interface CgroupStats {
  /** v1 memory.usage_in_bytes, v2 memory.current. */
  memTotalBytes: number;
  /** v1 memory.stat total_rss, v2 anon. */
  memRssBytes: number;
  /** v1 total_cache, v2 file. */
  memCacheBytes: number;
  /** v1 total_inactive_file, v2 inactive_file: cache the kernel reclaims first (cAdvisor's working set leaves it out). */
  memInactiveFileBytes: number;
  /** v1 total_mapped_file, v2 file_mapped. */
  memMappedFileBytes: number;
  /** v1 total_swap, v2 memory.swap.current (0 where swap is not accounted). */
  memSwapBytes: number;
  /** v1 cpuacct.stat user/system ÷ USER_HZ, v2 cpu.stat user_usec/system_usec. */
  cpuUserSecs: number;
  cpuSystemSecs: number;
  /** CFS throttling from cpu.stat, only when a quota is set. */
  throttling: { periods: number; throttled: number; throttledSecs: number } | null;
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat) as numbers; a line that is not one is skipped. */
export function parseKeyValues(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^([a-z_]+) (\d{1,19})$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export interface CgroupDriver {
  readonly mode: 'cgroup-v1' | 'cgroup-v2';
  /** Create the container's cgroup with its limits. Idempotent: an existing one gets the limits again. */
  create(id: string, limits: CgroupLimits): void;
  /** Move one process in (the wrapper, before it starts the command: nothing it starts is ever outside). */
  place(id: string, pid: number): void;
  /** Its members' pids; empty when it is empty or gone. */
  members(id: string): number[];
  /** Stop every member (pause); resolves once the kernel says frozen, false if it did not within the timeout. */
  freeze(id: string, timeoutMs?: number): Promise<boolean>;
  thaw(id: string): void;
  /**
   * Signal every member with no window for a fork to slip through: freeze,
   * signal, thaw (Mesos's destroy); on v2 a SIGKILL is `cgroup.kill`.
   */
  signal(id: string, sig: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Remove it once empty; false while it still has members. Missing is removed. */
  remove(id: string): boolean;
  /** The ids of every container cgroup under the hierarchy (the GC's and recovery's view). */
  list(): string[];
  /** `<own>/<hierarchy>`, per controller (v1) or once (v2). */
  readonly hierarchyDirs: string[];
  /** The one of them that lists the containers and their members (v1: the freezer's): what one daemon holds. */
  readonly listingDir: string;
  /** Whether the container has a cgroup at all (one launched before cgroups were in force has none). */
  exists(id: string): boolean;
  /**
   * The node-level CPU limit on the hierarchy, above every container (YARN
   * CGroupsCpuResourceHandlerImpl's bootstrap); null lifts one left before.
   */
  limitHierarchyCpu(quota: CgroupLimits['cpuQuota']): void;
  /** Its own accounting, or null when it is gone or unreadable. */
  stats(id: string): CgroupStats | null;
  /** The kernel's OOM kills in it at its memory limit, with its peak and that limit; null when there was none (or it is gone). */
  oom(id: string): OomNotice | null;

  // The node cgroup: the hierarchy as a whole (YARN's elastic memory control).

  /**
   * Hold every container together to `limitBytes`, with the kernel waiting
   * for the daemon's OOM handler instead of killing (v1: memory.limit_in_bytes
   * and memory.oom_control 1; v2: memory.high, which throttles instead of
   * killing). null lifts both, the kernel's own OOM killer back in charge.
   */
  limitHierarchyMemory(limitBytes: number | null): void;
  /** The hierarchy's charge and limit, and whether it is out of memory now (v1 under_oom; v2 memory.current at memory.high). null: unreadable. */
  hierarchyMemory(): NodeMemory | null;
  /**
   * Call `onNotice` when the kernel says the hierarchy is out of memory (v1:
   * an eventfd on memory.oom_control; v2: inotify on memory.events). Returns
   * the function that stops listening. Throws when the kernel refuses.
   */
  watchHierarchyOom(onNotice: () => void, onError: (err: Error) => void): () => void;
  /** The node cgroup's own PSI file (v2 memory.pressure: the containers' stalls only); null on v1, which has none. */
  readonly memoryPressureFile: string | null;
  /** A container cgroup's charge now (v1 memory.usage_in_bytes, v2 memory.current); null when gone or unreadable. */
  memoryUsage(id: string): number | null;
  /**
   * SIGKILL every member at once, without the freezer (YARN's OOM handler):
   * a task waiting in the OOM cannot be frozen, but dies of a SIGKILL.
   */
  killNow(id: string): void;
}

/** The node cgroup's memory, as elastic memory control reads it. */
export interface NodeMemory {
  usageBytes: number;
  /** What is written; Infinity for none. */
  limitBytes: number;
  underOom: boolean;
}

/** A container id is one path component; the launcher checks this already, the driver again. */
export function assertCgroupName(id: string): void {
  if (id === '' || id === '.' || id === '..' || id.includes('/') || id.includes('\0')) {
    throw new RangeError(`not a cgroup name: ${JSON.stringify(id)}`);
  }
}
