/** Test helpers over the real /proc and the clock-free waits every test uses. */
import fs from 'node:fs';

/** Poll fn until it returns a truthy value; fail after timeoutMs, naming what was awaited. */
export async function waitFor<T>(fn: () => T, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** waitFor for an asynchronous check (an HTTP request, a query). */
export async function waitForAsync<T>(fn: () => Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Stat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  startTime: number;
}

export function procStat(pid: number): Stat | undefined {
  let line: string;
  try {
    line = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), startTime: Number(f[19]) };
}

/**
 * Whether a process is paused as nodewarden pauses: stopped by SIGSTOP (state
 * T, process groups), or in a frozen cgroup (the v1 freezer shows its tasks
 * in D, so the freezer's own word is taken).
 */
export function isPaused(pid: number): boolean {
  const stat = procStat(pid);
  if (stat === undefined) return false;
  if (stat.state === 'T') return true;
  let cgroups: string;
  try {
    cgroups = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return false;
  }
  const freezer = /^\d+:(?:[^:]*,)?freezer(?:,[^:]*)?:(.*)$/m.exec(cgroups)?.[1];
  if (freezer === undefined || freezer === '/') return false;
  try {
    return fs.readFileSync(`/sys/fs/cgroup/freezer${freezer}/freezer.state`, 'utf8').trim() === 'FROZEN';
  } catch {
    return false;
  }
}

/**
 * Members of a process group that are not zombies. (Zombies are dead; in some
 * sandboxes pid 1 never reaps orphans, so they linger in /proc.)
 */
export function liveMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s && s.pgrp === pgid && s.state !== 'Z' && s.state !== 'X') out.push(Number(name));
  }
  return out;
}

export function isLive(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

/** SIGKILL every group that still has members, then wait until all are gone. */
export async function killGroups(pgids: Iterable<number>): Promise<void> {
  const groups = [...pgids];
  for (const pgid of groups) {
    if (liveMembers(pgid).length === 0) continue;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await waitFor(() => groups.every((g) => liveMembers(g).length === 0), 10_000, 'test process groups to die');
}

/**
 * Live (not zombie) processes whose environment holds CONTAINER_ID of one of
 * `ids`: every container process inherits it. With `underDir`, only those
 * working under it (a container works in its directory): another test file,
 * running at the same time, may use the same ids for containers of its own.
 */
export function containerProcesses(ids: ReadonlySet<string>, underDir?: string): Array<{ pid: number; pgrp: number; id: string }> {
  const out: Array<{ pid: number; pgrp: number; id: string }> = [];
  if (ids.size === 0) return out;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let environ: string;
    let stat: string;
    try {
      environ = fs.readFileSync(`/proc/${name}/environ`, 'latin1');
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    const m = /(?:^|\0)CONTAINER_ID=([^\0]*)/.exec(environ);
    if (!m || !ids.has(m[1]!)) continue;
    if (underDir !== undefined && !cwdUnder(name, underDir)) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') continue;
    out.push({ pid: Number(name), pgrp: Number(f[2]), id: m[1]! });
  }
  return out;
}

function cwdUnder(pid: string, dir: string): boolean {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(dir + '/');
  } catch {
    return false; // gone, or not ours to read
  }
}
