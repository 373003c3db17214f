/**
 * The ContainersMonitor machine as a running actor, stepped one event at a
 * time: send the event, get the kills it decided. The daemon and replay both
 * drive the monitor through this.
 *
 * An event the machine cannot digest (a malformed sample from a journal, a
 * bug) must not take the daemon down: xstate would stop the actor and rethrow
 * the error later, outside any caller. Here the error is thrown to the caller
 * of step() instead, and the monitor carries on from where it was before
 * that event.
 */
import { createActor, type Actor } from 'xstate';
import { containersMonitorMachine, type MonitorContext, type MonitorEvent, type MonitorKill, type MonitorSettings } from './containers-monitor.js';

export class MonitorActor {
  private actor: Actor<typeof containersMonitorMachine>;
  private emitted: MonitorKill[] = [];
  private failure: unknown = undefined;

  constructor(private readonly settings: MonitorSettings) {
    this.actor = this.start();
  }

  get context(): MonitorContext {
    return this.actor.getSnapshot().context;
  }

  step(event: MonitorEvent): MonitorKill[] {
    const before = this.actor.getSnapshot().context;
    this.emitted = [];
    this.failure = undefined;
    this.actor.send(event);
    const kills = this.emitted;
    this.emitted = [];
    if (this.actor.getSnapshot().status === 'error') {
      const cause = this.failure;
      this.actor = this.start(before);
      throw new Error(`the containers monitor could not process ${event.type}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    }
    return kills;
  }

  stop(): void {
    this.actor.stop();
  }

  private start(context?: MonitorContext): Actor<typeof containersMonitorMachine> {
    const snapshot = context ? containersMonitorMachine.resolveState({ value: 'monitoring', context }) : undefined;
    const actor = createActor(containersMonitorMachine, snapshot ? { input: this.settings, snapshot } : { input: this.settings });
    actor.on('*', (kill) => {
      this.emitted.push(kill as MonitorKill);
    });
    // Observing errors keeps xstate from rethrowing them as uncaught exceptions.
    actor.subscribe({ error: (err) => (this.failure = err) });
    return actor.start();
  }
}
