/**
 * The containment in force for the configuration: detected once at start
 * (detect.ts), then the driver for it. What was chosen, and why not cgroups
 * when not, goes to the start log and GET /v1/node.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { hostFacts } from '../procfs/host-facts.js';
import { ProcfsReader } from '../procfs/procfs-reader.js';
import { lockFile, type DbLock } from '../store/db-lock.js';
import { CgroupContainment } from './cgroup-containment.js';
import { hierarchyCpuQuota } from './cgroup-limits.js';
import type { CgroupDriver } from './cgroup-driver.js';
import { CgroupV1 } from './cgroup-v1.js';
import { CgroupV2 } from './cgroup-v2.js';
import type { Containment } from './containment.js';
import { ContainmentUnavailable, detectContainment, type ContainmentMode } from './detect.js';
import { ProcessGroupContainment } from './process-group.js';

/** GET /v1/node → containment. */
export interface ContainmentReport {
  mode: ContainmentMode;
  /** Where container cgroups go: `<own cgroup>/<hierarchy>` per controller (v1) or once (v2). */
  cgroups: string[];
  /** Why cgroups are not in force (process-group mode). */
  missing: string[];
}

/** Where the daemons of this machine lock the cgroup hierarchies they use (root only, as cgroups are). */
export const HIERARCHY_LOCK_DIR = '/run/nodewarden-cgroups';

/**
 * The lock of one hierarchy: two daemons in one cgroup with the same
 * hierarchy would each take the other's containers for ones nobody owns, and
 * sweep them at start.
 */
export function hierarchyLockFile(hierarchyDir: string): string {
  return path.join(HIERARCHY_LOCK_DIR, `cgroups-${createHash('sha256').update(hierarchyDir).digest('hex').slice(0, 16)}.lock`);
}

function lockHierarchy(driver: CgroupDriver): DbLock {
  // The directory the sweep lists and kills in (v1: the freezer's), whatever the other controllers' paths.
  const dir = driver.listingDir;
  fs.mkdirSync(HIERARCHY_LOCK_DIR, { recursive: true, mode: 0o700 });
  return lockFile(
    hierarchyLockFile(dir),
    (who) =>
      `the cgroup hierarchy ${dir} is in use by ${who}; stop that daemon first, or give this one its own ` +
      'yarn.nodemanager.linux-container-executor.cgroups.hierarchy',
  );
}

/**
 * v2: the cgroup the hierarchy goes under. A daemon started in the leaf it
 * moves itself into (`<own>/<hierarchy>.daemon`, cgroup-v2.ts; or systemd's
 * `DelegateSubgroup=` of that name) has its containers beside it, under the
 * leaf's parent: a restart finds them where the last start put them.
 */
export function v2Base(own: string, hierarchy: string): string {
  return path.basename(own) === `${hierarchy}.daemon` ? path.dirname(own) : own;
}

export interface ContainmentInForce {
  containment: Containment;
  report: ContainmentReport;
  /** Held while the daemon runs (cgroups: its hierarchy); released at close. */
  lock: DbLock | null;
  /** The cgroup driver in force (null: process groups), for what is done to the hierarchy as a whole. */
  driver: CgroupDriver | null;
}

export function createContainment(
  config: Pick<Config, 'cgroups' | 'node' | 'memoryPressure'>,
  log: Logger,
  opts: { procfsRoot?: string; isRoot?: boolean } = {},
): ContainmentInForce {
  const cfg = config.cgroups;
  const procfsRoot = opts.procfsRoot ?? '/proc';
  const procfs = new ProcfsReader(procfsRoot);
  const d = detectContainment({ setting: cfg.enabled, procfsRoot, isRoot: opts.isRoot ?? process.getuid?.() === 0 });
  if (d.mode === 'process-group') {
    if (config.memoryPressure.elastic) {
      throw new ContainmentUnavailable(
        `yarn.nodemanager.elastic-memory-control.enabled is true, but it needs cgroups, which are not in force:\n  ${d.missing.join('\n  ')}`,
      );
    }
    return { containment: new ProcessGroupContainment(procfs, log), report: { mode: d.mode, cgroups: [], missing: d.missing }, lock: null, driver: null };
  }
  const driver = d.mode === 'cgroup-v1' ? new CgroupV1(d.own, cfg.hierarchy, hostFacts().clockTicks) : new CgroupV2(v2Base(d.own, cfg.hierarchy), cfg.hierarchy);
  const lock = lockHierarchy(driver);
  const quota = hierarchyCpuQuota(config, hostFacts().processors);
  try {
    // YARN's node-level quota (percentage-physical-cpu-limit), or one left by an earlier configuration lifted.
    driver.limitHierarchyCpu(quota);
  } catch (err) {
    // v1 refuses a parent quota below a kept container's own: the containers run, without the node-level one.
    log.warn({ err, quota }, 'cannot set the node-level CPU quota on the cgroup hierarchy; containers run without it');
  }
  if (!config.memoryPressure.elastic) {
    try {
      // Elastic memory control left on by an earlier configuration: the node cgroup's limit lifted, the kernel's OOM killer back.
      driver.limitHierarchyMemory(null);
    } catch (err) {
      log.warn({ err }, 'cannot lift the node-level memory limit an earlier start left on the cgroup hierarchy');
    }
  }
  return {
    containment: new CgroupContainment(driver, procfs, new ProcessGroupContainment(procfs, log)),
    report: { mode: d.mode, cgroups: driver.hierarchyDirs, missing: [] },
    lock,
    driver,
  };
}
