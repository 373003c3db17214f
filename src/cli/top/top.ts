/**
 * `nodewarden top`: a live full-screen view of the containers over the
 * socket, redrawn at the monitor's interval. The state and the keys are in
 * model.ts, the screen in render.ts; this file polls, draws and kills.
 */
import { CONTAINER_STATES, type ContainerState } from '../../../state-machines/types.js';
import { NodewardenClient } from '../../client/client.js';
import type { ContainerView } from '../../node/container-view.js';
import type { NodeReport } from '../../node/nodewarden.js';
import { parseArgs, positiveInt, UsageError } from '../args.js';
import { colourWanted, painter } from '../colour.js';
import { daemonPaths } from '../paths.js';
import { initialState, isQuit, killed, polled, pressed, SORT_KEYS, unreachable, type Key, type SortKey, type TopState } from './model.js';
import { fits, pageRows, renderScreen } from './render.js';
import { FullScreen } from './terminal.js';


/** top cannot run here (no terminal): exit 1 with the reason, like any other failure. */
export class TerminalError extends Error {
  override name = 'TerminalError';
}

/** Redraw no faster than this, whatever the monitor's interval. */
const MIN_INTERVAL_MS = 100;
/** When the monitor is off there is no tick to follow. */
const IDLE_INTERVAL_MS = 1000;
const REQUEST_TIMEOUT_MS = 5000;

const redrawInterval = (node: NodeReport) => (node.monitor.running && node.monitor.intervalMs > 0 ? Math.max(MIN_INTERVAL_MS, node.monitor.intervalMs) : IDLE_INTERVAL_MS);

function options(argv: string[]) {
  const { options, positionals } = parseArgs(argv, { socket: { value: true }, sort: { value: true }, state: { value: true }, interval: { value: true } });
  if (positionals.length > 0) throw new UsageError('top takes no arguments');
  const sort = options.sort as string | undefined;
  if (sort !== undefined && !(SORT_KEYS as readonly string[]).includes(sort)) throw new UsageError(`--sort must be one of ${SORT_KEYS.join(', ')}`);
  const state = options.state as string | undefined;
  if (state !== undefined && !(CONTAINER_STATES as readonly string[]).includes(state)) throw new UsageError(`--state must be one of ${CONTAINER_STATES.join(', ')}`);
  const intervalMs = options.interval === undefined ? null : positiveInt(options.interval, 'interval');
  if (intervalMs !== null && intervalMs < MIN_INTERVAL_MS) throw new UsageError(`--interval needs milliseconds ≥ ${MIN_INTERVAL_MS}`);
  return { socket: daemonPaths(options).socket, sort: sort as SortKey | undefined, filter: (state as ContainerState | undefined) ?? null, intervalMs };
}

export async function top(argv: string[]): Promise<number> {
  const opts = options(argv);
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new TerminalError('top needs a terminal (its input or output is not a TTY); for scripts use `nodewarden ps --json` or `nodewarden stats --json`');
  }
  // A daemon that stops answering (SIGSTOPped, blocked) shows as unreachable instead of freezing the screen.
  const client = new NodewardenClient(opts.socket, { keepAlive: true, timeoutMs: REQUEST_TIMEOUT_MS });
  const screen = new FullScreen(process.stdout, process.stdin);
  const paint = painter(colourWanted(process.stdout));
  let state: TopState = initialState({ sort: opts.sort, filter: opts.filter });
  let intervalMs = opts.intervalMs ?? IDLE_INTERVAL_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let quit!: () => void;
  const finished = new Promise<void>((resolve) => (quit = resolve));
  // An unexpected error ends top like q does, so that it is reported once the terminal is back, not lost in the alternate screen.
  let failure: unknown = null;
  const fail = (err: unknown) => {
    failure ??= err;
    quit();
  };

  const draw = () => {
    const { width, height } = screen.size;
    screen.draw(renderScreen(state, { width, height, now: Date.now(), socket: opts.socket, intervalMs, paint }));
  };
  const fetchOnce = async () => {
    const [list, node] = await Promise.all([client.get<{ containers: ContainerView[] }>('/v1/containers'), client.get<NodeReport>('/v1/node')]);
    state = polled(state, list.containers, node);
    if (opts.intervalMs === null) intervalMs = redrawInterval(node);
  };

  // One poll at a time; a refresh asked for during one runs right after it.
  let inFlight = false;
  let again = false;
  const refresh = async () => {
    if (inFlight) return void (again = true);
    inFlight = true;
    clearTimeout(timer);
    do {
      again = false;
      try {
        await fetchOnce();
      } catch (err) {
        state = unreachable(state, (err as Error).message);
      }
    } while (again && !stopped);
    inFlight = false;
    if (stopped) return;
    draw();
    timer = setTimeout(() => void refresh().catch(fail), intervalMs);
  };

  const kill = async (id: string) => {
    try {
      const view = await client.post<ContainerView>(`/v1/containers/${encodeURIComponent(id)}/kill`);
      state = killed(state, id, { state: view.state });
    } catch (err) {
      state = killed(state, id, { error: (err as Error).message });
    }
    if (!stopped) await refresh();
  };

  const onKey = (key: Key) => {
    // On the too-small screen nothing is visible to act on: only the quit keys work.
    if (!fits(screen.size) && !isQuit(key)) return;
    const { state: next, command } = pressed(state, key, pageRows(screen.size.height));
    state = next;
    if (command?.type === 'quit') return quit();
    draw();
    if (command?.type === 'kill') kill(command.id).catch(fail);
    if (command?.type === 'refresh') refresh().catch(fail);
  };
  /** Run a terminal event's handler; what it throws ends top (reported after the terminal is restored), never the process mid-screen. */
  const guarded = (run: () => void) => {
    try {
      run();
    } catch (err) {
      fail(err);
    }
  };

  const onSignal = () => quit();
  const restore = () => screen.close();
  // The first answer before the screen opens: no daemon is a plain error (exit 1), as for every other command.
  await fetchOnce().catch((err) => {
    client.close();
    throw err;
  });
  try {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
    process.on('exit', restore);
    screen.open(
      (key) => guarded(() => onKey(key)),
      () => guarded(draw),
    );
    draw();
    timer = setTimeout(() => void refresh().catch(fail), intervalMs);
    await finished;
  } finally {
    stopped = true;
    clearTimeout(timer);
    screen.close();
    client.close();
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, onSignal);
    process.off('exit', restore);
  }
  if (failure !== null) throw failure;
  return 0;
}
