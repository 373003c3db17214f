/**
 * Launch throughput and status latency, nodewarden against pm2, each driven
 * over its own socket from this process, runs interleaved:
 *
 * - Launch: `count` `sleep 3600` processes, 32 requests in flight on each,
 *   timed from the first request to the last process running — nodewarden:
 *   RUNNING on its events stream; pm2: every `start` answered (pm2 answers
 *   once the process is spawned and online), then checked with `jlist`.
 * - Status, with the `count` processes running, one request at a time: the
 *   whole list (GET /v1/containers | pm2 jlist) and one process
 *   (GET /v1/containers/:id | pm2 describe).
 */
import { IN_FLIGHT, latencies, launchRun } from './api.js';
import { BenchDaemon, pool, waitUntil } from './daemon.js';
import { Pm2Daemon } from './pm2-daemon.js';
import { figure, type Figure } from './stats.js';

const COMMAND = ['sleep', '3600'];

async function pm2LaunchRun(pm2: Pm2Daemon, prefix: string, count: number): Promise<number> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const start = performance.now();
  await pool(
    names.map((name) => () => pm2.start({ name, script: COMMAND[0]!, args: COMMAND.slice(1), interpreter: 'none', autorestart: false })),
    IN_FLIGHT,
  );
  const elapsed = performance.now() - start;
  // Acknowledged is timed; online is checked (pm2 may still say 'launching' on a loaded machine).
  let online = 0;
  try {
    await waitUntil(`pm2 to have ${count} processes online`, async () => {
      online = (await pm2.list()).filter((p) => p.name.startsWith(`${prefix}-`) && p.pm2_env.status === 'online').length;
      return online === count;
    }, 30_000);
  } catch {
    throw new Error(`bench: pm2 has ${online} of ${count} processes online`);
  }
  return count / (elapsed / 1000);
}

interface Side {
  launchesPerSecond: number[];
  listP50: number[];
  listP99: number[];
  oneP50: number[];
  oneP99: number[];
}

const side = (): Side => ({ launchesPerSecond: [], listP50: [], listP99: [], oneP50: [], oneP99: [] });

export interface SideFigures {
  launchesPerSecond: Figure;
  listP50Ms: Figure;
  listP99Ms: Figure;
  oneP50Ms: Figure;
  oneP99Ms: Figure;
}

const figures = (s: Side): SideFigures => ({
  launchesPerSecond: figure(s.launchesPerSecond),
  listP50Ms: figure(s.listP50),
  listP99Ms: figure(s.listP99),
  oneP50Ms: figure(s.oneP50),
  oneP99Ms: figure(s.oneP99),
});

export interface LaunchesBenchResult {
  description: string;
  processes: number;
  inFlight: number;
  statusRequests: number;
  nodewarden: SideFigures;
  pm2: SideFigures;
  /** Per run: nodewarden launches/s ÷ pm2's; pm2 list p50 ÷ nodewarden's. */
  ratios: { launches: Figure; listP50: Figure; oneP50: Figure };
  goals: { launchesRatioMin: number };
  met: { launches: boolean };
}

export async function launchesBench({ runs, warmUp, count, statusRequests }: { runs: number; warmUp: boolean; count: number; statusRequests: number }): Promise<LaunchesBenchResult> {
  const nw = side();
  const pm = side();
  const ratios = { launches: [] as number[], listP50: [] as number[], oneP50: [] as number[] };
  // Fresh daemons for each run: nodewarden keeps finished containers known, and
  // its list must not grow from run to run while pm2's is emptied by delete.
  for (let r = warmUp ? -1 : 0; r < runs; r++) {
    const d = await BenchDaemon.start();
    let pm2: Pm2Daemon | undefined;
    try {
      pm2 = await Pm2Daemon.start();
      // Each tool goes first in every other run: the second launches beside the first one's processes.
      const nwFirst = r % 2 === 0;
      const b0 = nwFirst ? undefined : await pm2LaunchRun(pm2, 'c', count);
      const a = (await launchRun(d, 'c', count, COMMAND)).perSecond;
      const b = b0 ?? (await pm2LaunchRun(pm2, 'c', count));
      const names = Array.from({ length: count }, (_, i) => `c-${i}`);
      const nwList = await latencies(statusRequests, () => d.client.get('/v1/containers'));
      const pmList = await latencies(statusRequests, () => pm2!.list());
      const nwOne = await latencies(statusRequests, (i) => d.client.get(`/v1/containers/${names[i % count]}`));
      const pmOne = await latencies(statusRequests, (i) => pm2!.describe(names[i % count]!));
      if (r < 0) continue; // warm-up: this process's JIT, the page cache
      nw.launchesPerSecond.push(a);
      pm.launchesPerSecond.push(b);
      ratios.launches.push(a / b);
      nw.listP50.push(nwList.p50);
      nw.listP99.push(nwList.p99);
      pm.listP50.push(pmList.p50);
      pm.listP99.push(pmList.p99);
      nw.oneP50.push(nwOne.p50);
      nw.oneP99.push(nwOne.p99);
      pm.oneP50.push(pmOne.p50);
      pm.oneP99.push(pmOne.p99);
      ratios.listP50.push(pmList.p50 / nwList.p50);
      ratios.oneP50.push(pmOne.p50 / nwOne.p50);
    } finally {
      await pm2?.stop();
      await d.stop();
    }
  }
  const launches = figure(ratios.launches);
  return {
    description: `${count} \`${COMMAND.join(' ')}\` processes launched over each tool's own socket (${IN_FLIGHT} in flight), first request → all running; then status one request at a time with them running; fresh daemons each run`,
    processes: count,
    inFlight: IN_FLIGHT,
    statusRequests,
    nodewarden: figures(nw),
    pm2: figures(pm),
    ratios: { launches, listP50: figure(ratios.listP50), oneP50: figure(ratios.oneP50) },
    goals: { launchesRatioMin: 1 },
    met: { launches: launches.median >= 1 },
  };
}
