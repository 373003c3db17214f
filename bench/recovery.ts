/**
 * Recovery time: a daemon with `containers` live containers (`sleep 3600`) is
 * SIGKILLed and started again on the same database; timed from the spawn of
 * the new process to its first answer on the socket that shows every
 * container RUNNING and reacquired. Each run also checks that none was lost:
 * every container keeps its pid.
 */
import type { ContainerView } from '../src/node/container-view.js';
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
  goals: { recoveryMsMax: number; lostMax: number };
  met: boolean;
}

export async function recoveryBench({ quick, runs }: { quick: boolean; runs: number }): Promise<RecoveryBenchResult> {
  const containers = quick ? 200 : 1000;
  const d = await BenchDaemon.start();
  const recoveryMs: number[] = [];
  const reconcileMs: number[] = [];
  const answeringMs: number[] = [];
  let lost = 0;
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
    }
  } finally {
    await d.stop();
  }
  const goals = { recoveryMsMax: 2000, lostMax: 0 };
  const recovery = figure(recoveryMs);
  return {
    description: `restart with ${containers} live containers: spawn of the new daemon → all reacquired (RUNNING, same pid), after a SIGKILL`,
    containers,
    processes: containers * 2, // the wrapper and its command
    recoveryMs: recovery,
    answeringMs: figure(answeringMs),
    reconcileMs: figure(reconcileMs),
    lost,
    goals,
    met: recovery.max < goals.recoveryMsMax && lost <= goals.lostMax,
  };
}

async function pidsById(d: BenchDaemon): Promise<Map<string, number | null>> {
  const { containers } = await d.client.get<{ containers: ContainerView[] }>('/v1/containers');
  return new Map(containers.map((c) => [c.id, c.pid]));
}
