/**
 * The durable record: containers, every transition, and the rest of the
 * journal (the inputs and kill decisions, src/journal/records.ts). Writes are
 * staged and committed together in one transaction (group commit): the daemon
 * commits once per turn of the event loop, so synchronous=FULL costs one
 * fsync per batch rather than per row. Nothing staged has happened until
 * commit().
 */
import type Database from 'better-sqlite3';
import type { ContainerEvent, ContainerSpec, ContainerState } from '../../state-machines/types.js';
import { transitionRecord, type JournalRecord, type OutputRecord, type SamplesGapRecord } from '../journal/records.js';
import { openDatabase, openDatabaseReadOnly, type Db } from './database.js';
import type { CallerRecord } from '../node/caller.js';
import type { ContainerRow, TransitionRow } from './rows.js';

const callerJson = (c: CallerRecord | null | undefined): string | null => (c ? JSON.stringify(c) : null);

/** Monitor samples: the records a long store fault collapses. */
const SAMPLES: ReadonlySet<string> = new Set(['tick', 'log-tick']);

/** The schema that has the journal (db/migrations/003_journal.sql). */
export const JOURNAL_SCHEMA = 3;

interface RawContainer {
  id: string;
  request: string;
  state: string;
  pending_resources: string;
  exit_status: number;
  exit_code: number;
  diagnostics: string;
  pid: number | null;
  pid_start_time: number | null;
  attempt: number;
  launch_attempt: number;
  pid_boot_id: string | null;
  launched_by: string | null;
  killed_by: string | null;
  remaining_retries: number;
  created_at: number;
  updated_at: number;
}

interface RawTransition {
  seq: number;
  ts: number;
  container_id: string;
  from_state: string;
  to_state: string;
  payload: string;
}

/** A row of the merged journal: a transition's columns, or a journal record's JSON. */
interface RawRecord {
  seq: number;
  ts: number;
  container_id: string | null;
  from_state: string | null;
  to_state: string | null;
  payload: string | null;
  record: string | null;
}

function parseRecord(r: RawRecord): JournalRecord {
  return r.record !== null ? (JSON.parse(r.record) as JournalRecord) : transitionRecord(toTransitionRow(r as RawTransition));
}

function toContainerRow(r: RawContainer): ContainerRow {
  return {
    id: r.id,
    spec: JSON.parse(r.request) as ContainerSpec,
    state: r.state as ContainerState,
    pendingResources: JSON.parse(r.pending_resources) as string[],
    exitStatus: r.exit_status,
    exitCode: r.exit_code,
    diagnostics: r.diagnostics,
    pid: r.pid,
    pidStartTime: r.pid_start_time,
    attempt: r.attempt,
    launchAttempt: r.launch_attempt,
    pidBootId: r.pid_boot_id,
    launchedBy: r.launched_by === null ? null : (JSON.parse(r.launched_by) as CallerRecord),
    killedBy: r.killed_by === null ? null : (JSON.parse(r.killed_by) as CallerRecord),
    remainingRetries: r.remaining_retries,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toTransitionRow(r: RawTransition): TransitionRow {
  return {
    seq: r.seq,
    ts: r.ts,
    containerId: r.container_id,
    from: r.from_state as ContainerState,
    to: r.to_state as ContainerState,
    event: JSON.parse(r.payload) as ContainerEvent,
  };
}

export class Store {
  private readonly db: Db;
  private readonly insertContainer;
  private readonly updateContainer;
  private readonly insertTransition;
  private readonly selectTransitions;
  private readonly selectTransitionsOf;
  /** Staged container rows, one per container: within a batch only the last state matters. */
  private stagedContainers = new Map<string, { row: ContainerRow; isNew: boolean }>();
  private stagedTransitions: TransitionRow[] = [];
  /** Containers forgotten (their retention is over): their rows go, before any staged row is written. */
  private stagedForgotten = new Set<string>();
  /** Journal records other than transitions: [seq, ts, type, container, JSON]. */
  private stagedRecords: Array<[number, number, string, string | null, string]> = [];
  private readonly insertRecord;
  private readonly deleteContainer;
  /** Prepared on the first prune (a read-only store never prunes). */
  private cutting: Record<'journal' | 'transitions' | 'lastOutput' | 'mark' | 'markOutputs', Database.Statement> | null = null;
  private readonly selectOutputs;
  private readonly selectRecords;
  private seq: number;
  private readonly commitBatch;

  /** `readOnly`: read the journal as it is, migrating and writing nothing (export). */
  constructor(
    readonly file: string,
    opts: { readOnly?: boolean } = {},
  ) {
    this.db = opts.readOnly ? openDatabaseReadOnly(file, JOURNAL_SCHEMA, 'journal') : openDatabase(file);
    this.insertContainer = this.db.prepare(`
      INSERT INTO containers (state, pending_resources, exit_status, exit_code, diagnostics, pid, pid_start_time,
                              attempt, launch_attempt, remaining_retries, pid_boot_id, launched_by, killed_by, updated_at, id, request, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // The request never changes after the insert: updates leave it alone.
    this.updateContainer = this.db.prepare(`
      UPDATE containers SET state = ?, pending_resources = ?, exit_status = ?, exit_code = ?, diagnostics = ?, pid = ?,
        pid_start_time = ?, attempt = ?, launch_attempt = ?, remaining_retries = ?, pid_boot_id = ?, launched_by = ?, killed_by = ?, updated_at = ?
      WHERE id = ?`);
    this.insertTransition = this.db.prepare(
      `INSERT INTO transitions (seq, ts, container_id, from_state, to_state, event, payload) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.selectTransitions = this.db.prepare(`SELECT * FROM transitions WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.selectTransitionsOf = this.db.prepare(`SELECT * FROM transitions WHERE container_id = ? ORDER BY seq`);
    this.deleteContainer = this.db.prepare(`DELETE FROM containers WHERE id = ?`);
    this.insertRecord = this.db.prepare(`INSERT INTO journal (seq, ts, type, container_id, record) VALUES (?, ?, ?, ?, ?)`);
    // Transitions and kills, in one order (the events stream).
    this.selectOutputs = this.db.prepare(`
      SELECT seq, ts, container_id, from_state, to_state, payload, NULL AS record FROM transitions WHERE seq > @since
      UNION ALL SELECT seq, ts, container_id, NULL, NULL, NULL, record FROM journal WHERE type = 'kill' AND seq > @since
      ORDER BY seq LIMIT @limit`);
    // The whole journal, in one order (export).
    this.selectRecords = this.db.prepare(`
      SELECT seq, ts, container_id, from_state, to_state, payload, NULL AS record FROM transitions WHERE seq > @since
      UNION ALL SELECT seq, ts, container_id, NULL, NULL, NULL, record FROM journal WHERE seq > @since
      ORDER BY seq LIMIT @limit`);
    this.seq = (
      this.db.prepare(`SELECT max((SELECT coalesce(max(seq), 0) FROM transitions), (SELECT coalesce(max(seq), 0) FROM journal)) AS s`).get() as {
        s: number;
      }
    ).s;
    this.commitBatch = this.db.transaction(
      (
        containers: Iterable<{ row: ContainerRow; isNew: boolean }>,
        transitions: TransitionRow[],
        records: Array<[number, number, string, string | null, string]>,
        forgotten: Iterable<string>,
      ) => {
        for (const r of records) this.insertRecord.run(...r);
        // First: an id forgotten and launched again in one batch is deleted, then inserted anew.
        for (const id of forgotten) this.deleteContainer.run(id);
        for (const t of transitions) {
          this.insertTransition.run(t.seq, t.ts, t.containerId, t.from, t.to, t.event.type, JSON.stringify(t.event));
        }
        for (const { row: c, isNew } of containers) {
          const pending = c.pendingResources.length === 0 ? '[]' : JSON.stringify(c.pendingResources);
          const values = [c.state, pending, c.exitStatus, c.exitCode, c.diagnostics, c.pid, c.pidStartTime,
            c.attempt, c.launchAttempt, c.remainingRetries, c.pidBootId, callerJson(c.launchedBy), callerJson(c.killedBy), c.updatedAt, c.id] as const;
          if (isNew) this.insertContainer.run(...values, JSON.stringify(c.spec), c.createdAt);
          else this.updateContainer.run(...values);
        }
      },
    );
  }

  /** The sequence number the next transition gets. */
  nextSeq(): number {
    return ++this.seq;
  }

  /** Stage a container's row; `isNew` for the first time it is written. */
  stageContainer(row: ContainerRow, isNew = false): void {
    const staged = this.stagedContainers.get(row.id);
    this.stagedContainers.set(row.id, { row, isNew: isNew || (staged?.isNew ?? false) });
  }

  /** Stage the removal of a forgotten container's row (its journal records stay until the retention window prunes them). */
  stageForget(id: string): void {
    this.stagedContainers.delete(id);
    this.stagedForgotten.add(id);
  }

  stageTransition(row: TransitionRow): void {
    this.stagedTransitions.push(row);
  }

  /** Stage a journal record: a transition goes to its own table, the rest to the journal's. */
  stageRecord(r: JournalRecord): void {
    if (r.type === 'transition') {
      this.stageTransition({ seq: r.seq, ts: r.ts, containerId: r.container, from: r.from, to: r.to, event: r.event });
    } else {
      this.stagedRecords.push([r.seq, r.ts, r.type, 'container' in r ? r.container : null, JSON.stringify(r)]);
    }
  }

  /** Monitor samples (ticks, log ticks) staged and not yet committed. */
  stagedSamples(): number {
    return this.stagedRecords.reduce((n, r) => n + (SAMPLES.has(r[2]) ? 1 : 0), 0);
  }

  /**
   * A long store fault: the staged samples give way to the monitor snapshot
   * just staged (the last record). Where the first of them was, a
   * samples-gap record says until which seq the monitor's inputs are
   * missing; a gap staged before is stretched to the new snapshot, and the
   * snapshot it ended at goes. What stays staged is bounded by what happened
   * besides the ticks.
   */
  collapseStagedSamples(): void {
    const last = this.stagedRecords.at(-1);
    if (last === undefined || last[2] !== 'monitor-snapshot') throw new Error('collapseStagedSamples: stage the monitor snapshot first');
    // A checkpoint or start staged in the batch is a barrier: replay may start there, so what is before it stays.
    let barrier = -1;
    this.stagedRecords.forEach((r, i) => {
      if (r[2] === 'checkpoint' || r[2] === 'start') barrier = i;
    });
    const before = this.stagedRecords.slice(0, barrier + 1);
    const after = this.stagedRecords.slice(barrier + 1);
    const gapRow = after.find((r) => r[2] === 'samples-gap');
    const gap = gapRow ? (JSON.parse(gapRow[4]) as SamplesGapRecord) : null;
    const first = gapRow ?? after.find((r) => SAMPLES.has(r[2]));
    if (first === undefined) return;
    const kept = after.filter((r) => !(SAMPLES.has(r[2]) || r[2] === 'samples-gap' || (gap !== null && r[0] === gap.until)));
    const marker: SamplesGapRecord = { seq: first[0], ts: first[1], type: 'samples-gap', until: last[0] };
    const at = kept.findIndex((r) => r[0] > marker.seq);
    kept.splice(at === -1 ? kept.length : at, 0, [marker.seq, marker.ts, marker.type, null, JSON.stringify(marker)]);
    this.stagedRecords = [...before, ...kept];
  }

  /** Staged journal records (a long store fault must keep this bounded). */
  stagedRecordCount(): number {
    return this.stagedRecords.length + this.stagedTransitions.length;
  }

  hasStaged(): boolean {
    return this.stagedContainers.size > 0 || this.stagedTransitions.length > 0 || this.stagedRecords.length > 0 || this.stagedForgotten.size > 0;
  }

  /** Make everything staged durable in one transaction; returns the transitions written. */
  commit(): TransitionRow[] {
    const containers = this.stagedContainers;
    const transitions = this.stagedTransitions;
    this.commitBatch(containers.values(), transitions, this.stagedRecords, this.stagedForgotten);
    this.stagedContainers = new Map();
    this.stagedTransitions = [];
    this.stagedRecords = [];
    this.stagedForgotten = new Set();
    return transitions;
  }

  loadContainers(): ContainerRow[] {
    return (this.db.prepare(`SELECT * FROM containers ORDER BY created_at, rowid`).all() as RawContainer[]).map(toContainerRow);
  }

  /**
   * Where reading starts at the earliest: after a prune the journal starts at
   * its checkpoint, and what a prune cut short by a crash left below it is
   * not read (its two tables may have been cut to different seqs).
   */
  private from(sinceSeq: number): number {
    const start = this.prunedBefore();
    return start === null ? sinceSeq : Math.max(sinceSeq, start - 1);
  }

  /** Transitions after `sinceSeq`, oldest first; at most `limit` (-1: all). */
  transitions(sinceSeq = 0, limit = -1): TransitionRow[] {
    return (this.selectTransitions.all(this.from(sinceSeq), limit) as RawTransition[]).map(toTransitionRow);
  }

  /** Transitions and kill decisions after `sinceSeq`, oldest first, at most `limit` (the events stream). */
  outputs(sinceSeq: number, limit: number): OutputRecord[] {
    return (this.selectOutputs.all({ since: this.from(sinceSeq), limit }) as RawRecord[]).map((r) => parseRecord(r) as OutputRecord);
  }

  /** Journal lines after `sinceSeq`, in order, at most `limit`: the JSON of each record, as export writes it. */
  journalLines(sinceSeq: number, limit: number): Array<{ seq: number; line: string }> {
    return (this.selectRecords.all({ since: this.from(sinceSeq), limit }) as RawRecord[]).map((r) => ({
      seq: r.seq,
      line: r.record ?? JSON.stringify(transitionRecord(toTransitionRow(r as RawTransition))),
    }));
  }

  /** Run `read` on one consistent snapshot of the database (a read transaction: WAL keeps the daemon's commits out of it). */
  async snapshot<T>(read: () => Promise<T>): Promise<T> {
    this.db.exec('BEGIN');
    try {
      return await read();
    } finally {
      this.db.exec('COMMIT');
    }
  }

  /** Monitor samples before this seq were pruned (null: none were). */
  samplesFrom(): number | null {
    const r = this.db.prepare(`SELECT value FROM journal_meta WHERE key = 'samples_from'`).get() as { value: string } | undefined;
    return r ? Number(r.value) : null;
  }

  /** The size of the newest tick record, bytes (0: none): pruning sizes its slices by it. */
  lastTickBytes(): number {
    const r = this.db.prepare(`SELECT length(record) AS n FROM journal WHERE type = 'tick' ORDER BY seq DESC LIMIT 1`).get() as { n: number } | undefined;
    return r?.n ?? 0;
  }

  /** The newest checkpoint at or before `ts`, never below where the journal starts: where pruning cuts. */
  checkpointBefore(ts: number): { seq: number; ts: number } | null {
    const r = this.db.prepare(`SELECT seq, ts FROM journal WHERE type = 'checkpoint' AND ts <= ? AND seq >= ? ORDER BY seq DESC LIMIT 1`).get(ts, this.prunedBefore() ?? 0) as
      | { seq: number; ts: number }
      | undefined;
    return r ?? null;
  }

  /**
   * Pruning, a slice at a time: delete up to `limit` records of each table
   * (inputs, kills, transitions) before the checkpoint at `seq`, oldest
   * first, and note that the journal now starts there (in the same
   * transaction: a crash between slices leaves a journal that still says
   * where it starts, and every record from there on). Returns rows deleted.
   */
  pruneBefore(seq: number, limit: number): number {
    const meta = (key: string) => this.db.prepare(`INSERT INTO journal_meta (key, value) VALUES ('${key}', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    this.cutting ??= {
      journal: this.db.prepare(`DELETE FROM journal WHERE seq IN (SELECT seq FROM journal WHERE seq < ? ORDER BY seq LIMIT ?)`),
      transitions: this.db.prepare(`DELETE FROM transitions WHERE seq IN (SELECT seq FROM transitions WHERE seq < ? ORDER BY seq LIMIT ?)`),
      // The newest transition or kill a slice takes: a reader of the events stream after it has missed nothing.
      lastOutput: this.db.prepare(`
        SELECT max(seq) AS m FROM (
          SELECT seq FROM (SELECT seq FROM transitions WHERE seq < @cut ORDER BY seq LIMIT @limit)
          UNION ALL SELECT seq FROM (SELECT seq, type FROM journal WHERE seq < @cut ORDER BY seq LIMIT @limit) WHERE type = 'kill')`),
      mark: meta('pruned_before'),
      markOutputs: meta('outputs_pruned_through'),
    };
    const { journal, transitions, lastOutput, mark, markOutputs } = this.cutting;
    return this.db.transaction(() => {
      mark.run(String(seq));
      const { m } = lastOutput.get({ cut: seq, limit }) as { m: number | null };
      if (m !== null && m > (this.outputsPrunedThrough() ?? 0)) markOutputs.run(String(m));
      return journal.run(seq, limit).changes + transitions.run(seq, limit).changes;
    })();
  }

  /** The newest transition or kill pruned (null: none was): the events stream after it is whole. */
  outputsPrunedThrough(): number | null {
    const r = this.db.prepare(`SELECT value FROM journal_meta WHERE key = 'outputs_pruned_through'`).get() as { value: string } | undefined;
    return r ? Number(r.value) : null;
  }

  /** Records before this seq were pruned, and the journal starts at the checkpoint there (null: none were). */
  prunedBefore(): number | null {
    const r = this.db.prepare(`SELECT value FROM journal_meta WHERE key = 'pruned_before'`).get() as { value: string } | undefined;
    return r ? Number(r.value) : null;
  }

  /** Write the WAL back into the database and cut its file back (journal_size_limit); false if readers kept part of it. */
  checkpointWal(): boolean {
    const [r] = this.db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    return r !== undefined && r.busy === 0 && r.log === r.checkpointed;
  }

  /** The configuration in force: the newest start's or checkpoint's (a pruned journal may have no start left). */
  lastConfigRecord(): (JournalRecord & { type: 'start' | 'checkpoint' }) | null {
    const r = this.db.prepare(`SELECT record FROM journal WHERE type IN ('start', 'checkpoint') ORDER BY seq DESC LIMIT 1`).get() as { record: string } | undefined;
    return r ? (JSON.parse(r.record) as JournalRecord & { type: 'start' | 'checkpoint' }) : null;
  }

  transitionsOf(containerId: string): TransitionRow[] {
    const from = this.from(0);
    return (this.selectTransitionsOf.all(containerId) as RawTransition[]).filter((t) => t.seq > from).map(toTransitionRow);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
