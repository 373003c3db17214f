/**
 * The ContainersMonitor machine as a running actor, stepped one event at a
 * time: send the event, get the kills it decided. The daemon and replay both
 * drive the monitor through this.
 */
import { createActor, type Actor } from 'xstate';
import { containersMonitorMachine, type MonitorContext, type MonitorEvent, type MonitorKill, type MonitorSettings } from './containers-monitor.js';

export class MonitorActor {
  private readonly actor: Actor<typeof containersMonitorMachine>;
  private emitted: MonitorKill[] = [];

  constructor(settings: MonitorSettings) {
    this.actor = createActor(containersMonitorMachine, { input: settings });
    this.actor.on('*', (kill) => {
      this.emitted.push(kill as MonitorKill);
    });
    this.actor.start();
  }

  get context(): MonitorContext {
    return this.actor.getSnapshot().context;
  }

  step(event: MonitorEvent): MonitorKill[] {
    this.emitted = [];
    this.actor.send(event);
    const kills = this.emitted;
    this.emitted = [];
    return kills;
  }

  stop(): void {
    this.actor.stop();
  }
}
