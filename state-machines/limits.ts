/**
 * Container limits as YARN computes them (ContainersMonitorImpl), and the
 * over-limit rule of its monitoring thread.
 */
import type { Resources } from './types.js';

/**
 * pmem in bytes; vmem = (long)(ratio * pmem) where ratio is a Java float, so
 * the product is float32 arithmetic. 1024 MB × 2.1 → 2254857728, not 2254857830.
 */
export function memoryLimits(memoryMb: number, vmemPmemRatio: number): { pmemBytes: number; vmemBytes: number } {
  const pmemBytes = memoryMb * 1024 * 1024;
  const vmemBytes = Math.trunc(Math.fround(Math.fround(vmemPmemRatio) * Math.fround(pmemBytes)));
  return { pmemBytes, vmemBytes };
}

/** What the monitor enforces for a container: its request plus the executor allowance (Mesos). */
export interface ContainerLimits {
  pmemBytes: number;
  vmemBytes: number;
  cpus: number;
}

export interface LimitSettings {
  vmemPmemRatio: number;
  allowance: { memoryMb: number; cpus: number };
}

export function containerLimits(resources: Resources, settings: LimitSettings): ContainerLimits {
  const { pmemBytes, vmemBytes } = memoryLimits(resources.memoryMb + settings.allowance.memoryMb, settings.vmemPmemRatio);
  return { pmemBytes, vmemBytes, cpus: resources.vcores + settings.allowance.cpus };
}

/**
 * YARN isProcessTreeOverLimit: over twice the limit now, or over the limit
 * counting only processes seen on an earlier tick. A process that has just
 * forked (a JVM's fork+exec briefly doubles it) gets one more tick.
 */
export function isProcessTreeOverLimit(current: number, aged: number, limit: number): boolean {
  return current > 2 * limit || aged > limit;
}

/**
 * YARN recordUsage: `(int)(cpuPercentPerCore / processors * 1000 * nodeVcores / cpuLimitPercent)`
 * in Java float arithmetic.
 */
export function milliVcoresUsed(cpuPercentPerCore: number, processors: number, nodeVcores: number, cpuLimitPercent: number): number {
  const f = Math.fround;
  const totalCoresPercent = f(f(cpuPercentPerCore) / processors);
  return Math.trunc(f(f(f(totalCoresPercent * 1000) * nodeVcores) / cpuLimitPercent));
}
