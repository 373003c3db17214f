/**
 * `nodewarden top`'s state and what each key does to it: a pure reducer, so
 * the view can be tested without a terminal. The shell (top.ts) polls the
 * daemon, feeds the answers and the keys in here, and performs the commands
 * that come back (kill, quit).
 */
import { CONTAINER_STATES, type ContainerState } from '../../../state-machines/types.js';
import type { ContainerView } from '../../node/container-view.js';
import type { NodeReport } from '../../node/nodewarden.js';

export const SORT_KEYS = ['memory', 'cpu', 'age', 'id'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** How much memory history the sparkline shows. */
export const HISTORY_MS = 60_000;

export interface MemoryPoint {
  /** The monitor's sample time (usage.timestamp). */
  ts: number;
  pmemBytes: number;
}

export interface TopState {
  containers: ContainerView[];
  node: NodeReport | null;
  /** Each container's pmem over the last minute, one point per monitor sample, oldest first. */
  history: Map<string, MemoryPoint[]>;
  sort: SortKey;
  /** Only containers in this state; null: all. */
  filter: ContainerState | null;
  /** The selected container's id; it stays selected as rows move. */
  selected: string | null;
  /** The container a kill waits to be confirmed for. */
  confirmKill: string | null;
  /** One line for the operator: what a key did, or why it failed. */
  message: string | null;
  /** The daemon could not be reached on the last poll (the screen keeps the last answer). */
  unreachable: string | null;
}

export type Command = { type: 'kill'; id: string } | { type: 'quit' } | { type: 'refresh' };

export interface Key {
  name?: string;
  sequence?: string;
  ctrl?: boolean;
  meta?: boolean;
  shift?: boolean;
}

export function initialState(opts: { sort?: SortKey; filter?: ContainerState | null } = {}): TopState {
  return { containers: [], node: null, history: new Map(), sort: opts.sort ?? 'memory', filter: opts.filter ?? null, selected: null, confirmKill: null, message: null, unreachable: null };
}

/** A poll's answer: the containers, the node, and each new monitor sample added to the history. */
export function polled(state: TopState, containers: ContainerView[], node: NodeReport): TopState {
  const history = new Map<string, MemoryPoint[]>();
  for (const c of containers) {
    const points = state.history.get(c.id) ?? [];
    const u = c.usage;
    const newest = points.at(-1);
    const next = u && (!newest || u.timestamp > newest.ts) && u.pmemBytes >= 0 ? [...points, { ts: u.timestamp, pmemBytes: u.pmemBytes }] : points;
    const from = (u?.timestamp ?? next.at(-1)?.ts ?? 0) - HISTORY_MS;
    history.set(c.id, next.filter((p) => p.ts > from));
  }
  const next = { ...state, containers, node, history, unreachable: null };
  return { ...next, selected: keepSelection(next) };
}

export function unreachable(state: TopState, reason: string): TopState {
  return { ...state, unreachable: reason };
}

const memoryOf = (c: ContainerView) => c.usage?.pmemBytes ?? -1;
const cpuOf = (c: ContainerView) => c.usage?.cpuPercent ?? -1;

/** Biggest first for memory and CPU, oldest first for age, then by id so equal rows keep their places. */
const ORDER: Record<SortKey, (a: ContainerView, b: ContainerView) => number> = {
  memory: (a, b) => memoryOf(b) - memoryOf(a),
  cpu: (a, b) => cpuOf(b) - cpuOf(a),
  age: (a, b) => a.createdAt - b.createdAt,
  id: () => 0,
};

/** The rows on screen, in order. */
export function rows(state: TopState): ContainerView[] {
  const shown = state.filter === null ? state.containers : state.containers.filter((c) => c.state === state.filter);
  return [...shown].sort((a, b) => ORDER[state.sort](a, b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The selection survives a poll; when its container is gone (or filtered out) the first row is selected. */
function keepSelection(state: TopState): string | null {
  const shown = rows(state);
  if (state.selected !== null && shown.some((c) => c.id === state.selected)) return state.selected;
  return shown[0]?.id ?? null;
}

/** The states the filter key cycles through: all, then each state some container is in, in lifecycle order. */
function nextFilter(state: TopState): ContainerState | null {
  const present = CONTAINER_STATES.filter((s) => state.containers.some((c) => c.state === s));
  const cycle: Array<ContainerState | null> = [null, ...present];
  const at = cycle.indexOf(state.filter);
  return cycle[(at + 1) % cycle.length] ?? null;
}

function move(state: TopState, by: number | 'first' | 'last'): TopState {
  const shown = rows(state);
  if (shown.length === 0) return state;
  const at = Math.max(0, shown.findIndex((c) => c.id === state.selected));
  const to = by === 'first' ? 0 : by === 'last' ? shown.length - 1 : Math.min(shown.length - 1, Math.max(0, at + by));
  return { ...state, selected: shown[to]!.id };
}

/** q or Ctrl-C: the keys that work on any screen, the too-small one included. */
export const isQuit = (key: Key) => (key.ctrl === true && key.name === 'c') || (!key.ctrl && !key.meta && key.name === 'q');

const SORT_BY_KEY: Record<string, SortKey> = { m: 'memory', c: 'cpu', a: 'age', i: 'id' };

/** What a key does. `page` is how many rows one screen shows (PageUp/PageDown). */
export function pressed(state: TopState, key: Key, page: number): { state: TopState; command?: Command } {
  const name = key.name ?? key.sequence ?? '';
  if (isQuit(key)) return { state, command: { type: 'quit' } };
  // Ctrl-Y is not y, nor Shift-K k: a kill takes the plain keys.
  if (key.ctrl || key.meta || key.shift) return { state };
  if (state.confirmKill !== null) {
    const id = state.confirmKill;
    if (name === 'y') return { state: { ...state, confirmKill: null, message: `killing ${id}…` }, command: { type: 'kill', id } };
    return { state: { ...state, confirmKill: null, message: `kill of ${id} cancelled` } };
  }
  const cleared = { ...state, message: null };
  if (Object.hasOwn(SORT_BY_KEY, name)) {
    const next = { ...cleared, sort: SORT_BY_KEY[name]! };
    return { state: { ...next, selected: keepSelection(next) } };
  }
  switch (name) {
    case 'f': {
      const next = { ...cleared, filter: nextFilter(state) };
      return { state: { ...next, selected: keepSelection(next) } };
    }
    case 'up':
      return { state: move(cleared, -1) };
    case 'down':
      return { state: move(cleared, 1) };
    case 'pageup':
      return { state: move(cleared, -page) };
    case 'pagedown':
      return { state: move(cleared, page) };
    case 'home':
      return { state: move(cleared, 'first') };
    case 'end':
      return { state: move(cleared, 'last') };
    case 'r':
      return { state: cleared, command: { type: 'refresh' } };
    case 'k': {
      const target = rows(state).find((c) => c.id === state.selected);
      if (!target) return { state: { ...cleared, message: 'no container selected' } };
      return { state: { ...cleared, confirmKill: target.id } };
    }
    default:
      return { state };
  }
}

/** After the daemon answered a kill (or refused it). */
export function killed(state: TopState, id: string, result: { state: string } | { error: string }): TopState {
  return { ...state, message: 'error' in result ? `kill of ${id} failed: ${result.error}` : `kill requested: ${id} is ${result.state}` };
}
