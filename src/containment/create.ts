/**
 * The containment in force for the configuration: detected once at start
 * (detect.ts), then the driver for it. What was chosen, and why not cgroups
 * when not, goes to the start log and GET /v1/node.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { hostFacts } from '../procfs/host-facts.js';
import { ProcfsReader } from '../procfs/procfs-reader.js';
import { CgroupContainment } from './cgroup-containment.js';
import { CgroupV1 } from './cgroup-v1.js';
import { CgroupV2 } from './cgroup-v2.js';
import type { Containment } from './containment.js';
import { detectContainment, type ContainmentMode } from './detect.js';
import { ProcessGroupContainment } from './process-group.js';

/** GET /v1/node → containment. */
export interface ContainmentReport {
  mode: ContainmentMode;
  /** Where container cgroups go: `<own cgroup>/<hierarchy>` per controller (v1) or once (v2). */
  cgroups: string[];
  /** Why cgroups are not in force (process-group mode). */
  missing: string[];
}

export function createContainment(cfg: Config['cgroups'], log: Logger, opts: { procfsRoot?: string; isRoot?: boolean } = {}): { containment: Containment; report: ContainmentReport } {
  const procfsRoot = opts.procfsRoot ?? '/proc';
  const procfs = new ProcfsReader(procfsRoot);
  const d = detectContainment({ setting: cfg.enabled, procfsRoot, isRoot: opts.isRoot ?? process.getuid?.() === 0 });
  switch (d.mode) {
    case 'cgroup-v1':
      return {
        containment: new CgroupContainment(new CgroupV1(d.own, cfg.hierarchy, hostFacts().clockTicks), procfs),
        report: { mode: d.mode, cgroups: Object.values(d.own).map((dir) => `${dir}/${cfg.hierarchy}`), missing: [] },
      };
    case 'cgroup-v2':
      return {
        containment: new CgroupContainment(new CgroupV2(d.own, cfg.hierarchy), procfs),
        report: { mode: d.mode, cgroups: [`${d.own}/${cfg.hierarchy}`], missing: [] },
      };
    case 'process-group':
      return { containment: new ProcessGroupContainment(procfs, log), report: { mode: d.mode, cgroups: [], missing: d.missing } };
  }
}
