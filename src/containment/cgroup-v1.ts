/**
 * cgroup v1: one directory per controller, `<own controller cgroup>/<hierarchy>/<id>`
 * (YARN's CGroupsHandlerImpl layout, under the daemon's own cgroup).
 *
 * - memory: memory.limit_in_bytes, soft_limit_in_bytes, swappiness (YARN's
 *   CGroupsMemoryResourceHandlerImpl keys);
 * - cpu: cpu.shares, cpu.cfs_quota_us / cpu.cfs_period_us;
 * - pids: pids.max;
 * - cpuacct: only read (the statistics);
 * - freezer: pause, and the freeze → signal → thaw of a kill (Mesos's destroy).
 *
 * The member list is the freezer's `cgroup.procs`: every controller holds the
 * same processes, since each is placed in all of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OomNotice } from '../../state-machines/containers-monitor.js';
import { assertCgroupName, parseKeyValues, type CgroupDriver, type CgroupLimits, type CgroupStats, type NodeMemory } from './cgroup-driver.js';
import { EventFdListener, openEventFd } from './eventfd.js';
import { childCgroups, pollUntil, readControl, readPids, removeCgroupDir, signalPids, writeControl } from './cgroup-files.js';
import { V1_CONTROLLERS, type V1Controller } from './detect.js';

/** How long a freeze may take before a kill signals anyway (Mesos re-checks every 100 ms; a task in D state can hold it). */
const FREEZE_TIMEOUT_MS = 5000;

/** What v1 shows for "no limit" (PAGE_COUNTER_MAX pages): anything this large is none. */
const UNLIMITED_V1 = 2 ** 63 - 4096;

/** Whether a v1 memory cgroup (or one above it) is out of memory right now. */
function underOom(memoryDir: string): boolean {
  return parseKeyValues(readControl(memoryDir, 'memory.oom_control')).get('under_oom') === 1;
}

export class CgroupV1 implements CgroupDriver {
  readonly mode = 'cgroup-v1' as const;

  /** `own`: the daemon's own cgroup directory per controller (detect.ts). */
  /** `clockTicks`: USER_HZ, the unit of cpuacct.stat (getconf CLK_TCK). */
  constructor(
    private readonly own: Record<V1Controller, string>,
    private readonly hierarchy: string,
    private readonly clockTicks = 100,
  ) {
    assertCgroupName(hierarchy);
  }

  private dir(controller: V1Controller, id: string): string {
    assertCgroupName(id);
    return path.join(this.own[controller], this.hierarchy, id);
  }

  create(id: string, limits: CgroupLimits): void {
    for (const c of V1_CONTROLLERS) fs.mkdirSync(this.dir(c, id), { recursive: true });
    const memory = this.dir('memory', id);
    if (limits.memoryLimitBytes !== null) writeControl(memory, 'memory.limit_in_bytes', limits.memoryLimitBytes);
    if (limits.memorySoftLimitBytes !== null) writeControl(memory, 'memory.soft_limit_in_bytes', limits.memorySoftLimitBytes);
    if (limits.swappiness !== null) writeControl(memory, 'memory.swappiness', limits.swappiness);
    const cpu = this.dir('cpu', id);
    writeControl(cpu, 'cpu.shares', limits.cpuShares);
    if (limits.cpuQuota) {
      writeControl(cpu, 'cpu.cfs_period_us', limits.cpuQuota.periodUs);
      writeControl(cpu, 'cpu.cfs_quota_us', limits.cpuQuota.quotaUs);
    }
    if (limits.pidsMax !== null) writeControl(this.dir('pids', id), 'pids.max', limits.pidsMax);
  }

  place(id: string, pid: number): void {
    for (const c of V1_CONTROLLERS) writeControl(this.dir(c, id), 'cgroup.procs', pid);
  }

  members(id: string): number[] {
    return readPids(this.dir('freezer', id));
  }

  async freeze(id: string, timeoutMs = FREEZE_TIMEOUT_MS): Promise<boolean> {
    const freezer = this.dir('freezer', id);
    writeControl(freezer, 'freezer.state', 'FROZEN');
    // FREEZING until every task has stopped.
    return pollUntil(() => readControl(freezer, 'freezer.state')?.trim() === 'FROZEN', timeoutMs);
  }

  thaw(id: string): void {
    writeControl(this.dir('freezer', id), 'freezer.state', 'THAWED');
  }

  async signal(id: string, sig: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    if (!fs.existsSync(this.dir('freezer', id))) return;
    // Tasks waiting in an OOM cannot be frozen (the freeze would time out), nor fork: signal them as they are,
    // and thaw a paused container so that its frozen members take the signal.
    if (underOom(this.dir('memory', id))) {
      signalPids(this.members(id), sig);
      this.thaw(id);
      return;
    }
    // Frozen, no member can fork while we read the list; the signal is taken at the thaw.
    await this.freeze(id);
    signalPids(this.members(id), sig);
    this.thaw(id);
  }

  remove(id: string): boolean {
    if (this.members(id).length > 0) return false;
    let removed = true;
    for (const c of V1_CONTROLLERS) removed = removeCgroupDir(this.dir(c, id)) && removed;
    return removed;
  }

  list(): string[] {
    return childCgroups(path.join(this.own.freezer, this.hierarchy));
  }

  limitHierarchyCpu(quota: CgroupLimits['cpuQuota']): void {
    const cpu = path.join(this.own.cpu, this.hierarchy);
    fs.mkdirSync(cpu, { recursive: true });
    if (quota) {
      writeControl(cpu, 'cpu.cfs_period_us', quota.periodUs);
      writeControl(cpu, 'cpu.cfs_quota_us', quota.quotaUs);
    } else if (readControl(cpu, 'cpu.cfs_quota_us')?.trim() !== '-1') {
      writeControl(cpu, 'cpu.cfs_quota_us', -1);
    }
  }

  private get memoryHierarchy(): string {
    return path.join(this.own.memory, this.hierarchy);
  }

  limitHierarchyMemory(limitBytes: number | null): void {
    const memory = this.memoryHierarchy;
    fs.mkdirSync(memory, { recursive: true });
    if (limitBytes !== null) {
      // YARN's order: the kernel's OOM killer off first, so reaching the new limit waits for the handler.
      writeControl(memory, 'memory.oom_control', 1);
      writeControl(memory, 'memory.limit_in_bytes', limitBytes);
      return;
    }
    // The limit first: tasks waiting in an OOM are let go rather than killed.
    if (Number(readControl(memory, 'memory.limit_in_bytes') ?? UNLIMITED_V1) < UNLIMITED_V1) writeControl(memory, 'memory.limit_in_bytes', -1);
    if (parseKeyValues(readControl(memory, 'memory.oom_control')).get('oom_kill_disable') === 1) writeControl(memory, 'memory.oom_control', 0);
  }

  hierarchyMemory(): NodeMemory | null {
    const memory = this.memoryHierarchy;
    const usage = readControl(memory, 'memory.usage_in_bytes')?.trim();
    const limit = readControl(memory, 'memory.limit_in_bytes')?.trim();
    const control = parseKeyValues(readControl(memory, 'memory.oom_control'));
    if (usage === undefined || limit === undefined || !/^\d+$/.test(usage) || !/^\d+$/.test(limit) || !control.has('under_oom')) return null;
    return { usageBytes: Number(usage), limitBytes: Number(limit) >= UNLIMITED_V1 ? Infinity : Number(limit), underOom: control.get('under_oom') === 1 };
  }

  watchHierarchyOom(onNotice: () => void, onError: (err: Error) => void): () => void {
    const control = fs.openSync(path.join(this.memoryHierarchy, 'memory.oom_control'), 'r');
    let efd: number | null = null;
    try {
      efd = openEventFd();
      writeControl(this.memoryHierarchy, 'cgroup.event_control', `${efd} ${control}`);
    } catch (err) {
      if (efd !== null) fs.closeSync(efd);
      fs.closeSync(control);
      throw err;
    }
    const listener = new EventFdListener(efd, onNotice, onError);
    return () => {
      listener.close();
      fs.closeSync(control);
    };
  }

  readonly memoryPressureFile = null;

  memoryUsage(id: string): number | null {
    const usage = readControl(this.dir('memory', id), 'memory.usage_in_bytes')?.trim();
    return usage !== undefined && /^\d+$/.test(usage) ? Number(usage) : null;
  }

  killNow(id: string): void {
    signalPids(this.members(id), 'SIGKILL');
    // A frozen task takes its SIGKILL only once thawed (a paused container chosen as a victim).
    if (fs.existsSync(this.dir('freezer', id))) this.thaw(id);
  }

  get listingDir(): string {
    return path.join(this.own.freezer, this.hierarchy);
  }

  exists(id: string): boolean {
    return fs.existsSync(this.dir('freezer', id));
  }

  get hierarchyDirs(): string[] {
    return V1_CONTROLLERS.map((c) => path.join(this.own[c], this.hierarchy));
  }

  oom(id: string): OomNotice | null {
    const memory = this.dir('memory', id);
    // One read per container and tick; the peak and limit only once there was a kill.
    const kills = parseKeyValues(readControl(memory, 'memory.oom_control')).get('oom_kill') ?? 0;
    if (kills === 0) return null;
    const peak = readControl(memory, 'memory.max_usage_in_bytes');
    const limit = readControl(memory, 'memory.limit_in_bytes');
    if (peak === null || limit === null) return null;
    // It reached its own limit if it has one and its charge ever failed there (failcnt); else the OOM was above it.
    const failcnt = Number(readControl(memory, 'memory.failcnt') ?? 0);
    return { kills, peakBytes: Number(peak), limitBytes: Number(limit), atOwnLimit: Number(limit) < UNLIMITED_V1 && failcnt > 0 };
  }

  stats(id: string): CgroupStats | null {
    const usage = readControl(this.dir('memory', id), 'memory.usage_in_bytes');
    const memory = parseKeyValues(readControl(this.dir('memory', id), 'memory.stat'));
    const cpuacct = parseKeyValues(readControl(this.dir('cpuacct', id), 'cpuacct.stat'));
    if (usage === null || !/^\d+\s*$/.test(usage) || !memory.has('total_rss') || !cpuacct.has('user')) return null;
    const quota = readControl(this.dir('cpu', id), 'cpu.cfs_quota_us')?.trim();
    const cpu = parseKeyValues(readControl(this.dir('cpu', id), 'cpu.stat'));
    const ticks = this.clockTicks;
    return {
      memTotalBytes: Number(usage),
      memRssBytes: memory.get('total_rss')!,
      memCacheBytes: memory.get('total_cache') ?? 0,
      memInactiveFileBytes: memory.get('total_inactive_file') ?? 0,
      memMappedFileBytes: memory.get('total_mapped_file') ?? 0,
      memSwapBytes: memory.get('total_swap') ?? 0,
      cpuUserSecs: cpuacct.get('user')! / ticks,
      cpuSystemSecs: (cpuacct.get('system') ?? 0) / ticks,
      throttling:
        quota !== undefined && quota !== '-1'
          ? { periods: cpu.get('nr_periods') ?? 0, throttled: cpu.get('nr_throttled') ?? 0, throttledSecs: (cpu.get('throttled_time') ?? 0) / 1e9 }
          : null,
    };
  }
}
