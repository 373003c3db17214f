/**
 * What the soak reads from /proc and the figures it makes of it: the
 * processes that belong to containers (by working directory, by the
 * CONTAINER_ID every container process inherits, or by the process group of
 * a wrapper the daemon reported), a process's RSS and open fds, and the
 * statistics of the RSS samples (median, least-squares slope).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  sid: number;
  /** Clock ticks since boot. */
  startTime: number;
}

export function procStat(pid: number | string): ProcStat | undefined {
  let line: string;
  try {
    line = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]), startTime: Number(f[19]) };
}

export interface ContainerProc {
  pid: number;
  pgrp: number;
  sid: number;
  startTime: number;
  /** The container it belongs to (from its cwd or CONTAINER_ID), null when only its group says so. */
  id: string | null;
  /** How it was found. */
  by: 'cwd' | 'env' | 'group';
  cmd: string;
}

export interface ScanScope {
  /** Real path of `<work-dir>/containers`. */
  containersRoot: string;
  /** Is this a container id the soak launched? */
  isOurs: (id: string) => boolean;
  /**
   * A container wrapper the daemon reported with this pid (its group), when
   * verified at the time: its start time, and, once the container finished,
   * when (clock ticks since boot). Pids are reused (pid_max may be 32768):
   * a group counts only while its recorded leader lives, or, with the leader
   * gone, for members started before the container finished.
   */
  group: (pgrp: number) => { startTime: number; finishedTicks: number | null } | undefined;
  /** Processes started before this (clock ticks since boot) are not ours. */
  notBefore: number;
  /** Never these (the soak, the daemon). */
  exclude: ReadonlySet<number>;
}

/** Live (not zombie) processes of the soak's containers. */
export function scanContainerProcs(scope: ScanScope): ContainerProc[] {
  const out: ContainerProc[] = [];
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  const prefix = scope.containersRoot + path.sep;
  for (const name of names) {
    if (!/^[1-9][0-9]*$/.test(name)) continue;
    const pid = Number(name);
    if (scope.exclude.has(pid)) continue;
    const st = procStat(pid);
    if (!st || st.state === 'Z' || st.state === 'X' || st.startTime < scope.notBefore) continue;
    let id: string | null = null;
    let by: ContainerProc['by'] | null = null;
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (cwd.startsWith(prefix)) {
        id = cwd.slice(prefix.length).split(path.sep)[0] ?? null;
        by = 'cwd';
      }
    } catch {
      // gone, or not ours to read
    }
    if (by === null) {
      try {
        const m = /(?:^|\0)CONTAINER_ID=([^\0]*)/.exec(fs.readFileSync(`/proc/${pid}/environ`, 'latin1'));
        if (m && scope.isOurs(m[1]!)) {
          id = m[1]!;
          by = 'env';
        }
      } catch {
        // gone, or not ours to read
      }
    }
    if (by === null && isContainerGroup(scope, st)) by = 'group';
    if (by === null) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ').slice(0, 120);
    } catch {
      // gone
    }
    out.push({ pid, pgrp: st.pgrp, sid: st.sid, startTime: st.startTime, id, by, cmd });
  }
  return out;
}

function isContainerGroup(scope: ScanScope, st: ProcStat): boolean {
  const w = scope.group(st.pgrp);
  if (!w) return false;
  const leader = procStat(st.pgrp);
  if (leader) return leader.startTime === w.startTime;
  return st.startTime >= w.startTime && (w.finishedTicks === null || st.startTime <= w.finishedTicks);
}

/** Is this process (pid + start time) still alive and not a zombie? */
export function stillAlive(p: { pid: number; startTime: number }): boolean {
  const st = procStat(p.pid);
  return st !== undefined && st.startTime === p.startTime && st.state !== 'Z' && st.state !== 'X';
}

/** VmRSS of a process, KB; null when it is gone. */
export function rssKb(pid: number): number | null {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    return line ? Number(line.split(/\s+/)[1]) : null;
  } catch {
    return null;
  }
}

/** Open file descriptors of a process; null when it is gone. */
export function openFds(pid: number): number | null {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Clock ticks since boot at a wall-clock time (ms since the epoch). */
let btime: number | undefined;
export function ticksAt(ms: number, clockTicks: number): number {
  btime ??= Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))?.[1] ?? 0);
  return Math.floor(((ms - btime * 1000) / 1000) * clockTicks);
}

/** Block the thread (for the synchronous cleanup at exit). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * SIGKILL every container process (its group, then itself) until none is
 * left, synchronously: usable from an exit handler. Returns what was found
 * on the first pass.
 */
export function killContainerProcsSync(scope: ScanScope, ownGroup: number): ContainerProc[] {
  const first = scanContainerProcs(scope);
  // Found by its group alone, a process is reported, never killed: it may be another's that reused the pid.
  const killable = (ps: ContainerProc[]) => ps.filter((p) => p.by !== 'group');
  let procs = killable(first);
  for (let pass = 0; pass < 50 && procs.length > 0; pass++) {
    const leaders = new Set(procs.filter((p) => p.pid === p.pgrp).map((p) => p.pgrp));
    for (const p of procs) {
      // A whole group only when its leader is itself a container process (a wrapper): else the one process.
      if (p.pgrp > 1 && p.pgrp !== ownGroup && leaders.has(p.pgrp)) {
        try {
          process.kill(-p.pgrp, 'SIGKILL');
        } catch {
          // gone
        }
      }
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    sleepSync(20);
    procs = killable(scanContainerProcs(scope));
  }
  return first;
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Least-squares slope of y over x; null with fewer than 3 points or no spread in x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

/** Bytes of a file, 0 when it is not there. */
export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
