/**
 * Where the daemon's own cgroups are: the cgroup mounts from
 * `/proc/self/mountinfo` and the daemon's own cgroup per hierarchy from
 * `/proc/self/cgroup`, joined into one directory per v1 controller and one
 * for v2. Container cgroups go beneath these, never above (YARN's
 * `…cgroups.hierarchy` under the NodeManager's cgroup; systemd's
 * Delegate=yes hands a service exactly its own subtree).
 *
 * Pure parsing: the caller reads the two files (from a fake procfs in tests).
 */
import path from 'node:path';

/** One cgroup filesystem mount. */
export interface CgroupMount {
  /** Where it is mounted. */
  mountPoint: string;
  /** The cgroup path at the mount's root ("/" unless it is a namespaced or bind mount). */
  root: string;
}

export interface CgroupMounts {
  /** v1 hierarchies by controller (a co-mounted `cpu,cpuacct` appears under both names). */
  v1: Map<string, CgroupMount>;
  /** The cgroup2 mount, if any. */
  v2: CgroupMount | null;
}

/** The kernel's cgroup v1 controllers (a mount's super options also hold flags and name=…). */
const V1_CONTROLLER_NAMES = new Set([
  'cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'net_cls', 'perf_event', 'net_prio', 'hugetlb', 'pids', 'rdma', 'misc',
]);

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The cgroup mounts of a `/proc/self/mountinfo` text. A line is
 * `id parent maj:min root mountpoint options [optional…] - fstype source superoptions`;
 * v1 names its controllers among the super options (`rw,cpu,cpuacct`).
 * Malformed lines are skipped. The first mount of a hierarchy wins.
 */
export function parseMountinfo(text: string): CgroupMounts {
  const mounts: CgroupMounts = { v1: new Map(), v2: null };
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 4) continue;
    const mount = { root: unescapeMountPath(fields[3]!), mountPoint: unescapeMountPath(fields[4]!) };
    const fstype = fields[dash + 1];
    if (fstype === 'cgroup2') {
      mounts.v2 ??= mount;
    } else if (fstype === 'cgroup') {
      for (const option of fields[dash + 3]!.split(',')) {
        // Only controllers: not rw, xattr, clone_children, name=systemd, release_agent=…
        if (V1_CONTROLLER_NAMES.has(option) && !mounts.v1.has(option)) mounts.v1.set(option, mount);
      }
    }
  }
  return mounts;
}

export interface OwnCgroups {
  /** The process's cgroup path per v1 controller. */
  v1: Map<string, string>;
  /** Its v2 cgroup path (the `0::` line), if any. */
  v2: string | null;
}

/** A `/proc/self/cgroup` text: `hierarchy-id:controller[,controller…]:path` per line. */
export function parseProcCgroup(text: string): OwnCgroups {
  const own: OwnCgroups = { v1: new Map(), v2: null };
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line);
    if (!m) continue;
    const [, hierarchy, controllers, cgroupPath] = m;
    if (hierarchy === '0' && controllers === '') own.v2 = cgroupPath!;
    else for (const c of controllers!.split(',')) if (c && !c.includes('=')) own.v1.set(c, cgroupPath!);
  }
  return own;
}

/**
 * The directory of a cgroup path under a mount. A mount whose root is not
 * "/" (a container's namespaced view) shows only its subtree: the path is
 * taken relative to that root. Null when the path is not under it.
 */
export function cgroupDir(mount: CgroupMount, cgroupPath: string): string | null {
  const rel = path.posix.relative(mount.root, cgroupPath);
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) return null;
  return path.join(mount.mountPoint, rel);
}
