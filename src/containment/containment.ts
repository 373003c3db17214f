/**
 * How a container's processes are held together and signalled, whatever
 * holds them: a process group led by the wrapper (process-group.ts), or a
 * cgroup (the cgroup drivers). The launcher asks this, never the OS
 * directly, so the kill, pause and "is anything left" rules are the same for
 * both (Mesos puts each isolator behind one interface the same way).
 */
import type { OomNotice } from '../../state-machines/containers-monitor.js';
import type { CgroupLimits, CgroupStats } from './cgroup-driver.js';
import type { ContainmentMode } from './detect.js';

/** A container as the launcher knows it: its id and its wrapper's pid (the process-group leader). */
export interface ContainerRef {
  id: string;
  pid: number;
}

export interface Containment {
  readonly mode: ContainmentMode;
  /**
   * The wrapper must be placed (`place`) before it runs the command: it waits
   * for the daemon's word on its stdin (launch-script.ts).
   */
  readonly needsPlacement: boolean;
  /** Before the spawn: make what will hold the container, with its limits. */
  prepare(id: string, limits: CgroupLimits): void;
  /** After the spawn, before the word: move the wrapper in. */
  place(c: ContainerRef): void;
  /** Once it is empty: remove what held it. False while it still holds processes. */
  release(id: string): boolean;
  /** What its cgroup accounts for it (Mesos's statistics sources); null for process groups, or a cgroup gone. */
  stats(id: string): CgroupStats | null;
  /** The kernel's OOM kills at its cgroup limit; null when there was none, for process groups, or a cgroup gone. */
  oom(id: string): OomNotice | null;
  /** The ids of every container something is held for now (cgroups under the hierarchy; none for process groups). */
  list(): string[];
  /** Its live members (zombies are not: they have exited). */
  members(c: ContainerRef): number[];
  /**
   * Recovery: does what holds the container hold this process? A cgroup
   * must have it as a member; a process group has no record to ask, so pid
   * and start time alone decide.
   */
  holds(id: string, pid: number): boolean;
  /**
   * What the monitor counts as the container's processes: the cgroup's
   * members, wherever they went; or null, to walk the process tree from the
   * wrapper (a process group: the tree also follows children that left it).
   */
  monitoredMembers(id: string): readonly number[] | null;
  /** SIGTERM to every member, and a paused container woken so it can act on it. */
  terminate(c: ContainerRef): Promise<void>;
  /** SIGKILL to every member. */
  kill(c: ContainerRef): Promise<void>;
  /** Stop every member (SIGSTOP, or the freezer). */
  pause(c: ContainerRef): Promise<void>;
  resume(c: ContainerRef): Promise<void>;
  /**
   * Recovery: members left behind by a wrapper that died while nobody
   * watched. They are still the container's, and die with it.
   */
  orphaned(c: ContainerRef): boolean;
  /** The daemon stops: what holds no container any more is removed (the hierarchy, when empty). */
  close(): void;
}
