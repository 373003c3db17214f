/**
 * The event bus between the core and the adapters (mitt). The core emits
 * `effect` only after the transition that asked for it is committed, and
 * `transitions` with each committed batch. A subscriber that throws is logged
 * and does not stop the others (plain mitt would stop at it and throw into
 * the core).
 */
import mittModule, { type Emitter } from 'mitt';
import type { Logger } from 'pino';
import type { ContainerEffect } from '../state-machines/types.js';
import type { TransitionRow } from './store/rows.js';

export type BusEvents = {
  effect: { id: string; effect: ContainerEffect };
  transitions: TransitionRow[];
  /** A monitor tick ran: how long it took (the /metrics tick-duration histogram) and how many trees it sampled. */
  monitorTick: { durationMs: number; containers: number };
};

export type Bus = Emitter<BusEvents>;

// mitt ships ESM with CommonJS-style typings: under NodeNext the default import's
// type is the module, while at run time it is the function itself.
const mitt = mittModule as unknown as typeof mittModule.default;

export function createBus(log: Logger): Bus {
  const bus = mitt<BusEvents>();
  const call = (type: string, run: () => void) => {
    try {
      run();
    } catch (err) {
      log.error({ err, busEvent: type }, `a ${type} subscriber failed`);
    }
  };
  bus.emit = (<K extends keyof BusEvents>(type: K, event: BusEvents[K]) => {
    for (const handler of [...(bus.all.get(type) ?? [])]) call(type, () => (handler as (e: BusEvents[K]) => void)(event));
    for (const handler of [...(bus.all.get('*') ?? [])]) call(type, () => (handler as (t: K, e: BusEvents[K]) => void)(type, event));
  }) as Bus['emit'];
  return bus;
}
