/**
 * Reading procfs under a configurable root (tests point it at a fake tree).
 * Every read is of one small file; a process that vanished, a file we may not
 * read or a line that does not parse skips that process and nothing throws.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ProcessStat } from '../../state-machines/process-tree.js';
import { cmdlineForDump } from '../../state-machines/process-tree-dump.js';
import { anonymousKb } from './smaps.js';
import { parseStatBytes, parseStatLine } from './stat-line.js';

export const PID_PATTERN = /^[1-9][0-9]*$/;

/** PID_PATTERN without a regex: it runs for every entry of /proc every tick. */
function isPidName(name: string): boolean {
  const first = name.charCodeAt(0);
  if (!(first >= 49 && first <= 57)) return false; // 1-9
  for (let i = 1; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** One scan: every process that could be read, and the pids whose stat line did not parse. */
export interface ProcfsScan {
  processes: Map<number, ProcessStat>;
  corrupt: number[];
}

export interface ProcfsReaderOptions {
  /**
   * Keep each process's stat file open between scans and re-read it in place
   * (one pread instead of open + read + close). A procfs fd names the process,
   * not the pid: once the process is gone the read fails (ESRCH) and a reused
   * pid is opened afresh. At most a quarter of the fd limit is held.
   */
  keepOpen?: boolean;
}

/** How many stat files a keepOpen reader may hold: a quarter of the open-files limit, at most 16,384. */
export function heldFilesCap(): number {
  return Math.min(16_384, Math.floor(openFilesLimit() / 4));
}

/** The soft limit on open files, from /proc/self/limits (256 when unreadable). */
function openFilesLimit(): number {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const n = Number(line?.split(/\s+/)[3]);
    return Number.isInteger(n) && n > 0 ? n : 256;
  } catch {
    return 256;
  }
}

export class ProcfsReader {
  readonly root: string;
  /** Reused for every stat read: a stat line is well under 1 KB. */
  private readonly buf = Buffer.allocUnsafe(4096);
  private readonly keepOpen: boolean;
  private readonly maxOpen: number;
  /** pid → open stat fd and the scan that last saw the pid (keepOpen). */
  private readonly open = new Map<number, { fd: number; scan: number }>();
  private scans = 0;

  constructor(root = '/proc', opts: ProcfsReaderOptions = {}) {
    this.root = path.resolve(root);
    this.keepOpen = opts.keepOpen ?? false;
    this.maxOpen = this.keepOpen ? heldFilesCap() : 0;
  }

  /** Directory names that are pids. Throws only when the root itself cannot be listed. */
  listPids(): number[] {
    const pids: number[] = [];
    for (const name of fs.readdirSync(this.root)) {
      if (isPidName(name)) pids.push(Number(name));
    }
    return pids;
  }

  /**
   * The first line of <root>/<pid>/stat: its length when it is in `buf` (the
   * usual case, parsed in place), the line itself when it was too long for it,
   * undefined when it cannot be read.
   */
  private readFirstLine(pid: number): number | string | undefined {
    const held = this.open.get(pid);
    if (held !== undefined) {
      held.scan = this.scans;
      const line = this.readLine(held.fd);
      if (line !== undefined) return line;
      // The process is gone (ESRCH); the pid may already be someone else's.
      this.release(pid);
    }
    let fd: number;
    try {
      fd = fs.openSync(`${this.root}/${pid}/stat`, 'r');
    } catch {
      return undefined;
    }
    const line = this.readLine(fd);
    if (line !== undefined && this.open.size < this.maxOpen) this.open.set(pid, { fd, scan: this.scans });
    else fs.closeSync(fd);
    return line;
  }

  /** Close every held file. The reader stays usable (it reopens as needed). */
  close(): void {
    for (const pid of [...this.open.keys()]) this.release(pid);
  }

  /** The first line's length in `buf`, or the line when longer than `buf`. */
  private readLine(fd: number): number | string | undefined {
    try {
      const n = fs.readSync(fd, this.buf, 0, this.buf.length, 0);
      if (n === this.buf.length) return this.readLongLine(fd);
      const nl = this.buf.indexOf(10);
      return nl >= 0 && nl < n ? nl : n;
    } catch {
      return undefined;
    }
  }

  /** Longer than any real stat line: read on (positional reads: the fd may be read again next scan) to a newline, up to 1 MB. */
  private readLongLine(fd: number): string {
    const chunks = [Buffer.from(this.buf)];
    let pos = this.buf.length;
    while (pos < 2 ** 20 && !chunks.at(-1)!.includes(10)) {
      const chunk = Buffer.allocUnsafe(65536);
      const m = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (m <= 0) break;
      chunks.push(chunk.subarray(0, m));
      pos += m;
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl);
  }

  private release(pid: number): void {
    const held = this.open.get(pid);
    if (held === undefined) return;
    this.open.delete(pid);
    try {
      fs.closeSync(held.fd);
    } catch {
      // already closed
    }
  }

  /** undefined: gone or unreadable; null: read but corrupt. */
  readStat(pid: number): ProcessStat | null | undefined {
    const line = this.readFirstLine(pid);
    if (line === undefined) return undefined;
    return (typeof line === 'number' ? parseStatBytes(pid, this.buf, line) : parseStatLine(pid, line)) ?? null;
  }

  /** Every readable process under the root (YARN getProcessList + constructProcessInfo). */
  scan(): ProcfsScan {
    const processes = new Map<number, ProcessStat>();
    const corrupt: number[] = [];
    const scan = ++this.scans;
    let pids: number[];
    try {
      pids = this.listPids();
    } catch {
      pids = [];
    }
    for (const pid of pids) {
      const stat = this.readStat(pid);
      if (stat === undefined) continue;
      if (stat === null) corrupt.push(pid);
      else processes.set(pid, stat);
    }
    // Files of processes that left the listing are not needed any more.
    for (const [pid, held] of this.open) if (held.scan !== scan) this.release(pid);
    return { processes, corrupt };
  }

  /** The command line as the process-tree dump shows it; `N/A` when unreadable or empty. */
  readCmdline(pid: number): string {
    try {
      return cmdlineForDump(fs.readFileSync(`${this.root}/${pid}/cmdline`, 'utf8'));
    } catch {
      return 'N/A';
    }
  }

  /** Anonymous kB of the process's private mappings; undefined when smaps cannot be read. */
  readAnonymousKb(pid: number): number | undefined {
    try {
      return anonymousKb(fs.readFileSync(`${this.root}/${pid}/smaps`, 'utf8'));
    } catch {
      return undefined;
    }
  }
}
