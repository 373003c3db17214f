/**
 * One container's machine as a running xstate actor, stepped one event at a
 * time: send the event, collect what it emitted, report the transition. Live
 * daemon, recovery and replay all step containers through this, so they make
 * the same decisions from the same events. An event the machine cannot
 * digest throws MachineStepError and leaves the state as it was.
 *
 * A container in DONE keeps only its state and context (an xstate actor costs
 * a few KB and GC work for as long as it lives); the rare late event for it
 * brings the actor back from that snapshot, exactly as recovery does.
 */
import { containerMachine, type ContainerContext, type ContainerInput } from './container-machine.js';
import { SteppedActor } from './stepped-actor.js';
import type { ContainerEffect, ContainerEvent, ContainerState } from './types.js';

export interface Step {
  from: ContainerState;
  to: ContainerState;
  /** False when the state had no row for the event (logged and ignored). */
  handled: boolean;
  effects: ContainerEffect[];
}

export interface ContainerSnapshot {
  state: ContainerState;
  context: ContainerContext;
}

export class ContainerActor {
  private actor: SteppedActor<typeof containerMachine> | null = null;
  private parked: ContainerSnapshot | null = null;

  constructor(
    private readonly input: ContainerInput,
    restore?: ContainerSnapshot,
  ) {
    if (restore?.state === 'DONE') this.parked = restore;
    else this.actor = this.start(restore);
  }

  get state(): ContainerState {
    return this.parked?.state ?? (this.actor!.value as ContainerState);
  }

  get context(): ContainerContext {
    return this.parked?.context ?? this.actor!.context;
  }

  step(event: ContainerEvent): Step {
    const actor = (this.actor ??= this.start(this.parked!));
    this.parked = null;
    const from = this.state;
    let emitted;
    try {
      emitted = actor.step(event);
    } finally {
      if (this.state === 'DONE') this.park();
    }
    const to = this.state;
    const handled = !emitted.some((e) => e.type === 'IGNORED');
    const effects = emitted.filter((e): e is ContainerEffect => e.type !== 'IGNORED');
    return { from, to, handled, effects };
  }

  private start(restore?: ContainerSnapshot): SteppedActor<typeof containerMachine> {
    return new SteppedActor(containerMachine, this.input, restore ? { value: restore.state, context: restore.context } : undefined);
  }

  private park(): void {
    this.parked = { state: this.state, context: this.context };
    this.actor!.stop();
    this.actor = null;
  }
}
