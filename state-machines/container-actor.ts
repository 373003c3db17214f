/**
 * One container's machine as a running xstate actor, stepped one event at a
 * time: send the event, collect what it emitted, report the transition. Live
 * daemon, recovery and replay all step containers through this, so they make
 * the same decisions from the same events.
 *
 * A container in DONE keeps only its state and context (an xstate actor costs
 * a few KB and GC work for as long as it lives); the rare late event for it
 * brings the actor back from that snapshot, exactly as recovery does.
 */
import { createActor, type Actor } from 'xstate';
import { containerMachine, type ContainerContext, type ContainerEmitted, type ContainerInput } from './container-machine.js';
import type { ContainerEffect, ContainerEvent, ContainerState } from './types.js';

export interface Step {
  from: ContainerState;
  to: ContainerState;
  /** False when the state had no row for the event (logged and ignored). */
  handled: boolean;
  effects: ContainerEffect[];
}

interface Snapshot {
  state: ContainerState;
  context: ContainerContext;
}

export class ContainerActor {
  private actor: Actor<typeof containerMachine> | null = null;
  private parked: Snapshot | null = null;
  private emitted: ContainerEmitted[] = [];

  constructor(
    private readonly input: ContainerInput,
    restore?: Snapshot,
  ) {
    if (restore?.state === 'DONE') this.parked = restore;
    else this.actor = this.start(restore);
  }

  get state(): ContainerState {
    return this.parked?.state ?? (this.actor!.getSnapshot().value as ContainerState);
  }

  get context(): ContainerContext {
    return this.parked?.context ?? this.actor!.getSnapshot().context;
  }

  step(event: ContainerEvent): Step {
    const actor = (this.actor ??= this.start(this.parked!));
    this.parked = null;
    const from = this.state;
    this.emitted = [];
    actor.send(event);
    const emitted = this.emitted;
    this.emitted = [];
    const to = this.state;
    if (to === 'DONE') this.park();
    const handled = !emitted.some((e) => e.type === 'IGNORED');
    const effects = emitted.filter((e): e is ContainerEffect => e.type !== 'IGNORED');
    return { from, to, handled, effects };
  }

  private start(restore?: Snapshot): Actor<typeof containerMachine> {
    const snapshot = restore ? containerMachine.resolveState({ value: restore.state, context: restore.context }) : undefined;
    const actor = createActor(containerMachine, snapshot ? { input: this.input, snapshot } : { input: this.input });
    actor.on('*', (e) => {
      this.emitted.push(e as ContainerEmitted);
    });
    return actor.start();
  }

  private park(): void {
    this.parked = { state: this.state, context: this.context };
    this.actor!.stop();
    this.actor = null;
  }
}
