/**
 * Which containment the daemon can have (`nodewarden.cgroups.enabled`):
 * cgroup v2 when its own v2 cgroup offers memory, cpu and pids; else cgroup
 * v1 when memory, cpu, cpuacct, freezer and pids are mounted and its own
 * cgroup is there in each; else process groups. Cgroups also need root.
 * `auto` takes the best there is; `true` refuses to start without cgroups,
 * naming what is missing; `false` keeps process groups.
 *
 * Everything is read under `procfsRoot` (`self/mountinfo`, `self/cgroup`) and
 * the mount points it names, so a fake procfs pointing at a fake cgroup tree
 * exercises every branch.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cgroupDir, parseMountinfo, parseProcCgroup, type CgroupMounts, type OwnCgroups } from './cgroup-paths.js';

export type ContainmentMode = 'cgroup-v1' | 'cgroup-v2' | 'process-group';
export type CgroupsSetting = 'auto' | 'true' | 'false';

/** What YARN's LinuxContainerExecutor and Mesos's isolators use: memory, cpu (shares, quota), cpuacct (times), freezer (kill, pause), pids. */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'freezer', 'pids'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];
/** v2 has cpu times in cpu.stat and the freezer in every cgroup (cgroup.freeze). */
export const V2_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

export type Detection =
  | { mode: 'cgroup-v1'; own: Record<V1Controller, string> }
  | { mode: 'cgroup-v2'; own: string }
  | { mode: 'process-group'; /** Why not cgroups, one reason per line. */ missing: string[] };

export class ContainmentUnavailable extends Error {
  override name = 'ContainmentUnavailable';
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function detectV2(mounts: CgroupMounts, own: OwnCgroups, missing: string[], opts: { selfPid: number }): string | null {
  if (!mounts.v2 || own.v2 === null) {
    missing.push('cgroup v2: not mounted');
    return null;
  }
  const dir = cgroupDir(mounts.v2, own.v2);
  const offered = dir === null ? null : readOrNull(path.join(dir, 'cgroup.controllers'));
  if (dir === null || offered === null) {
    missing.push(`cgroup v2: the daemon's own cgroup ${own.v2} is not visible under ${mounts.v2.mountPoint}`);
    return null;
  }
  const have = new Set(offered.trim().split(/\s+/));
  const lacking = V2_CONTROLLERS.filter((c) => !have.has(c));
  if (lacking.length > 0) {
    missing.push(`cgroup v2: the controllers ${lacking.join(', ')} are not available in ${dir} (cgroup.controllers)`);
    return null;
  }
  // No internal processes: the kernel enables controllers for a cgroup's children only while it holds no
  // process itself. The daemon moves itself into a leaf (cgroup-v2.ts) when it is alone there; it never
  // moves another process out of a cgroup it did not create.
  const others = (readOrNull(path.join(dir, 'cgroup.procs')) ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== String(opts.selfPid));
  if (others.length > 0) {
    missing.push(
      `cgroup v2: the daemon's own cgroup ${dir} holds other processes (${others.slice(0, 5).join(' ')}), so the kernel will not enable ` +
        'controllers for its children; start nodewarden in a cgroup of its own (systemd: a service with Delegate=yes)',
    );
    return null;
  }
  return dir;
}

function detectV1(mounts: CgroupMounts, own: OwnCgroups, missing: string[]): Record<V1Controller, string> | null {
  const dirs: Partial<Record<V1Controller, string>> = {};
  const lacking: string[] = [];
  for (const c of V1_CONTROLLERS) {
    const mount = mounts.v1.get(c);
    const ownPath = own.v1.get(c);
    const dir = mount && ownPath !== undefined ? cgroupDir(mount, ownPath) : null;
    if (!mount) lacking.push(`${c} is not mounted`);
    else if (dir === null || !fs.existsSync(dir)) lacking.push(`${c}: the daemon's own cgroup ${ownPath ?? '(none)'} is not visible under ${mount.mountPoint}`);
    else dirs[c] = dir;
  }
  if (lacking.length > 0) {
    missing.push(`cgroup v1: ${lacking.join('; ')}`);
    return null;
  }
  return dirs as Record<V1Controller, string>;
}

/** The containment in force for `setting`; throws ContainmentUnavailable for `true` without cgroups. */
export function detectContainment(opts: { setting: CgroupsSetting; procfsRoot: string; isRoot: boolean; selfPid?: number }): Detection {
  if (opts.setting === 'false') return { mode: 'process-group', missing: ['nodewarden.cgroups.enabled is false'] };
  const missing: string[] = [];
  if (!opts.isRoot) {
    missing.push('the daemon does not run as root, and creating cgroups needs it');
  } else {
    const mountinfo = readOrNull(path.join(opts.procfsRoot, 'self', 'mountinfo'));
    const self = readOrNull(path.join(opts.procfsRoot, 'self', 'cgroup'));
    if (mountinfo === null || self === null) {
      missing.push(`cannot read ${path.join(opts.procfsRoot, 'self', 'mountinfo')} and ${path.join(opts.procfsRoot, 'self', 'cgroup')}`);
    } else {
      const mounts = parseMountinfo(mountinfo);
      const own = parseProcCgroup(self);
      const v2 = detectV2(mounts, own, missing, { selfPid: opts.selfPid ?? process.pid });
      if (v2 !== null) return { mode: 'cgroup-v2', own: v2 };
      const v1 = detectV1(mounts, own, missing);
      if (v1 !== null) return { mode: 'cgroup-v1', own: v1 };
    }
  }
  if (opts.setting === 'true') {
    throw new ContainmentUnavailable(`nodewarden.cgroups.enabled is true, but cgroups cannot be used:\n  ${missing.join('\n  ')}`);
  }
  return { mode: 'process-group', missing };
}
