/**
 * The file operations both cgroup versions share: control files written and
 * read whole, member lists, waits for the freezer, and YARN's delete retry.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Write a control file. The kernel answers EINVAL, EBUSY… as the write's error. */
export function writeControl(dir: string, file: string, value: string | number): void {
  fs.writeFileSync(path.join(dir, file), String(value));
}

export function readControl(dir: string, file: string): string | null {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch {
    return null;
  }
}

/** The pids in a `cgroup.procs` (or `tasks`) file; empty when the cgroup is gone. A malformed line is skipped. */
export function readPids(dir: string, file = 'cgroup.procs'): number[] {
  const text = readControl(dir, file);
  if (text === null) return [];
  const pids: number[] = [];
  for (const line of text.split('\n')) {
    if (/^[1-9][0-9]{0,9}$/.test(line)) pids.push(Number(line));
  }
  return pids;
}

/** Signal each pid; one that is already gone is no error. */
export function signalPids(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone between the read and the signal
    }
  }
}

/** Poll `done` every `everyMs` until it holds or `timeoutMs` passes; true when it held. */
export async function pollUntil(done: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Subdirectories of `dir` (child cgroups), by name; empty when `dir` is
 * missing. cgroup files are never directories, so these are cgroups.
 */
export function childCgroups(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * rmdir a cgroup. Missing is done; EBUSY (members, or a child cgroup) is
 * false, for the caller to retry as YARN does (`…cgroups.delete-delay-ms`).
 */
export function removeCgroupDir(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    if ((err as NodeJS.ErrnoException).code === 'EBUSY' || (err as NodeJS.ErrnoException).code === 'ENOTEMPTY') return false;
    throw err;
  }
}
