/**
 * Who runs now, who waits, who makes room: YARN's ContainerScheduler, pure.
 *
 * The scheduler holds the node's capacity, the containers it has started
 * (their resources allocated until they complete) and two queues. It answers
 * each request with decisions — launch this one, kill that one — that the
 * daemon turns into events and effects; it performs nothing itself.
 *
 * - GUARANTEED containers are queued, and the queue is started in order while
 *   the head fits: a big one at the head makes the ones behind it wait.
 *   If one is still queued, enough OPPORTUNISTIC containers are killed
 *   (newest first, KILLED_BY_CONTAINER_SCHEDULER) to make room for it.
 * - OPPORTUNISTIC containers start when they fit and no GUARANTEED one waits;
 *   otherwise they queue up to the configured length, beyond which they are
 *   refused (killed with -108, "Opportunistic container queue is full.").
 *
 * Difference from YARN: with the opportunistic queue length at 0, YARN starts
 * GUARANTEED containers without looking at resources, trusting the
 * ResourceManager not to over-commit the node. nodewarden has no
 * ResourceManager in front of it, so it always enforces the capacity.
 */
import { ExitStatus } from './exit-status.js';
import type { ExecutionType } from './types.js';

/** Resources as the scheduler counts them: vcores in thousandths, so allowances add exactly. */
export interface Allocation {
  memoryMb: number;
  milliVcores: number;
}

export type SchedulerDecision =
  | { type: 'LAUNCH_CONTAINER'; id: string }
  | { type: 'KILL_CONTAINER'; id: string; exitStatus: number; diagnostics: string };

export const QUEUE_FULL = 'Opportunistic container queue is full.';
export const PREEMPTED_FOR_GUARANTEED = 'Container Killed to make room for Guaranteed Container.';

interface Entry {
  need: Allocation;
  executionType: ExecutionType;
}

/** A container the scheduler holds, as a checkpoint writes it. */
export interface HeldContainer {
  id: string;
  need: Allocation;
  executionType: ExecutionType;
}

/** The scheduler's whole state, each list in its order (a journal checkpoint carries it, and replay goes on from it). */
export interface SchedulerSnapshot {
  /** Started and not yet completed, in the order they started (reclaiming kills the newest first). */
  running: HeldContainer[];
  queuedGuaranteed: HeldContainer[];
  queuedOpportunistic: HeldContainer[];
  /** Told to die to make room, or dying: their room is as good as free. */
  beingKilled: string[];
}

const add = (a: Allocation, b: Allocation): Allocation => ({
  memoryMb: a.memoryMb + b.memoryMb,
  milliVcores: a.milliVcores + b.milliVcores,
});
const fitsIn = (need: Allocation, room: Allocation): boolean =>
  need.memoryMb <= room.memoryMb && need.milliVcores <= room.milliVcores;

export class ContainerScheduler {
  private readonly running = new Map<string, Entry>();
  private readonly queuedGuaranteed = new Map<string, Entry>();
  private readonly queuedOpportunistic = new Map<string, Entry>();
  /** Opportunistic containers already told to die for room: not counted twice. */
  private readonly beingKilled = new Set<string>();
  private used: Allocation = { memoryMb: 0, milliVcores: 0 };

  constructor(
    readonly capacity: Allocation,
    private readonly maxOpportunisticQueue: number,
  ) {}

  /** Whether a request could ever run here, on an empty node. */
  canEverFit(need: Allocation): boolean {
    return fitsIn(need, this.capacity);
  }

  allocated(): Allocation {
    return { ...this.used };
  }

  queued(): { guaranteed: string[]; opportunistic: string[] } {
    return { guaranteed: [...this.queuedGuaranteed.keys()], opportunistic: [...this.queuedOpportunistic.keys()] };
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  /** A container reached SCHEDULED: start it, queue it, or refuse it. */
  schedule(id: string, need: Allocation, executionType: ExecutionType): SchedulerDecision[] {
    const entry: Entry = { need, executionType };
    const decisions: SchedulerDecision[] = [];
    if (executionType === 'GUARANTEED') {
      this.queuedGuaranteed.set(id, entry);
      this.startPending(decisions);
      if (this.queuedGuaranteed.has(id)) this.reclaimOpportunistic(decisions);
    } else {
      this.startPending(decisions);
      if (this.queuedGuaranteed.size === 0 && this.queuedOpportunistic.size === 0 && this.fits(need)) {
        this.start(id, entry, decisions);
      } else if (this.queuedOpportunistic.size < this.maxOpportunisticQueue) {
        this.queuedOpportunistic.set(id, entry);
      } else {
        decisions.push({ type: 'KILL_CONTAINER', id, exitStatus: ExitStatus.KILLED_BY_CONTAINER_SCHEDULER, diagnostics: QUEUE_FULL });
      }
    }
    return decisions;
  }

  /** A container is DONE: release what it held (or its place in a queue) and start who waits. */
  completed(id: string): SchedulerDecision[] {
    const entry = this.running.get(id);
    if (entry) {
      this.running.delete(id);
      this.used = { memoryMb: this.used.memoryMb - entry.need.memoryMb, milliVcores: this.used.milliVcores - entry.need.milliVcores };
    }
    this.queuedGuaranteed.delete(id);
    this.queuedOpportunistic.delete(id);
    this.beingKilled.delete(id);
    const decisions: SchedulerDecision[] = [];
    this.startPending(decisions);
    return decisions;
  }

  /** Everything the scheduler holds, in order. */
  snapshot(): SchedulerSnapshot {
    const held = (m: Map<string, Entry>): HeldContainer[] => [...m].map(([id, e]) => ({ id, need: { ...e.need }, executionType: e.executionType }));
    return { running: held(this.running), queuedGuaranteed: held(this.queuedGuaranteed), queuedOpportunistic: held(this.queuedOpportunistic), beingKilled: [...this.beingKilled] };
  }

  /** Take up a snapshot's state (an empty scheduler: replay starting at a checkpoint). */
  restore(s: SchedulerSnapshot): void {
    const fill = (m: Map<string, Entry>, list: HeldContainer[]) => {
      for (const h of list) m.set(h.id, { need: { ...h.need }, executionType: h.executionType });
    };
    fill(this.running, s.running);
    fill(this.queuedGuaranteed, s.queuedGuaranteed);
    fill(this.queuedOpportunistic, s.queuedOpportunistic);
    for (const id of s.beingKilled) this.beingKilled.add(id);
    for (const e of this.running.values()) this.used = add(this.used, e.need);
  }

  /** A container started before a restart; `dying`: it is being killed or has ended, so its room is as good as free. */
  restoreRunning(id: string, need: Allocation, executionType: ExecutionType, dying = false): void {
    this.running.set(id, { need, executionType });
    this.used = add(this.used, need);
    if (dying) this.beingKilled.add(id);
  }

  private room(): Allocation {
    return { memoryMb: this.capacity.memoryMb - this.used.memoryMb, milliVcores: this.capacity.milliVcores - this.used.milliVcores };
  }

  private fits(need: Allocation): boolean {
    return fitsIn(need, this.room());
  }

  private start(id: string, entry: Entry, decisions: SchedulerDecision[]): void {
    this.running.set(id, entry);
    this.used = add(this.used, entry.need);
    decisions.push({ type: 'LAUNCH_CONTAINER', id });
  }

  /** Start queued containers in order while the head fits; opportunistic ones only once no guaranteed one waits. */
  private startPending(decisions: SchedulerDecision[]): void {
    for (const queue of [this.queuedGuaranteed, this.queuedOpportunistic]) {
      for (const [id, entry] of queue) {
        if (!this.fits(entry.need)) return;
        queue.delete(id);
        this.start(id, entry, decisions);
      }
    }
  }

  /** YARN reclaimOpportunisticContainerResources: kill just enough opportunistic containers, newest first. */
  private reclaimOpportunistic(decisions: SchedulerDecision[]): void {
    let wanted: Allocation = { memoryMb: 0, milliVcores: 0 };
    for (const entry of this.queuedGuaranteed.values()) wanted = add(wanted, entry.need);
    let freeing = this.room();
    for (const id of this.beingKilled) freeing = add(freeing, this.running.get(id)?.need ?? { memoryMb: 0, milliVcores: 0 });
    const newestFirst = [...this.running].reverse();
    for (const [id, entry] of newestFirst) {
      if (fitsIn(wanted, freeing)) return;
      if (entry.executionType !== 'OPPORTUNISTIC' || this.beingKilled.has(id)) continue;
      this.beingKilled.add(id);
      freeing = add(freeing, entry.need);
      decisions.push({
        type: 'KILL_CONTAINER',
        id,
        exitStatus: ExitStatus.KILLED_BY_CONTAINER_SCHEDULER,
        diagnostics: PREEMPTED_FOR_GUARANTEED,
      });
    }
  }
}
