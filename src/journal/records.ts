/**
 * The journal's records (SPEC §8): every input the machines took, and every
 * transition and kill decision they made, one JSON object a line, ordered by
 * `seq`. The same records are written to SQLite, streamed by GET /v1/events
 * (transitions and kills), exported by `nodewarden journal export` and read
 * back by `nodewarden replay`.
 *
 * Inputs:  start (a daemon start: the containers as restored and what was
 *          found of their processes), checkpoint (the whole state the core
 *          decides from: replay can start there, and older records can be
 *          pruned), launch, event (a request or a notice
 *          from the shell), monitor (start/stop monitoring), tick (the
 *          process trees sampled), log-tick, monitor-snapshot (the monitor's
 *          state: written by daemons before checkpoints, and where a store
 *          fault collapsed ticks), samples-gap (where those ticks were),
 *          forget (finished
 *          containers dropped after their retention).
 * Outputs: transition, kill.
 */
import type { SchedulerSnapshot } from '../../state-machines/container-scheduler.js';
import type { HostFacts, MonitorContext, MonitorEvent, MonitorSettings, NodeUtilization, OomNotice, TrackedContainer } from '../../state-machines/containers-monitor.js';
import { containerLimits } from '../../state-machines/limits.js';
import type { Pressure, PressureWatch } from '../../state-machines/node-memory.js';
import type { ProcessSample } from '../../state-machines/process-tree.js';
import type { FoundProcess } from '../../state-machines/recovery.js';
import type { ContainerEvent, ContainerSpec, ContainerState, Resources } from '../../state-machines/types.js';
import type { CpuTracker } from '../../state-machines/cpu-tracker.js';
import type { CallerRecord } from '../node/caller.js';
import type { ContainerRow, TransitionRow } from '../store/rows.js';

export const JOURNAL_FORMAT = 'nodewarden-journal';
/** 2: checkpoints, samples-gap records, the header's `recorded` and `prunedBefore`. Version 1 journals are read too. */
export const JOURNAL_VERSION = 2;
export const READABLE_VERSIONS: readonly number[] = [1, 2];

export interface JournalHeader {
  format: typeof JOURNAL_FORMAT;
  version: number;
  /** The effective configuration (flat key → value) replay decides with. */
  config: Record<string, string | number | boolean>;
  /** Records after this seq only (export --since). */
  since: number;
  /** Monitor samples before this seq were pruned by a daemon from before checkpoints; the monitor-snapshot at it carries on. null: none were. */
  samplesFrom: number | null;
  /**
   * The configuration as the daemon last recorded it, untouched: `config`'s
   * differences from it are a reader's edits, laid over each start's own.
   * Absent in exports from before checkpoints (replay then finds it with a
   * first pass over the journal).
   */
  recorded?: Record<string, string | number | boolean>;
  /** Records before this seq were pruned: the journal starts at the checkpoint there. Absent: nothing was. */
  prunedBefore?: number;
}

type At = { seq: number; ts: number };

export type StartRecord = At & {
  type: 'start';
  /** Facts of the machine the monitor's numbers depend on. */
  host: HostFacts;
  /** The configuration the daemon started with. */
  config: Record<string, string | number | boolean>;
  /** Every unfinished container as it was restored from the database. */
  containers: ContainerRow[];
  /** How many finished (DONE) ones there were besides. */
  done?: number;
  /** What was found of each unfinished container's process (absent: nothing to find, or nothing found). */
  found: Record<string, FoundProcess>;
};
/** Who asked, as the kernel said (SO_PEERCRED); absent for what the daemon itself did. Replay decides without it. */
type Asked = { caller?: CallerRecord };
export type LaunchRecord = At & Asked & { type: 'launch'; container: string; spec: ContainerSpec };
export type EventRecord = At & Asked & { type: 'event'; container: string; event: ContainerEvent };
export type MonitorInput = Exclude<MonitorEvent, { type: 'TICK' } | { type: 'LOG_TICK' }>;
export type MonitorRecord = At & { type: 'monitor'; event: MonitorInput };
/** A monitor tick: the trees sampled, and the kernel's OOM kills of containers in cgroups (absent: none). */
export type TickRecord = At & { type: 'tick'; samples: Record<string, EncodedProcess[]>; oom?: Record<string, OomNotice>; pressure?: Pressure };
export type LogTickRecord = At & { type: 'log-tick'; logDirs: Record<string, Array<{ dir: string; bytes: number }>> };
/** Finished containers whose retention is over: forgotten, so their ids may be used again. */
export type ForgetRecord = At & { type: 'forget'; containers: string[] };
export type MonitorSnapshotRecord = At & { type: 'monitor-snapshot'; tracking: EncodedTracked[]; utilization: NodeUtilization; pressure?: PressureWatch };
/**
 * During a long store fault the staged ticks collapse: from this record
 * until the monitor-snapshot at `until`, the monitor's inputs are not in the
 * journal (the kills it decided from them are), and the snapshot carries it
 * on — the way an old pruner's cut at a snapshot did.
 */
export type SamplesGapRecord = At & { type: 'samples-gap'; until: number };
/** The monitor's state, as a snapshot or a checkpoint carries it. */
export type EncodedMonitor = Pick<MonitorSnapshotRecord, 'tracking' | 'utilization' | 'pressure'>;
/**
 * Everything the core decides from, at one moment between inputs: replay can
 * start here, the way it starts at a daemon start, and the pruner deletes
 * every record before the newest checkpoint older than the retention window.
 */
export type CheckpointRecord = At & {
  type: 'checkpoint';
  /** Facts of the machine (as in the start record of the daemon that wrote it). */
  host: HostFacts;
  /** The configuration in force. */
  config: Record<string, string | number | boolean>;
  /** Every container not yet forgotten, finished ones too, in the order the core holds them. */
  containers: ContainerRow[];
  /** The ContainerScheduler: who runs, who waits, in order. */
  scheduler: SchedulerSnapshot;
  /** The ContainersMonitor. */
  monitor: EncodedMonitor;
};
export type TransitionRecord = At & {
  type: 'transition';
  container: string;
  from: ContainerState;
  to: ContainerState;
  /** The event the machine took, whole: what it decided from. */
  event: ContainerEvent;
};
export type KillRecord = At & {
  type: 'kill';
  container: string;
  /** Which part of the core decided it: the ContainersMonitor (limits) or the ContainerScheduler (room for a guaranteed container). */
  by: 'monitor' | 'scheduler';
  exitStatus: number;
  diagnostics: string;
};

export type InputRecord =
  | StartRecord
  | CheckpointRecord
  | LaunchRecord
  | EventRecord
  | MonitorRecord
  | TickRecord
  | LogTickRecord
  | MonitorSnapshotRecord
  | SamplesGapRecord
  | ForgetRecord;
export type OutputRecord = TransitionRecord | KillRecord;
export type JournalRecord = InputRecord | OutputRecord;
export type JournalRecordType = JournalRecord['type'];

export const OUTPUT_TYPES: ReadonlySet<JournalRecordType> = new Set(['transition', 'kill']);

export function transitionRecord(row: TransitionRow): TransitionRecord {
  return { seq: row.seq, ts: row.ts, type: 'transition', container: row.containerId, from: row.from, to: row.to, event: row.event };
}

export function isOutput(r: JournalRecord): r is OutputRecord {
  return OUTPUT_TYPES.has(r.type);
}

// ---------------------------------------------------------------------------
// Samples, compactly: a tick holds every tracked tree, so a process is a tuple.

/** [pid, ppid, pgrp, session, comm, state, utime, stime, numThreads, startTime, vsize, rssPages, cmdline?, anonymousKb?] */
export type EncodedProcess = [number, number, number, number, string, string, number, number, number, number, number, number, (string | null)?, number?];

export function encodeProcess(p: ProcessSample): EncodedProcess {
  const t: EncodedProcess = [p.pid, p.ppid, p.pgrp, p.session, p.comm, p.state, p.utime, p.stime, p.numThreads, p.startTime, p.vsize, p.rssPages];
  if (p.anonymousKb !== undefined) t.push(p.cmdline ?? null, p.anonymousKb);
  else if (p.cmdline !== undefined) t.push(p.cmdline);
  return t;
}

export function decodeProcess(t: EncodedProcess): ProcessSample {
  const [pid, ppid, pgrp, session, comm, state, utime, stime, numThreads, startTime, vsize, rssPages, cmdline, anonymousKb] = t;
  const p: ProcessSample = { pid, comm, state, ppid, pgrp, session, utime, stime, numThreads, startTime, vsize, rssPages };
  if (cmdline !== undefined && cmdline !== null) p.cmdline = cmdline;
  if (anonymousKb !== undefined) p.anonymousKb = anonymousKb;
  return p;
}

export function encodeSamples(samples: Readonly<Record<string, readonly ProcessSample[]>>): Record<string, EncodedProcess[]> {
  const out: Record<string, EncodedProcess[]> = {};
  for (const [id, tree] of Object.entries(samples)) out[id] = tree.map(encodeProcess);
  return out;
}

export function decodeSamples(samples: Record<string, EncodedProcess[]>): Record<string, ProcessSample[]> {
  const out: Record<string, ProcessSample[]> = {};
  for (const [id, tree] of Object.entries(samples)) out[id] = tree.map(decodeProcess);
  return out;
}

// ---------------------------------------------------------------------------
// The monitor's state; limits are left out: replay works them out from its configuration.

export interface EncodedTracked {
  id: string;
  pid: number;
  resources: Resources;
  /** Absent in snapshots from before it was recorded: GUARANTEED. */
  executionType?: TrackedContainer['executionType'];
  /** [pid, age] of the tree's members as of the last tick. */
  ages: Array<[number, number]>;
  cpu: CpuTracker;
  measure: TrackedContainer['measure'];
  usage: TrackedContainer['usage'];
}

export function encodeMonitor(context: MonitorContext): EncodedMonitor {
  const tracking = [...context.tracking.values()].map((t) => ({
    id: t.id,
    pid: t.pid,
    resources: t.resources,
    executionType: t.executionType,
    ages: [...t.ages],
    cpu: t.cpu,
    measure: t.measure,
    usage: t.usage,
  }));
  return { tracking, utilization: context.utilization, pressure: context.pressure };
}

export function decodeMonitor(r: EncodedMonitor, settings: MonitorSettings): MonitorContext {
  const tracking = new Map<string, TrackedContainer>();
  for (const t of r.tracking) {
    tracking.set(t.id, { ...t, executionType: t.executionType ?? 'GUARANTEED', ages: new Map(t.ages), limits: containerLimits(t.resources, settings) });
  }
  return { settings, tracking, utilization: r.utilization, pressure: r.pressure ?? { overSince: null } };
}
