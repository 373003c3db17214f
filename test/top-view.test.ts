/**
 * `nodewarden top`'s model and screen without a terminal: the sparkline and
 * bar to the character, the history a poll keeps, what each key does, and a
 * screen that never spills past the terminal, whatever it shows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTAINER_STATES, type ContainerState } from '../state-machines/types.js';
import { painter } from '../src/cli/colour.js';
import { HISTORY_MS, initialState, polled, pressed, rows, type TopState } from '../src/cli/top/model.js';
import { bar, MIN_HEIGHT, MIN_WIDTH, renderScreen, sparkline } from '../src/cli/top/render.js';
import type { ContainerView } from '../src/node/container-view.js';
import type { NodeReport } from '../src/node/nodewarden.js';

const MB = 2 ** 20;
const NOW = 1_800_000_000_000;

function view(id: string, opts: { state?: ContainerState; pmem?: number | null; cpu?: number; createdAt?: number; ts?: number } = {}): ContainerView {
  const pmem = opts.pmem === undefined ? 10 * MB : opts.pmem;
  return {
    id,
    state: opts.state ?? 'RUNNING',
    pid: 1234,
    exitStatus: -1000,
    exitCode: -1000,
    diagnostics: '',
    command: ['sleep', '60'],
    env: {},
    localResources: [],
    retryPolicy: { policy: 'NEVER_RETRY', errorCodes: [], maxRetries: 0, retryIntervalMs: 0 },
    resources: { memoryMb: 96, vcores: 1 },
    limits: { pmemBytes: 128 * MB, vmemBytes: 268.8 * MB, cpus: 1.1 },
    executionType: 'GUARANTEED',
    usage: pmem === null ? null : { pmemBytes: pmem, vmemBytes: 2 * pmem, cpuPercent: opts.cpu ?? 0, milliVcores: 0, timestamp: opts.ts ?? NOW },
    launchedBy: null,
    killedBy: null,
    createdAt: opts.createdAt ?? NOW - 5000,
    updatedAt: NOW,
    user: 'alice',
    workDir: `/w/${id}`,
    logDir: `/w/${id}/logs`,
  };
}

const NODE: NodeReport = {
  capacity: { memoryMb: 8192, vcores: 8 },
  allocated: { memoryMb: 256, vcores: 2.2 },
  queued: { guaranteed: 0, opportunistic: 0 },
  utilization: { timestamp: NOW, pmemMb: 30, vmemMb: 60, vcores: 0.5 },
  containers: { RUNNING: 2 },
  monitor: { running: true, intervalMs: 1000, ticks: 10 },
  recovery: {} as NodeReport['recovery'],
  containment: { mode: 'process-group', cgroups: [], missing: ['nodewarden.cgroups.enabled is false'] },
  pressure: { memory: null },
  elastic: null,
  store: { writable: true, fault: null },
  limits: { known: 2, maxKnown: 10000, waiting: 0, maxQueued: 1000, finishedRetentionMs: 10_800_000 },
  config: {},
};

const screenInfo = { width: 120, height: 20, now: NOW, socket: '/run/nw.sock', intervalMs: 1000, paint: painter(false) };

describe('sparkline and bar', () => {
  it('a minute in equal slices, each the highest sample in it or the last before it, scaled to the limit; blank before the first sample', () => {
    const limit = 100;
    const at = (s: number, v: number) => ({ ts: NOW - s * 1000, pmemBytes: v });
    expect(sparkline([at(55, 25), at(25, 60), at(5, 100)], limit, 6, NOW)).toBe('▃▃▃▅▅█');
    expect(sparkline([at(25, 60)], limit, 6, NOW)).toBe('   ▅▅▅');
    expect(sparkline([at(39, 80), at(35, 10)], limit, 6, NOW)).toBe('  ▇▁▁▁'); // the highest in a slice, then the last
    expect(sparkline([at(5, 87)], limit, 1, NOW)).toBe('▇');
    expect(sparkline([at(5, 88)], limit, 1, NOW)).toBe('█'); // from 7/8 of the limit
    expect(sparkline([at(90, 50)], limit, 6, NOW)).toBe('▅▅▅▅▅▅'); // an older sample still holds
    expect(sparkline([], limit, 4, NOW)).toBe('    ');
  });

  it('a bar filled to used/limit in eighths of a cell, full at or over the limit', () => {
    expect(bar(50, 100, 10)).toBe('█████     ');
    expect(bar(1, 80, 10)).toBe('▏         ');
    expect(bar(0, 80, 10)).toBe('          ');
    expect(bar(300, 100, 10)).toBe('██████████');
  });
});

describe('the model', () => {
  it('a poll adds each new monitor sample once and keeps only the last minute', () => {
    let s = initialState();
    s = polled(s, [view('a', { pmem: 1 * MB, ts: NOW - 70_000 })], NODE);
    s = polled(s, [view('a', { pmem: 2 * MB, ts: NOW - 30_000 })], NODE);
    s = polled(s, [view('a', { pmem: 2 * MB, ts: NOW - 30_000 })], NODE); // the same sample again
    s = polled(s, [view('a', { pmem: 3 * MB, ts: NOW })], NODE);
    expect(s.history.get('a')).toEqual([
      { ts: NOW - 30_000, pmemBytes: 2 * MB },
      { ts: NOW, pmemBytes: 3 * MB },
    ]);
    expect(HISTORY_MS).toBe(60_000);
    // A container that is gone takes its history with it.
    expect(polled(s, [view('b')], NODE).history.has('a')).toBe(false);
  });

  it('sorts by memory and CPU (biggest first), age (oldest first) and id; the selection follows its container', () => {
    const containers = [
      view('b', { pmem: 50 * MB, cpu: 10, createdAt: NOW - 1000 }),
      view('a', { pmem: 20 * MB, cpu: 90, createdAt: NOW - 3000 }),
      view('c', { pmem: null, createdAt: NOW - 2000 }),
    ];
    let s = polled(initialState(), containers, NODE);
    const order = (st: TopState) => rows(st).map((c) => c.id);
    expect(order(s)).toEqual(['b', 'a', 'c']);
    expect(s.selected).toBe('b');
    s = pressed(s, { name: 'down' }, 10).state;
    expect(s.selected).toBe('a');
    for (const [key, expected] of [['c', ['a', 'b', 'c']], ['a', ['a', 'c', 'b']], ['i', ['a', 'b', 'c']], ['m', ['b', 'a', 'c']]] as const) {
      s = pressed(s, { name: key }, 10).state;
      expect(order(s)).toEqual(expected);
      expect(s.selected).toBe('a');
    }
    s = pressed(s, { name: 'end' }, 10).state;
    expect(s.selected).toBe('c');
    // The selected container goes: the first row is selected.
    s = polled(s, containers.slice(0, 2), NODE);
    expect(s.selected).toBe('b');
  });

  it('f cycles all → each state present (in lifecycle order) → all', () => {
    let s = polled(initialState(), [view('a', { state: 'DONE' }), view('b'), view('c', { state: 'PAUSED' })], NODE);
    const filters: Array<ContainerState | null> = [];
    for (let i = 0; i < 4; i++) {
      s = pressed(s, { name: 'f' }, 10).state;
      filters.push(s.filter);
    }
    expect(filters).toEqual(['RUNNING', 'PAUSED', 'DONE', null]);
    s = pressed(polled(s, s.containers, NODE), { name: 'f' }, 10).state;
    expect(rows(s).map((c) => c.id)).toEqual(['b']);
    expect(s.selected).toBe('b');
  });

  it('k asks first: y kills the selected container, any other key cancels; q and Ctrl-C quit', () => {
    const s = polled(initialState(), [view('a'), view('b', { pmem: 1 })], NODE);
    const asking = pressed(s, { name: 'k' }, 10);
    expect(asking.command).toBeUndefined();
    expect(asking.state.confirmKill).toBe('a');
    expect(pressed(asking.state, { name: 'y' }, 10).command).toEqual({ type: 'kill', id: 'a' });
    const cancelled = pressed(asking.state, { name: 'k' }, 10);
    expect(cancelled.command).toBeUndefined();
    expect(cancelled.state).toMatchObject({ confirmKill: null, message: 'kill of a cancelled' });
    expect(pressed(s, { name: 'q' }, 10).command).toEqual({ type: 'quit' });
    expect(pressed(asking.state, { name: 'c', ctrl: true }, 10).command).toEqual({ type: 'quit' });
    expect(pressed(initialState(), { name: 'k' }, 10).state.message).toBe('no container selected');
  });
});

describe('the screen', () => {
  it('header, column titles, one row per container and the message line, in exactly the terminal height', () => {
    const s = polled(initialState(), [view('web', { pmem: 64 * MB })], NODE);
    const lines = renderScreen(s, screenInfo);
    expect(lines).toHaveLength(20);
    expect(lines.slice(0, 4)).toEqual([
      'nodewarden top · /run/nw.sock · every 1.0s · ' + new Date(NOW).toTimeString().slice(0, 8),
      'memory  capacity 8 GB · allocated 256 MB · used 30 MB physical, 60 MB virtual',
      'vcores  capacity 8 · allocated 2.2 · used 0.50',
      'containers  1: 2 RUNNING · rows 1–1 of 1',
    ]);
    expect(lines[7]).toBe('▶ web RUNNING    1234 █████      64 MB/128 MB    128 MB    0.0     5s' + ' '.repeat(50) + '▅'); // 64 MB of 128: half height
  });

  it('with elastic memory control, the memory line says when the node is out of memory, and when that is past its timeout', () => {
    const elastic = { limitBytes: 8192 * MB, usageBytes: 8192 * MB, underOom: true, oomSince: NOW, unresolved: false, kills: 1, episodes: 1, lastResolvedMs: null };
    const line = (e: NodeReport['elastic']) => renderScreen(polled(initialState(), [view('web', { pmem: 64 * MB })], { ...NODE, elastic: e }), screenInfo)[1];
    expect(line(elastic)).toBe('memory  capacity 8 GB · allocated 256 MB · used 30 MB physical, 60 MB virtual · OUT OF MEMORY');
    expect(line({ ...elastic, unresolved: true })).toMatch(/ · OUT OF MEMORY \(unresolved\)$/);
    expect(line({ ...elastic, underOom: false })).toBe('memory  capacity 8 GB · allocated 256 MB · used 30 MB physical, 60 MB virtual');
  });

  it('the memory line ends with the node\'s memory pressure (PSI, last 10 s) where the kernel has it', () => {
    const psi = { some: { avg10: 1.5, avg60: 0.7, avg300: 0.2, total: 123 }, full: { avg10: 0.25, avg60: 0, avg300: 0, total: 45 } };
    const s = polled(initialState(), [view('web', { pmem: 64 * MB })], { ...NODE, pressure: { memory: psi } });
    expect(renderScreen(s, screenInfo)[1]).toBe('memory  capacity 8 GB · allocated 256 MB · used 30 MB physical, 60 MB virtual · pressure some 1.50% full 0.25% (10 s)');
  });

  it('a database that cannot commit is said on the message line', () => {
    const fault = { code: 'SQLITE_FULL', message: 'database or disk is full', since: NOW };
    const s = polled(initialState(), [view('web', { pmem: 64 * MB })], { ...NODE, store: { writable: false, fault } });
    expect(renderScreen(s, screenInfo).at(-1)).toBe('The database cannot commit (SQLITE_FULL: database or disk is full): launches refused, kills go on');
  });

  it('a terminal below the minimum gets the message instead', () => {
    const lines = renderScreen(initialState(), { ...screenInfo, width: MIN_WIDTH - 1, height: MIN_HEIGHT });
    expect(lines[0]).toBe(`nodewarden top needs a terminal of at least ${MIN_WIDTH}×${MIN_HEIGHT};`);
    expect(lines[1]).toBe(`this one is ${MIN_WIDTH - 1}×${MIN_HEIGHT}. Enlarge it, or use \`nodewarden ps\`.`);
  });

  it('no line is wider than the terminal and the screen is exactly its height, whatever it shows (property)', () => {
    const containerArb = fc.record({
      id: fc.stringMatching(/^[A-Za-z0-9_.-]{1,60}$/),
      state: fc.constantFrom(...CONTAINER_STATES),
      pmem: fc.option(fc.integer({ min: 0, max: 2 ** 45 }), { nil: null }),
      cpu: fc.double({ min: -1, max: 1e4, noNaN: true }),
      age: fc.integer({ min: 0, max: 10 ** 10 }),
    });
    fc.assert(
      fc.property(
        fc.array(containerArb, { maxLength: 40 }),
        fc.integer({ min: 1, max: 250 }),
        fc.integer({ min: 1, max: 80 }),
        // Messages carry error text from anywhere: control characters (newlines) included.
        fc.string({ maxLength: 300, unit: 'binary-ascii' }),
        fc.constantFrom('message', 'confirm', 'unreachable'),
        fc.boolean(),
        (cs, width, height, text, line, colour) => {
          const containers = cs.map((c, i) => view(`${c.id}${i}`, { state: c.state, pmem: c.pmem, cpu: c.cpu, createdAt: NOW - c.age }));
          const base = polled(initialState(), containers, NODE);
          const s =
            line === 'message' ? { ...base, message: text } : line === 'confirm' ? { ...base, confirmKill: containers[0]?.id ?? text } : { ...base, unreachable: text };
          const lines = renderScreen(s, { ...screenInfo, width, height, paint: painter(colour) });
          for (const l of lines) {
            const plain = l.replace(/\x1b\[\d+m/g, '');
            expect([...plain].length).toBeLessThanOrEqual(width);
            expect(plain).not.toMatch(/[\x00-\x1f\x7f]/);
          }
          expect(lines.length).toBe(width < MIN_WIDTH || height < MIN_HEIGHT ? Math.min(3, height) : height);
        },
      ),
      { numRuns: 300 },
    );
  });
});
