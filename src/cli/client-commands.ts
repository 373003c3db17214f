/**
 * The CLI commands that talk to a running daemon over its socket (SPEC §7):
 * launch, kill, pause, resume, ps, show, stats, events. Each prints a human
 * form by default and the API's JSON with --json.
 */
import type { MesosStatistics } from '../monitor/containers-monitor.js';
import type { ContainerView } from '../node/container-view.js';
import { NodewardenClient } from '../client/client.js';
import type { OutputRecord } from '../journal/records.js';
import { parseArgs, positiveInt, UsageError, type OptionSpec } from './args.js';
import { age, bytes, cpu, eventLine, known, memory, table } from './format.js';
import { colourWanted, painter } from './colour.js';
import { daemonPaths } from './paths.js';
import type { TransitionRow } from '../server/routes/containers.js';
import type { LogFileInfo } from '../server/routes/yarn.js';
import { renderStory, STDERR_TAIL_BYTES } from './show.js';

const COMMON: Record<string, OptionSpec> = { socket: { value: true }, json: {} };

export const CLIENT_USAGE = `  launch    [--id ID] --memory-mb N --vcores N [--env K=V]... [--opportunistic] [--user NAME] -- CMD ARGS...
  kill ID | pause ID | resume ID
  ps        list containers
  show ID   [--lines N]   one container's story: request, limits, usage, transitions, diagnostics, logs, stderr's last lines
  stats     Mesos /monitor/statistics of the monitored containers
  events    [--since SEQ] [--follow]   the journal of transitions
  openapi   the socket API as an OpenAPI 3 document (JSON)
  (every command above takes --socket PATH (or NODEWARDEN_SOCKET) and --json)`;

type Out = (text: string) => void;

interface Context {
  client: NodewardenClient;
  json: boolean;
  positionals: string[];
  options: Record<string, string | boolean | string[]>;
  rest: string[];
  out: Out;
}

function withClient(argv: string[], extra: Record<string, OptionSpec>, run: (ctx: Context) => Promise<void>, out: Out): Promise<number> {
  const { options, positionals, rest } = parseArgs(argv, { ...COMMON, ...extra });
  const client = new NodewardenClient(daemonPaths(options).socket);
  return run({ client, json: options.json === true, positionals, options, rest, out })
    .then(() => 0)
    .finally(() => client.close());
}

const printJson = (out: Out, value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);

function oneId(ctx: Context, command: string): string {
  if (ctx.positionals.length !== 1) throw new UsageError(`${command} takes one container id`);
  return encodeURIComponent(ctx.positionals[0]!);
}


async function launch(ctx: Context): Promise<void> {
  if (ctx.positionals.length > 0) throw new UsageError(`put the command after --: nodewarden launch ... -- ${ctx.positionals.join(' ')}`);
  if (ctx.rest.length === 0) throw new UsageError('launch needs a command after --, e.g. nodewarden launch --memory-mb 256 --vcores 1 -- sleep 60');
  const env: Record<string, string> = {};
  for (const kv of (ctx.options.env as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env needs NAME=VALUE, got ${JSON.stringify(kv)}`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const body = {
    ...(typeof ctx.options.id === 'string' ? { id: ctx.options.id } : {}),
    command: ctx.rest,
    env,
    resources: { memoryMb: positiveInt(ctx.options['memory-mb'], 'memory-mb'), vcores: positiveInt(ctx.options.vcores, 'vcores') },
    ...(ctx.options.opportunistic ? { executionType: 'OPPORTUNISTIC' } : {}),
    ...(typeof ctx.options.user === 'string' ? { user: ctx.options.user } : {}),
  };
  const view = await ctx.client.post<ContainerView>('/v1/containers', body);
  // The id alone on stdout, so that `ID=$(nodewarden launch ...)` works.
  if (ctx.json) printJson(ctx.out, view);
  else ctx.out(`${view.id}\n`);
}

function request(action: 'kill' | 'pause' | 'resume') {
  return async (ctx: Context): Promise<void> => {
    const view = await ctx.client.post<ContainerView>(`/v1/containers/${oneId(ctx, action)}/${action}`);
    if (ctx.json) printJson(ctx.out, view);
    else ctx.out(`${view.id}: ${action} requested, now ${view.state}\n`);
  };
}

function noArguments(ctx: Context, command: string): void {
  if (ctx.positionals.length > 0) throw new UsageError(`${command} takes no arguments`);
}

async function ps(ctx: Context): Promise<void> {
  noArguments(ctx, 'ps');
  const { containers } = await ctx.client.get<{ containers: ContainerView[] }>('/v1/containers');
  if (ctx.json) return printJson(ctx.out, { containers });
  if (containers.length === 0) return ctx.out('no containers\n');
  ctx.out(
    table(
      ['ID', 'STATE', 'PID', 'MEMORY', 'CPU%', 'VCORES', 'EXIT', 'AGE'],
      containers.map((v) => [v.id, v.state, known(v.pid), memory(v), cpu(v), String(v.resources.vcores), known(v.exitCode), age(v.createdAt)]),
    ),
  );
}

async function show(ctx: Context): Promise<void> {
  const id = oneId(ctx, 'show');
  const lines = ctx.options.lines === undefined ? 10 : positiveInt(ctx.options.lines, 'lines');
  const view = await ctx.client.get<ContainerView>(`/v1/containers/${id}`);
  if (ctx.json) return printJson(ctx.out, view);
  const [transitions, logs] = await Promise.all([
    ctx.client.get<TransitionRow[]>(`/v1/containers/${id}/transitions`),
    ctx.client.get<Array<{ containerLogInfo: LogFileInfo[] }>>(`/ws/v1/node/containers/${id}/logs`),
  ]);
  const logFiles = logs[0]?.containerLogInfo ?? [];
  const stderr = logFiles.find((f) => f.fileName === 'stderr');
  // The tail is read through the daemon (YARN's containerlogs, size < 0): the CLI may not be allowed to read the log itself.
  const text = stderr ? await ctx.client.getText(`/ws/v1/node/containerlogs/${id}/stderr?size=-${STDERR_TAIL_BYTES}`) : null;
  // A full window may have cut its first line (the file may have grown since it was listed: the answer decides, not the listing).
  const stderrTail = text === null ? null : { text, truncated: Buffer.byteLength(text) >= STDERR_TAIL_BYTES };
  ctx.out(renderStory({ view, transitions, logFiles, stderrTail, lines }));
}

/** The daemon's GET /openapi.json, pretty-printed (it is JSON whatever --json says). */
async function openapi(ctx: Context): Promise<void> {
  noArguments(ctx, 'openapi');
  printJson(ctx.out, await ctx.client.get<unknown>('/openapi.json'));
}

async function stats(ctx: Context): Promise<void> {
  noArguments(ctx, 'stats');
  const entries = await ctx.client.get<MesosStatistics[]>('/monitor/statistics');
  if (ctx.json) return printJson(ctx.out, entries);
  if (entries.length === 0) return ctx.out('no monitored containers\n');
  ctx.out(
    table(
      ['ID', 'PROCS', 'THREADS', 'RSS', 'TOTAL', 'MEM LIMIT', 'CPU USER', 'CPU SYS', 'CPU LIMIT'],
      entries.map(({ executor_id: id, statistics: s }) => [
        id,
        String(s.processes),
        String(s.threads),
        bytes(s.mem_rss_bytes),
        bytes(s.mem_total_bytes),
        bytes(s.mem_limit_bytes),
        `${s.cpus_user_time_secs.toFixed(2)}s`,
        `${s.cpus_system_time_secs.toFixed(2)}s`,
        String(s.cpus_limit),
      ]),
    ),
  );
}

async function events(ctx: Context): Promise<void> {
  noArguments(ctx, 'events');
  const since = ctx.options.since === undefined ? 0 : Number(ctx.options.since);
  if (!Number.isSafeInteger(since) || since < 0) throw new UsageError('--since needs a sequence number (an integer ≥ 0)');
  const follow = ctx.options.follow === true;
  const paint = painter(colourWanted(process.stdout));
  // Ctrl-C ends a followed stream normally.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    await ctx.client.stream(
      `/v1/events?since=${since}&follow=${follow}`,
      (record) => ctx.out(ctx.json ? `${JSON.stringify(record)}\n` : `${eventLine(record as OutputRecord, paint)}\n`),
      stop.signal,
    );
  } finally {
    process.off('SIGINT', onSignal);
  }
}

export const clientCommands: Record<string, (argv: string[], out: Out) => Promise<number>> = {
  launch: (argv, out) =>
    withClient(argv, { id: { value: true }, 'memory-mb': { value: true }, vcores: { value: true }, env: { value: true, repeat: true }, opportunistic: {}, user: { value: true } }, launch, out),
  kill: (argv, out) => withClient(argv, {}, request('kill'), out),
  pause: (argv, out) => withClient(argv, {}, request('pause'), out),
  resume: (argv, out) => withClient(argv, {}, request('resume'), out),
  ps: (argv, out) => withClient(argv, {}, ps, out),
  show: (argv, out) => withClient(argv, { lines: { value: true } }, show, out),
  stats: (argv, out) => withClient(argv, {}, stats, out),
  openapi: (argv, out) => withClient(argv, {}, openapi, out),
  events: (argv, out) => withClient(argv, { since: { value: true }, follow: {} }, events, out),
};
