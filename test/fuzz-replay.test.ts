/**
 * Fuzzing replay with generated NDJSON journals. A real journal (a live run
 * through the Dispatcher and a SQLite file: launches, the shell's answers,
 * ticks, a monitor kill, a user kill, a relaunch, a restart) is mutated —
 * fields dropped or given the wrong type, huge numbers, unknown record
 * types, seq out of order, containers replay never heard of, events a state
 * cannot take, a truncated last line, binary garbage, an enormous line — and
 * fed to replayLines (what the tests and the CLI's Replayer run) and, for a
 * few, to `nodewarden replay FILE --check`. Whatever the journal holds,
 * replay ends with a summary or the documented JournalError naming the line;
 * the CLI exits 0, 1 or 2 with no stack trace.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostFacts } from '../state-machines/containers-monitor.js';
import { processToFind, type FoundProcess } from '../state-machines/recovery.js';
import { CONTAINER_EVENT_TYPES, CONTAINER_STATES, type ContainerEffect } from '../state-machines/types.js';
import { createBus } from '../src/bus.js';
import { resolveConfig } from '../src/config/load.js';
import { Dispatcher } from '../src/core/dispatcher.js';
import { exportLines } from '../src/journal/export.js';
import { JournalError, replayLines, type ReplaySummary } from '../src/journal/replay.js';
import { Store } from '../src/store/store.js';
import { containerSpec } from './helpers/spec.js';

const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');
const log = pino({ level: 'silent' });
const HOST: HostFacts = { processors: 2, pageSize: 4096, clockTicks: 100 };
const CONFIG = resolveConfig([{ 'yarn.nodemanager.resource.memory-mb': 1024, 'yarn.nodemanager.opportunistic-containers-max-queue-length': 1 }]);

// ---------------------------------------------------------------------------
// The journal to mutate: a short live run with every kind of record in it.

class LiveRun {
  store!: Store;
  core!: Dispatcher;
  ts = 1_700_000_000_000;
  private pid = 1000;
  private effects: Array<{ id: string; effect: ContainerEffect }> = [];

  constructor(private readonly file: string) {
    this.open(false);
  }

  /** A daemon start; on a restart every recorded process is found alive. */
  open(restart: boolean): void {
    this.store = new Store(this.file);
    const bus = createBus(log);
    this.core = new Dispatcher(this.store, bus, CONFIG, log, { host: HOST });
    this.effects = [];
    bus.on('effect', (e) => this.effects.push(e));
    const found: Record<string, FoundProcess> = {};
    for (const row of this.store.loadContainers()) this.core.restore(row);
    for (const e of this.core.all()) {
      const want = processToFind({ state: e.actor.state, context: e.actor.context, launchAttempt: e.launchAttempt, updatedAt: e.updatedAt });
      if (restart && want.kind === 'recorded') found[e.spec.id] = { kind: 'alive', pid: want.pid, startTime: want.startTime };
    }
    this.core.recover(found, this.ts);
  }

  /** The shell answers every effect once it is committed: launches launch, kills kill, monitoring starts. */
  async shell(exitCodes: Record<string, number> = {}): Promise<void> {
    for (let round = 0; round < 4; round++) {
      await this.core.durable();
      const effects = this.effects;
      this.effects = [];
      for (const { id, effect } of effects) {
        const ts = this.ts;
        switch (effect.type) {
          case 'INIT_CONTAINER_RESOURCES':
            this.core.dispatch(id, { type: 'RESOURCE_LOCALIZED', ts, name: 'r0' });
            break;
          case 'LAUNCH_CONTAINER':
          case 'RELAUNCH_CONTAINER': {
            const pid = ++this.pid;
            this.core.dispatch(id, { type: 'CONTAINER_LAUNCHED', ts, pid, startTime: pid * 10 });
            if (exitCodes[id] !== undefined) this.core.dispatch(id, { type: 'CONTAINER_EXITED_WITH_FAILURE', ts, exitCode: exitCodes[id]!, diagnostics: 'failed' });
            break;
          }
          case 'CLEANUP_CONTAINER':
            this.core.dispatch(id, { type: 'CONTAINER_KILLED_ON_REQUEST', ts, exitCode: 143, diagnostics: 'killed' });
            break;
          case 'CLEANUP_CONTAINER_RESOURCES':
            this.core.dispatch(id, { type: 'CONTAINER_RESOURCES_CLEANEDUP', ts });
            break;
          case 'START_MONITORING':
            this.core.monitor({ type: 'START_MONITORING', ts, id, pid: effect.pid, resources: this.core.get(id)!.spec.resources });
            break;
          case 'STOP_MONITORING':
            this.core.monitor({ type: 'STOP_MONITORING', ts, id });
            break;
          default:
            break;
        }
      }
    }
  }

  /** A monitor tick: each tracked tree is its wrapper and a child holding `rssMb[id]` (default 10 MB). */
  tick(rssMb: Record<string, number> = {}): void {
    const samples: Record<string, unknown[]> = {};
    for (const t of this.core.monitorContext.tracking.values()) {
      const rss = ((rssMb[t.id] ?? 10) * 2 ** 20) / HOST.pageSize;
      const proc = (pid: number, ppid: number, rssPages: number) => ({
        pid, ppid, pgrp: t.pid, session: t.pid, comm: 'sh', state: 'S', utime: (this.ts / 10) % 100_000, stime: 3, numThreads: 1, startTime: pid * 10, vsize: rssPages * 4096 * 2, rssPages,
      });
      samples[t.id] = [proc(t.pid, 1, 100), proc(t.pid + 50_000, t.pid, rss)];
    }
    this.core.monitor({ type: 'TICK', ts: this.ts, samples: samples as never });
  }

  async close(): Promise<void> {
    await this.core.durable();
    this.core.close();
    this.store.close();
  }
}

async function recordJournal(file: string): Promise<string[]> {
  const run = new LiveRun(file);
  const { core } = run;
  core.add(containerSpec('ok'), run.ts);
  core.add(containerSpec('local', { localResources: [{ source: '/etc/hostname', name: 'r0' }] }), run.ts);
  core.add(containerSpec('hog', { resources: { memoryMb: 64, vcores: 1 } }), run.ts);
  core.add(containerSpec('retry', { retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', errorCodes: [], maxRetries: 1, retryIntervalMs: 0 } }), run.ts);
  core.add(containerSpec('opp', { executionType: 'OPPORTUNISTIC', resources: { memoryMb: 256, vcores: 1 } }), run.ts);
  await run.shell({ retry: 3 });
  for (let i = 0; i < 3; i++) {
    run.ts += 3000;
    run.tick({ hog: i === 0 ? 10 : 400 });
    await run.shell();
  }
  run.ts += 1000;
  core.dispatch('local', { type: 'KILL_CONTAINER', ts: run.ts, exitStatus: -105, diagnostics: 'Container killed by the ApplicationMaster.' });
  core.dispatch('ok', { type: 'CONTAINER_EXITED_WITH_SUCCESS', ts: run.ts, exitCode: 0 });
  await run.shell();
  core.monitor({ type: 'LOG_TICK', ts: run.ts, logDirs: { opp: [{ dir: '/logs/opp', bytes: 10 }] } });
  core.snapshotMonitor(run.ts);
  await run.close();

  run.ts += 5000;
  run.open(true);
  run.tick();
  run.ts += 3000;
  run.tick();
  await run.shell();
  await run.close();
  return exportLines(file);
}

let dir: string;
let journal: string[];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-fuzz-replay-'));
  journal = await recordJournal(path.join(dir, 'db.sqlite'));
  // The seed journal replays cleanly and holds every kind of record.
  expect(replayLines(journal, { check: true }).divergence).toBeNull();
  const types = new Set(journal.slice(1).map((l) => (JSON.parse(l) as { type: string }).type));
  expect([...types].sort()).toEqual(['event', 'kill', 'launch', 'log-tick', 'monitor', 'monitor-snapshot', 'start', 'tick', 'transition']);
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Mutations.

/** A value of the wrong type, or of the right type and absurd. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, -0, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, Number.MAX_SAFE_INTEGER, '', 'x', '\u0000', '🙂', '__proto__', [], {}),
  fc.constantFrom(...CONTAINER_STATES, ...CONTAINER_EVENT_TYPES, 'START_MONITORING', 'TICK', 'start', 'transition', 'kill', 'ghost'),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: 1, max: 40 }).map((depth) => JSON.parse('['.repeat(depth * 50) + ']'.repeat(depth * 50)) as unknown),
);

/** Every path into a JSON value (objects and arrays), the root's children first. */
function paths(v: unknown, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (out.length > 400) return out;
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([...at, i]), paths(x, [...at, i], out)));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push([...at, k]), paths(x, [...at, k], out);
  return out;
}

function parentOf(root: Record<string, unknown>, p: Array<string | number>): Record<string | number, unknown> {
  let o: unknown = root;
  for (const k of p.slice(0, -1)) o = (o as Record<string | number, unknown>)[k];
  return o as Record<string | number, unknown>;
}

type Mutation =
  | { kind: 'set'; line: number; pick: number; value: unknown }
  | { kind: 'drop'; line: number; pick: number }
  | { kind: 'seq'; line: number; seq: number | 'previous' | 'next-but-one' }
  | { kind: 'container'; line: number; id: string }
  | { kind: 'eventType'; line: number; type: string }
  | { kind: 'recordType'; line: number; type: string }
  | { kind: 'swap'; line: number; with: number }
  | { kind: 'removeLine'; line: number }
  | { kind: 'duplicateLine'; line: number }
  | { kind: 'insert'; line: number; text: string }
  | { kind: 'truncateLast'; at: number }
  | { kind: 'crlf' };

const line = fc.nat();
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), line, pick: fc.nat(), value: oddValue }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('drop' as const), line, pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('seq' as const), line, seq: fc.oneof(fc.constantFrom('previous' as const, 'next-but-one' as const), fc.integer({ min: -2, max: 100 }), fc.constant(2 ** 60)) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('container' as const), line, id: fc.constantFrom('ghost', 'ok', 'hog', 'retry', 'opp', 'local', '', '../x') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('eventType' as const), line, type: fc.constantFrom(...CONTAINER_EVENT_TYPES, 'START_MONITORING', 'STOP_MONITORING', 'TICK', 'NOPE') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('recordType' as const), line, type: fc.constantFrom('start', 'launch', 'event', 'monitor', 'tick', 'log-tick', 'monitor-snapshot', 'transition', 'kill', 'hello', 'constructor', 'toString', '__proto__') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('swap' as const), line, with: line }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeLine' as const), line }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicateLine' as const), line }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      line,
      text: fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('utf8')), // binary garbage
        fc.string({ maxLength: 50 }),
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
        fc.constantFrom('', '   ', '\t', '{}', '[]', 'null', '{"seq":1}', `{"seq":99999,"ts":1,"type":"event","container":"${'x'.repeat(2_000_000)}"}`, 'x'.repeat(1_500_000)),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncateLast' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crlf' as const }) },
);

/** Apply one mutation to the lines (the header is line 0: it can be mutated too). */
function mutate(lines: string[], m: Mutation): string[] {
  const out = [...lines];
  if (out.length === 0) return out;
  const at = 'line' in m ? m.line % out.length : 0;
  const edit = (fn: (r: Record<string, unknown>) => void) => {
    let r: unknown;
    try {
      r = JSON.parse(out[at]!);
    } catch {
      return; // already not JSON
    }
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return;
    fn(r as Record<string, unknown>);
    out[at] = JSON.stringify(r);
  };
  switch (m.kind) {
    case 'set':
    case 'drop':
      edit((r) => {
        const all = paths(r);
        if (all.length === 0) return;
        const p = all[m.pick % all.length]!;
        const parent = parentOf(r, p);
        const key = p.at(-1)!;
        if (m.kind === 'set') parent[key] = m.value;
        else if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
      });
      break;
    case 'seq':
      edit((r) => {
        let previous: unknown = 0;
        try {
          previous = at > 1 ? (JSON.parse(out[at - 1]!) as { seq?: unknown }).seq : 0;
        } catch {
          // the line before is not JSON (any more)
        }
        r.seq = m.seq === 'previous' ? previous : m.seq === 'next-but-one' ? Number(r.seq) + 2 : m.seq;
      });
      break;
    case 'container':
      edit((r) => {
        if ('container' in r) r.container = m.id;
        else if (typeof r.event === 'object' && r.event !== null) (r.event as Record<string, unknown>).id = m.id;
        else if (typeof r.samples === 'object' && r.samples !== null) r.samples = { [m.id]: Object.values(r.samples)[0] ?? [] };
      });
      break;
    case 'eventType':
      edit((r) => {
        if (typeof r.event === 'object' && r.event !== null) (r.event as Record<string, unknown>).type = m.type;
      });
      break;
    case 'recordType':
      edit((r) => {
        r.type = m.type;
      });
      break;
    case 'swap': {
      const other = m.with % out.length;
      [out[at], out[other]] = [out[other]!, out[at]!];
      break;
    }
    case 'removeLine':
      out.splice(at, 1);
      break;
    case 'duplicateLine':
      out.splice(at, 0, out[at]!);
      break;
    case 'insert':
      out.splice(at, 0, m.text);
      break;
    case 'truncateLast':
      out[out.length - 1] = out.at(-1)!.slice(0, m.at % (out.at(-1)!.length + 1));
      break;
    case 'crlf':
      return out.map((l) => `${l}\r`);
  }
  return out;
}

const mutated = fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => ({ ms, lines: ms.reduce(mutate, journal) }));

/** The replay's outcome: a summary, or the JournalError it stopped with. Anything else thrown fails the property. */
function outcome(lines: string[], check: boolean): ReplaySummary | JournalError {
  try {
    return replayLines(lines, { check, source: 'fuzz.ndjson' });
  } catch (err) {
    if (err instanceof JournalError) return err;
    throw new Error(`replay threw ${(err as Error)?.name}, not a JournalError: ${(err as Error)?.stack ?? String(err)}`);
  }
}

/** A JournalError names the line it stopped at (or says the journal as a whole has no header or no start). */
function expectNamesTheLine(err: JournalError, lines: string[]): void {
  const named = /fuzz\.ndjson line (\d+)/.exec(err.message);
  if (named) {
    expect(Number(named[1])).toBeGreaterThanOrEqual(1);
    expect(Number(named[1])).toBeLessThanOrEqual(lines.length);
  } else expect(err.message).toMatch(/^fuzz\.ndjson (is empty: no header line|has no daemon start to replay from)/);
  expect(err.message).not.toMatch(/\n\s+at /);
}

describe('fuzzing replay with generated journals', () => {
  it('replayLines, with and without --check: a summary or a JournalError naming the line, never another exception', () => {
    let refused = 0;
    let replayed = 0;
    fc.assert(
      fc.property(mutated, ({ lines }) => {
        for (const check of [true, false]) {
          const r = outcome(lines, check);
          if (r instanceof JournalError) {
            refused++;
            expectNamesTheLine(r, lines);
          } else {
            replayed++;
            for (const n of [r.records, r.inputs, r.transitions, r.kills, r.skipped]) expect(n).toBeGreaterThanOrEqual(0);
            if (r.divergence) expect(r.divergence.seq).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: Number(process.env.NW_PROPERTY_RUNS ?? 300) },
    );
    // The mutations reached the machines, not only the parser.
    expect(refused).toBeGreaterThan(0);
    expect(replayed).toBeGreaterThan(0);
  }, 60_000);

  it('records with the right shape but the wrong story (unknown containers, events a state cannot take, inputs out of place) replay or diverge, never crash', () => {
    // Only well-formed mutations: every line stays a record of a valid shape, so the machines see them all.
    const story = fc.array(
      fc.oneof(
        fc.record({ kind: fc.constant('container' as const), line, id: fc.constantFrom('ghost', 'ok', 'hog', 'retry', 'opp', 'local') }),
        fc.record({ kind: fc.constant('eventType' as const), line, type: fc.constantFrom(...CONTAINER_EVENT_TYPES) }),
        fc.record({ kind: fc.constant('swap' as const), line, with: line }),
        fc.record({ kind: fc.constant('duplicateLine' as const), line }),
        fc.record({ kind: fc.constant('removeLine' as const), line }),
      ),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(story, (ms) => {
        // Lines stay in seq order (renumbered), so the checks on order do not stop replay first.
        const lines = ms.reduce(mutate, journal);
        const renumbered = lines.map((l, i) => {
          if (i === 0) return l;
          try {
            return JSON.stringify({ ...(JSON.parse(l) as object), seq: i });
          } catch {
            return l;
          }
        });
        for (const check of [true, false]) {
          const r = outcome(renumbered, check);
          if (r instanceof JournalError) expectNamesTheLine(r, renumbered);
        }
      }),
      { numRuns: Number(process.env.NW_PROPERTY_RUNS ?? 300) },
    );
  }, 60_000);

  /** One journal through the CLI (--check, and the other ways asked): exit 0 or 1, a message that names the line, never a stack trace. */
  async function cliReplays(lines: string[], name: string, ways: string[][] = [['--check']]): Promise<void> {
    const file = path.join(dir, `${name}.ndjson`);
    fs.writeFileSync(file, lines.join('\n') + (lines.length > 0 ? '\n' : ''));
    await Promise.all(
      ways.map(async (args) => {
        const r = await nw(['replay', file, ...args]);
        const context = `replay ${args.join(' ')}: ${r.stderr}`;
        expect([0, 1], context).toContain(r.code);
        expect(r.stderr, context).not.toMatch(/unexpected error|\n\s+at /);
        if (r.code === 1 && r.stdout === '') expect(r.stderr, context).toMatch(/^(nodewarden: .*(line \d+|is empty|no daemon start)|replay diverged at seq \d+)/);
        if (r.code === 0 && args.length === 1) expect(r.stdout, context).toMatch(/^replay matches the journal: /);
        if (args.includes('--json') && r.stdout !== '') expect(JSON.parse(r.stdout).check, context).toMatch(/^(ok|diverged)$/);
      }),
    );
  }

  it('`nodewarden replay FILE [--check] [--json]` on generated journals exits 0 or 1 with a clear message, never a stack trace', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(mutated, async ({ lines }) => cliReplays(lines, `cli-${++run}`, [['--check', '--json'], []])),
      { numRuns: Number(process.env.NW_CLI_RUNS ?? 4) },
    );
  }, 60_000);

  it('the CLI on the seed journal, its last line cut, a garbage header, an empty file', async () => {
    await Promise.all([
      cliReplays(journal, 'seed', [['--check'], ['--check', '--json'], []]),
      cliReplays([...journal.slice(0, -1), journal.at(-1)!.slice(0, 17)], 'cut'),
      cliReplays(['\u0000\u0001\u00ff garbage', ...journal.slice(1)], 'garbage'),
      cliReplays([], 'empty'),
    ]);
  }, 60_000);

  it('`nodewarden replay` with generated arguments exits 0, 1 or 2 (usage), never a stack trace', async () => {
    const file = path.join(dir, 'args.ndjson');
    fs.writeFileSync(file, journal.join('\n') + '\n');
    const arg = fc.oneof(fc.constantFrom(file, '--check', '--json', '--', '-', '--check=yes', '--nope', dir, '/nonexistent', ''), fc.string({ maxLength: 10 }));
    await fc.assert(
      fc.asyncProperty(fc.array(arg, { maxLength: 4 }), async (argv) => {
        const r = await nw(['replay', ...argv]);
        expect([0, 1, 2], `replay ${JSON.stringify(argv)}: ${r.stderr}`).toContain(r.code);
        expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
      }),
      { numRuns: Number(process.env.NW_CLI_RUNS ?? 4) },
    );
  }, 60_000);
});

describe('what the fuzzer found', () => {
  it("a start record whose configuration is not valid stopped replay with a JournalError that named no line (\"the start at seq 1: …\"): it names the line", () => {
    // Shrunk: one configuration value of the start record (line 2) made an array, which reads as "".
    const start = JSON.parse(journal[1]!) as { type: string; config: Record<string, unknown> };
    expect(start.type).toBe('start');
    start.config['yarn.nodemanager.container-monitor.enabled'] = [];
    const lines = [journal[0]!, JSON.stringify(start), ...journal.slice(2)];
    for (const check of [true, false]) {
      const r = outcome(lines, check);
      expect(r).toBeInstanceOf(JournalError);
      expect((r as JournalError).message).toMatch(
        /^fuzz\.ndjson line 2 \(seq 1\): the start's configuration \(with the header's changes\) is not valid: invalid value "" for yarn\.nodemanager\.container-monitor\.enabled/,
      );
    }
  });
});

/** The real CLI, asynchronously (several at once). */
function nw(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
