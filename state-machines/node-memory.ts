/**
 * The node under memory pressure, decided: who goes when the containers
 * together are out of memory (YARN's elastic memory control and its
 * DefaultOOMHandler) or when memory pressure stays high (ours: preemption
 * before the kernel's OOM killer has to act).
 *
 * The order is DefaultOOMHandler's:
 *   1. OPPORTUNISTIC before GUARANTEED;
 *   2. within a type, containers using more than their request first;
 *   3. then the most recently launched first.
 * One victim per decision: the shell asks again once it is gone, if the node
 * still needs it.
 */
import { ExitStatus } from './exit-status.js';
import { long2String } from './long2string.js';
import type { ExecutionType } from './types.js';

/** One PSI line (`/proc/pressure/memory`): percent of each window, and the total stall in µs. */
export interface PressureLine {
  avg10: number;
  avg60: number;
  avg300: number;
  total: number;
}

export interface Pressure {
  some: PressureLine;
  /** Absent on kernels that give only `some` (the cpu file before 5.13). */
  full: PressureLine | null;
}

/** A running container as the order sees it; candidates come in launch order. */
export interface VictimCandidate {
  id: string;
  executionType: ExecutionType;
  /** What it uses now: its cgroup's charge (OOM), or its tree's RSS (pressure). */
  usageBytes: number;
  requestBytes: number;
}

export function overRequest(c: VictimCandidate): boolean {
  return c.usageBytes > c.requestBytes;
}

/** DefaultOOMHandler's order, first victim first. `candidates` in launch order. */
export function victimOrder(candidates: readonly VictimCandidate[]): VictimCandidate[] {
  const launched = new Map(candidates.map((c, i) => [c.id, i]));
  const rank = (c: VictimCandidate): [number, number, number] => [
    c.executionType === 'OPPORTUNISTIC' ? 0 : 1,
    overRequest(c) ? 0 : 1,
    -launched.get(c.id)!,
  ];
  return [...candidates].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  });
}

/** Why the order put it first: the first rule that told it from the rest. */
function reason(victim: VictimCandidate): string {
  if (victim.executionType === 'OPPORTUNISTIC') return 'it is OPPORTUNISTIC';
  if (overRequest(victim)) return 'it is GUARANTEED and over its request';
  return 'it is the most recently launched, and no container was over its request';
}

/**
 * The exit status of a container the node took back: an OPPORTUNISTIC one
 * as the ContainerScheduler's preemption ends it (-108), a GUARANTEED one
 * PREEMPTED (-102). YARN's handler sets none and the owner sees a bare 137.
 */
export function preemptionExitStatus(executionType: ExecutionType): number {
  return executionType === 'OPPORTUNISTIC' ? ExitStatus.KILLED_BY_CONTAINER_SCHEDULER : ExitStatus.PREEMPTED;
}

function usageLine(v: VictimCandidate): string {
  return `It was using ${long2String(v.usageBytes, 'B', 1)} of its ${long2String(v.requestBytes, 'B', 1)} request (${v.executionType}); it went first because ${reason(v)}.`;
}

/** The node cgroup reached its limit: the diagnostic of the container the OOM handler kills. */
export function nodeOomMessage(v: VictimCandidate, node: { limitBytes: number; usageBytes: number }): string {
  return (
    `Container ${v.id} killed by the node's OOM handler (elastic memory control): the containers together reached the node's memory limit of ` +
    `${long2String(node.limitBytes, 'B', 1)} (yarn.nodemanager.resource.memory-mb), using ${long2String(node.usageBytes, 'B', 1)}. ${usageLine(v)}`
  );
}

/** The kernel's own OOM killer chose it, below its own limit: the node, or a cgroup above it, ran out. */
export function kernelOomMessage(v: VictimCandidate, kills: number): string {
  return (
    `Container ${v.id} killed by the kernel's OOM killer${kills === 1 ? '' : ` (${kills} times)`} while the node, or a cgroup above the container, was out of memory; ` +
    `it had not reached its own cgroup limit. It had used up to ${long2String(v.usageBytes, 'B', 1)} of its ${long2String(v.requestBytes, 'B', 1)} request (${v.executionType}); ` +
    'the kernel chose it by its oom_score_adj and size.'
  );
}

/** Memory pressure stayed high: the diagnostic of the container preempted for it. */
export function pressureMessage(v: VictimCandidate, p: { avg10: number; thresholdPercent: number; forMs: number }): string {
  return (
    `Container ${v.id} preempted under node memory pressure: PSI memory "some" avg10 was ${p.avg10.toFixed(2)}%, at or over ` +
    `${p.thresholdPercent}% (nodewarden.memory-pressure.preempt-threshold-percent) for ${p.forMs} ms. ${usageLine(v)}`
  );
}

/**
 * Who may be preempted for pressure alone: OPPORTUNISTIC containers, and
 * GUARANTEED ones over their request. A GUARANTEED container within its
 * request is what the node promised; only a real OOM takes it.
 */
export function pressureCandidates(candidates: readonly VictimCandidate[]): VictimCandidate[] {
  return candidates.filter((c) => c.executionType === 'OPPORTUNISTIC' || overRequest(c));
}

/** The early action's memory: since when pressure has been at or over the threshold (null: it is not). */
export interface PressureWatch {
  overSince: number | null;
}

export interface PressureSettings {
  /** PSI `some avg10` percent; 0 is off. */
  thresholdPercent: number;
  /** How long it stays at or over the threshold before each preemption. */
  afterMs: number;
}

/**
 * One pressure reading: whether to preempt now. After a preemption the
 * watch starts again, so the next one waits a whole `afterMs` more (avg10
 * needs about that long to show what the last one freed).
 */
export function watchPressure(
  watch: PressureWatch,
  s: PressureSettings,
  pressure: Pressure,
  ts: number,
): { watch: PressureWatch; preempt: { avg10: number; forMs: number } | null } {
  if (s.thresholdPercent <= 0 || pressure.some.avg10 < s.thresholdPercent) return { watch: { overSince: null }, preempt: null };
  const overSince = watch.overSince ?? ts;
  if (ts - overSince < s.afterMs) return { watch: { overSince }, preempt: null };
  return { watch: { overSince: ts }, preempt: { avg10: pressure.some.avg10, forMs: ts - overSince } };
}
