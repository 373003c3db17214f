/**
 * What a container's cgroup is limited to, from its request (YARN's
 * CGroupsCpuResourceHandlerImpl and the pids key of ours).
 *
 * Memory is not limited in the kernel yet: a container stopped at a cgroup
 * limit must be reported -104 with YARN's PHYSICAL message, not a bare 137,
 * and that needs the cgroup's OOM notice as a journaled input first. Until
 * then the polling monitor enforces memory as before.
 */
import type { ContainerSpec } from '../../state-machines/types.js';
import type { Config } from '../config/types.js';
import type { CgroupLimits } from './cgroup-driver.js';

/** YARN: 1024 shares per vcore; an OPPORTUNISTIC container gets the kernel's minimum, 2. */
export const SHARES_PER_VCORE = 1024;
export const OPPORTUNISTIC_SHARES = 2;

export function cgroupLimits(spec: Pick<ContainerSpec, 'resources' | 'executionType'>, config: Pick<Config, 'cgroups'>): CgroupLimits {
  return {
    memoryLimitBytes: null,
    memorySoftLimitBytes: null,
    swappiness: null,
    cpuShares: spec.executionType === 'OPPORTUNISTIC' ? OPPORTUNISTIC_SHARES : Math.max(OPPORTUNISTIC_SHARES, SHARES_PER_VCORE * spec.resources.vcores),
    cpuQuota: null,
    pidsMax: config.cgroups.pidsMax > 0 ? config.cgroups.pidsMax : null,
  };
}
