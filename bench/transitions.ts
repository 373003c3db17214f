/**
 * Durable transitions per second through the real dispatch path: container
 * machines + scheduler + store with synchronous=FULL, committed by the
 * daemon's own group commit (one transaction per event-loop turn). Next to it,
 * in the same run, the naive way: the same rows, one transaction per row.
 *
 * Each container goes NEW → SCHEDULED → RUNNING → EXITED_WITH_SUCCESS → DONE:
 * four transitions. Effects are emitted to no one: this measures deciding and
 * recording, not spawning.
 */
import path from 'node:path';
import pino from 'pino';
import { createBus } from '../src/bus.js';
import { resolveConfig } from '../src/config/load.js';
import { Dispatcher } from '../src/core/dispatcher.js';
import { openDatabase } from '../src/store/database.js';
import { Store } from '../src/store/store.js';
import { ContainerActor } from '../state-machines/container-actor.js';
import { NEVER_RETRY } from '../state-machines/retry-policy.js';
import type { ContainerSpec } from '../state-machines/types.js';
import { benchDir } from './cleanup.js';

const TRANSITIONS_PER_CONTAINER = 4;

function tempDb(name: string): { file: string; cleanup: () => void } {
  const { dir, remove } = benchDir('nw-bench-');
  return { file: path.join(dir, name), cleanup: remove };
}

const spec = (id: string): ContainerSpec => ({
  id,
  command: ['true'],
  env: {},
  resources: { memoryMb: 1, vcores: 1 },
  executionType: 'GUARANTEED',
  localResources: [],
  retryPolicy: NEVER_RETRY,
});

/** `containers` containers driven through their lifecycle in waves of `wave` events a turn. */
export async function dispatchPath(containers: number, wave = 1000): Promise<number> {
  const db = tempDb('dispatch.sqlite');
  // A node big enough that the scheduler starts every container at once.
  const config = resolveConfig([
    { 'yarn.nodemanager.resource.memory-mb': 1 << 30, 'yarn.nodemanager.resource.cpu-vcores': 1 << 20 },
  ]);
  const store = new Store(db.file);
  const log = pino({ level: 'silent' });
  const core = new Dispatcher(store, createBus(log), config, log);
  const ids = Array.from({ length: containers }, (_, i) => `c${i}`);
  let ts = Date.now();
  const start = process.hrtime.bigint();
  for (let from = 0; from < containers; from += wave) {
    const batch = ids.slice(from, from + wave);
    for (const id of batch) core.add(spec(id), ts);
    await core.durable();
    for (const id of batch) core.dispatch(id, { type: 'CONTAINER_LAUNCHED', ts: ++ts, pid: 1, startTime: 1 });
    await core.durable();
    for (const id of batch) core.dispatch(id, { type: 'CONTAINER_EXITED_WITH_SUCCESS', ts: ++ts, exitCode: 0 });
    await core.durable();
    for (const id of batch) core.dispatch(id, { type: 'CONTAINER_RESOURCES_CLEANEDUP', ts: ++ts });
    await core.durable();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const done = [...core.all()].filter((e) => e.actor.state === 'DONE').length;
  const rows = store.transitions().length;
  core.close();
  store.close();
  db.cleanup();
  if (done !== containers || rows !== containers * TRANSITIONS_PER_CONTAINER) {
    throw new Error(`benchmark run is wrong: ${done} DONE of ${containers}, ${rows} transition rows`);
  }
  return (containers * TRANSITIONS_PER_CONTAINER) / seconds;
}

/**
 * The machines alone — the same lifecycles stepped through xstate actors, no
 * scheduler, no store: the ceiling the durable path cannot pass.
 */
export function machinesOnly(containers: number): number {
  const actors: ContainerActor[] = [];
  let ts = Date.now();
  const start = process.hrtime.bigint();
  for (let i = 0; i < containers; i++) actors.push(new ContainerActor({ spec: spec(`c${i}`), diagnosticsMaxSize: 10_000 }));
  for (const a of actors) a.step({ type: 'INIT_CONTAINER', ts: ++ts });
  for (const a of actors) a.step({ type: 'CONTAINER_LAUNCHED', ts: ++ts, pid: 1, startTime: 1 });
  for (const a of actors) a.step({ type: 'CONTAINER_EXITED_WITH_SUCCESS', ts: ++ts, exitCode: 0 });
  for (const a of actors) a.step({ type: 'CONTAINER_RESOURCES_CLEANEDUP', ts: ++ts });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (actors.some((a) => a.state !== 'DONE')) throw new Error('benchmark run is wrong: not every container is DONE');
  return (containers * TRANSITIONS_PER_CONTAINER) / seconds;
}

/** The same rows (a transition plus its container update), one commit each, synchronous=FULL. */
export function naivePerRow(transitions: number): number {
  const db = tempDb('naive.sqlite');
  const handle = openDatabase(db.file);
  const insertContainer = handle.prepare(
    `INSERT INTO containers (id, request, state, created_at, updated_at) VALUES (?, ?, 'NEW', ?, ?)`,
  );
  const insertTransition = handle.prepare(
    `INSERT INTO transitions (ts, container_id, from_state, to_state, event, payload) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const updateContainer = handle.prepare(`UPDATE containers SET state = ?, updated_at = ? WHERE id = ?`);
  const request = JSON.stringify(spec('x'));
  const steps = [
    ['NEW', 'SCHEDULED', 'INIT_CONTAINER'],
    ['SCHEDULED', 'RUNNING', 'CONTAINER_LAUNCHED'],
    ['RUNNING', 'EXITED_WITH_SUCCESS', 'CONTAINER_EXITED_WITH_SUCCESS'],
    ['EXITED_WITH_SUCCESS', 'DONE', 'CONTAINER_RESOURCES_CLEANEDUP'],
  ] as const;
  const ts = Date.now();
  const start = process.hrtime.bigint();
  for (let i = 0; i < transitions; i++) {
    const id = `c${Math.floor(i / TRANSITIONS_PER_CONTAINER)}`;
    const [from, to, event] = steps[i % TRANSITIONS_PER_CONTAINER]!;
    if (i % TRANSITIONS_PER_CONTAINER === 0) insertContainer.run(id, request, ts, ts);
    insertTransition.run(ts + i, id, from, to, event, JSON.stringify({ type: event, ts: ts + i }));
    updateContainer.run(to, ts + i, id);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  handle.close();
  db.cleanup();
  return transitions / seconds;
}
