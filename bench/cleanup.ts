/**
 * Nothing a benchmark starts outlives the run. Each daemon, pm2 daemon and
 * set of containers registers a synchronous way to stop it; those run when
 * the process exits for any reason — done, thrown, or interrupted (SIGINT,
 * SIGTERM, SIGHUP) — after the benchmarks' own `finally` blocks had their go.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CgroupV1 } from '../src/containment/cgroup-v1.js';
import { hierarchyLockFile } from '../src/containment/create.js';
import { detectContainment } from '../src/containment/detect.js';

const cleanups = new Set<() => void>();

/** Run `fn` at exit unless the returned function is called first (the thing was stopped normally). */
export function atExit(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Last registered, first run: what was started inside a dir is stopped before the dir goes. */
function runAll(): void {
  for (const fn of [...cleanups].reverse()) {
    try {
      fn();
    } catch {
      // best effort: the others still run
    }
  }
  cleanups.clear();
}

process.on('exit', runAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}: stopping everything it started`);
    process.exit(128 + os.constants.signals[signal]); // runs the cleanups
  });
}

/**
 * SIGKILL the process group of every container still running under a work
 * dir. Each container's wrapper is its group leader and writes its pid to
 * `containers/<id>/<id>.pid`, so this needs no daemon to ask. A finished
 * container's pid may belong to someone else by now: only a group whose
 * leader still works in that container's directory is killed.
 */
export function killContainerGroups(workDir: string): void {
  const root = path.join(workDir, 'containers');
  let ids: string[];
  try {
    ids = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const id of ids) {
    const dir = path.join(root, id);
    try {
      if (fs.existsSync(path.join(dir, `${id}.pid.exitcode`))) continue; // it ended
      const pid = Number(fs.readFileSync(path.join(dir, `${id}.pid`), 'utf8').trim());
      if (fs.readlinkSync(`/proc/${pid}/cwd`) === fs.realpathSync(dir)) killGroup(pid);
    } catch {
      // no pid file yet, or the process is gone
    }
  }
}

/** SIGKILL one process, if it is still there. */
export function killQuietly(pid: number | undefined): void {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** SIGKILL a process group (its leader's pid), if it is still there. */
export function killGroup(leader: number | undefined): void {
  if (leader === undefined || !Number.isInteger(leader) || leader <= 1) return;
  try {
    process.kill(-leader, 'SIGKILL');
  } catch {
    // gone
  }
}

/**
 * SIGKILL every process whose command line contains `marker` (a temp dir
 * unique to one benchmark): catches what a tool under test lost track of.
 */
export function killByCommandLine(marker: string): void {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[1-9][0-9]*$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) killQuietly(Number(name));
    } catch {
      // gone
    }
  }
}

/** A temp dir for one benchmark, removed by `remove()` or, failing that, at exit. */
export function benchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const rm = () => fs.rmSync(dir, { recursive: true, force: true });
  const forget = atExit(rm);
  return {
    dir,
    remove: () => {
      rm();
      forget();
    },
  };
}

let hierarchies = 0;

/** A cgroup hierarchy name for one bench daemon: never one a real daemon, or another bench daemon, uses. */
export function benchHierarchy(): string {
  return `nodewarden-bench-${process.pid}-${++hierarchies}`;
}

/**
 * Empty and remove a bench daemon's cgroups (v1, as root; nothing elsewhere):
 * every member of every container cgroup is thawed and SIGKILLed, each
 * cgroup removed once empty, then the hierarchy and its lock file. Cgroups
 * the bench did not make are never touched: only this hierarchy's.
 */
export function removeBenchHierarchy(hierarchy: string): void {
  if (process.getuid?.() !== 0) return;
  const d = detectContainment({ setting: 'auto', procfsRoot: '/proc', isRoot: true });
  if (d.mode !== 'cgroup-v1') return;
  const driver = new CgroupV1(d.own, hierarchy);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const id of driver.list()) {
    try {
      driver.thaw(id);
    } catch {
      // no freezer file: gone
    }
    for (let i = 0; i < 200 && !driver.remove(id); i++) {
      for (const pid of driver.members(id)) killQuietly(pid);
      Atomics.wait(pause, 0, 0, 10); // synchronous: this also runs at exit
    }
  }
  for (const dir of driver.hierarchyDirs) {
    try {
      fs.rmdirSync(dir); // a cgroup: rmdir, never a recursive rm
    } catch {
      // gone, or still busy
    }
  }
  fs.rmSync(hierarchyLockFile(driver.listingDir), { force: true });
}
