/**
 * The memory-hungry program of the limit-enforcement bench, run unchanged
 * under pm2 and under nodewarden:
 *
 *   node hungry.js REPORT_FILE LIMIT_BYTES DELAY_MS [--child]
 *
 * It waits DELAY_MS, then allocates and touches memory in 4 MB steps until
 * its RSS is 64 MB over LIMIT_BYTES, and holds it. The moment its RSS crossed
 * the limit goes into REPORT_FILE as `{"pid","crossedAt"}` (epoch ms, written
 * once: a restarted copy under pm2 does not overwrite it).
 *
 * With --child the memory is held by a child process (a copy of this program)
 * and the parent stays small; the child crosses when the two together do.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const STEP = 4 * 2 ** 20;
const OVER = 64 * 2 ** 20;

const [report, limitArg, delayArg, mode] = process.argv.slice(2);
const limit = Number(limitArg);
const delayMs = Number(delayArg);
if (report === undefined || !(limit > 0) || !(delayMs >= 0)) {
  console.error('usage: node hungry.js REPORT_FILE LIMIT_BYTES DELAY_MS [--child]');
  process.exit(2);
}

/** Epoch ms with sub-ms precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

function allocate(): void {
  const held: Buffer[] = [];
  let crossed = false;
  while (process.memoryUsage.rss() < limit + OVER) {
    // fill, not alloc's zeroing: calloc'd pages are not resident until written.
    held.push(Buffer.allocUnsafe(STEP).fill(1));
    if (!crossed && process.memoryUsage.rss() > limit) {
      crossed = true;
      try {
        fs.writeFileSync(report!, JSON.stringify({ pid: process.pid, crossedAt: now() }), { flag: 'wx' });
      } catch {
        // an earlier incarnation already reported
      }
    }
  }
  setInterval(() => held.length, 1 << 30); // hold it
}

if (mode === '--child') {
  // The child crosses when parent + child cross the limit (the parent's RSS as
  // it is now: an idle parent's hardly moves, so the time is close).
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), report, String(limit - process.memoryUsage.rss()), String(delayMs)], {
    stdio: 'inherit',
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  setTimeout(allocate, delayMs);
}
