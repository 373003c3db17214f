/** A transition or kill decision in words: the events listing, the replay timeline and its divergences all say it this way. */
import type { ContainerState } from '../../state-machines/types.js';
import type { OutputRecord } from './records.js';

/** How the CLI colours a line's parts; plain text by default. */
export interface DescribeStyle {
  state(state: ContainerState): string;
  kill(text: string): string;
}

const PLAIN: DescribeStyle = { state: (s) => s, kill: (t) => t };

export function describeOutput(r: OutputRecord, style: DescribeStyle = PLAIN): string {
  if (r.type === 'kill') return style.kill(`killed by the ${r.by} (exit status ${r.exitStatus}): ${r.diagnostics.split('\n', 1)[0]}`);
  const status = r.event.type === 'KILL_CONTAINER' ? ` (exit status ${r.event.exitStatus})` : '';
  const code = 'exitCode' in r.event && typeof r.event.exitCode === 'number' ? ` (exit code ${r.event.exitCode})` : '';
  return `${style.state(r.from)} → ${style.state(r.to)}  ${r.event.type}${status}${code}`;
}
