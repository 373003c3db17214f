/**
 * Property: whatever happens live, replay decides the same. Random sequences
 * of inputs — launches, the shell's answers to the effects, random (often
 * impossible) events, monitor ticks with random trees near the limits,
 * commits, crashes that lose the uncommitted batch, restarts with random
 * findings, checkpoints, prunes and prunes cut short by a crash — go through the live path (Dispatcher, a real SQLite file); the
 * journal is exported from that file and replayed with --check. It must find
 * every transition and kill identical, and as many transitions as the
 * database holds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostFacts } from '../state-machines/containers-monitor.js';
import type { FoundProcess } from '../state-machines/recovery.js';
import { processToFind } from '../state-machines/recovery.js';
import { CONTAINER_EVENT_TYPES, type ContainerEffect, type ContainerEvent, type ContainerEventType } from '../state-machines/types.js';
import { createBus } from '../src/bus.js';
import { resolveConfig } from '../src/config/load.js';
import { Dispatcher } from '../src/core/dispatcher.js';
import { exportLines } from '../src/journal/export.js';
import { JournalPruner } from '../src/journal/pruner.js';
import { replayLines } from '../src/journal/replay.js';
import { Store } from '../src/store/store.js';
import { containerSpec } from './helpers/spec.js';

const log = pino({ level: 'silent' });
const HOST: HostFacts = { processors: 2, pageSize: 4096, clockTicks: 100 };
const base = {
  'yarn.nodemanager.resource.memory-mb': 1024,
  'yarn.nodemanager.resource.cpu-vcores': 4,
  'yarn.nodemanager.opportunistic-containers-max-queue-length': 2,
  'yarn.nodemanager.container-diagnostics-maximum-size': 300,
  'nodewarden.journal.retention-hours': 0.002,
};
/** A daemon may be restarted with another configuration: each start is replayed with its own. */
const CONFIGS = [
  resolveConfig([base]),
  resolveConfig([{ ...base, 'yarn.nodemanager.resource.memory-mb': 700, 'yarn.nodemanager.opportunistic-containers-max-queue-length': 1, 'nodewarden.executor.allowance.memory-mb': 0 }]),
  resolveConfig([{ ...base, 'yarn.nodemanager.container-diagnostics-maximum-size': 120, 'yarn.nodemanager.vmem-check-enabled': false, 'yarn.nodemanager.recovery.enabled': false }]),
];

type Op =
  | { op: 'launch'; memoryMb: number; vcores: number; opportunistic: boolean; retries: number; local: boolean }
  | { op: 'shell' }
  | { op: 'event'; pick: number; type: ContainerEventType; code: number }
  | { op: 'tick'; rss: number[]; cpu: number; child: boolean }
  | { op: 'logTick'; bytes: number }
  | { op: 'advance'; ms: number }
  | { op: 'commit' }
  | { op: 'crash'; found: number[] }
  | { op: 'restart'; found: number[]; config: number }
  | { op: 'checkpoint' }
  | { op: 'prune'; crashAfter: number | null };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('launch' as const), memoryMb: fc.integer({ min: 16, max: 600 }), vcores: fc.integer({ min: 1, max: 3 }), opportunistic: fc.boolean(), retries: fc.integer({ min: 0, max: 2 }), local: fc.boolean() }) },
  { weight: 5, arbitrary: fc.constant({ op: 'shell' as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('event' as const), pick: fc.nat(), type: fc.constantFrom(...CONTAINER_EVENT_TYPES), code: fc.integer({ min: 0, max: 143 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('tick' as const), rss: fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 1, maxLength: 8 }), cpu: fc.integer({ min: 0, max: 500 }), child: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('logTick' as const), bytes: fc.integer({ min: 0, max: 2 ** 31 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 5000 }) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'commit' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('crash' as const), found: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restart' as const), found: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 8 }), config: fc.integer({ min: 0, max: CONFIGS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'checkpoint' as const }) },
  // A prune pass; or one that crashes after `crashAfter` slices of two rows a table.
  { weight: 1, arbitrary: fc.record({ op: fc.constant('prune' as const), crashAfter: fc.option(fc.integer({ min: 0, max: 4 })) }) },
);

/** An event of `type` with made-up fields, as the shell or a request could send it. */
function eventOf(type: ContainerEventType, ts: number, code: number, pid: number): ContainerEvent {
  switch (type) {
    case 'RESOURCE_LOCALIZED':
      return { type, ts, name: 'r0' };
    case 'RESOURCE_FAILED':
      return { type, ts, name: 'r0', diagnostics: 'no such file' };
    case 'CONTAINER_LAUNCHED':
      return { type, ts, pid, startTime: pid * 10 };
    case 'CONTAINER_EXITED_WITH_SUCCESS':
      return { type, ts, exitCode: 0 };
    case 'CONTAINER_EXITED_WITH_FAILURE':
    case 'CONTAINER_KILLED_ON_REQUEST':
      return { type, ts, exitCode: code, diagnostics: `exit ${code}` };
    case 'KILL_CONTAINER':
      return { type, ts, exitStatus: -105, diagnostics: 'Container killed by the ApplicationMaster.' };
    case 'UPDATE_DIAGNOSTICS_MSG':
      return { type, ts, message: `note ${code}` };
    default:
      return { type, ts } as ContainerEvent;
  }
}

class LiveRun {
  store: Store;
  core: Dispatcher;
  ts = 1_700_000_000_000;
  private pid = 1000;
  private launched = 0;
  private effects: Array<{ id: string; effect: ContainerEffect }> = [];

  private config = CONFIGS[0]!;

  constructor(readonly file: string) {
    [this.store, this.core] = this.open([]);
  }

  private open(found: number[]): [Store, Dispatcher] {
    const store = new Store(this.file);
    const bus = createBus(log);
    const core = new Dispatcher(store, bus, this.config, log, { host: HOST });
    bus.on('effect', (e) => this.effects.push(e));
    this.effects = [];
    for (const row of store.loadContainers()) core.restore(row);
    // What the shell "found" of each process it looks for: nothing, alive, or ended.
    const processes: Record<string, FoundProcess> = {};
    let i = 0;
    for (const e of core.all()) {
      const want = processToFind({ state: e.actor.state, context: e.actor.context, launchAttempt: e.launchAttempt, updatedAt: e.updatedAt });
      if (want.kind === 'none') continue;
      const kind = found[i++ % Math.max(1, found.length)] ?? 0;
      const pid = want.kind === 'recorded' ? want.pid : ++this.pid;
      if (kind === 1) processes[e.spec.id] = { kind: 'alive', pid, startTime: pid * 10 };
      if (kind === 2) processes[e.spec.id] = { kind: 'ended', pid, startTime: pid * 10 };
    }
    core.recover(processes, this.ts);
    return [store, core];
  }

  async apply(o: Op): Promise<void> {
    const core = this.core;
    const ids = [...core.all()].map((e) => e.spec.id);
    switch (o.op) {
      case 'launch': {
        const id = `c${++this.launched}`;
        const retryPolicy = o.retries > 0 ? { policy: 'RETRY_ON_ALL_ERRORS' as const, errorCodes: [], maxRetries: o.retries, retryIntervalMs: 1000 } : undefined;
        core.add(
          containerSpec(id, {
            resources: { memoryMb: o.memoryMb, vcores: o.vcores },
            executionType: o.opportunistic ? 'OPPORTUNISTIC' : 'GUARANTEED',
            localResources: o.local ? [{ source: '/etc/hostname', name: 'r0' }] : [],
            ...(retryPolicy ? { retryPolicy } : {}),
          }),
          this.ts,
        );
        return;
      }
      case 'shell': {
        // The shell answers what was asked of it once it is committed, the way the effect runner and the monitor shell do.
        await core.durable();
        const effects = this.effects;
        this.effects = [];
        for (const { id, effect } of effects) {
          const ts = this.ts;
          switch (effect.type) {
            case 'INIT_CONTAINER_RESOURCES':
              core.dispatch(id, { type: 'RESOURCE_LOCALIZED', ts, name: 'r0' });
              break;
            case 'LAUNCH_CONTAINER':
            case 'RELAUNCH_CONTAINER': {
              const pid = ++this.pid;
              core.dispatch(id, { type: 'CONTAINER_LAUNCHED', ts, pid, startTime: pid * 10 });
              break;
            }
            case 'CLEANUP_CONTAINER':
              core.dispatch(id, { type: 'CONTAINER_KILLED_ON_REQUEST', ts, exitCode: 143, diagnostics: 'killed' });
              break;
            case 'CLEANUP_CONTAINER_RESOURCES':
              core.dispatch(id, { type: 'CONTAINER_RESOURCES_CLEANEDUP', ts });
              break;
            case 'PAUSE_CONTAINER':
              core.dispatch(id, { type: 'CONTAINER_PAUSED', ts });
              break;
            case 'RESUME_CONTAINER':
              core.dispatch(id, { type: 'CONTAINER_RESUMED', ts });
              break;
            case 'START_MONITORING':
              core.monitor({ type: 'START_MONITORING', ts, id, pid: effect.pid, resources: core.get(id)!.spec.resources });
              break;
            case 'STOP_MONITORING':
              core.monitor({ type: 'STOP_MONITORING', ts, id });
              break;
            default:
              break;
          }
        }
        return;
      }
      case 'event': {
        if (ids.length === 0) return;
        const id = ids[o.pick % ids.length]!;
        core.dispatch(id, eventOf(o.type, this.ts, o.code, core.get(id)!.actor.context.pid ?? 1));
        return;
      }
      case 'tick': {
        const samples: Record<string, Array<Record<string, number | string>>> = {};
        let k = 0;
        for (const t of core.monitorContext.tracking.values()) {
          const rss = o.rss[k++ % o.rss.length]!;
          const proc = (pid: number, ppid: number) => ({
            pid, ppid, pgrp: t.pid, session: t.pid, comm: 'sh', state: 'S', utime: (this.ts / 10) % 100_000 + o.cpu, stime: 3,
            numThreads: 1, startTime: pid * 10, vsize: rss * 4096 * 3, rssPages: rss,
          });
          samples[t.id] = o.child ? [proc(t.pid, 1), proc(t.pid + 100_000, t.pid)] : [proc(t.pid, 1)];
        }
        core.monitor({ type: 'TICK', ts: this.ts, samples: samples as never });
        return;
      }
      case 'logTick': {
        const logDirs: Record<string, Array<{ dir: string; bytes: number }>> = {};
        for (const id of core.monitorContext.tracking.keys()) logDirs[id] = [{ dir: `/logs/${id}`, bytes: o.bytes }];
        core.monitor({ type: 'LOG_TICK', ts: this.ts, logDirs });
        return;
      }
      case 'advance':
        this.ts += o.ms;
        return;
      case 'commit':
        await core.durable();
        return;
      case 'checkpoint':
        core.checkpoint(this.ts);
        return;
      case 'prune': {
        const window = this.config.journal.retentionHours * 3_600_000;
        if (o.crashAfter === null) {
          // Everything before the newest checkpoint older than the window (7.2 s) goes.
          await new JournalPruner({ store: this.store, checkpoint: (ts) => core.checkpoint(ts), storeFaulted: () => false, clock: { now: () => this.ts }, log, retentionHours: this.config.journal.retentionHours, intervalMs: 0 }).run();
          return;
        }
        // A pass cut short by SIGKILL: a checkpoint, a few slices deleted, then the crash.
        core.checkpoint(this.ts);
        await core.durable();
        const cut = this.store.checkpointBefore(this.ts - window);
        for (let i = 0; cut !== null && i < o.crashAfter; i++) this.store.pruneBefore(cut.seq, 2);
        this.store.close();
        core.close();
        [this.store, this.core] = this.open([]);
        return;
      }
    }
  }

  async finish(): Promise<void> {
    await this.core.durable();
    this.core.close();
    this.store.close();
  }
}

const recordedStarts = (lines: string[]) => lines.filter((l) => l.includes('"type":"start"')).length;

let dir: string | undefined;
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('replay property', () => {
  it('random inputs through the live path and through replay end in identical transitions and kills', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 120, size: 'max' }), async (ops) => {
        const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-replay-prop-'));
        try {
          const file = path.join(runDir, 'db.sqlite');
          const live = new LiveRun(file);
          for (const o of ops) await live.apply(o);
          await live.finish();

          const lines = await exportLines(file);
          const summary = replayLines(lines, { check: true });
          expect(summary.divergence).toBeNull();
          if (process.env.NW_PROPERTY_STATS) {
            const header = JSON.parse(lines[0]!);
            console.log(JSON.stringify({ ops: ops.length, records: summary.records, transitions: summary.transitions, kills: summary.kills, pruned: header.prunedBefore !== undefined, starts: recordedStarts(lines) }));
          }
          const recorded = lines.slice(1).map((l) => JSON.parse(l) as { type: string });
          expect(summary.transitions).toBe(recorded.filter((r) => r.type === 'transition').length);
          expect(summary.kills).toBe(recorded.filter((r) => r.type === 'kill').length);
          // And replay without a check tells the same story, record for record.
          const timeline: unknown[] = [];
          replayLines(lines, { check: false, onOutput: (r) => timeline.push(r) });
          expect(timeline).toEqual(recorded.filter((r) => r.type === 'transition' || r.type === 'kill'));
        } finally {
          fs.rmSync(runDir, { recursive: true, force: true });
        }
      }),
      { numRuns: Number(process.env.NW_PROPERTY_RUNS ?? 60) },
    );
  }, 120_000);

  it('the check that property relies on notices a different decision: a container monitored with a smaller request is killed in replay', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-replay-prop-'));
    const file = path.join(dir, 'db.sqlite');
    const live = new LiveRun(file);
    for (const o of [
      { op: 'launch', memoryMb: 100, vcores: 1, opportunistic: false, retries: 0, local: false },
      { op: 'commit' },
      { op: 'shell' },
      { op: 'commit' },
      { op: 'shell' },
      { op: 'tick', rss: [10_000], cpu: 0, child: false },
      { op: 'advance', ms: 3000 },
      { op: 'tick', rss: [20_000], cpu: 50, child: false },
    ] as Op[]) {
      await live.apply(o);
    }
    await live.finish();
    const lines = await exportLines(file);
    expect(replayLines(lines, { check: true }).divergence).toBeNull();
    expect(lines.some((l) => l.includes('"type":"tick"'))).toBe(true);
    // 20,000 pages = 78 MiB: under 100 + 32 MiB. Monitored as if it had asked for 40 MiB, the same tree is over its limit.
    const isStart = (l: string) => l.includes('"type":"monitor"') && l.includes('START_MONITORING');
    const start = JSON.parse(lines.find(isStart)!);
    start.event.resources.memoryMb = 40;
    const edited = lines.map((l) => (isStart(l) ? JSON.stringify(start) : l));
    const diverged = replayLines(edited, { check: true }).divergence;
    expect(diverged).toMatchObject({ container: 'c1' });
    expect(diverged!.got).toMatch(/killed by the monitor \(exit status -10[34]\)/);
  });
});
