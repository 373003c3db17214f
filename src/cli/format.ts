/** Human output for the CLI: aligned tables, sizes, times, event lines. */
import { diagnosticsStamp } from '../../state-machines/diagnostics.js';
import { long2String } from '../../state-machines/long2string.js';
import type { ContainerView } from '../node/container-view.js';
import { describeOutput } from '../journal/describe.js';
import type { OutputRecord } from '../journal/records.js';
import type { ContainerState } from '../../state-machines/types.js';
import { painter, stateStyle, type Paint } from './colour.js';

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export const bytes = (n: number) => long2String(n, 'B', 1);

/** YARN's "not known yet" (-1000 exit status, -1 usage) as a dash. */
export const known = (n: number | null | undefined, show: (n: number) => string = String) =>
  n === null || n === undefined || n === -1000 || n < -1000 ? '-' : show(n);

export function age(since: number, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - since) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

export const time = (ts: number) => diagnosticsStamp(ts);

export function memory(v: ContainerView): string {
  return `${v.usage ? bytes(v.usage.pmemBytes) : '-'} / ${bytes(v.limits.pmemBytes)}`;
}

export function cpu(v: ContainerView): string {
  return v.usage && v.usage.cpuPercent >= 0 ? v.usage.cpuPercent.toFixed(1) : '-';
}

/** One line a transition or kill decision: time, seq, container, then what happened; coloured when paint is on. */
export function eventLine(r: OutputRecord, paint: Paint = painter(false)): string {
  const style = { state: (s: ContainerState) => paint(stateStyle(s), s), kill: (t: string) => paint(['bold', 'red'], t) };
  return `${paint('gray', time(r.ts))}  ${paint('gray', `#${r.seq}`)}  ${paint('bold', r.container)}  ${describeOutput(r, style)}`;
}
