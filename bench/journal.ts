/**
 * The journal: how fast replay goes, and how big the journal grows.
 *
 * Replay speed: a journal written by the live path (Dispatcher, a real
 * SQLite file) for a day-in-the-life workload — containers arriving, starting,
 * sampled every 3 s while they run (two processes each), exiting, some
 * killed for memory — is exported, then replayed with --check from its lines
 * in memory (parsing, validation, the machines and the comparison; not the
 * disk). Records per second = records read / time.
 *
 * Size: the real daemon runs real containers (`sleep`: the wrapper and its
 * command) and ticks; the journal's bytes for the samples are counted per
 * container per tick, and scaled to an hour at the default interval
 * (yarn.nodemanager.resource-monitor.interval-ms = 3000: 1,200 ticks), with
 * the bytes of one container's lifecycle (request, notices, transitions)
 * counted once.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { exportLines } from '../src/journal/export.js';
import { replayLines } from '../src/journal/replay.js';
import { benchDir } from './cleanup.js';
import { BenchDaemon, pool, waitUntil } from './daemon.js';
import { figure, type Figure } from './stats.js';
import { jobTree, SteppedNode } from './stepped-node.js';

const DEFAULT_INTERVAL_MS = 3000;
const TICKS_PER_HOUR = 3_600_000 / DEFAULT_INTERVAL_MS;

export interface JournalBenchResult {
  description: string;
  replay: {
    containers: number;
    records: number;
    /** Records by type in the replayed journal. */
    mix: Record<string, number>;
    recordsPerSecond: Figure;
    goal: number;
    met: boolean;
  };
  size: {
    containers: number;
    ticks: number;
    /** Journal bytes (as exported) of one container's samples, per tick. */
    sampleBytesPerContainerTick: number;
    /** Its request, notices, monitor start/stop, transitions: once per container. */
    lifecycleBytesPerContainer: number;
    /** Samples for an hour at the default interval, plus one lifecycle. */
    bytesPerContainerHour: number;
    intervalMs: number;
  };
}

/** Writes a journal through the live path: `containers` in waves of `concurrent`, each sampled `ticksEach` times. */
export async function recordWorkload(file: string, containers: number, concurrent: number, ticksEach: number): Promise<void> {
  const node = new SteppedNode(file);
  for (let wave = 0; wave * concurrent < containers; wave++) {
    const ids: string[] = [];
    for (let i = 0; i < concurrent && wave * concurrent + i < containers; i++) {
      const id = `container_${wave}_${String(i).padStart(4, '0')}`;
      ids.push(id);
      node.launch(id);
    }
    await node.settle();
    for (let t = 0; t < ticksEach; t++) {
      node.now += DEFAULT_INTERVAL_MS;
      // One in ten grows past its limit (256 + 32 MiB) in its last ticks.
      node.tick((tracked) => jobTree(tracked, t, tracked.id.endsWith('7') && t > ticksEach - 3 ? 200_000 : 20_000 + t));
      await node.settle();
    }
    node.now += 1000;
    for (const id of ids) node.exit(id);
    await node.settle();
  }
  await node.close();
}

export async function journalBench({ quick, runs }: { quick: boolean; runs: number }): Promise<JournalBenchResult> {
  const { dir, remove } = benchDir('nw-bench-journal-');
  try {
    const containers = quick ? 400 : 4000;
    const file = path.join(dir, 'replay.sqlite');
    await recordWorkload(file, containers, 40, 20);
    const lines = await exportLines(file);
    const mix: Record<string, number> = {};
    for (const l of lines.slice(1)) {
      const type = /"type":"([a-z-]+)"/.exec(l)![1]!;
      mix[type] = (mix[type] ?? 0) + 1;
    }
    const records = lines.length - 1;
    replayLines(lines, { check: true }); // warm-up
    const perSecond: number[] = [];
    for (let r = 0; r < runs; r++) {
      const start = performance.now();
      const summary = replayLines(lines, { check: true });
      const s = (performance.now() - start) / 1000;
      if (summary.divergence) throw new Error(`bench: the replay diverged: ${JSON.stringify(summary.divergence)}`);
      perSecond.push(records / s);
    }
    const rps = figure(perSecond);
    const goal = 100_000;
    return {
      description: 'replay --check of a live-recorded journal (records/s, parsing and validation included, from memory); journal bytes per container-hour at the default 3 s interval',
      replay: { containers, records, mix, recordsPerSecond: rps, goal, met: rps.median >= goal },
      size: await sizeBench(quick),
    };
  } finally {
    remove();
  }
}

/** Real containers on the real daemon: bytes of their samples per tick, and of one lifecycle. */
async function sizeBench(quick: boolean): Promise<JournalBenchResult['size']> {
  const containers = quick ? 10 : 50;
  const intervalMs = 200;
  const d = await BenchDaemon.start({ 'yarn.nodemanager.container-monitor.interval-ms': intervalMs });
  try {
    const ids = Array.from({ length: containers }, (_, i) => `container_1700000000000_${String(i).padStart(6, '0')}`);
    await pool(ids.map((id) => () => d.client.post('/v1/containers', { id, command: ['sleep', '3600'], resources: { memoryMb: 256, vcores: 1 } })), 16);
    const db = new Database(d.db, { readonly: true });
    try {
      const ticks = () => db.prepare(`SELECT count(*) AS n, coalesce(sum(length(record)), 0) AS bytes FROM journal WHERE type = 'tick' AND length(record) > ?`).get(containers * 100) as { n: number; bytes: number };
      // Ticks with every container in them (the first ones see only some).
      await waitUntil('the ticks', async () => ticks().n >= (quick ? 10 : 40), 120_000, intervalMs);
      const { n, bytes } = ticks();
      for (const id of ids) await d.client.post(`/v1/containers/${id}/kill`, {});
      await waitUntil('every container to finish', async () => (await d.client.get<{ containers: Array<{ state: string }> }>('/v1/containers')).containers.every((c) => c.state === 'DONE'));
      // Everything but the samples: request, notices, monitor start/stop, transitions (JSON as exported).
      const other = db.prepare(`SELECT coalesce(sum(length(record)), 0) AS b FROM journal WHERE container_id IS NOT NULL OR type = 'monitor'`).get() as { b: number };
      const transitions = db.prepare(`SELECT count(*) AS n, coalesce(sum(length(payload) + length(container_id) + length(from_state) + length(to_state) + 70), 0) AS b FROM transitions`).get() as { b: number };
      const sampleBytesPerContainerTick = bytes / n / containers;
      const lifecycleBytesPerContainer = (other.b + transitions.b) / containers;
      return {
        containers,
        ticks: n,
        sampleBytesPerContainerTick: Math.round(sampleBytesPerContainerTick),
        lifecycleBytesPerContainer: Math.round(lifecycleBytesPerContainer),
        bytesPerContainerHour: Math.round(sampleBytesPerContainerTick * TICKS_PER_HOUR + lifecycleBytesPerContainer),
        intervalMs: DEFAULT_INTERVAL_MS,
      };
    } finally {
      db.close();
    }
  } finally {
    await d.stop();
  }
}
