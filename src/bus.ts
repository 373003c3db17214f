/**
 * The event bus between the core and the adapters (mitt). The core emits
 * `effect` only after the transition that asked for it is committed, and
 * `transitions` with each committed batch. mitt stops at the first handler
 * that throws, so adapters subscribe through `guarded`.
 */
import mittModule, { type Emitter } from 'mitt';
import type { Logger } from 'pino';
import type { ContainerEffect } from '../state-machines/types.js';
import type { TransitionRow } from './store/store.js';

export type BusEvents = {
  effect: { id: string; effect: ContainerEffect };
  transitions: TransitionRow[];
};

export type Bus = Emitter<BusEvents>;

// mitt ships ESM with CommonJS-style typings: under NodeNext the default import's
// type is the module, while at run time it is the function itself.
const mitt = mittModule as unknown as typeof mittModule.default;

export const createBus = (): Bus => mitt<BusEvents>();

/** A handler whose failure is logged instead of breaking the emitter's other handlers. */
export function guarded<T>(log: Logger, what: string, handler: (event: T) => void): (event: T) => void {
  return (event) => {
    try {
      handler(event);
    } catch (err) {
      log.error({ err }, `${what} failed`);
    }
  };
}
