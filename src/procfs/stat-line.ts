/**
 * The first line of `/proc/<pid>/stat`, parsed with the rules of YARN's
 * ProcfsBasedProcessTree (its PROCFS_STAT_FILE_FORMAT pattern): `pid (comm)
 * state ppid pgrp session` then seven fields, utime, stime, seven fields
 * (num_threads and starttime among them), vsize (bytes), rss (pages) and at
 * least fifteen more. comm runs to the LAST `)` so names such as `proc(3)` or
 * `process two` parse. A line that does not match gives undefined: the caller
 * drops that process.
 *
 * The monitor parses every process on the machine every tick, so this walks
 * the bytes as read, without a regex or a string per line: only comm becomes a
 * string. A field is a run of digits and `-` (where the pattern says `[\d-]+`)
 * or of digits (`\d+`), fields are separated by exactly one ASCII whitespace
 * byte, and the state is one ASCII byte. The test suite checks it
 * against the pattern itself on generated lines.
 *
 * One departure from the pattern: a field we read with more than
 * MAX_FIELD_DIGITS digits makes the line corrupt. The kernel writes at most
 * 20 (a u64); a few hundred would be Infinity, and sums of Infinity give
 * NaN CPU and `null` in the journal, which replay then refuses.
 */
import type { ProcessStat } from '../../state-machines/process-tree.js';

const SPACE = 0x20;
const OPEN = 0x28; // (
const CLOSE = 0x29; // )
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * The longest number a field may hold: beyond any u64, yet small enough that
 * every sum over pid_max (2^22) processes stays finite — vsize, rss × page
 * size, and the CPU percent, which is worked out in float32.
 */
export const MAX_FIELD_DIGITS = 24;

const isWhitespace = (b: number) => b === SPACE || (b >= 0x09 && b <= 0x0d);
const isDigit = (b: number) => b >= ZERO && b <= NINE;

/** Walks the fields after `)`; every read moves `at` past one separator and one field. */
class Fields {
  constructor(
    private readonly buf: Uint8Array,
    private readonly end: number,
    public at: number,
  ) {}

  /** One whitespace byte, then a run of digits (and `-` when `minus`); the run's [start, end), or undefined. */
  private next(minus: boolean): [number, number] | undefined {
    const { buf, end } = this;
    if (this.at >= end || !isWhitespace(buf[this.at]!)) return undefined;
    const start = ++this.at;
    while (this.at < end && (isDigit(buf[this.at]!) || (minus && buf[this.at] === MINUS))) this.at++;
    return this.at > start ? [start, this.at] : undefined;
  }

  /** A `[\d-]+` field that must not be read: only its shape counts. */
  skip(count = 1): boolean {
    for (let i = 0; i < count; i++) if (this.next(true) === undefined) return false;
    return true;
  }

  /** A `[\d-]+` field as a number: a leading `-` is a sign, any other `-` makes it NaN (YARN's Long parse fails). */
  signed(): number | undefined {
    const run = this.next(true);
    if (run === undefined) return undefined;
    const [start, end] = run;
    const negative = this.buf[start] === MINUS;
    const digits = negative ? start + 1 : start;
    if (digits === end) return NaN;
    for (let i = digits; i < end; i++) if (this.buf[i] === MINUS) return NaN;
    const n = this.number(digits, end);
    return negative ? -n : n;
  }

  /** A `\d+` field. */
  unsigned(): number | undefined {
    const run = this.next(false);
    return run === undefined ? undefined : this.number(run[0], run[1]);
  }

  /** Digits to a number, exactly as Number() would: by hand while that is exact, else through a string; NaN when too long. */
  private number(start: number, end: number): number {
    if (end - start > MAX_FIELD_DIGITS) return NaN;
    if (end - start > 15) return Number(Buffer.from(this.buf.buffer, this.buf.byteOffset + start, end - start).toString('latin1'));
    let n = 0;
    for (let i = start; i < end; i++) n = n * 10 + (this.buf[i]! - ZERO);
    return n;
  }

  /** One whitespace byte, then one ASCII byte that is not whitespace (the state). */
  state(): string | undefined {
    const { buf, end } = this;
    if (this.at + 1 >= end || !isWhitespace(buf[this.at]!)) return undefined;
    const b = buf[this.at + 1]!;
    if (isWhitespace(b) || b >= 0x80) return undefined;
    this.at += 2;
    return String.fromCharCode(b);
  }
}

/** Parse a stat line held in `buf[0, length)` (no newline needed). */
export function parseStatBytes(pid: number, buf: Buffer, length = buf.length): ProcessStat | undefined {
  // `[\d-]+ (`
  let head = 0;
  while (head < length && (isDigit(buf[head]!) || buf[head] === MINUS)) head++;
  if (head === 0 || head + 1 >= length || !isWhitespace(buf[head]!) || buf[head + 1] !== OPEN) return undefined;
  const commStart = head + 2;
  const close = buf.lastIndexOf(CLOSE, length - 1);
  if (close < commStart) return undefined;
  const f = new Fields(buf, length, close + 1);
  const state = f.state();
  const ppid = f.signed();
  const pgrp = f.signed();
  const session = f.signed();
  if (state === undefined || ppid === undefined || pgrp === undefined || session === undefined || !f.skip(7)) return undefined; // tty_nr … cmajflt
  const utime = f.unsigned();
  const stime = f.unsigned();
  if (utime === undefined || stime === undefined || !f.skip(4)) return undefined; // cutime cstime priority nice
  const numThreads = f.signed();
  if (numThreads === undefined || !f.skip()) return undefined; // itrealvalue
  const startTime = f.signed();
  const vsize = f.unsigned();
  const rssPages = f.unsigned();
  if (startTime === undefined || vsize === undefined || rssPages === undefined || !f.skip(15)) return undefined;
  if (Number.isNaN(ppid) || Number.isNaN(pgrp) || Number.isNaN(session) || Number.isNaN(numThreads) || Number.isNaN(startTime)) return undefined;
  if (Number.isNaN(utime) || Number.isNaN(stime) || Number.isNaN(vsize) || Number.isNaN(rssPages)) return undefined; // too long
  return { pid, comm: buf.toString('utf8', commStart, close), state, ppid, pgrp, session, utime, stime, numThreads, startTime, vsize, rssPages };
}

export function parseStatLine(pid: number, line: string): ProcessStat | undefined {
  return parseStatBytes(pid, Buffer.from(line, 'utf8'));
}
