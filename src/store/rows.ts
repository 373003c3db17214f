/**
 * A container and its transitions as the store holds them: the rows the
 * machines are written as and restored from. Apart from the store, so that
 * the journal's records (which carry rows) and the store (which writes
 * records) do not import each other.
 */
import type { ContainerContext } from '../../state-machines/container-machine.js';
import type { ContainerEvent, ContainerSpec, ContainerState } from '../../state-machines/types.js';
import type { CallerRecord } from '../node/caller.js';

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
  /** Who launched it, and who asked for its kill, as the kernel said (null or absent: the daemon itself, or not known). */
  launchedBy?: CallerRecord | null;
  killedBy?: CallerRecord | null;
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
