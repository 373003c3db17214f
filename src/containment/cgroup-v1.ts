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
import { assertCgroupName, parseKeyValues, type CgroupDriver, type CgroupLimits, type CgroupStats } from './cgroup-driver.js';
import { childCgroups, pollUntil, readControl, readPids, removeCgroupDir, signalPids, writeControl } from './cgroup-files.js';
import { V1_CONTROLLERS, type V1Controller } from './detect.js';

/** How long a freeze may take before a kill signals anyway (Mesos re-checks every 100 ms; a task in D state can hold it). */
const FREEZE_TIMEOUT_MS = 5000;

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
    return { kills, peakBytes: Number(peak), limitBytes: Number(limit) };
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
