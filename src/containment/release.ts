/**
 * Removing what held a container once it is empty, as YARN deletes a cgroup:
 * retried every …cgroups.delete-delay-ms (20) while it still has members, for
 * up to …delete-timeout-ms (1000) plus the SIGKILL delay and a second; then
 * "Unable to delete", and the GC of the next start tries again.
 */
import type { Logger } from 'pino';
import type { Containment } from './containment.js';

const RELEASE_RETRY_MS = 20;
const RELEASE_TIMEOUT_MS = 1000;

export function releaseWithRetry(containment: Containment, id: string, sigkillDelayMs: number, log: Logger): void {
  const triesForMs = RELEASE_TIMEOUT_MS + sigkillDelayMs + 1000;
  const deadline = Date.now() + triesForMs;
  const attempt = (): void => {
    let released: boolean;
    try {
      released = containment.release(id);
    } catch (e) {
      log.error({ container: id, err: e }, 'cannot remove the container\'s cgroup');
      return;
    }
    if (released) return;
    if (Date.now() >= deadline) {
      log.warn({ container: id }, `Unable to delete the cgroup of ${id}, tried to delete for ${triesForMs} ms`);
      return;
    }
    // Ref'd: like a kill's SIGKILL, the cleanup completes even while the daemon stops.
    setTimeout(attempt, RELEASE_RETRY_MS);
  };
  attempt();
}

/**
 * At start, after recovery: what is held for containers nobody owns (a
 * cgroup left by a crash between its creation and the wrapper's placement,
 * or by a container forgotten meanwhile) is emptied, escaped processes
 * included, and removed. `owned` says which ids are still someone's.
 */
export function sweepUnowned(containment: Containment, owned: (id: string) => boolean, sigkillDelayMs: number, log: Logger): void {
  for (const id of containment.list()) {
    if (owned(id)) continue;
    log.info({ container: id, members: containment.members({ id, pid: 0 }) }, 'removing what is held for a container nobody owns');
    containment
      .kill({ id, pid: 0 })
      .then(() => releaseWithRetry(containment, id, sigkillDelayMs, log))
      .catch((err: unknown) => log.error({ container: id, err }, 'cannot empty a cgroup nobody owns'));
  }
}
