/**
 * Cgroups for tests on the real kernel: a hierarchy name of this test run's
 * own beneath the test's own cgroups, and a cleanup that kills what is left
 * in each container cgroup and removes them all, even when the test failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CgroupV1 } from '../../src/containment/cgroup-v1.js';
import { hierarchyLockFile } from '../../src/containment/create.js';
import { detectContainment, V1_CONTROLLERS, type V1Controller } from '../../src/containment/detect.js';
import { waitFor } from './proc.js';

/** The test's own v1 cgroup per controller, or null where cgroup v1 cannot be used (not root, not mounted). */
export function ownV1Cgroups(): Record<V1Controller, string> | null {
  if (process.getuid?.() !== 0) return null;
  const d = detectContainment({ setting: 'auto', procfsRoot: '/proc', isRoot: true });
  return d.mode === 'cgroup-v1' ? d.own : null;
}

let serial = 0;

/** The setting that gives a test daemon a hierarchy of its own: daemons of tests running at once never share one. */
export const HIERARCHY_KEY = 'yarn.nodemanager.linux-container-executor.cgroups.hierarchy';

/** `NW_TEST_CONTAINMENT=process-group` (npm run test:process-groups) runs every test daemon without cgroups. */
export const TEST_CONTAINMENT: 'auto' | 'process-group' = process.env.NW_TEST_CONTAINMENT === 'process-group' ? 'process-group' : 'auto';

/**
 * What every test daemon starts with: a hierarchy of its own, and process
 * groups when the run says so. A test's own settings come after, and win.
 */
export function containmentSettings(hierarchy: string): Record<string, string> {
  return { [HIERARCHY_KEY]: hierarchy, ...(TEST_CONTAINMENT === 'process-group' ? { 'nodewarden.cgroups.enabled': 'false' } : {}) };
}

/** The same as `--set KEY=VALUE` arguments. */
export function asSetArgs(settings: Record<string, string>): string[] {
  return Object.entries(settings).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
}

/** The containment a test daemon with the default settings has here. */
export function expectedMode(): 'cgroup-v1' | 'process-group' {
  return TEST_CONTAINMENT === 'auto' && ownV1Cgroups() ? 'cgroup-v1' : 'process-group';
}

/** A hierarchy name no other test (of this run, or of another at once) uses. */
export function testHierarchy(): string {
  return `nodewarden-test-${process.pid}-${++serial}`;
}

export class TestCgroups {
  readonly driver: CgroupV1;
  constructor(
    readonly own: Record<V1Controller, string>,
    readonly hierarchy = testHierarchy(),
  ) {
    this.driver = new CgroupV1(own, this.hierarchy);
  }

  /** A container's cgroup directory of one controller. */
  dir(controller: V1Controller, id: string): string {
    return path.join(this.own[controller], this.hierarchy, id);
  }

  /** Kill every member of every container cgroup (a frozen one too), remove them, the hierarchy and its lock. */
  async cleanup(): Promise<void> {
    fs.rmSync(hierarchyLockFile(this.driver.listingDir), { force: true });
    try {
      for (const id of this.driver.list()) {
        await this.driver.signal(id, 'SIGKILL');
        await waitFor(() => this.driver.members(id).length === 0, 15_000, `cgroup ${id} to be empty`);
        await waitFor(() => this.driver.remove(id), 15_000, `cgroup ${id} to be removed`);
      }
    } finally {
      for (const c of V1_CONTROLLERS) {
        const dir = path.join(this.own[c], this.hierarchy);
        // A cgroup: rmdir, never a recursive rm. A process just killed may hold it for a moment.
        await waitFor(() => rmdirGone(dir), 5000, `${dir} to be removed`).catch(() => {
          // still busy: the error above, if any, says why
        });
      }
    }
  }
}

/**
 * What a test daemon left in its hierarchy, cleaned up: nothing where cgroups
 * are not in force (not root), and nothing but the lock file after a clean stop.
 */
export async function cleanupHierarchy(hierarchy: string): Promise<void> {
  const own = ownV1Cgroups();
  if (own) await new TestCgroups(own, hierarchy).cleanup();
}

/** rmdir a cgroup; true once it is gone. */
function rmdirGone(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
