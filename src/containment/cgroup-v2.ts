/**
 * cgroup v2: one directory, `<own>/<hierarchy>/<id>`, with the controllers
 * enabled on the way down (`+memory +cpu +pids` in each parent's
 * `cgroup.subtree_control`, as YARN's CGroupsV2HandlerImpl does).
 *
 * - memory.max (hard), memory.low (YARN's soft limit; v2 has no swappiness);
 * - cpu.weight from the shares (YARN: min(100 × vcores, 10000), so 1024 per
 *   vcore maps to 100), cpu.max "<quota> <period>";
 * - pids.max;
 * - the freezer is built in: cgroup.freeze, confirmed by `frozen 1` in
 *   cgroup.events; a SIGKILL is cgroup.kill, which the kernel applies to
 *   every member at once, forks included.
 *
 * The kernel keeps processes out of a cgroup whose subtree_control is set
 * (no internal processes), so the daemon itself must not sit in `<own>`
 * when the hierarchy is enabled there. When it is the only process there
 * (systemd's Delegate=yes gives a service its cgroup), it moves itself into
 * a leaf of its own, `<own>/<hierarchy>.daemon`, as systemd asks delegated
 * services to; it never moves any other process (detect.ts refuses v2 when
 * there are others).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OomNotice } from '../../state-machines/containers-monitor.js';
import { assertCgroupName, parseKeyValues, type CgroupDriver, type CgroupLimits, type CgroupStats, type NodeMemory } from './cgroup-driver.js';
import { childCgroups, pollUntil, readControl, readPids, removeCgroupDir, signalPids, writeControl } from './cgroup-files.js';
import { V2_CONTROLLERS } from './detect.js';

const FREEZE_TIMEOUT_MS = 5000;
/** v2: memory that cannot be reclaimed, as a share of memory.high, at which the node counts as out of memory. */
const V2_OOM_SHARE = 0.98;

/** YARN's v2 cpu.weight: 100 per vcore (1024 shares), within the kernel's 1–10000. */
export function cpuWeightOf(shares: number): number {
  return Math.min(10_000, Math.max(1, Math.round((shares * 100) / 1024)));
}

export class CgroupV2 implements CgroupDriver {
  readonly mode = 'cgroup-v2' as const;

  constructor(
    private readonly own: string,
    private readonly hierarchy: string,
    /** The daemon's pid: the one process it may move (itself). */
    private readonly selfPid = process.pid,
  ) {
    assertCgroupName(hierarchy);
  }

  private dir(id: string): string {
    assertCgroupName(id);
    return path.join(this.own, this.hierarchy, id);
  }

  /** The controllers, enabled for the hierarchy's children: in `<own>` and in `<own>/<hierarchy>`. */
  private enableControllers(): void {
    const enable = V2_CONTROLLERS.map((c) => `+${c}`).join(' ');
    const top = path.join(this.own, this.hierarchy);
    this.leaveOwnCgroup();
    fs.mkdirSync(top, { recursive: true });
    for (const dir of [this.own, top]) {
      const enabled = new Set((readControl(dir, 'cgroup.subtree_control') ?? '').trim().split(/\s+/));
      if (V2_CONTROLLERS.some((c) => !enabled.has(c))) writeControl(dir, 'cgroup.subtree_control', enable);
    }
  }

  /** The daemon, alone in `<own>`, moves into `<own>/<hierarchy>.daemon`: `<own>` may then enable controllers. */
  private leaveOwnCgroup(): void {
    const held = readPids(this.own);
    if (held.length === 0) return;
    if (held.some((pid) => pid !== this.selfPid)) {
      throw new Error(`cgroup v2: ${this.own} holds processes other than the daemon (${held.join(' ')}), so it cannot enable controllers for its children`);
    }
    const leaf = path.join(this.own, `${this.hierarchy}.daemon`);
    fs.mkdirSync(leaf, { recursive: true });
    writeControl(leaf, 'cgroup.procs', this.selfPid);
  }

  create(id: string, limits: CgroupLimits): void {
    this.enableControllers();
    const dir = this.dir(id);
    fs.mkdirSync(dir, { recursive: true });
    if (limits.memoryLimitBytes !== null) writeControl(dir, 'memory.max', limits.memoryLimitBytes);
    if (limits.memorySoftLimitBytes !== null) writeControl(dir, 'memory.low', limits.memorySoftLimitBytes);
    writeControl(dir, 'cpu.weight', cpuWeightOf(limits.cpuShares));
    if (limits.cpuQuota) writeControl(dir, 'cpu.max', `${limits.cpuQuota.quotaUs} ${limits.cpuQuota.periodUs}`);
    if (limits.pidsMax !== null) writeControl(dir, 'pids.max', limits.pidsMax);
  }

  place(id: string, pid: number): void {
    writeControl(this.dir(id), 'cgroup.procs', pid);
  }

  members(id: string): number[] {
    return readPids(this.dir(id));
  }

  async freeze(id: string, timeoutMs = FREEZE_TIMEOUT_MS): Promise<boolean> {
    const dir = this.dir(id);
    writeControl(dir, 'cgroup.freeze', 1);
    return pollUntil(() => /^frozen 1$/m.test(readControl(dir, 'cgroup.events') ?? ''), timeoutMs);
  }

  thaw(id: string): void {
    writeControl(this.dir(id), 'cgroup.freeze', 0);
  }

  async signal(id: string, sig: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const dir = this.dir(id);
    if (!fs.existsSync(dir)) return;
    if (sig === 'SIGKILL') {
      writeControl(dir, 'cgroup.kill', 1);
      return;
    }
    await this.freeze(id);
    signalPids(this.members(id), sig);
    this.thaw(id);
  }

  remove(id: string): boolean {
    if (this.members(id).length > 0) return false;
    return removeCgroupDir(this.dir(id));
  }

  list(): string[] {
    return childCgroups(path.join(this.own, this.hierarchy));
  }

  limitHierarchyCpu(quota: CgroupLimits['cpuQuota']): void {
    this.enableControllers();
    const top = path.join(this.own, this.hierarchy);
    if (quota) writeControl(top, 'cpu.max', `${quota.quotaUs} ${quota.periodUs}`);
    else if (!(readControl(top, 'cpu.max') ?? 'max').startsWith('max')) writeControl(top, 'cpu.max', 'max');
  }

  /**
   * v2 has no oom_control: memory.high (YARN's choice) throttles and reclaims
   * at the limit rather than killing, and the handler takes memory back.
   */
  limitHierarchyMemory(limitBytes: number | null): void {
    this.enableControllers();
    const top = path.join(this.own, this.hierarchy);
    if (limitBytes !== null) writeControl(top, 'memory.high', limitBytes);
    else if ((readControl(top, 'memory.high') ?? 'max').trim() !== 'max') writeControl(top, 'memory.high', 'max');
  }

  hierarchyMemory(): NodeMemory | null {
    const top = path.join(this.own, this.hierarchy);
    const current = readControl(top, 'memory.current')?.trim();
    const high = readControl(top, 'memory.high')?.trim();
    if (current === undefined || high === undefined || !/^\d+$/.test(current) || !/^(\d+|max)$/.test(high)) return null;
    const limitBytes = high === 'max' ? Infinity : Number(high);
    // At memory.high the kernel reclaims and throttles; page cache alone is no OOM. Out of memory is what it
    // cannot reclaim without swap (anon, shmem, kernel memory) within 2 % of the limit.
    const stat = parseKeyValues(readControl(top, 'memory.stat'));
    const unreclaimable = (stat.get('anon') ?? 0) + (stat.get('shmem') ?? 0) + (stat.get('kernel') ?? stat.get('kernel_stack') ?? 0);
    return { usageBytes: Number(current), limitBytes, underOom: unreclaimable >= limitBytes * V2_OOM_SHARE };
  }

  /** memory.events changes (its `high` count) are file events the kernel sends to inotify: fs.watch hears them. */
  watchHierarchyOom(onNotice: () => void, onError: (err: Error) => void): () => void {
    const watcher = fs.watch(path.join(this.own, this.hierarchy, 'memory.events'), () => onNotice());
    watcher.on('error', onError);
    return () => watcher.close();
  }

  get memoryPressureFile(): string {
    return path.join(this.own, this.hierarchy, 'memory.pressure');
  }

  memoryUsage(id: string): number | null {
    const current = readControl(this.dir(id), 'memory.current')?.trim();
    return current !== undefined && /^\d+$/.test(current) ? Number(current) : null;
  }

  killNow(id: string): void {
    const dir = this.dir(id);
    if (!fs.existsSync(dir)) return;
    try {
      writeControl(dir, 'cgroup.kill', 1);
    } catch {
      // cgroup.kill is Linux 5.14+: before it, every member by hand.
      signalPids(this.members(id), 'SIGKILL');
    }
  }

  get listingDir(): string {
    return path.join(this.own, this.hierarchy);
  }

  exists(id: string): boolean {
    return fs.existsSync(this.dir(id));
  }

  get hierarchyDirs(): string[] {
    return [path.join(this.own, this.hierarchy)];
  }

  oom(id: string): OomNotice | null {
    const dir = this.dir(id);
    // One read per container and tick; the peak and limit only once there was a kill.
    const kills = parseKeyValues(readControl(dir, 'memory.events')).get('oom_kill') ?? 0;
    if (kills === 0) return null;
    // memory.peak is there from Linux 5.19; before it, the current usage is the best known.
    const peak = readControl(dir, 'memory.peak') ?? readControl(dir, 'memory.current');
    const max = readControl(dir, 'memory.max')?.trim();
    if (peak === null || max === undefined) return null;
    // `oom` counts the times its own memory.max was reached; an OOM above it (the node) is counted there, not here.
    const atOwnLimit = max !== 'max' && (parseKeyValues(readControl(dir, 'memory.events')).get('oom') ?? 0) > 0;
    return { kills, peakBytes: Number(peak), limitBytes: max === 'max' ? Number.MAX_SAFE_INTEGER : Number(max), atOwnLimit };
  }

  stats(id: string): CgroupStats | null {
    const dir = this.dir(id);
    const current = readControl(dir, 'memory.current');
    const memory = parseKeyValues(readControl(dir, 'memory.stat'));
    const cpu = parseKeyValues(readControl(dir, 'cpu.stat'));
    if (current === null || !/^\d+\s*$/.test(current) || !memory.has('anon') || !cpu.has('user_usec')) return null;
    const swap = readControl(dir, 'memory.swap.current');
    const max = readControl(dir, 'cpu.max')?.trim();
    return {
      memTotalBytes: Number(current),
      memRssBytes: memory.get('anon')!,
      memCacheBytes: memory.get('file') ?? 0,
      memInactiveFileBytes: memory.get('inactive_file') ?? 0,
      memMappedFileBytes: memory.get('file_mapped') ?? 0,
      memSwapBytes: swap !== null && /^\d+\s*$/.test(swap) ? Number(swap) : 0,
      cpuUserSecs: cpu.get('user_usec')! / 1e6,
      cpuSystemSecs: (cpu.get('system_usec') ?? 0) / 1e6,
      throttling:
        max !== undefined && !max.startsWith('max')
          ? { periods: cpu.get('nr_periods') ?? 0, throttled: cpu.get('nr_throttled') ?? 0, throttledSecs: (cpu.get('throttled_usec') ?? 0) / 1e6 }
          : null,
    };
  }
}
