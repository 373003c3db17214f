/** The dispatch path on its own: a real store file, the bus, no processes. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBus, type Bus } from '../src/bus.js';
import { resolveConfig } from '../src/config/load.js';
import { Dispatcher } from '../src/core/dispatcher.js';
import { NodewardenError } from '../src/core/errors.js';
import { Store } from '../src/store/store.js';
import type { ContainerEffect } from '../state-machines/types.js';
import { containerSpec } from './helpers/spec.js';

const log = pino({ level: 'silent' });
const spec = (id: string) => containerSpec(id, { resources: { memoryMb: 64, vcores: 1 } });

let dir: string;
let store: Store;
let bus: Bus;
let core: Dispatcher;
let effects: Array<{ id: string; effect: ContainerEffect }>;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-dispatch-'));
  store = new Store(path.join(dir, 'db.sqlite'));
  bus = createBus(log);
  core = new Dispatcher(store, bus, resolveConfig([]), log);
  effects = [];
  bus.on('effect', (e) => effects.push(e));
});
afterEach(() => {
  vi.useRealTimers();
  core.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('dispatcher', () => {
  it('commits a turn of events in one batch, then emits its effects', async () => {
    core.add(spec('a'), 1000);
    core.add(spec('b'), 1000);
    expect(effects).toEqual([]);
    await core.durable();
    expect(effects.map((e) => `${e.id}:${e.effect.type}`)).toEqual(['a:LAUNCH_CONTAINER', 'b:LAUNCH_CONTAINER']);
    // Each launch request is journaled (seq 1, 3) before the transition it causes (2, 4), in the same batch.
    expect(store.transitions().map((t) => `${t.seq}:${t.containerId}:${t.to}`)).toEqual(['2:a:SCHEDULED', '4:b:SCHEDULED']);
    expect(store.journalLines(0, -1).map((l) => `${l.seq}:${JSON.parse(l.line).type}`)).toEqual(['1:launch', '2:transition', '3:launch', '4:transition']);
  });

  it('a failed commit answers 503, holds the effects back, and commits them on the retry', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate', 'clearTimeout', 'clearImmediate'] });
    const commit = vi.spyOn(store, 'commit').mockImplementationOnce(() => {
      throw new Error('SQLITE_FULL: database or disk is full');
    });
    core.add(spec('a'), 1000);
    const durable = core.durable();
    vi.advanceTimersToNextTimer(); // the group commit: fails
    const err = await durable.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(NodewardenError);
    expect((err as NodewardenError).status).toBe(503);
    expect((err as Error).message).toContain('SQLITE_FULL');
    expect(effects).toEqual([]);
    vi.advanceTimersByTime(1000); // the retry: succeeds
    expect(commit).toHaveBeenCalledTimes(2);
    expect(effects.map((e) => e.effect.type)).toEqual(['LAUNCH_CONTAINER']);
    expect(store.loadContainers().map((c) => c.state)).toEqual(['SCHEDULED']);
  });

  it('a throwing subscriber stops neither the effects nor the daemon', async () => {
    bus.on('transitions', () => {
      throw new Error('observer bug');
    });
    bus.on('effect', () => {
      throw new Error('another observer bug');
    });
    const later: string[] = [];
    bus.on('effect', (e) => later.push(e.effect.type));
    core.add(spec('a'), 1000);
    await core.durable();
    expect(effects.map((e) => e.effect.type)).toEqual(['LAUNCH_CONTAINER']);
    expect(later).toEqual(['LAUNCH_CONTAINER']);
  });

  it('close commits what was decided but starts nothing new', () => {
    core.add(spec('a'), 1000);
    core.close();
    expect(effects).toEqual([]);
    expect(store.loadContainers()[0]).toMatchObject({ state: 'SCHEDULED', launchAttempt: 1 });
  });

  it('an event without the fields its type needs is refused unrecorded, and changes nothing; the core goes on', async () => {
    const errors: string[] = [];
    const logged = pino({ level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line).msg) });
    const guarded = new Dispatcher(store, bus, resolveConfig([]), logged);
    guarded.add(spec('g'), 1000);
    await guarded.durable();
    const before = store.transitions().length;
    guarded.dispatch('g', { type: 'UPDATE_DIAGNOSTICS_MSG', ts: 1001 } as never);
    expect(errors).toEqual(['event refused: bad event.message: expected a string']);
    expect(store.journalLines(0, -1).some((l) => l.line.includes('UPDATE_DIAGNOSTICS_MSG'))).toBe(false);
    guarded.dispatch('g', { type: 'KILL_CONTAINER', ts: 1002, exitStatus: -105, diagnostics: 'bye' });
    await guarded.durable();
    expect(store.transitions().slice(before).map((t) => `${t.from}>${t.to}`)).toEqual(['SCHEDULED>KILLING']);
    guarded.close();
  });
});
