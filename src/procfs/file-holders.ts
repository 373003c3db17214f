/**
 * Which processes hold a file open (what `fuser` answers), read from
 * /proc/<pid>/fd. Used only to name the holder in an error message; processes
 * we may not inspect are skipped.
 */
import fs from 'node:fs';
import path from 'node:path';

export function processesHolding(file: string, procRoot = '/proc'): number[] {
  const target = path.resolve(file);
  const holders: number[] = [];
  let pids: string[];
  try {
    pids = fs.readdirSync(procRoot).filter((name) => /^\d+$/.test(name));
  } catch {
    return holders;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(path.join(procRoot, pid, 'fd'));
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(path.join(procRoot, pid, 'fd', fd)) === target) {
          holders.push(Number(pid));
          break;
        }
      } catch {
        // The fd closed, or the process ended, while we looked.
      }
    }
  }
  return holders;
}
