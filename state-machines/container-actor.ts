/**
 * One container's machine as a running xstate actor, stepped one event at a
 * time: send the event, collect what it emitted, report the transition. Live
 * daemon, recovery and replay all step containers through this, so they make
 * the same decisions from the same events.
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

export class ContainerActor {
  private readonly actor: Actor<typeof containerMachine>;
  private emitted: ContainerEmitted[] = [];

  constructor(input: ContainerInput, restore?: { state: ContainerState; context: ContainerContext }) {
    const snapshot = restore
      ? containerMachine.resolveState({ value: restore.state, context: restore.context })
      : undefined;
    this.actor = createActor(containerMachine, snapshot ? { input, snapshot } : { input });
    this.actor.on('*', (e) => {
      this.emitted.push(e as ContainerEmitted);
    });
    this.actor.start();
  }

  get state(): ContainerState {
    return this.actor.getSnapshot().value as ContainerState;
  }

  get context(): ContainerContext {
    return this.actor.getSnapshot().context;
  }

  step(event: ContainerEvent): Step {
    const from = this.state;
    this.emitted = [];
    this.actor.send(event);
    const emitted = this.emitted;
    this.emitted = [];
    const handled = !emitted.some((e) => e.type === 'IGNORED');
    const effects = emitted.filter((e): e is ContainerEffect => e.type !== 'IGNORED');
    return { from, to: this.state, handled, effects };
  }
}
