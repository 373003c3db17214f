/**
 * A journal record as the events stream (GET /v1/events) and, later, the
 * journal export write it: one JSON object a line, ordered by `seq`.
 */
import type { ContainerEvent, ContainerState } from '../../state-machines/types.js';
import type { TransitionRow } from './store.js';

export interface TransitionRecord {
  seq: number;
  ts: number;
  type: 'transition';
  container: string;
  from: ContainerState;
  to: ContainerState;
  /** The event the machine took, whole: what it decided from. */
  event: ContainerEvent;
}

export type JournalRecord = TransitionRecord;

export function transitionRecord(row: TransitionRow): TransitionRecord {
  return { seq: row.seq, ts: row.ts, type: 'transition', container: row.containerId, from: row.from, to: row.to, event: row.event };
}
