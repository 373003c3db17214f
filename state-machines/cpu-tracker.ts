/**
 * Hadoop's CpuTimeTracker, as pure data: feed it the tree's total clock ticks
 * and the time, get the CPU percent (100 = one core busy).
 *
 * - cumulative CPU ms = ticks × jiffy length, and never decreases (a process
 *   that exits takes its time out of the sum; the tracker keeps the high mark);
 * - the first sample gives -1 (UNAVAILABLE): there is nothing to compare with;
 * - a new percent is computed only when more than 10 jiffies have passed since
 *   the last one, else the previous value stands;
 * - percent = Δcpu ms × 100 / Δwall ms in Java float arithmetic.
 */
import { UNAVAILABLE } from './process-tree.js';

export interface CpuTracker {
  /** ms per clock tick: Math.round(1000 / CLK_TCK). */
  readonly jiffyMs: number;
  readonly cumulativeMs: number;
  readonly sampleTime: number;
  readonly lastCumulativeMs: number;
  readonly lastSampleTime: number;
  readonly percent: number;
}

export function jiffyLengthMs(clockTicks: number): number {
  return Math.round(1000 / clockTicks);
}

export function newCpuTracker(jiffyMs: number): CpuTracker {
  return { jiffyMs, cumulativeMs: 0, sampleTime: UNAVAILABLE, lastCumulativeMs: UNAVAILABLE, lastSampleTime: UNAVAILABLE, percent: UNAVAILABLE };
}

/** updateElapsedJiffies + getCpuTrackerUsagePercent, as one step. */
export function sampleCpu(t: CpuTracker, totalJiffies: number, now: number): CpuTracker {
  const sampled = Math.max(totalJiffies * t.jiffyMs, t.cumulativeMs);
  // First sample, or the clock went back: start over from here, keep the old percent.
  if (t.lastSampleTime === UNAVAILABLE || t.lastSampleTime > now) {
    return { ...t, cumulativeMs: sampled, sampleTime: now, lastCumulativeMs: sampled, lastSampleTime: now };
  }
  if (now > t.lastSampleTime + 10 * t.jiffyMs) {
    const f = Math.fround;
    const percent = f(f(f(sampled - t.lastCumulativeMs) * 100) / f(now - t.lastSampleTime));
    return { ...t, cumulativeMs: sampled, sampleTime: now, lastCumulativeMs: sampled, lastSampleTime: now, percent };
  }
  return { ...t, cumulativeMs: sampled, sampleTime: now };
}
