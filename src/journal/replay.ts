/**
 * Replay (SPEC §8): a fresh NodeCore — the same code that decides live — fed
 * only the inputs of a journal, on a virtual clock (every time comes from a
 * record), with the configuration of the journal's header. No process is
 * spawned and no procfs read. Every transition and kill it decides comes out
 * in order; with `check` each is compared with the one the journal recorded
 * at the same place, and the first difference stops the replay.
 *
 * A daemon start (a `start` record) is replayed as the daemon did it: the
 * machines are rebuilt from the containers as they were restored — which
 * must be what replay itself arrived at — and recovery decides again from
 * what was found of their processes. Records before the first start (a
 * journal exported with --since, or written before a migration) are skipped.
 * Where the monitor's samples are gone (pruned by a daemon from before
 * checkpoints, or collapsed during a long store fault: a samples-gap), the
 * kills it decided are taken as recorded until the snapshot its state
 * carries on from.
 */
import { isDeepStrictEqual } from 'node:util';
import { pino, type Logger } from 'pino';
import type { HostFacts, MonitorEvent } from '../../state-machines/containers-monitor.js';
import { resolveConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { NodeCore } from '../core/node-core.js';
import type { ContainerRow } from '../store/rows.js';
import { describeOutput } from './describe.js';
import {
  decodeMonitor,
  decodeSamples,
  isOutput,
  type CheckpointRecord,
  type InputRecord,
  type JournalHeader,
  type JournalRecord,
  type KillRecord,
  type OutputRecord,
} from './records.js';
import { JournalError, parseHeader, parseRecord } from './validate.js';

export { JournalError } from './validate.js';

export interface Divergence {
  seq: number;
  container: string | null;
  /** What the journal recorded there (null: nothing). */
  expected: string;
  /** What replay decided there (null: nothing). */
  got: string;
}

export interface ReplaySummary {
  /** Records read after the header. */
  records: number;
  /** Inputs fed to the machines. */
  inputs: number;
  transitions: number;
  kills: number;
  /** Records before the first daemon start, not replayed. */
  skipped: number;
  /** The seq of the first daemon start or checkpoint: everything from it on was replayed (null: none). */
  from: number | null;
  /** What is at `from`. */
  fromKind?: 'start' | 'checkpoint';
  divergence: Divergence | null;
  /** Things a reader should know (a configuration changed between starts, samples pruned, …). */
  notes: string[];
}

export interface ReplayOptions {
  /** Compare every transition and kill with the recorded ones; stop at the first difference. */
  check: boolean;
  /** Each transition and kill replay decides, in order. */
  onOutput?: (record: OutputRecord) => void;
  /** Name of the journal in messages (a file name). */
  source?: string;
  /**
   * The configuration of the journal's last start (what export put in the
   * header). The header's differences from it are the reader's edits, laid
   * over each start's own configuration; without it the header's is used
   * throughout.
   */
  lastStartConfig?: Record<string, string | number | boolean>;
}

/** The core with nothing behind it: records and rows go nowhere but to the replayer. */
class ReplayCore extends NodeCore {
  protected override readonly keepsInputs = false;

  constructor(
    config: Config,
    host: HostFacts,
    log: Logger,
    private readonly replayer: { nextSeq(): number; output(r: OutputRecord): void },
  ) {
    super({ config, host, log });
  }

  /** A monitor kill whose samples were pruned: taken as recorded, and queued like one decided here (the kills of one tick are all recorded before any is handled). */
  recordedKill(r: KillRecord): void {
    this.kill(r.by, r.container, { ts: r.ts, exitStatus: r.exitStatus, diagnostics: r.diagnostics });
  }

  /** Handle what is queued. */
  settle(): void {
    this.drain();
  }

  protected nextSeq(): number {
    return this.replayer.nextSeq();
  }

  protected record(r: InputRecord | OutputRecord): void {
    this.replayer.output(r as OutputRecord);
  }

  protected row(): void {}
  protected effect(): void {}
  protected drained(): void {}
}

/** The fields of a row that replay must arrive at by itself (the boot id is the shell's; who asked decides nothing, and older journals do not have it). */
function decided(row: ContainerRow): Omit<ContainerRow, 'pidBootId' | 'launchedBy' | 'killedBy'> {
  const { pidBootId: _, launchedBy: __, killedBy: ___, ...rest } = row;
  return rest;
}

export class Replayer {
  private header: JournalHeader | null = null;
  private config: Config | null = null;
  private core: ReplayCore | null = null;
  private seq = 0;
  private lastSeq = 0;
  private line = 0;
  /** Under check: what replay decided and the journal has not yet matched. */
  private produced: OutputRecord[] = [];
  private noted = false;
  private readonly log = pino({ level: 'silent' });
  readonly summary: ReplaySummary = { records: 0, inputs: 0, transitions: 0, kills: 0, skipped: 0, from: null, divergence: null, notes: [] };
  /** The header's changes to the recorded configuration. */
  private edits: Record<string, string | number | boolean> = {};
  /** The configuration the daemon last recorded (the header's, or the caller's); undefined: the header's is used throughout. */
  private recorded: Record<string, string | number | boolean> | undefined;
  /** Inside a samples-gap: the seq of the monitor snapshot that ends it. */
  private gapUntil: number | null = null;
  /** Replay began at a start with finished containers it does not know: a checkpoint may name them. */
  private unknownDone = false;

  constructor(private readonly opts: ReplayOptions) {}

  /** False once a divergence was found under `check`: the rest need not be fed. */
  get going(): boolean {
    return this.summary.divergence === null;
  }

  /** One line of the journal (the header first). Throws JournalError for a line that is not a journal record. */
  feed(text: string): void {
    this.line++;
    if (text.trim() === '') return;
    const where = `${this.opts.source ?? 'journal'} line ${this.line}`;
    if (this.header === null) {
      this.header = parseHeader(text, where);
      this.config = this.configOf(this.header.config, `${where}: the header's configuration`);
      const recorded = this.opts.lastStartConfig ?? this.header.recorded;
      this.recorded = recorded;
      if (recorded) {
        for (const k of new Set([...Object.keys(recorded), ...Object.keys(this.header.config)])) {
          if (this.header.config[k] !== recorded[k] && this.header.config[k] !== undefined) this.edits[k] = this.header.config[k];
        }
        const changed = Object.entries(this.edits).map(([k, v]) => `${k}=${v}`);
        if (changed.length > 0) this.summary.notes.push(`replaying with the header's changes to the recorded configuration: ${changed.join(', ')}`);
      }
      if (this.header.since > 0) this.summary.notes.push(`exported from seq ${this.header.since}: replay starts at the first daemon start or checkpoint after it`);
      return;
    }
    const r = parseRecord(text, where);
    if (r.seq <= this.lastSeq) throw new JournalError(`${where}: seq ${r.seq} does not follow seq ${this.lastSeq}: the records are out of order`);
    if (this.gapUntil !== null && r.seq > this.gapUntil) {
      throw new JournalError(`${where}: a samples-gap ends at seq ${this.gapUntil}, but there is no monitor-snapshot there: the journal is incomplete`);
    }
    this.lastSeq = r.seq;
    this.summary.records++;
    if (!this.going) return;
    try {
      this.apply(r);
    } catch (err) {
      // Whatever stopped the record — a JournalError too — the message names its line.
      throw new JournalError(`${where} (seq ${r.seq}): ${(err as Error).message}`);
    }
  }

  /** The journal ended: anything replay decided that the journal does not have is a divergence. */
  end(): ReplaySummary {
    if (this.header === null) throw new JournalError(`${this.opts.source ?? 'journal'} is empty: no header line`);
    if (this.going) this.core?.settle();
    const extra = this.produced.shift();
    if (extra && this.going) this.diverge(extra.seq, extra.container, 'nothing (the journal ends there)', describeOutput(extra));
    if (this.gapUntil !== null) {
      throw new JournalError(`${this.opts.source ?? 'journal'} ends inside a samples-gap: the monitor-snapshot at seq ${this.gapUntil} that ends it is missing`);
    }
    if (this.core === null && this.opts.check) {
      throw new JournalError(`${this.opts.source ?? 'journal'} has no daemon start or checkpoint to replay from, so nothing can be checked (export it without --since)`);
    }
    if (this.core === null && this.summary.records > 0) this.summary.notes.push('the journal has no daemon start or checkpoint: nothing was replayed');
    return this.summary;
  }

  private apply(r: JournalRecord): void {
    if (this.core !== null && r.type === 'kill' && r.by === 'monitor' && this.monitorInputsGone(r.seq)) {
      this.seq = r.seq - 1;
      this.core.recordedKill(r);
      this.compare(r);
      return;
    }
    this.core?.settle();
    if (isOutput(r)) {
      if (this.core === null) {
        this.summary.skipped++;
        return;
      }
      this.compare(r);
      return;
    }
    if (this.core === null && r.type !== 'start' && r.type !== 'checkpoint') {
      this.summary.skipped++;
      return;
    }
    // Whatever replay decided for the previous input must all have been recorded before this one.
    const extra = this.produced.shift();
    if (extra) {
      this.diverge(extra.seq, extra.container, `nothing (the journal has a ${r.type} record at seq ${r.seq})`, describeOutput(extra));
      return;
    }
    this.seq = r.seq - 1;
    this.summary.inputs++;
    if (r.type === 'checkpoint') {
      this.seq = r.seq;
      this.checkpoint(r);
      return;
    }
    const core = this.core!;
    switch (r.type) {
      case 'start':
        this.start(r);
        return;
      case 'launch':
        core.add(r.spec, r.ts, r.caller);
        return;
      case 'event':
        core.dispatch(r.container, r.event, r.caller);
        return;
      case 'monitor':
      case 'tick':
      case 'log-tick':
        if (this.monitorInputsGone(r.seq)) return;
        core.monitor(monitorEventOf(r));
        return;
      case 'samples-gap':
        this.gapUntil = r.until;
        return;
      case 'forget':
        core.forget(r.containers, r.ts);
        return;
      case 'monitor-snapshot':
        // Where the monitor's inputs before it are gone (pruned by an old daemon, or collapsed in a store fault), it carries on from here.
        if (r.seq === this.header!.samplesFrom || r.seq === this.gapUntil) {
          core.restoreMonitor(decodeMonitor(r, core.monitorSettings));
          this.gapUntil = null;
        }
        return;
    }
  }

  /**
   * A daemon start: the unfinished containers it restored must be replay's
   * own; then a fresh core — with the start's configuration and host — takes
   * them (and the finished ones replay already has) and recovers them.
   */
  private start(r: Extract<JournalRecord, { type: 'start' }>): void {
    const previous = this.core;
    const done: ContainerRow[] = [];
    if (previous !== null) {
      const restored = new Map(r.containers.map((row) => [row.id, row]));
      for (const entry of previous.all()) {
        const own = previous.rowOf(entry);
        const mine = decided(own);
        const row = restored.get(entry.spec.id);
        restored.delete(entry.spec.id);
        if (mine.state === 'DONE' && !row) {
          done.push(own);
          continue;
        }
        if (!row) this.diverge(r.seq, entry.spec.id, 'not restored at this start', `${mine.state} in replay`);
        else if (!sameJson(decided(row), mine)) this.diverge(r.seq, entry.spec.id, `restored as ${JSON.stringify(decided(row))}`, `${JSON.stringify(mine)} in replay`);
        if (!this.going) return;
      }
      for (const [id, row] of restored) {
        this.diverge(r.seq, id, `restored as ${row.state}`, 'unknown to replay');
        if (!this.going) return;
      }
    } else if (r.done) {
      this.unknownDone = true;
      this.summary.notes.push(`the ${r.done} container(s) already finished at the start at seq ${r.seq} are not in this journal: late events for them are not replayed as the daemon took them`);
    }
    if (this.summary.from === null) Object.assign(this.summary, { from: r.seq, fromKind: 'start' });
    const config = this.recorded ? this.configOf({ ...r.config, ...this.edits }, "the start's configuration (with the header's changes)") : this.config!;
    this.core = new ReplayCore(config, r.host, this.log, { nextSeq: () => ++this.seq, output: (o) => this.output(o) });
    for (const row of done) this.core.restore(row);
    for (const row of r.containers) this.core.restore(row);
    this.core.recover(r.found, r.ts);
  }

  /**
   * A checkpoint: replay starts here when it has nothing before (a pruned
   * journal); otherwise, under check, replay's own state must be the one
   * the daemon wrote.
   */
  private checkpoint(r: CheckpointRecord): void {
    if (this.core === null) {
      if (this.summary.from === null) Object.assign(this.summary, { from: r.seq, fromKind: 'checkpoint' });
      const config = this.recorded ? this.configOf({ ...r.config, ...this.edits }, "the checkpoint's configuration (with the header's changes)") : this.config!;
      this.core = new ReplayCore(config, r.host, this.log, { nextSeq: () => ++this.seq, output: (o) => this.output(o) });
      this.core.restoreCheckpoint(r);
      return;
    }
    if (!this.opts.check) return;
    const mine = this.core.checkpointOf(r.ts);
    const rows = new Map(mine.containers.map((row) => [row.id, decided(row)]));
    for (const row of r.containers) {
      const own = rows.get(row.id);
      rows.delete(row.id);
      // A finished container the start this replay began at only counted: known from here on.
      if (!own && row.state === 'DONE' && this.unknownDone) {
        this.core.restore(row);
        continue;
      }
      if (!own) return this.diverge(r.seq, row.id, `at the checkpoint, ${row.state}`, 'unknown to replay');
      if (!sameJson(decided(row), own)) return this.diverge(r.seq, row.id, `at the checkpoint, ${JSON.stringify(decided(row))}`, `${JSON.stringify(own)} in replay`);
    }
    for (const [id, own] of rows) return this.diverge(r.seq, id, 'not at the checkpoint', `${own.state} in replay`);
    if (!sameJson(r.scheduler, mine.scheduler)) return this.diverge(r.seq, null, `the scheduler at the checkpoint as ${JSON.stringify(r.scheduler)}`, JSON.stringify(mine.scheduler));
    // The node's utilization is a figure the monitor reports, not one any rule decides from; the idle ticks
    // that move it are not journaled. What decides is compared.
    const deciding = (m: CheckpointRecord['monitor']) => ({ tracking: m.tracking, pressure: m.pressure });
    if (!sameJson(deciding(r.monitor), deciding(mine.monitor))) {
      return this.diverge(r.seq, null, `the monitor at the checkpoint as ${JSON.stringify(deciding(r.monitor))}`, JSON.stringify(deciding(mine.monitor)));
    }
  }

  private output(o: OutputRecord): void {
    if (o.type === 'transition') this.summary.transitions++;
    else this.summary.kills++;
    if (this.opts.check) this.produced.push(o);
    else this.opts.onOutput?.(o);
  }

  /** Under check: the next thing replay decided must be this recorded one. */
  private compare(expected: OutputRecord): void {
    if (!this.opts.check) return;
    const got = this.produced.shift();
    if (!got) return this.diverge(expected.seq, expected.container, describeOutput(expected), 'nothing');
    if (sameRecord(expected, got)) return this.opts.onOutput?.(got);
    if (got.container === expected.container) return this.diverge(expected.seq, got.container, describeOutput(expected), describeOutput(got), expected, got);
    // Replay decided something about another container here: that one is named, and each side says whose it is.
    this.diverge(expected.seq, got.container, `${expected.container}: ${describeOutput(expected)}`, `${got.container}: ${describeOutput(got)}`);
  }

  /** Under check, the replay stops here; otherwise the first difference is noted. */
  private diverge(seq: number, container: string | null, expected: string, got: string, e?: OutputRecord, g?: OutputRecord): void {
    if (!this.opts.check) {
      if (!this.noted) this.summary.notes.push(`at seq ${seq}${container ? `, container ${container}` : ''}, the journal has ${expected}, replay ${got}`);
      this.noted = true;
      return;
    }
    // Two records described alike differ in a detail: show them whole.
    if (expected === got && e && g) {
      expected = JSON.stringify(e);
      got = JSON.stringify(g);
    }
    this.summary.divergence = { seq, container, expected, got };
  }

  /** Whether the monitor's inputs at this seq are not in the journal: its kills there are taken as recorded. */
  private monitorInputsGone(seq: number): boolean {
    const from = this.header!.samplesFrom;
    return (from !== null && seq < from) || (this.gapUntil !== null && seq < this.gapUntil);
  }

  /** `what` names the configuration in the error: the header's, or a start's with the header's changes. */
  private configOf(effective: Record<string, string | number | boolean>, what: string): Config {
    try {
      return resolveConfig([effective], (msg) => this.summary.notes.push(`header: ${msg}`));
    } catch (err) {
      throw new JournalError(`${what} is not valid: ${(err as Error).message}`);
    }
  }
}

function sameRecord(a: OutputRecord, b: OutputRecord): boolean {
  return isDeepStrictEqual(a, b) || sameJson(a, b);
}

/** Equal as the journal holds them: no undefined fields, -0 written as 0. */
function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
}

function monitorEventOf(r: Extract<JournalRecord, { type: 'monitor' | 'tick' | 'log-tick' }>): MonitorEvent {
  if (r.type === 'tick') return { type: 'TICK', ts: r.ts, samples: decodeSamples(r.samples), ...(r.oom ? { oom: r.oom } : {}), ...(r.pressure ? { pressure: r.pressure } : {}) };
  if (r.type === 'log-tick') return { type: 'LOG_TICK', ts: r.ts, logDirs: r.logDirs };
  return r.event;
}

/** Replay a whole journal given as lines. */
export function replayLines(lines: readonly string[], opts: ReplayOptions): ReplaySummary {
  const replayer = new Replayer({ ...opts, lastStartConfig: opts.lastStartConfig ?? (headerRecords(lines[0]) ? undefined : lastStartConfig(lines)) });
  for (const line of lines) {
    replayer.feed(line);
    if (!replayer.going) break;
  }
  return replayer.end();
}

/** Whether a line may be a start or checkpoint record (each carries the configuration in force). */
export function mayCarryConfig(line: string): boolean {
  return line.includes('"type":"start"') || line.includes('"type":"checkpoint"');
}

/**
 * The configuration of the last start or checkpoint record among these lines
 * (a first pass over a journal exported before headers carried it; undefined
 * when none parses).
 */
export function lastStartConfig(lines: Iterable<string>): Record<string, string | number | boolean> | undefined {
  let config: Record<string, string | number | boolean> | undefined;
  for (const line of lines) {
    if (!mayCarryConfig(line)) continue;
    try {
      const r = JSON.parse(line) as { type?: unknown; config?: unknown };
      if ((r.type === 'start' || r.type === 'checkpoint') && typeof r.config === 'object' && r.config !== null) config = r.config as typeof config;
    } catch {
      // a corrupt line: the replay itself will say so
    }
  }
  return config;
}

/** Whether a header line carries the recorded configuration (exports since checkpoints: replay then reads the journal once). */
export function headerRecords(line: string | undefined): boolean {
  if (line === undefined) return false;
  try {
    const h = JSON.parse(line) as { recorded?: unknown };
    return typeof h.recorded === 'object' && h.recorded !== null;
  } catch {
    return false;
  }
}
