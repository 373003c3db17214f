/** A transition or kill decision in words: the events listing, the replay timeline and its divergences all say it this way. */
import type { OutputRecord } from './records.js';

export function describeOutput(r: OutputRecord): string {
  if (r.type === 'kill') return `killed by the ${r.by} (exit status ${r.exitStatus}): ${r.diagnostics.split('\n', 1)[0]}`;
  const status = r.event.type === 'KILL_CONTAINER' ? ` (exit status ${r.event.exitStatus})` : '';
  const code = 'exitCode' in r.event && typeof r.event.exitCode === 'number' ? ` (exit code ${r.event.exitCode})` : '';
  return `${r.from} → ${r.to}  ${r.event.type}${status}${code}`;
}
