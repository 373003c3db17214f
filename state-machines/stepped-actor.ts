/**
 * A machine as a running xstate actor, stepped one event at a time: send the
 * event, get back what the machine emitted. The container and monitor actors
 * are both built on this, for the daemon, recovery and replay alike.
 *
 * An event the machine cannot digest (a malformed event from an edited
 * journal, a bug) must not take the daemon down. Left alone, xstate stops
 * the actor and rethrows the error later, outside any caller. Here the error
 * is thrown to the caller of step() instead, and the actor carries on from
 * the snapshot it had before that event.
 */
import {
  createActor,
  type Actor,
  type AnyStateMachine,
  type ContextFrom,
  type EmittedFrom,
  type EventFromLogic,
  type InputFrom,
  type StateValue,
} from 'xstate';

export class MachineStepError extends Error {
  override name = 'MachineStepError';
}

export interface Restore<TContext> {
  value: StateValue;
  context: TContext;
}

export class SteppedActor<TMachine extends AnyStateMachine> {
  private actor: Actor<TMachine>;
  private emitted: Array<EmittedFrom<TMachine>> = [];
  private failure: unknown = undefined;

  constructor(
    private readonly machine: TMachine,
    private readonly input: InputFrom<TMachine>,
    restore?: Restore<ContextFrom<TMachine>>,
  ) {
    this.actor = this.start(restore);
  }

  get value(): StateValue {
    return this.snapshot().value;
  }

  get context(): ContextFrom<TMachine> {
    return this.snapshot().context;
  }

  private snapshot(): { value: StateValue; context: ContextFrom<TMachine>; status: string } {
    return this.actor.getSnapshot() as { value: StateValue; context: ContextFrom<TMachine>; status: string };
  }

  /** Send one event; what the machine emitted, in order. Throws MachineStepError, state unchanged, if it failed. */
  step(event: EventFromLogic<TMachine>): Array<EmittedFrom<TMachine>> {
    const before = { value: this.value, context: this.context };
    this.emitted = [];
    this.failure = undefined;
    this.actor.send(event);
    const emitted = this.emitted;
    this.emitted = [];
    if (this.snapshot().status === 'error') {
      const cause = this.failure;
      this.actor = this.start(before);
      throw new MachineStepError(`${this.machine.id} could not process ${(event as { type: string }).type}: ${(cause as Error)?.message ?? String(cause)}`, {
        cause,
      });
    }
    return emitted;
  }

  stop(): void {
    this.actor.stop();
  }

  private start(restore?: Restore<ContextFrom<TMachine>>): Actor<TMachine> {
    const snapshot = restore ? this.machine.resolveState(restore) : undefined;
    const options = snapshot ? { input: this.input, snapshot } : { input: this.input };
    const actor = createActor(this.machine, options as Parameters<typeof createActor<TMachine>>[1]) as Actor<TMachine>;
    actor.on('*', (e) => {
      this.emitted.push(e as EmittedFrom<TMachine>);
    });
    // Observing errors keeps xstate from rethrowing them as uncaught exceptions.
    actor.subscribe({ error: (err) => (this.failure = err) });
    return actor.start();
  }
}
