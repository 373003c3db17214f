/**
 * Reading a file the container may have made (its pid and exit-code files):
 * under a run-as user the container can put anything under those names — a
 * symlink to a secret, a FIFO that never answers, /dev/zero. So the daemon
 * opens them without following a link, without blocking, only a regular
 * file, and reads a few bytes at most.
 */
import fs from 'node:fs';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
/** An exit code or a pid fits many times over. */
const MAX_BYTES = 64;

/** The file's text, or null when it is missing or not a regular file. Synchronous: a few bytes of a local file. */
export function readWrapperFile(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(MAX_BYTES);
    const n = fs.readSync(fd, buf, 0, MAX_BYTES, 0);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
