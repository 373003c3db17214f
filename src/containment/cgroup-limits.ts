/**
 * What a container's cgroup is limited to, from its request (YARN's
 * CGroupsCpuResourceHandlerImpl and the pids key of ours).
 *
 * Memory: with the pmem check on, the kernel holds a container to twice
 * its limit (request + allowance), YARN's instant "2×" rule made instant in
 * fact rather than at the next tick; the polling monitor goes on applying the
 * aged rule below it, with YARN's messages. In YARN's strict mode
 * (`yarn.nodemanager.resource.memory.enabled`) the hard limit is the limit
 * itself, with YARN's soft limit and swappiness. A container the kernel
 * stops is reported -104 from the cgroup's OOM notice (containers-monitor).
 * Under elastic memory control no container has a memory limit of its own:
 * the node cgroup holds them together (elastic-memory.ts).
 */
import { containerLimits } from '../../state-machines/limits.js';
import type { ContainerSpec } from '../../state-machines/types.js';
import type { Config } from '../config/types.js';
import type { CgroupLimits } from './cgroup-driver.js';

/** YARN: 1024 shares per vcore; an OPPORTUNISTIC container gets the kernel's minimum, 2. */
export const SHARES_PER_VCORE = 1024;
export const OPPORTUNISTIC_SHARES = 2;

/** A container's CPU weight in v1 shares (v2's cpu.weight is derived from it); cAdvisor's container_spec_cpu_shares. */
export function cpuSharesOf(spec: Pick<ContainerSpec, 'resources' | 'executionType'>): number {
  return spec.executionType === 'OPPORTUNISTIC' ? OPPORTUNISTIC_SHARES : Math.max(OPPORTUNISTIC_SHARES, SHARES_PER_VCORE * spec.resources.vcores);
}

/** YARN isProcessTreeOverLimit kills at once over twice the limit: that is where the kernel stops it. */
export const BACKSTOP_FACTOR = 2;

/** YARN gives an OPPORTUNISTIC container no soft limit and the most eager swapping. */
const OPPORTUNISTIC_SWAPPINESS = 100;

/** The memory keys: YARN's strict mode, or the 2× backstop under the polling check. */
function memoryLimits(
  spec: Pick<ContainerSpec, 'executionType'>,
  pmemBytes: number,
  config: Pick<Config, 'cgroups' | 'monitor' | 'memoryPressure'>,
): Pick<CgroupLimits, 'memoryLimitBytes' | 'memorySoftLimitBytes' | 'swappiness'> {
  // Elastic memory control: a container may burst while the node has room; the node cgroup's limit bounds them all.
  if (config.memoryPressure.elastic) return { memoryLimitBytes: null, memorySoftLimitBytes: null, swappiness: null };
  const strict = config.cgroups.memory;
  if (strict.enabled) {
    // enforced=false: the cgroup holds the container, no limit is written (YARN).
    if (!strict.enforced) return { memoryLimitBytes: null, memorySoftLimitBytes: null, swappiness: null };
    const guaranteed = spec.executionType !== 'OPPORTUNISTIC';
    return {
      memoryLimitBytes: pmemBytes,
      memorySoftLimitBytes: guaranteed ? Math.floor((pmemBytes * strict.softLimitPercent) / 100) : 0,
      swappiness: guaranteed ? strict.swappiness : OPPORTUNISTIC_SWAPPINESS,
    };
  }
  const backstop = config.monitor.enabled && config.monitor.pmemCheckEnabled ? BACKSTOP_FACTOR * pmemBytes : null;
  return { memoryLimitBytes: backstop, memorySoftLimitBytes: null, swappiness: null };
}

/** The CFS period's ceiling, and the most quota YARN gives (µs). */
const MAX_QUOTA_US = 1_000_000;
/** The kernel's smallest CFS period and quota (µs). */
const MIN_PERIOD_US = 1000;

/**
 * YARN CGroupsCpuResourceHandlerImpl.getOverallLimits: a quota and period for
 * `cpus` processors. At least one: 1 s of quota per 1/cpus s; under one: a
 * 1 s period and that share of it. Null where the period would be too short
 * for the kernel (so many cpus that it is no limit).
 */
export function overallCpuLimits(cpus: number): { quotaUs: number; periodUs: number } | null {
  if (cpus < 1) return { quotaUs: Math.max(MIN_PERIOD_US, Math.floor(MAX_QUOTA_US * cpus)), periodUs: MAX_QUOTA_US };
  const periodUs = Math.floor(MAX_QUOTA_US / cpus);
  return periodUs < MIN_PERIOD_US ? null : { quotaUs: MAX_QUOTA_US, periodUs };
}

/**
 * YARN's node-level CPU limit: with percentage-physical-cpu-limit under 100,
 * every container together gets that share of the processors, as a quota on
 * the hierarchy (strict or not). Null: no limit.
 */
export function hierarchyCpuQuota(config: Pick<Config, 'node'>, processors: number): CgroupLimits['cpuQuota'] {
  if (config.node.cpuLimitPercent >= 100) return null;
  return overallCpuLimits((config.node.cpuLimitPercent * processors) / 100);
}

/**
 * With `…cgroups.strict-resource-usage`, YARN's CPUs for a container: its
 * share of the node's vcores applied to the processors YARN may use
 * (percentage-physical-cpu-limit of them).
 */
function cpuQuota(spec: Pick<ContainerSpec, 'resources'>, config: Pick<Config, 'cgroups' | 'node'>, processors: number): CgroupLimits['cpuQuota'] {
  if (!config.cgroups.strictCpu) return null;
  const yarnProcessors = (config.node.cpuLimitPercent * processors) / 100;
  return overallCpuLimits((spec.resources.vcores * yarnProcessors) / config.node.vcores);
}

export function cgroupLimits(
  spec: Pick<ContainerSpec, 'resources' | 'executionType'>,
  config: Pick<Config, 'cgroups' | 'monitor' | 'allowance' | 'node' | 'memoryPressure'>,
  processors: number,
): CgroupLimits {
  const { pmemBytes } = containerLimits(spec.resources, { vmemPmemRatio: config.monitor.vmemPmemRatio, allowance: config.allowance });
  return {
    ...memoryLimits(spec, pmemBytes, config),
    cpuShares: cpuSharesOf(spec),
    cpuQuota: cpuQuota(spec, config, processors),
    pidsMax: config.cgroups.pidsMax > 0 ? config.cgroups.pidsMax : null,
  };
}
