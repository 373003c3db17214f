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
 */
import { containerLimits } from '../../state-machines/limits.js';
import type { ContainerSpec } from '../../state-machines/types.js';
import type { Config } from '../config/types.js';
import type { CgroupLimits } from './cgroup-driver.js';

/** YARN: 1024 shares per vcore; an OPPORTUNISTIC container gets the kernel's minimum, 2. */
export const SHARES_PER_VCORE = 1024;
export const OPPORTUNISTIC_SHARES = 2;

/** YARN isProcessTreeOverLimit kills at once over twice the limit: that is where the kernel stops it. */
export const BACKSTOP_FACTOR = 2;

/** YARN gives an OPPORTUNISTIC container no soft limit and the most eager swapping. */
const OPPORTUNISTIC_SWAPPINESS = 100;

/** The memory keys: YARN's strict mode, or the 2× backstop under the polling check. */
function memoryLimits(spec: Pick<ContainerSpec, 'executionType'>, pmemBytes: number, config: Pick<Config, 'cgroups' | 'monitor'>): Pick<CgroupLimits, 'memoryLimitBytes' | 'memorySoftLimitBytes' | 'swappiness'> {
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

export function cgroupLimits(spec: Pick<ContainerSpec, 'resources' | 'executionType'>, config: Pick<Config, 'cgroups' | 'monitor' | 'allowance'>): CgroupLimits {
  const { pmemBytes } = containerLimits(spec.resources, { vmemPmemRatio: config.monitor.vmemPmemRatio, allowance: config.allowance });
  return {
    ...memoryLimits(spec, pmemBytes, config),
    cpuShares: spec.executionType === 'OPPORTUNISTIC' ? OPPORTUNISTIC_SHARES : Math.max(OPPORTUNISTIC_SHARES, SHARES_PER_VCORE * spec.resources.vcores),
    cpuQuota: null,
    pidsMax: config.cgroups.pidsMax > 0 ? config.cgroups.pidsMax : null,
  };
}
