/**
 * Placement with no window: the wrapper, just spawned, waits for the word
 * `placed` on its stdin (launch-script.ts) while the daemon moves it into the
 * container's cgroup; only then does it get the word and run the command
 * (YARN's container-executor writes cgroup.procs before its exec).
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { Containment } from '../containment/containment.js';

/** The wrapper could not be placed; it has been killed before it ran anything. */
export class PlacementError extends Error {}

export function placeWrapper(containment: Containment, id: string, child: ChildProcess & { pid: number }, log: Logger): void {
  const stdin = child.stdin!;
  stdin.on('error', (e) => log.debug({ container: id, err: e }, 'wrapper stdin closed early'));
  try {
    containment.place({ id, pid: child.pid });
  } catch (e) {
    // Still waiting for the word: nothing ran outside the cgroup, and nothing will.
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    stdin.destroy();
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new PlacementError(`cannot place pid ${child.pid} in its cgroup (${why})`, { cause: e });
  }
  stdin.end('placed\n');
}
