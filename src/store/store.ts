/**
 * The durable record: containers and every transition. Writes are staged and
 * committed together in one transaction (group commit): the daemon commits
 * once per turn of the event loop, so synchronous=FULL costs one fsync per
 * batch rather than per row. Nothing staged has happened until commit().
 */
import type { ContainerContext } from '../../state-machines/container-machine.js';
import type { ContainerEvent, ContainerSpec, ContainerState } from '../../state-machines/types.js';
import { openDatabase, type Db } from './database.js';

/** The machine context as stored: all of it but what comes from the spec (retry policy) and the config. */
export type StoredContext = Pick<
  ContainerContext,
  'pendingResources' | 'exitStatus' | 'exitCode' | 'diagnostics' | 'pid' | 'pidStartTime' | 'attempt' | 'remainingRetries'
>;

export interface ContainerRow extends StoredContext {
  id: string;
  spec: ContainerSpec;
  state: ContainerState;
  /** The launch marker: launches decided, durable before the spawn. */
  launchAttempt: number;
  /** The boot id when `pid` was recorded (null: unknown). */
  pidBootId: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface TransitionRow {
  seq: number;
  ts: number;
  containerId: string;
  from: ContainerState;
  to: ContainerState;
  event: ContainerEvent;
}

/** The columns that restore a machine, taken from its context. */
export function rowFromContext(context: StoredContext): StoredContext {
  const { pendingResources, exitStatus, exitCode, diagnostics, pid, pidStartTime, attempt, remainingRetries } = context;
  return { pendingResources, exitStatus, exitCode, diagnostics, pid, pidStartTime, attempt, remainingRetries };
}

/** The machine context again, from a row, its spec and the configured diagnostics size. */
export function contextFromRow(row: ContainerRow, diagnosticsMaxSize: number): ContainerContext {
  return { id: row.id, retryPolicy: row.spec.retryPolicy, diagnosticsMaxSize, ...rowFromContext(row) };
}

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
  private seq: number;
  private readonly commitBatch;

  constructor(readonly file: string) {
    this.db = openDatabase(file);
    this.insertContainer = this.db.prepare(`
      INSERT INTO containers (state, pending_resources, exit_status, exit_code, diagnostics, pid, pid_start_time,
                              attempt, launch_attempt, remaining_retries, pid_boot_id, updated_at, id, request, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // The request never changes after the insert: updates leave it alone.
    this.updateContainer = this.db.prepare(`
      UPDATE containers SET state = ?, pending_resources = ?, exit_status = ?, exit_code = ?, diagnostics = ?, pid = ?,
        pid_start_time = ?, attempt = ?, launch_attempt = ?, remaining_retries = ?, pid_boot_id = ?, updated_at = ?
      WHERE id = ?`);
    this.insertTransition = this.db.prepare(
      `INSERT INTO transitions (seq, ts, container_id, from_state, to_state, event, payload) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.selectTransitions = this.db.prepare(`SELECT * FROM transitions WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.selectTransitionsOf = this.db.prepare(`SELECT * FROM transitions WHERE container_id = ? ORDER BY seq`);
    this.seq = (this.db.prepare(`SELECT coalesce(max(seq), 0) AS s FROM transitions`).get() as { s: number }).s;
    this.commitBatch = this.db.transaction(
      (containers: Iterable<{ row: ContainerRow; isNew: boolean }>, transitions: TransitionRow[]) => {
        for (const t of transitions) {
          this.insertTransition.run(t.seq, t.ts, t.containerId, t.from, t.to, t.event.type, JSON.stringify(t.event));
        }
        for (const { row: c, isNew } of containers) {
          const pending = c.pendingResources.length === 0 ? '[]' : JSON.stringify(c.pendingResources);
          const values = [c.state, pending, c.exitStatus, c.exitCode, c.diagnostics, c.pid, c.pidStartTime,
            c.attempt, c.launchAttempt, c.remainingRetries, c.pidBootId, c.updatedAt, c.id] as const;
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

  stageTransition(row: TransitionRow): void {
    this.stagedTransitions.push(row);
  }

  hasStaged(): boolean {
    return this.stagedContainers.size > 0 || this.stagedTransitions.length > 0;
  }

  /** Make everything staged durable in one transaction; returns the transitions written. */
  commit(): TransitionRow[] {
    const containers = this.stagedContainers;
    const transitions = this.stagedTransitions;
    this.commitBatch(containers.values(), transitions);
    this.stagedContainers = new Map();
    this.stagedTransitions = [];
    return transitions;
  }

  loadContainers(): ContainerRow[] {
    return (this.db.prepare(`SELECT * FROM containers ORDER BY created_at, rowid`).all() as RawContainer[]).map(toContainerRow);
  }

  /** Transitions after `sinceSeq`, oldest first; at most `limit` (-1: all). */
  transitions(sinceSeq = 0, limit = -1): TransitionRow[] {
    return (this.selectTransitions.all(sinceSeq, limit) as RawTransition[]).map(toTransitionRow);
  }

  transitionsOf(containerId: string): TransitionRow[] {
    return (this.selectTransitionsOf.all(containerId) as RawTransition[]).map(toTransitionRow);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
