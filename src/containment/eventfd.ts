/**
 * eventfd(2), which cgroup v1's OOM notification needs
 * (`cgroup.event_control`: "<eventfd> <fd of memory.oom_control>") and
 * Node does not have. koffi calls libc's eventfd; the counter is read with
 * an ordinary blocking fs.read, which waits on one of libuv's pool threads
 * until the kernel signals. No polling: the notice arrives when the OOM
 * does. That read holds one of libuv's four pool threads for as long as the
 * daemon listens; the daemon's own file work needs few.
 *
 * Why koffi: a maintained FFI package with prebuilt binaries in its npm
 * package (no compiler at install), and the one call we need is one line.
 * The alternatives were a native addon of our own (a build step) or a
 * helper process (another program to ship and supervise).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';

const EFD_CLOEXEC = 0o2000000;

type EventFdFn = (initval: number, flags: number) => number;
let eventfdFn: EventFdFn | null = null;

/** libc's eventfd, loaded on first use (only elastic memory control needs it). */
function eventfd(): EventFdFn {
  if (eventfdFn === null) {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    eventfdFn = koffi.load('libc.so.6').func('int eventfd(unsigned int, int)') as EventFdFn;
  }
  return eventfdFn;
}

/** A new blocking eventfd (close-on-exec). Throws when the call fails or koffi cannot load. */
export function openEventFd(): number {
  const fd = eventfd()(0, EFD_CLOEXEC);
  if (fd < 0) throw new Error('eventfd(2) failed');
  return fd;
}

/**
 * Calls `onEvent` each time the counter is signalled, until close(). One
 * read is outstanding at a time; close() signals the counter itself so that
 * read returns, then closes the descriptor.
 */
export class EventFdListener {
  private closed = false;
  private reading = false;
  private readonly buf = Buffer.alloc(8);

  constructor(
    private readonly fd: number,
    private readonly onEvent: () => void,
    private readonly onError: (err: Error) => void,
  ) {
    this.read();
  }

  private read(): void {
    this.reading = true;
    fs.read(this.fd, this.buf, 0, 8, null, (err) => {
      this.reading = false;
      if (this.closed) {
        fs.close(this.fd, () => {});
        return;
      }
      if (err) {
        this.onError(err);
        return;
      }
      this.onEvent();
      this.read();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.reading) {
      fs.close(this.fd, () => {});
      return;
    }
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    try {
      fs.writeSync(this.fd, one);
    } catch {
      fs.close(this.fd, () => {});
    }
  }
}
