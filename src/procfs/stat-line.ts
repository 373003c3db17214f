/**
 * The first line of `/proc/<pid>/stat`, parsed with the rules of YARN's
 * ProcfsBasedProcessTree: `pid (comm) state ppid pgrp session` then seven
 * fields, utime, stime, seven fields (num_threads and starttime among them),
 * vsize (bytes), rss (pages) and at least fifteen more. comm runs to the LAST
 * `)` so names such as `proc(3)` or `process two` parse. A line that does not
 * match gives undefined: the caller drops that process.
 */
import type { ProcessStat } from '../../state-machines/process-tree.js';

const HEAD = /^[\d-]+\s\(/;
// After `)`: state ppid pgrp session, 7 fields (tty_nr … cmajflt), utime stime,
// cutime cstime priority nice num_threads itrealvalue starttime, vsize rss, ≥15 more.
const TAIL =
  /^\s(\S)\s([\d-]+)\s([\d-]+)\s([\d-]+)\s(?:[\d-]+\s){7}(\d+)\s(\d+)\s(?:[\d-]+\s){4}([\d-]+)\s[\d-]+\s([\d-]+)\s(\d+)\s(\d+)(?:\s[\d-]+){15}/;

function int(s: string): number {
  return s.length > 0 && s.lastIndexOf('-') <= 0 ? Number(s) : NaN;
}

export function parseStatLine(pid: number, line: string): ProcessStat | undefined {
  const head = HEAD.exec(line);
  if (head === null) return undefined;
  const close = line.lastIndexOf(')');
  if (close < head[0].length) return undefined;
  const m = TAIL.exec(line.slice(close + 1));
  if (m === null) return undefined;
  const stat: ProcessStat = {
    pid,
    comm: line.slice(head[0].length, close),
    state: m[1]!,
    ppid: int(m[2]!),
    pgrp: int(m[3]!),
    session: int(m[4]!),
    utime: Number(m[5]),
    stime: Number(m[6]),
    numThreads: int(m[7]!),
    startTime: int(m[8]!),
    vsize: Number(m[9]),
    rssPages: Number(m[10]),
  };
  if (Number.isNaN(stat.ppid) || Number.isNaN(stat.pgrp) || Number.isNaN(stat.session) || Number.isNaN(stat.numThreads) || Number.isNaN(stat.startTime)) {
    return undefined;
  }
  return stat;
}
