/**
 * The node under memory pressure: elastic memory control on the real kernel
 * (cgroup v1), against the kernel's own OOM killer, in one run.
 *
 * A node of NODE_MB holds three containers:
 * - `steady`, GUARANTEED, holding 150 MB of a 300 MB request;
 * - `best-effort`, OPPORTUNISTIC, holding 100 MB of a 200 MB request;
 * - `burst`, GUARANTEED with a 100 MB request, growing 8 MB every 10 ms.
 *
 * With elastic control the node fills, the kernel stops it and nodewarden's
 * OOM handler picks; without it the bench holds the node cgroup to the same
 * limit with the kernel's OOM killer on, and the kernel picks (by its
 * oom_badness: memory plus oom_score_adj, which nodewarden set by kubelet's
 * rules). Measured:
 * - OOM notice → memory freed: the bench registers an eventfd of its own on
 *   the node cgroup's memory.oom_control (the same notice the daemon gets),
 *   then reads under_oom every millisecond until it is 0;
 * - the node cgroup's peak charge (memory.max_usage_in_bytes) against the limit;
 * - who went, in which order, with which exit status.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventFdListener, openEventFd } from '../src/containment/eventfd.js';
import { detectContainment } from '../src/containment/detect.js';
import type { ContainerView } from '../src/node/container-view.js';
import { BenchDaemon, waitUntil } from './daemon.js';
import { figure, type Figure } from './stats.js';

/** Room for all three requests (plus the allowance each): an OPPORTUNISTIC container waits for room. */
const NODE_MB = 768;
const MB = 2 ** 20;
const HOG = (mb: number) => `const h = []; for (let i = 0; i < ${mb}; i++) h.push(Buffer.alloc(1 << 20, 1)); setInterval(() => h.length, 1 << 30);`;
const GROW = 'const h = []; setInterval(() => h.push(Buffer.alloc(8 << 20, 1)), 10);';

const CONTAINERS = [
  { id: 'steady', command: [process.execPath, '-e', HOG(150)], resources: { memoryMb: 300, vcores: 1 }, executionType: 'GUARANTEED' },
  { id: 'best-effort', command: [process.execPath, '-e', HOG(100)], resources: { memoryMb: 200, vcores: 1 }, executionType: 'OPPORTUNISTIC' },
  { id: 'burst', command: [process.execPath, '-e', GROW], resources: { memoryMb: 100, vcores: 1 }, executionType: 'GUARANTEED' },
] as const;

/** One container's end, as nodewarden reported it. */
export interface Victim {
  id: string;
  exitStatus: number;
  exitCode: number;
}

export interface OomRun {
  /** Containers that ended, first first; `steady` among them only if it went too. */
  victims: Victim[];
  /** Per OOM episode: ms from the kernel's notice to under_oom 0. */
  noticeToFreedMs: number[];
  /** memory.max_usage_in_bytes of the node cgroup ÷ the limit. */
  peakToLimit: number;
}

export interface NodeMemoryBenchResult {
  description: string;
  nodeMb: number;
  runs: number;
  elastic: OomRun[];
  kernel: OomRun[];
  noticeToFreedMs: Figure | null;
  peakToLimit: Figure | null;
  goals: { noticeToFreedMsMax: number; peakToLimitMax: number };
  met: boolean | null;
}

function ownMemoryCgroup(): string | null {
  if (process.getuid?.() !== 0) return null;
  const d = detectContainment({ setting: 'auto', procfsRoot: '/proc', isRoot: true });
  return d.mode === 'cgroup-v1' ? d.own.memory : null;
}

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
const underOom = (dir: string) => /^under_oom 1$/m.test(read(dir, 'memory.oom_control'));

/** Times each OOM episode of the node cgroup: its eventfd notice, then under_oom read every ms until 0. */
function timeEpisodes(node: string): { episodes: number[]; stop: () => void } {
  const episodes: number[] = [];
  let timing = false;
  const control = fs.openSync(path.join(node, 'memory.oom_control'), 'r');
  const efd = openEventFd();
  fs.writeFileSync(path.join(node, 'cgroup.event_control'), `${efd} ${control}`);
  const listener = new EventFdListener(
    efd,
    () => {
      if (timing) return;
      timing = true;
      const noticed = performance.now();
      const poll = setInterval(() => {
        try {
          if (underOom(node)) return;
        } catch {
          // removed: over
        }
        clearInterval(poll);
        episodes.push(performance.now() - noticed);
        timing = false;
      }, 1);
    },
    () => {},
  );
  return {
    episodes,
    stop: () => {
      listener.close();
      fs.closeSync(control);
    },
  };
}

async function oomRun(elastic: boolean, hierarchyParent: string): Promise<OomRun> {
  const d = await BenchDaemon.start({
    'nodewarden.cgroups.enabled': 'true',
    'yarn.nodemanager.resource.memory-mb': NODE_MB,
    'yarn.nodemanager.elastic-memory-control.enabled': elastic,
    // Only the node cgroup decides: no polling check, no per-container backstop.
    'yarn.nodemanager.container-monitor.enabled': false,
    'yarn.nodemanager.opportunistic-containers-max-queue-length': 10,
  });
  const node = path.join(hierarchyParent, d.hierarchy);
  let timer: ReturnType<typeof timeEpisodes> | null = null;
  try {
    if (!elastic) {
      // The same node limit, with the kernel's OOM killer left on: it picks.
      fs.mkdirSync(node, { recursive: true });
      fs.writeFileSync(path.join(node, 'memory.limit_in_bytes'), String(NODE_MB * MB));
    }
    timer = timeEpisodes(node);
    for (const c of CONTAINERS.slice(0, 2)) await d.client.post('/v1/containers', c);
    // Both hold their memory before the burst starts.
    await waitUntil('the holders to hold', async () => Number(read(node, 'memory.usage_in_bytes')) >= 250 * MB, 30_000, 10);
    await d.client.post('/v1/containers', CONTAINERS[2]);
    const ended = new Map<string, ContainerView>();
    const order: string[] = [];
    // Until the burst is gone (whoever went before it): then the node has room again.
    await waitUntil(
      'the burst to end',
      async () => {
        for (const c of CONTAINERS) {
          if (ended.has(c.id)) continue;
          const v = await d.client.get<ContainerView>(`/v1/containers/${c.id}`);
          if (v.state === 'DONE') {
            ended.set(c.id, v);
            order.push(c.id);
          }
        }
        return ended.has('burst');
      },
      60_000,
      5,
    );
    return {
      victims: order.map((id) => ({ id, exitStatus: ended.get(id)!.exitStatus, exitCode: ended.get(id)!.exitCode })),
      noticeToFreedMs: [...timer.episodes],
      peakToLimit: Number(read(node, 'memory.max_usage_in_bytes')) / (NODE_MB * MB),
    };
  } finally {
    timer?.stop();
    await d.stop();
  }
}

export async function nodeMemoryBench(opts: { runs: number }): Promise<NodeMemoryBenchResult | null> {
  const own = ownMemoryCgroup();
  if (own === null) return null;
  const elastic: OomRun[] = [];
  const kernel: OomRun[] = [];
  for (let i = 0; i < opts.runs; i++) {
    // Interleaved: both see the same machine.
    elastic.push(await oomRun(true, own));
    kernel.push(await oomRun(false, own));
  }
  const times = elastic.flatMap((r) => r.noticeToFreedMs);
  const noticeToFreedMs = times.length > 0 ? figure(times) : null;
  const peakToLimit = figure(elastic.map((r) => r.peakToLimit));
  // The kernel charges in batches: its own peak can pass the limit by a page or so.
  const goals = { noticeToFreedMsMax: 100, peakToLimitMax: 1.001 };
  return {
    description: `a ${NODE_MB} MB node: a guaranteed container under its request, an opportunistic one, and a guaranteed one bursting past its request`,
    nodeMb: NODE_MB,
    runs: opts.runs,
    elastic,
    kernel,
    noticeToFreedMs,
    peakToLimit,
    goals,
    met: noticeToFreedMs === null ? null : noticeToFreedMs.max < goals.noticeToFreedMsMax && peakToLimit.max <= goals.peakToLimitMax,
  };
}
