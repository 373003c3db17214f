/**
 * The memory-hungry program of the limit-enforcement bench, run unchanged
 * under pm2 and under nodewarden:
 *
 *   node hungry.js REPORT_FILE LIMIT_BYTES DELAY_MS ANCESTORS [--child]
 *
 * It waits DELAY_MS, then allocates and touches memory in 4 MB steps until
 * the memory it measures is 64 MB over LIMIT_BYTES, and holds it. The moment
 * that memory crosses the limit goes into REPORT_FILE as `{"pid","crossedAt"}`
 * (epoch ms, written once: a restarted copy under pm2 does not overwrite it).
 *
 * The memory it measures is what the tool under test measures: its own RSS
 * plus that of its ANCESTORS nearest ancestors. Under nodewarden that is 1,
 * the launch wrapper (bash) whose tree the monitor sums; under pm2 it is 0,
 * the pid alone. Counting less than the tool does would let the tool kill
 * the program before it reports a crossing at all.
 *
 * With --child the memory is held by a child process (a copy of this program
 * counting one ancestor more) and the parent stays small.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const STEP = 4 * 2 ** 20;
const OVER = 64 * 2 ** 20;

const [report, limitArg, delayArg, ancestorsArg, mode] = process.argv.slice(2);
const limit = Number(limitArg);
const delayMs = Number(delayArg);
const ancestors = Number(ancestorsArg);
if (report === undefined || !(limit > 0) || !(delayMs >= 0) || !Number.isInteger(ancestors) || ancestors < 0) {
  console.error('usage: node hungry.js REPORT_FILE LIMIT_BYTES DELAY_MS ANCESTORS [--child]');
  process.exit(2);
}

/** Epoch ms with sub-ms precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

/** The parent pid of `pid`, from /proc (0 when it is gone). */
function parentOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** RSS of `pid` in bytes, from /proc/PID/status (0 when it is gone). */
function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Its ancestors, nearest first, found once: they stay the same while it allocates. */
const lineage: number[] = [];
for (let pid = process.ppid; lineage.length < ancestors && pid > 1; pid = parentOf(pid)) lineage.push(pid);

/** What the tool measures: its own RSS and its ancestors', read again at every step. */
const measured = () => process.memoryUsage.rss() + lineage.reduce((sum, pid) => sum + rssOf(pid), 0);

function reportCrossing(): void {
  try {
    fs.writeFileSync(report!, JSON.stringify({ pid: process.pid, crossedAt: now() }), { flag: 'wx' });
  } catch {
    // an earlier incarnation already reported
  }
}

function allocate(): void {
  const held: Buffer[] = [];
  let reported = false;
  for (let m = measured(); m < limit + OVER; m = measured()) {
    // The step that will cross is reported just before it is taken: a tool
    // that kills within the step must find the report written. (The time is
    // early by at most one step's fill, about a millisecond.)
    if (!reported && m + STEP > limit) {
      reported = true;
      reportCrossing();
    }
    // fill, not alloc's zeroing: calloc'd pages are not resident until written.
    held.push(Buffer.allocUnsafe(STEP).fill(1));
  }
  setInterval(() => held.length, 1 << 30); // hold it
}

if (mode === '--child') {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), report, String(limit), String(delayMs), String(ancestors + 1)], {
    stdio: 'inherit',
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  setTimeout(allocate, delayMs);
}
