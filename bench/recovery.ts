/**
 * Recovery time: a daemon with `containers` live containers (`sleep 3600`) is
 * SIGKILLed and started again on the same database; timed from the spawn of
 * the new process to its first answer on the socket that shows every
 * container RUNNING and reacquired. Each run also checks that none was lost:
 * every container keeps its pid.
 *
 * The same daemon, once its monitor has sampled every tree, gives the
 * daemon's footprint with that many containers tracked: its RSS after each
 * restart, and its CPU use over a window while the containers idle (at the
 * default 3 s monitor interval).
 */
import fs from 'node:fs';
import type { ContainerView } from '../src/node/container-view.js';
import { hostFacts } from '../src/procfs/host-facts.js';
import { ProcfsReader } from '../src/procfs/procfs-reader.js';
import type { NodeReport } from '../src/node/nodewarden.js';
import { BenchDaemon, pool, waitUntil } from './daemon.js';
import { figure, type Figure } from './stats.js';

export interface RecoveryBenchResult {
  description: string;
  containers: number;
  processes: number;
  /** Spawn of the new daemon → its socket reports all reacquired. */
  recoveryMs: Figure;
  /** Spawn → the first answer on the socket (/healthz): the start, recovery included. */
  answeringMs: Figure;
  /** The reconcile step inside the daemon (restored machines → processes found → plans carried out). */
  reconcileMs: Figure;
  /** Containers not reacquired, worst run. */
  lost: number;
  /** The restarted daemon's RSS (VmRSS) once its monitor has sampled every tree, MB. */
  rssMb: Figure;
  /**
   * The daemon's CPU while it watches the idle containers, % of one core (full
   * runs only). It grows with the containers: each tick samples, decides and
   * journals every tree.
   */
  idleCpu: { intervalMs: number; windowMs: number; ticks: number; percentOfOneCore: number } | null;
  goals: { recoveryMsMax: number; lostMax: number; rssMbMax: number };
  met: boolean;
  metRss: boolean;
}

/** A process's resident set, MB (VmRSS). */
function rssMb(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1]) / 1024;
}

/** A process's CPU time so far, ms (utime + stime). */
function cpuMs(pid: number): number {
  const stat = new ProcfsReader('/proc').readStat(pid);
  if (!stat) throw new Error(`bench: cannot read the daemon's stat (pid ${pid})`);
  return ((stat.utime + stat.stime) * 1000) / hostFacts().clockTicks;
}

/** Once the monitor has ticked `n` more times: every tree sampled. */
async function ticked(d: BenchDaemon, n = 1): Promise<number> {
  const from = (await d.client.get<NodeReport>('/v1/node')).monitor.ticks;
  let now = from;
  await waitUntil('a monitor tick', async () => (now = (await d.client.get<NodeReport>('/v1/node')).monitor.ticks) >= from + n, 30_000, 50);
  return now;
}

export async function recoveryBench({ quick, runs }: { quick: boolean; runs: number }): Promise<RecoveryBenchResult> {
  const containers = quick ? 100 : 1000;
  // Quick: a 1 s interval, so the footprint waits less for a tick; no idle-CPU window.
  const intervalMs = quick ? 1000 : 3000;
  const d = await BenchDaemon.start({ 'yarn.nodemanager.container-monitor.interval-ms': intervalMs });
  const recoveryMs: number[] = [];
  const reconcileMs: number[] = [];
  const answeringMs: number[] = [];
  const rss: number[] = [];
  let lost = 0;
  let idleCpu: RecoveryBenchResult['idleCpu'] = null;
  try {
    const ids = Array.from({ length: containers }, (_, i) => `live-${i}`);
    await pool(ids.map((id) => () => d.client.post('/v1/containers', { id, command: ['sleep', '3600'], resources: { memoryMb: 8, vcores: 1 } })), 32);
    await waitUntil('every container to run', async () => (await d.client.get<NodeReport>('/v1/node')).containers.RUNNING === containers);
    const pids = await pidsById(d);
    // One warm-up restart (page cache, the binary), then the measured ones.
    for (let r = -1; r < runs; r++) {
      await d.crash();
      const start = performance.now();
      await d.restart();
      const answering = performance.now() - start;
      let report!: NodeReport;
      await waitUntil(
        'every container to be reacquired',
        async () => {
          report = await d.client.get<NodeReport>('/v1/node');
          return report.recovery.reacquired === containers && report.containers.RUNNING === containers;
        },
        60_000,
        5,
      );
      const elapsed = performance.now() - start;
      const after = await pidsById(d);
      const missing = [...pids].filter(([id, pid]) => after.get(id) !== pid).length;
      lost = Math.max(lost, missing);
      if (r < 0) continue;
      recoveryMs.push(elapsed);
      answeringMs.push(answering);
      reconcileMs.push(report.recovery.durationMs);
      // Quick: the footprint once, after the last restart.
      if (!quick || r === runs - 1) {
        await ticked(d);
        rss.push(rssMb(d.pid));
      }
    }
    if (!quick) {
      // CPU while idle over 10 intervals, once the start's own work is done (a
      // few ticks in), with nothing asked of the daemon in between.
      await ticked(d, 2);
      const ticksBefore = await ticked(d);
      const cpuBefore = cpuMs(d.pid);
      const wallBefore = performance.now();
      await new Promise((r) => setTimeout(r, 10 * intervalMs));
      const cpuAfter = cpuMs(d.pid);
      const windowMs = performance.now() - wallBefore;
      const ticksAfter = (await d.client.get<NodeReport>('/v1/node')).monitor.ticks;
      idleCpu = { intervalMs, windowMs: Math.round(windowMs), ticks: ticksAfter - ticksBefore, percentOfOneCore: ((cpuAfter - cpuBefore) / windowMs) * 100 };
    }
  } finally {
    await d.stop();
  }
  const goals = { recoveryMsMax: 2000, lostMax: 0, rssMbMax: 150 };
  const recovery = figure(recoveryMs);
  const rssFigure = figure(rss);
  return {
    description: `restart with ${containers} live containers: spawn of the new daemon → all reacquired (RUNNING, same pid), after a SIGKILL`,
    containers,
    processes: containers * 2, // the wrapper and its command
    recoveryMs: recovery,
    answeringMs: figure(answeringMs),
    reconcileMs: figure(reconcileMs),
    lost,
    rssMb: rssFigure,
    idleCpu,
    goals,
    met: recovery.max < goals.recoveryMsMax && lost <= goals.lostMax,
    metRss: rssFigure.max <= goals.rssMbMax,
  };
}

async function pidsById(d: BenchDaemon): Promise<Map<string, number | null>> {
  const { containers } = await d.client.get<{ containers: ContainerView[] }>('/v1/containers');
  return new Map(containers.map((c) => [c.id, c.pid]));
}
