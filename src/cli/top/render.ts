/**
 * `nodewarden top`'s screen as lines of text: a pure function of the state,
 * the terminal's size and the time, so that what the operator sees can be
 * tested to the character. Colour comes from `paint`; with it off the screen
 * still says everything (the selected row is marked with ▶).
 */
import type { ContainerView } from '../../node/container-view.js';
import type { Paint, Style } from '../colour.js';
import { stateStyle } from '../colour.js';
import { age, bytes, time } from '../format.js';
import { HISTORY_MS, rows, type MemoryPoint, type TopState } from './model.js';

export const MIN_WIDTH = 80;
export const MIN_HEIGHT = 10;

/** Lines above the table (title, node memory, node vcores, containers, keys, blank, column header) and below it (message). */
const CHROME_ABOVE = 7;
const CHROME_BELOW = 1;

export interface ScreenInfo {
  width: number;
  height: number;
  now: number;
  socket: string;
  intervalMs: number;
  paint: Paint;
}

const SPARKS = '▁▂▃▄▅▆▇█';
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
export const BAR_WIDTH = 10;

/**
 * The last minute of memory in `width` characters, oldest on the left: each
 * character is an equal slice of the minute up to `now` showing the highest
 * sample in it (a slice between two samples keeps the earlier one's value),
 * scaled to the limit so that a full block is at or over it. Blank before
 * the first sample.
 */
export function sparkline(points: MemoryPoint[], limitBytes: number, width: number, now: number): string {
  const from = now - HISTORY_MS;
  const slice = HISTORY_MS / width;
  const marks: string[] = [];
  let last: number | null = null;
  let p = 0;
  while (p < points.length && points[p]!.ts <= from) last = points[p++]!.pmemBytes;
  for (let i = 0; i < width; i++) {
    const end = from + (i + 1) * slice;
    let high: number | null = null;
    while (p < points.length && points[p]!.ts <= end) {
      high = Math.max(high ?? 0, points[p]!.pmemBytes);
      last = points[p++]!.pmemBytes;
    }
    const value = high ?? last;
    marks.push(value === null ? ' ' : SPARKS[Math.max(0, Math.min(SPARKS.length - 1, Math.floor((value / limitBytes) * SPARKS.length)))]!);
  }
  return marks.join('');
}

/** A bar of `width` cells filled to used/limit, in eighths of a cell. */
export function bar(used: number, limit: number, width = BAR_WIDTH): string {
  const eighths = Math.round(Math.min(1, Math.max(0, used / limit)) * width * 8);
  const full = '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8]!;
  return full.padEnd(width, ' ');
}

/** Green well under the limit, yellow from 70 %, red from 90 %. */
const barStyle = (fraction: number) => (fraction >= 0.9 ? 'red' : fraction >= 0.7 ? 'yellow' : 'green');

/** One line of at most `width` characters: control characters (a newline in an error message) become spaces, and a cut ends with an ellipsis. */
export function clip(text: string, width: number): string {
  const line = text.replace(/[\x00-\x1f\x7f]/g, ' ');
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

const fixed = (n: number, digits: number) => (n < 0 ? '-' : n.toFixed(digits));

function header(state: TopState, info: ScreenInfo, shownRows: { from: number; to: number; total: number }): string[] {
  const { paint, width } = info;
  const node = state.node;
  const title = `nodewarden top · ${info.socket} · every ${(info.intervalMs / 1000).toFixed(1)}s · ${time(info.now).slice(11, 19)}`;
  const lines = [paint('bold', clip(title, width))];
  if (node === null) {
    lines.push(clip('waiting for the daemon…', width), '', '');
  } else {
    const u = node.utilization;
    // PSI, the last 10 s: the share of time some tasks (and all of them) waited for memory.
    const psi = node.pressure?.memory;
    const pressure = psi ? ` · pressure some ${psi.some.avg10.toFixed(2)}%${psi.full ? ` full ${psi.full.avg10.toFixed(2)}%` : ''} (10 s)` : '';
    // Elastic memory control: the containers together at the node's limit, the OOM handler choosing.
    const oom = node.elastic?.underOom ? ` · OUT OF MEMORY${node.elastic.unresolved ? ' (unresolved)' : ''}` : '';
    lines.push(
      clip(`memory  capacity ${bytes(node.capacity.memoryMb * 2 ** 20)} · allocated ${bytes(node.allocated.memoryMb * 2 ** 20)} · used ${bytes(u.pmemMb * 2 ** 20)} physical, ${bytes(u.vmemMb * 2 ** 20)} virtual${pressure}${oom}`, width),
      clip(`vcores  capacity ${node.capacity.vcores} · allocated ${+node.allocated.vcores.toFixed(2)} · used ${u.vcores.toFixed(2)}`, width),
    );
    const byState = Object.entries(node.containers)
      .map(([s, n]) => `${n} ${s}`)
      .join(', ');
    const queued = node.queued.guaranteed + node.queued.opportunistic;
    const range = shownRows.total === 0 ? '' : ` · rows ${shownRows.from}–${shownRows.to} of ${shownRows.total}`;
    lines.push(clip(`containers  ${state.containers.length}${byState ? `: ${byState}` : ''}${queued > 0 ? ` · ${queued} queued` : ''}${range}`, width));
  }
  const keys = `sort ${state.sort} [m]em [c]pu [a]ge [i]d · filter ${state.filter ?? 'all'} [f] · ↑↓ select · [k]ill · [q]uit`;
  lines.push(paint('gray', clip(keys, width)), '');
  return lines;
}

interface Columns {
  id: number;
  state: number;
  memText: number;
  spark: number;
}

/** A cell of a table line: its text (already padded) and how to paint it. */
type Cell = { text: string; style?: Style };

const PID_W = 7;
const VMEM_W = 9; // "1023.9 MB"
const CPU_W = 6; // "1600.0": CPU % counts every core
const AGE_W = 6;
const MARK_W = 1;
const GAP = ' ';
const NAME_MAX = 20;

const memText = (c: ContainerView) => `${c.usage ? bytes(c.usage.pmemBytes) : '-'}/${bytes(c.limits.pmemBytes)}`;

function columns(shown: ContainerView[], width: number): Columns {
  const id = Math.min(NAME_MAX, Math.max(2, ...shown.map((c) => c.id.length)));
  const state = Math.min(NAME_MAX, Math.max(5, ...shown.map((c) => c.state.length)));
  const mem = Math.max(6, ...shown.map((c) => memText(c).length));
  const used = MARK_W + id + state + PID_W + BAR_WIDTH + mem + VMEM_W + CPU_W + AGE_W + 9 * GAP.length;
  return { id, state, memText: mem, spark: Math.max(0, Math.min(60, width - used)) };
}

/** The cells joined by a gap, cut at `width` (so a line never wraps and scrolls the screen), then painted. */
function fitLine(cells: Cell[], width: number, paint: Paint): string {
  let out = '';
  let room = width;
  for (const [i, cell] of cells.entries()) {
    const text = (i === 0 ? '' : GAP) + cell.text;
    const fitted = text.length <= room ? text : text.slice(0, room);
    room -= fitted.length;
    const gap = i === 0 ? '' : fitted.slice(0, GAP.length);
    out += gap + (cell.style ? paint(cell.style, fitted.slice(gap.length)) : fitted.slice(gap.length));
    if (room === 0) break;
  }
  return out.trimEnd();
}

function row(c: ContainerView, cols: Columns, history: MemoryPoint[], selected: boolean, info: ScreenInfo): string {
  const pmem = c.usage?.pmemBytes ?? 0;
  const fraction = pmem / c.limits.pmemBytes;
  const cells: Cell[] = [
    { text: selected ? '▶' : ' ' },
    { text: clip(c.id, cols.id).padEnd(cols.id) },
    { text: clip(c.state, cols.state).padEnd(cols.state), style: stateStyle(c.state) },
    { text: String(c.pid ?? '-').padStart(PID_W) },
    { text: bar(pmem, c.limits.pmemBytes), style: barStyle(fraction) },
    { text: memText(c).padEnd(cols.memText) },
    { text: (c.usage ? bytes(c.usage.vmemBytes) : '-').padStart(VMEM_W) },
    { text: (c.usage ? fixed(c.usage.cpuPercent, 1) : '-').padStart(CPU_W) },
    { text: age(c.createdAt, info.now).padStart(AGE_W) },
    { text: sparkline(history, c.limits.pmemBytes, cols.spark, info.now), style: barStyle(fraction) },
  ];
  const line = fitLine(cells, info.width, info.paint);
  return selected ? info.paint('inverse', line) : line;
}

function columnHeader(cols: Columns, info: ScreenInfo): string {
  const titles = [
    ' ',
    'ID'.padEnd(cols.id),
    'STATE'.padEnd(cols.state),
    'PID'.padStart(PID_W),
    'MEMORY pmem/limit'.padEnd(BAR_WIDTH + 1 + cols.memText),
    'VMEM'.padStart(VMEM_W),
    'CPU%'.padStart(CPU_W),
    'AGE'.padStart(AGE_W),
    cols.spark >= 11 ? 'LAST MINUTE' : cols.spark >= 8 ? 'LAST MIN' : '',
  ];
  return fitLine(titles.map((text) => ({ text, style: 'bold' as const })), info.width, info.paint);
}

function messageLine(state: TopState, info: ScreenInfo): string {
  const { paint, width } = info;
  if (state.confirmKill !== null) {
    const c = state.containers.find((x) => x.id === state.confirmKill);
    const what = c ? `${c.id} (pid ${c.pid ?? '-'}, ${c.state})` : state.confirmKill;
    return paint(['bold', 'red'], clip(`Kill ${what}? y to kill, any other key to cancel`, width));
  }
  if (state.unreachable !== null) return paint(['bold', 'red'], clip(`${state.unreachable} (retrying; the screen shows the last answer)`, width));
  const fault = state.node?.store?.fault;
  if (fault) return paint(['bold', 'red'], clip(`The database cannot commit (${fault.code}: ${fault.message}): launches refused, kills go on`, width));
  return state.message === null ? '' : paint('yellow', clip(state.message, width));
}

/** The whole screen: at most `height` lines, none wider than `width`. */
export function renderScreen(state: TopState, info: ScreenInfo): string[] {
  if (!fits(info)) {
    return [
      clip(`nodewarden top needs a terminal of at least ${MIN_WIDTH}×${MIN_HEIGHT};`, info.width),
      clip(`this one is ${info.width}×${info.height}. Enlarge it, or use \`nodewarden ps\`.`, info.width),
      clip('q quits.', info.width),
    ].slice(0, info.height);
  }
  const shown = rows(state);
  const room = info.height - CHROME_ABOVE - CHROME_BELOW;
  const at = Math.max(0, shown.findIndex((c) => c.id === state.selected));
  // Scroll just enough to keep the selected row on screen.
  const offset = Math.min(Math.max(0, at - room + 1), Math.max(0, shown.length - room));
  const page = shown.slice(offset, offset + room);
  const cols = columns(shown, info.width);
  const lines = header(state, info, { from: offset + 1, to: offset + page.length, total: shown.length });
  lines.push(columnHeader(cols, info));
  if (shown.length === 0) {
    lines.push(
      state.filter === null
        ? clip('no containers yet: nodewarden launch --memory-mb 256 --vcores 1 -- CMD ARGS…', info.width)
        : clip(`no container is ${state.filter}: press f to change the filter`, info.width),
    );
  }
  for (const c of page) lines.push(row(c, cols, state.history.get(c.id) ?? [], c.id === state.selected, info));
  while (lines.length < info.height - CHROME_BELOW) lines.push('');
  lines.push(messageLine(state, info));
  return lines;
}

/** Whether the terminal is big enough for the view (smaller ones get the message, and only the quit keys). */
export const fits = (size: { width: number; height: number }) => size.width >= MIN_WIDTH && size.height >= MIN_HEIGHT;

/** Rows of containers one screen holds (PageUp/PageDown move by this). */
export const pageRows = (height: number) => Math.max(1, height - CHROME_ABOVE - CHROME_BELOW);
