/**
 * Crash points for the recovery tests (the idea of etcd's gofail): with
 * `NODEWARDEN_FAILPOINTS="name[:n],..."` in its environment, the daemon
 * SIGKILLs itself the n-th time (default: the first) it reaches the named
 * point — a real crash at an exact place, which a SIGKILL sent from outside
 * can only hit by luck. Unset, a failpoint costs one Map lookup.
 */

/** Where the daemon can be made to crash. */
export type FailpointName =
  /** The launch marker is committed; nothing is spawned yet. */
  | 'launch-committed'
  /** The wrapper is spawned; CONTAINER_LAUNCHED is not dispatched yet. */
  | 'spawned'
  /** A kill (KILLING) is committed; nothing is signalled yet. */
  | 'kill-committed'
  /** A kill's SIGTERM has been sent; the SIGKILL is not. */
  | 'kill-signalled'
  /** A process exit was noticed; its event is not dispatched yet. */
  | 'exit-noticed';

export const FAILPOINT_NAMES: readonly FailpointName[] = ['launch-committed', 'spawned', 'kill-committed', 'kill-signalled', 'exit-noticed'];

/** Hits left before each armed point fires. */
const armed = parse(process.env.NODEWARDEN_FAILPOINTS ?? '');

function parse(spec: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, count] = item.split(':');
    const n = count === undefined ? 1 : Number(count);
    if (!FAILPOINT_NAMES.includes(name as FailpointName) || !Number.isSafeInteger(n) || n < 1) {
      // A test's typo must not pass silently, nor crash a daemon at import.
      process.stderr.write(`nodewarden: NODEWARDEN_FAILPOINTS: ignoring ${JSON.stringify(item)} (want name[:count>0], names: ${FAILPOINT_NAMES.join(', ')})\n`);
      continue;
    }
    out.set(name!, n);
  }
  return out;
}

/** Crash here if this point is armed and its count is reached. */
export function failpoint(name: FailpointName): void {
  const left = armed.get(name);
  if (left === undefined) return;
  if (left > 1) {
    armed.set(name, left - 1);
    return;
  }
  process.stderr.write(`nodewarden: failpoint ${name} reached: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}
