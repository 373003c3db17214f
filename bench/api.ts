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
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodewardenClient } from '../src/client/client.js';
import type { ContainerView } from '../src/node/container-view.js';
import { figure, type Figure } from './stats.js';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'nodewarden.js');
const IN_FLIGHT = 32;

interface BenchDaemon {
  client: NodewardenClient;
  socket: string;
  stop(): Promise<void>;
}

async function startDaemon(): Promise<BenchDaemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-bench-api-'));
  const socket = path.join(dir, 'var', 'nw.sock');
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'start', '--socket', socket, '--db', path.join(dir, 'db', 'nw.sqlite'), '--work-dir', path.join(dir, 'var'), '--log-level', 'warn',
      // Room for every container: the bench measures the API, not the scheduler.
      '--set', 'yarn.nodemanager.resource.memory-mb=1048576', '--set', 'yarn.nodemanager.resource.cpu-vcores=65536'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const client = new NodewardenClient(socket, { keepAlive: true });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.get('/healthz');
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`bench: the daemon did not start: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    client,
    socket,
    async stop() {
      // Supervised shutdown leaves containers running: kill their groups too.
      const { containers } = await client.get<{ containers: ContainerView[] }>('/v1/containers');
      client.close();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      for (const c of containers) {
        if (c.pid === null) continue;
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run `jobs` with at most `limit` in flight. */
async function pool<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

const request = (id: string, command: string[]) => ({ id, command, resources: { memoryMb: 8, vcores: 1 } });

/** Launch `count` containers; resolve with launches per second (first request → last RUNNING) and the request latencies. */
async function launchRun(d: BenchDaemon, prefix: string, count: number, command: string[]): Promise<{ perSecond: number; latenciesMs: number[] }> {
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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** GET view latencies, one request at a time, over `ids` round-robin. */
async function viewLatencies(d: BenchDaemon, ids: string[], requests: number): Promise<{ p50: number; p99: number; max: number }> {
  const ms: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    await d.client.get(`/v1/containers/${ids[i % ids.length]}`);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.at(-1)! };
}

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

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
  const launches = quick ? 50 : 200;
  const known = quick ? 200 : 1000;
  const requests = quick ? 1000 : 5000;

  // Launch throughput: a fresh daemon, a warm-up run, then `runs` runs of short containers.
  const d = await startDaemon();
  const perSecond: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  try {
    await launchRun(d, 'warmup', Math.min(50, launches), ['sleep', '1']);
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
  const v = await startDaemon();
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
