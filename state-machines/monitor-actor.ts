/**
 * The ContainersMonitor machine as a running actor, stepped one event at a
 * time: send the event, get the kills it decided. The daemon and replay both
 * drive the monitor through this. An event it cannot digest throws
 * MachineStepError and leaves the monitor as it was (see SteppedActor).
 */
import { containersMonitorMachine, type MonitorContext, type MonitorEvent, type MonitorKill, type MonitorSettings } from './containers-monitor.js';
import { SteppedActor } from './stepped-actor.js';

export class MonitorActor {
  private readonly actor: SteppedActor<typeof containersMonitorMachine>;

  /** `restore`: carry on from a context (a journal's monitor snapshot). */
  constructor(settings: MonitorSettings, restore?: MonitorContext) {
    this.actor = new SteppedActor(containersMonitorMachine, settings, restore ? { value: 'monitoring', context: restore } : undefined);
  }

  get context(): MonitorContext {
    return this.actor.context;
  }

  step(event: MonitorEvent): MonitorKill[] {
    return this.actor.step(event);
  }

  stop(): void {
    this.actor.stop();
  }
}
