/**
 * Containment by process group, YARN's DefaultContainerExecutor way: the
 * wrapper is a session and group leader, one signal to `-pid` reaches every
 * process that stayed in its group. A process that calls setsid, or a daemon
 * that double-forks into its own group, escapes both the kill and the count:
 * that is what cgroups fix.
 */
import type { Logger } from 'pino';
import { isDeadState } from '../../state-machines/process-tree.js';
import type { ProcfsReader } from '../procfs/procfs-reader.js';
import type { ContainerRef, Containment } from './containment.js';

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

export class ProcessGroupContainment implements Containment {
  readonly mode = 'process-group' as const;
  /** setsid in the wrapper's spawn makes the group: nothing to place, make or remove. */
  readonly needsPlacement = false;
  private procfsWarned = false;

  prepare(): void {}
  place(): void {}
  release(): boolean {
    return true;
  }
  monitoredMembers(): null {
    return null;
  }
  list(): string[] {
    return [];
  }
  stats(): null {
    return null;
  }
  oom(): null {
    return null;
  }

  constructor(
    private readonly procfs: ProcfsReader,
    private readonly log: Logger,
  ) {}

  /**
   * The group's members that are not zombies. `kill(-pgid, 0)` answers "does
   * the group still hold any task", but zombies count there, and a zombie
   * whose parent is gone may never be reaped (an init that does not reap
   * orphans): so when the group answers, procfs is scanned.
   */
  members(c: ContainerRef): number[] {
    const pgid = c.pid;
    try {
      process.kill(-pgid, 0);
    } catch (e) {
      if (errno(e) === 'ESRCH') return [];
      // EPERM: members exist that we may not signal; look at procfs.
    }
    let pids: number[];
    try {
      pids = this.procfs.listPids();
    } catch (e) {
      if (!this.procfsWarned) {
        this.procfsWarned = true;
        this.log.warn({ err: e }, 'cannot scan procfs; treating process groups as alive');
      }
      return [pgid];
    }
    const live: number[] = [];
    for (const pid of pids) {
      const stat = this.procfs.readStat(pid);
      if (stat && stat.pgrp === pgid && !isDeadState(stat.state)) live.push(pid);
    }
    return live;
  }

  private signal(c: ContainerRef, sig: NodeJS.Signals): void {
    try {
      process.kill(-c.pid, sig);
    } catch (e) {
      if (errno(e) !== 'ESRCH') this.log.error({ container: c.id, pid: c.pid, sig, err: e }, 'cannot signal container process group');
    }
  }

  // Signalled at once, before the promise is returned: callers that do not wait still have the signal sent.
  async terminate(c: ContainerRef): Promise<void> {
    this.signal(c, 'SIGTERM');
    // A paused (SIGSTOPped) group can only act on the TERM once continued.
    this.signal(c, 'SIGCONT');
  }

  async kill(c: ContainerRef): Promise<void> {
    this.signal(c, 'SIGKILL');
  }

  async pause(c: ContainerRef): Promise<void> {
    this.signal(c, 'SIGSTOP');
  }

  async resume(c: ContainerRef): Promise<void> {
    this.signal(c, 'SIGCONT');
  }

  /**
   * Members left in a session and group the wrapper led, though it is gone.
   * The kernel hands out no pid still in use as a session or group id, so
   * these are the container's.
   */
  orphaned(c: ContainerRef): boolean {
    return this.members(c).some((m) => this.procfs.readStat(m)?.session === c.pid);
  }

  holds(): boolean {
    return true;
  }

  close(): void {}
}
