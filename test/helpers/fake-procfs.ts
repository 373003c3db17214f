/**
 * A fake procfs directory for exact-number tests of the process-tree math:
 * `<root>/<pid>/stat`, `cmdline` and `smaps`, written the way the kernel
 * writes them (52 stat fields).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface FakeProcess {
  pid: number;
  comm?: string;
  state?: string;
  ppid: number;
  pgrp?: number;
  session?: number;
  utime?: number;
  stime?: number;
  numThreads?: number;
  startTime?: number;
  vsize?: number;
  rssPages?: number;
  /** Raw /proc/<pid>/cmdline: NUL-separated. */
  cmdline?: string;
  smaps?: string;
}

export function statLine(p: FakeProcess): string {
  const fields = [
    p.state ?? 'S',
    p.ppid,
    p.pgrp ?? p.pid,
    p.session ?? p.pid,
    0, // tty_nr
    -1, // tpgid
    4194560, // flags
    0, 0, 0, 0, // minflt cminflt majflt cmajflt
    p.utime ?? 0,
    p.stime ?? 0,
    0, 0, // cutime cstime
    20, 0, // priority nice
    p.numThreads ?? 1,
    0, // itrealvalue
    p.startTime ?? 1000,
    p.vsize ?? 0,
    p.rssPages ?? 0,
    ...Array<number>(28).fill(0),
  ];
  return `${p.pid} (${p.comm ?? 'proc'}) ${fields.join(' ')}\n`;
}

export class FakeProcfs {
  readonly root: string;

  constructor() {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-procfs-'));
  }

  set(p: FakeProcess): this {
    const dir = path.join(this.root, String(p.pid));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'stat'), statLine(p));
    fs.writeFileSync(path.join(dir, 'cmdline'), p.cmdline ?? '');
    if (p.smaps !== undefined) fs.writeFileSync(path.join(dir, 'smaps'), p.smaps);
    return this;
  }

  /** Write any text as a pid's stat file (corrupt lines). */
  rawStat(pid: number | string, text: string): this {
    const dir = path.join(this.root, String(pid));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'stat'), text);
    return this;
  }

  remove(pid: number): this {
    fs.rmSync(path.join(this.root, String(pid)), { recursive: true, force: true });
    return this;
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** An smaps mapping block. */
export function smapsMapping(perms: string, anonymousKb: number): string {
  return (
    `7f0000000000-7f0000100000 ${perms} 00000000 08:01 1234 /lib/x.so\n` +
    `Size:               1024 kB\nRss:                 512 kB\nPss:                 256 kB\n` +
    `Anonymous:        ${String(anonymousKb).padStart(6)} kB\nSwap:                  0 kB\n`
  );
}
