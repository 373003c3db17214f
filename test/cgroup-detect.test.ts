/**
 * Finding the daemon's own cgroups and choosing the containment: parsing of
 * mountinfo and /proc/self/cgroup, and detection over a fake procfs whose
 * mountinfo points at a fake cgroup tree (v2 with or without controllers,
 * v1 with one controller missing, a namespaced mount root, not root).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupDir, parseMountinfo, parseProcCgroup } from '../src/containment/cgroup-paths.js';
import { ContainmentUnavailable, detectContainment } from '../src/containment/detect.js';

const MOUNTINFO_V1 = [
  '22 1 0:21 / /proc rw,nosuid - proc proc rw',
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
  '38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  'garbage line',
].join('\n');

describe('parsing', () => {
  it('mountinfo: v1 controllers (co-mounted ones under each name), the cgroup2 mount, named hierarchies and other filesystems ignored', () => {
    const m = parseMountinfo(MOUNTINFO_V1);
    expect([...m.v1.keys()].sort()).toEqual(['cpu', 'cpuacct', 'freezer', 'memory', 'pids']);
    expect(m.v1.get('cpuacct')).toEqual({ root: '/', mountPoint: '/sys/fs/cgroup/cpu,cpuacct' });
    expect(m.v2).toEqual({ root: '/', mountPoint: '/sys/fs/cgroup/unified' });
  });

  it('mountinfo: optional fields before the separator, and escaped spaces in paths', () => {
    const m = parseMountinfo('40 30 0:37 /a\\040b /mnt/my\\040cgroup rw shared:9 master:2 - cgroup2 cgroup2 rw,nsdelegate');
    expect(m.v2).toEqual({ root: '/a b', mountPoint: '/mnt/my cgroup' });
  });

  it('/proc/self/cgroup: a path per v1 controller, the v2 line, named hierarchies skipped', () => {
    const own = parseProcCgroup('9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/user.slice/a.scope\nnonsense');
    expect(Object.fromEntries(own.v1)).toEqual({ memory: '/process_api/abc', cpu: '/x', cpuacct: '/x' });
    expect(own.v2).toBe('/user.slice/a.scope');
  });

  it('a cgroup path under a namespaced mount root is taken relative to it; one outside it is not visible', () => {
    const mount = { root: '/docker/abc', mountPoint: '/sys/fs/cgroup/memory' };
    expect(cgroupDir(mount, '/docker/abc/nm')).toBe('/sys/fs/cgroup/memory/nm');
    expect(cgroupDir(mount, '/docker/abc')).toBe('/sys/fs/cgroup/memory');
    expect(cgroupDir(mount, '/other')).toBeNull();
  });
});

describe('detection over a fake procfs and cgroup tree', () => {
  let root: string;
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A fake procfs (`self/mountinfo`, `self/cgroup`) whose mounts are directories under `root/cg`. */
  function fake(opts: { v1?: string[]; v2Controllers?: string | null; own?: string }): string {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-cgdetect-'));
    const own = opts.own ?? '/nm';
    const lines: string[] = [];
    const self: string[] = [];
    (opts.v1 ?? []).forEach((c, i) => {
      const mp = path.join(root, 'cg', c);
      fs.mkdirSync(path.join(mp, own), { recursive: true });
      lines.push(`${31 + i} 30 0:${28 + i} / ${mp} rw,relatime - cgroup cgroup rw,${c}`);
      self.push(`${i + 1}:${c}:${own}`);
    });
    if (opts.v2Controllers !== undefined) {
      const mp = path.join(root, 'cg', 'unified');
      fs.mkdirSync(path.join(mp, own), { recursive: true });
      if (opts.v2Controllers !== null) fs.writeFileSync(path.join(mp, own, 'cgroup.controllers'), `${opts.v2Controllers}\n`);
      lines.push(`50 30 0:40 / ${mp} rw,relatime - cgroup2 cgroup2 rw`);
      self.push(`0::${own}`);
    }
    fs.mkdirSync(path.join(root, 'proc', 'self'), { recursive: true });
    fs.writeFileSync(path.join(root, 'proc', 'self', 'mountinfo'), lines.join('\n') + '\n');
    fs.writeFileSync(path.join(root, 'proc', 'self', 'cgroup'), self.join('\n') + '\n');
    return path.join(root, 'proc');
  }

  const ALL_V1 = ['memory', 'cpu', 'cpuacct', 'freezer', 'pids'];

  it('v2 with memory, cpu and pids wins; its directory is the daemon\'s own cgroup', () => {
    const procfsRoot = fake({ v1: ALL_V1, v2Controllers: 'cpuset cpu io memory hugetlb pids rdma' });
    expect(detectContainment({ setting: 'auto', procfsRoot, isRoot: true })).toEqual({ mode: 'cgroup-v2', own: path.join(root, 'cg', 'unified', 'nm') });
  });

  it('v2 whose own cgroup holds other processes than the daemon: not usable, saying why; the daemon alone there: usable (it moves itself into a leaf)', () => {
    const procfsRoot = fake({ v2Controllers: 'cpu memory pids' });
    const own = path.join(root, 'cg', 'unified', 'nm');
    fs.writeFileSync(path.join(own, 'cgroup.procs'), '4242\n777\n');
    expect(() => detectContainment({ setting: 'true', procfsRoot, isRoot: true, selfPid: 4242 })).toThrow(
      /cgroup v2: the daemon's own cgroup .*nm holds other processes \(777\), so the kernel will not enable controllers for its children; start nodewarden in a cgroup of its own/,
    );
    expect(detectContainment({ setting: 'auto', procfsRoot, isRoot: true, selfPid: 4242 }).mode).toBe('process-group');
    fs.writeFileSync(path.join(own, 'cgroup.procs'), '4242\n');
    expect(detectContainment({ setting: 'true', procfsRoot, isRoot: true, selfPid: 4242 })).toEqual({ mode: 'cgroup-v2', own });
  });

  it('v2 without the memory controller (this machine\'s case): v1, one directory per controller', () => {
    const procfsRoot = fake({ v1: ALL_V1, v2Controllers: 'hugetlb' });
    const d = detectContainment({ setting: 'auto', procfsRoot, isRoot: true });
    expect(d.mode).toBe('cgroup-v1');
    if (d.mode === 'cgroup-v1') for (const c of ALL_V1) expect(d.own[c as keyof typeof d.own]).toBe(path.join(root, 'cg', c, 'nm'));
  });

  it('v1 missing freezer and v2 without controllers: process groups under auto, each reason named; true refuses to start', () => {
    const procfsRoot = fake({ v1: ['memory', 'cpu', 'cpuacct', 'pids'], v2Controllers: 'hugetlb' });
    const d = detectContainment({ setting: 'auto', procfsRoot, isRoot: true });
    expect(d).toEqual({
      mode: 'process-group',
      missing: [
        `cgroup v2: the controllers memory, cpu, pids are not available in ${path.join(root, 'cg', 'unified', 'nm')} (cgroup.controllers)`,
        'cgroup v1: freezer is not mounted',
      ],
    });
    expect(() => detectContainment({ setting: 'true', procfsRoot, isRoot: true })).toThrow(ContainmentUnavailable);
    expect(() => detectContainment({ setting: 'true', procfsRoot, isRoot: true })).toThrow(/nodewarden.cgroups.enabled is true, but cgroups cannot be used:\n {2}cgroup v2: .*\n {2}cgroup v1: freezer is not mounted/);
  });

  it('not root: process groups, saying why; false: process groups without looking', () => {
    const procfsRoot = fake({ v1: ALL_V1 });
    expect(detectContainment({ setting: 'auto', procfsRoot, isRoot: false })).toEqual({
      mode: 'process-group',
      missing: ['the daemon does not run as root, and creating cgroups needs it'],
    });
    expect(detectContainment({ setting: 'false', procfsRoot, isRoot: true })).toEqual({ mode: 'process-group', missing: ['nodewarden.cgroups.enabled is false'] });
  });

  it('an unreadable procfs: process groups, naming the files', () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-cgdetect-'));
    const d = detectContainment({ setting: 'auto', procfsRoot: path.join(root, 'nowhere'), isRoot: true });
    expect(d.mode).toBe('process-group');
    expect(d.mode === 'process-group' && d.missing[0]).toMatch(/^cannot read .*nowhere\/self\/mountinfo/);
  });
});
