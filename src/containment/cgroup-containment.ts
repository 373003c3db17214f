/**
 * Containment by cgroup (YARN's LinuxContainerExecutor with cgroups, Mesos's
 * cgroups isolators): a container's processes are its cgroup's members,
 * wherever they setsid or double-fork to. Kills go through the freezer (no
 * fork slips through), pause is the freezer, and the cgroup is removed once
 * the container is DONE and it is empty.
 *
 * A container with no cgroup at all was launched before cgroups were in
 * force (an upgrade, or `auto` finding them only now): it is still held by
 * its process group, and is counted, signalled and confirmed that way.
 */
import type { OomNotice } from '../../state-machines/containers-monitor.js';
import { isDeadState } from '../../state-machines/process-tree.js';
import type { ProcfsReader } from '../procfs/procfs-reader.js';
import type { CgroupDriver, CgroupLimits, CgroupStats } from './cgroup-driver.js';
import { removeCgroupDir } from './cgroup-files.js';
import type { ContainerRef, Containment } from './containment.js';
import type { ProcessGroupContainment } from './process-group.js';

export class CgroupContainment implements Containment {
  readonly needsPlacement = true;

  constructor(
    private readonly driver: CgroupDriver,
    private readonly procfs: ProcfsReader,
    /** For containers launched before cgroups were in force. */
    private readonly groups: ProcessGroupContainment,
  ) {}

  get mode(): CgroupDriver['mode'] {
    return this.driver.mode;
  }

  /** Launched under process groups: no cgroup, its group holds it. */
  private byGroup(id: string): boolean {
    return !this.driver.exists(id);
  }

  prepare(id: string, limits: CgroupLimits): void {
    this.driver.create(id, limits);
  }

  place(c: ContainerRef): void {
    this.driver.place(c.id, c.pid);
  }

  release(id: string): boolean {
    return this.driver.remove(id);
  }

  /** cgroup.procs, less any task that has exited since. */
  members(c: ContainerRef): number[] {
    if (this.byGroup(c.id)) return this.groups.members(c);
    return this.driver.members(c.id).filter((pid) => {
      const stat = this.procfs.readStat(pid);
      // Gone since the read: not a member. Unreadable: counted, to be safe.
      return stat === undefined ? false : stat === null || !isDeadState(stat.state);
    });
  }

  holds(id: string, pid: number): boolean {
    if (this.byGroup(id)) return this.groups.holds();
    return this.driver.members(id).includes(pid);
  }

  /** cgroup.procs as it is: the monitor's scan drops what has exited. Without a cgroup, the tree from the wrapper. */
  monitoredMembers(id: string): readonly number[] | null {
    return this.byGroup(id) ? null : this.driver.members(id);
  }

  terminate(c: ContainerRef): Promise<void> {
    if (this.byGroup(c.id)) return this.groups.terminate(c);
    // Frozen while signalled, thawed after: a paused container wakes to the TERM too.
    return this.driver.signal(c.id, 'SIGTERM');
  }

  kill(c: ContainerRef): Promise<void> {
    if (this.byGroup(c.id)) return this.groups.kill(c);
    return this.driver.signal(c.id, 'SIGKILL');
  }

  async pause(c: ContainerRef): Promise<void> {
    if (this.byGroup(c.id)) return this.groups.pause(c);
    await this.driver.freeze(c.id);
  }

  async resume(c: ContainerRef): Promise<void> {
    if (this.byGroup(c.id)) return this.groups.resume(c);
    this.driver.thaw(c.id);
  }

  orphaned(c: ContainerRef): boolean {
    if (this.byGroup(c.id)) return this.groups.orphaned(c);
    return this.members(c).length > 0;
  }

  stats(id: string): CgroupStats | null {
    return this.driver.stats(id);
  }

  oom(id: string): OomNotice | null {
    return this.driver.oom(id);
  }

  list(): string[] {
    return this.driver.list();
  }

  /** An empty hierarchy goes with the daemon; one still holding containers (kept running) stays for the next start. */
  close(): void {
    if (this.list().length > 0) return;
    for (const dir of this.driver.hierarchyDirs) {
      try {
        removeCgroupDir(dir);
      } catch {
        // not ours to fight over: the next start finds it
      }
    }
  }
}
