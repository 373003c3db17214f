/**
 * The socket API as a launcher sees it: the daemon runs as its own process
 * (`nodewarden start`), the bench is the client on the Unix socket.
 *
 * - Launch throughput: 200 short containers launched over the socket (32
 *   requests in flight), timed from the first request to the last container
 *   RUNNING, as seen on the daemon's own events stream.
 * - View latency: GET /v1/containers/:id, one request at a time on a
 *   keep-alive connection, with 1,000 containers known (finished, and then
 *   running and monitored at the default 3 s interval).
 */
import type { ContainerView } from '../src/node/container-view.js';
import { BenchDaemon, pool, waitUntil } from './daemon.js';
import { figure, type Figure } from './stats.js';

export const IN_FLIGHT = 32;

const request = (id: string, command: string[]) => ({ id, command, resources: { memoryMb: 8, vcores: 1 } });

/** Launch `count` containers; resolve with launches per second (first request → last RUNNING) and the request latencies. */
export async function launchRun(d: BenchDaemon, prefix: string, count: number, command: string[]): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const ids = new Set(Array.from({ length: count }, (_, i) => `${prefix}-${i}`));
  const running = new Set<string>();
  const stop = new AbortController();
  let allRunning!: () => void;
  const done = new Promise<void>((r) => (allRunning = r));
  const since = await lastSeq(d);
  const following = d.client.stream(
    `/v1/events?since=${since}&follow=true`,
    (record) => {
      const r = record as { container: string; to: string };
      if (r.to === 'RUNNING' && ids.has(r.container)) {
        running.add(r.container);
        if (running.size === count) allRunning();
      }
    },
    stop.signal,
  );
  const start = performance.now();
  const latenciesMs = await pool(
    [...ids].map((id) => async () => {
      const t = performance.now();
      await d.client.post('/v1/containers', request(id, command));
      return performance.now() - t;
    }),
    IN_FLIGHT,
  );
  await done;
  const elapsed = performance.now() - start;
  stop.abort();
  await following;
  return { perSecond: count / (elapsed / 1000), latenciesMs };
}

async function lastSeq(d: BenchDaemon): Promise<number> {
  let last = 0;
  await d.client.stream('/v1/events', (r) => (last = (r as { seq: number }).seq));
  return last;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** p50, p99 and max of `requests` calls made one at a time (`call(i)` makes the i-th). */
export async function latencies(requests: number, call: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number; max: number }> {
  const ms: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    await call(i);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.at(-1)! };
}

/** GET view latencies, one request at a time, over `ids` round-robin. */
const viewLatencies = (d: BenchDaemon, ids: string[], requests: number) => latencies(requests, (i) => d.client.get(`/v1/containers/${ids[i % ids.length]}`));

export interface ApiBenchResult {
  description: string;
  launch: { containers: number; inFlight: number; perSecond: Figure; requestP50Ms: Figure; requestP99Ms: Figure };
  view: {
    known: number;
    requests: number;
    finished: { p50Ms: Figure; p99Ms: Figure; maxMs: Figure };
    running: { p50Ms: Figure; p99Ms: Figure; maxMs: Figure };
  };
  goals: { launchesPerSecondMin: number; viewP99MsMax: number };
  met: { launches: boolean; viewP99: boolean };
}

export async function apiBench({ quick, runs }: { quick: boolean; runs: number }): Promise<ApiBenchResult> {
  const launches = quick ? 30 : 200;
  const known = quick ? 100 : 1000;
  const requests = quick ? 500 : 5000;

  // Launch throughput: a fresh daemon, a warm-up run, then `runs` runs of short containers.
  const d = await BenchDaemon.start();
  const perSecond: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  try {
    await launchRun(d, 'warmup', Math.min(20, launches), ['sleep', '1']);
    for (let r = 0; r < runs; r++) {
      const run = await launchRun(d, `run${r}`, launches, ['sleep', '1']);
      perSecond.push(run.perSecond);
      const sorted = run.latenciesMs.sort((a, b) => a - b);
      p50.push(percentile(sorted, 50));
      p99.push(percentile(sorted, 99));
    }
  } finally {
    await d.stop();
  }

  // View latency with `known` containers: first all finished, then all running (and monitored).
  const v = await BenchDaemon.start();
  const finished = { p50: [] as number[], p99: [] as number[], max: [] as number[] };
  const running = { p50: [] as number[], p99: [] as number[], max: [] as number[] };
  try {
    const doneIds = Array.from({ length: known / 2 }, (_, i) => `done-${i}`);
    const liveIds = Array.from({ length: known / 2 }, (_, i) => `live-${i}`);
    await pool(doneIds.map((id) => () => v.client.post('/v1/containers', request(id, ['true']))), IN_FLIGHT);
    await pool(liveIds.map((id) => () => v.client.post('/v1/containers', request(id, ['sleep', '3600']))), IN_FLIGHT);
    await waitUntil('every container to settle', async () => {
      const { containers } = await v.client.get<{ containers: ContainerView[] }>('/v1/containers');
      return containers.every((c) => (c.id.startsWith('done-') ? c.state === 'DONE' : c.state === 'RUNNING' && c.usage !== null));
    });
    await viewLatencies(v, doneIds, 500); // warm-up
    for (let r = 0; r < runs; r++) {
      const f = await viewLatencies(v, doneIds, requests);
      const l = await viewLatencies(v, liveIds, requests);
      finished.p50.push(f.p50);
      finished.p99.push(f.p99);
      finished.max.push(f.max);
      running.p50.push(l.p50);
      running.p99.push(l.p99);
      running.max.push(l.max);
    }
  } finally {
    await v.stop();
  }

  const goals = { launchesPerSecondMin: 100, viewP99MsMax: 2 };
  const launch = { containers: launches, inFlight: IN_FLIGHT, perSecond: figure(perSecond), requestP50Ms: figure(p50), requestP99Ms: figure(p99) };
  const view = {
    known,
    requests,
    finished: { p50Ms: figure(finished.p50), p99Ms: figure(finished.p99), maxMs: figure(finished.max) },
    running: { p50Ms: figure(running.p50), p99Ms: figure(running.p99), maxMs: figure(running.max) },
  };
  return {
    description:
      'socket API from a client process: launches/s (first request → last RUNNING on the events stream) and GET /v1/containers/:id latency with containers known (half finished, half running and monitored every 3 s)',
    launch,
    view,
    goals,
    met: {
      launches: launch.perSecond.median >= goals.launchesPerSecondMin,
      viewP99: Math.max(view.finished.p99Ms.median, view.running.p99Ms.median) <= goals.viewP99MsMax,
    },
  };
}
