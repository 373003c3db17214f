/**
 * Work-preserving recovery, decided (YARN: ContainerManagerImpl.recoverContainer
 * and RecoveredContainerLaunch). Pure, like the machines: the shell restores
 * every machine in the state it was committed in, finds out what became of
 * each container's process, and this table says what to do about it.
 *
 * A restored state owes what its entry asked for and the daemon may not have
 * done before it died: LOCALIZING owes the localization, KILLING the kill,
 * EXITED_* the resource cleanup, RUNNING the monitoring. Those effects are
 * performed again (each is idempotent). The one thing a state cannot tell is
 * whether a launch that was decided — the durable launch marker is ahead of
 * the confirmed attempts — ever spawned: the shell looks for that process,
 * and a process found is confirmed with the CONTAINER_LAUNCHED that was never
 * committed, so nothing is launched twice.
 *
 *   state                          process found       events / effects
 *   NEW                            -                   INIT_CONTAINER
 *   LOCALIZING                     -                   INIT_CONTAINER_RESOURCES
 *   SCHEDULED, no launch decided   -                   SCHEDULE_CONTAINER
 *   SCHEDULED / RELAUNCHING,       alive or ended      CONTAINER_LAUNCHED (reacquired)
 *     launch decided               none                LAUNCH_CONTAINER / RELAUNCH_CONTAINER
 *   RUNNING, PAUSING, PAUSED,      alive               START_MONITORING (+ PAUSE / RESUME again)
 *     RESUMING                     ended               - (its exit is reported)
 *   KILLING                        any                 CLEANUP_CONTAINER (reacquired if found);
 *     (killed while localizing)                        CLEANUP_CONTAINER_RESOURCES
 *   LOCALIZATION_FAILED, EXITED_*,
 *     CONTAINER_CLEANEDUP_AFTER_KILL                   CLEANUP_CONTAINER_RESOURCES
 *   DONE                                               -
 *
 * A reacquired process that has ended gets its exit code from its exit-code
 * file, or LOST (154) — the launcher's watch decides, as for any process.
 */
import type { ContainerContext } from './container-machine.js';
import type { ContainerEffect, ContainerEvent, ContainerState } from './types.js';

/** A container as it was committed. */
export interface RestoredContainer {
  state: ContainerState;
  context: Pick<ContainerContext, 'pid' | 'pidStartTime' | 'attempt' | 'retryPolicy' | 'pendingResources'>;
  /** The launch marker: launches decided (ahead of context.attempt while one is unconfirmed). */
  launchAttempt: number;
  /** When the last transition happened (a relaunch waits its interval from there). */
  updatedAt: number;
}

/** Which process the shell must look for. */
export type ProcessToFind =
  /** None can exist. */
  | { kind: 'none' }
  /** The one the machine recorded at CONTAINER_LAUNCHED. */
  | { kind: 'recorded'; pid: number; startTime: number }
  /** One a decided launch may have spawned: look for its traces (not the previous attempt's, `previousPid`). */
  | { kind: 'unconfirmed'; previousPid: number | null };

/** What the shell found. */
export type FoundProcess =
  | { kind: 'none' }
  | { kind: 'alive'; pid: number; startTime: number }
  /** It ran and is gone (its start time may be unknown: -1). */
  | { kind: 'ended'; pid: number; startTime: number };

export interface RecoveryPlan {
  /** Follow this process until it exits; the container can be killed through it. */
  reacquire: { pid: number; startTime: number } | null;
  /** Events for the machine, without their time (the shell stamps it). */
  events: Array<{ type: 'INIT_CONTAINER' } | { type: 'CONTAINER_LAUNCHED'; pid: number; startTime: number }>;
  /** Effects owed by the restored state, performed again. */
  effects: ContainerEffect[];
}

const HAS_PROCESS: ReadonlySet<ContainerState> = new Set(['RUNNING', 'PAUSING', 'PAUSED', 'RESUMING', 'KILLING']);
const MAY_HAVE_UNCONFIRMED_LAUNCH: ReadonlySet<ContainerState> = new Set(['SCHEDULED', 'RELAUNCHING', 'KILLING']);

/** A launch was decided (the marker is durable) but never confirmed. */
function launchUnconfirmed(c: RestoredContainer): boolean {
  return MAY_HAVE_UNCONFIRMED_LAUNCH.has(c.state) && c.launchAttempt > c.context.attempt;
}

export function processToFind(c: RestoredContainer): ProcessToFind {
  if (launchUnconfirmed(c)) return { kind: 'unconfirmed', previousPid: c.context.pid };
  const { pid, pidStartTime } = c.context;
  if (HAS_PROCESS.has(c.state) && pid !== null) return { kind: 'recorded', pid, startTime: pidStartTime ?? -1 };
  // Launched, by its state, yet no pid: nothing names its process, so it is taken as ended (LOST).
  if (HAS_PROCESS.has(c.state) && c.state !== 'KILLING') return { kind: 'recorded', pid: -1, startTime: -1 };
  return { kind: 'none' };
}

/** A kill while localizing stops the localization, not a launch (YARN KillBeforeRunningTransition from LOCALIZING). */
function killedWhileLocalizing(c: RestoredContainer): boolean {
  return c.context.attempt === 0 && c.launchAttempt === 0 && c.context.pendingResources.length > 0;
}

export function recoveryPlan(c: RestoredContainer, found: FoundProcess): RecoveryPlan {
  const reacquire = found.kind === 'none' ? null : { pid: found.pid, startTime: found.startTime };
  const plan: RecoveryPlan = { reacquire, events: [], effects: [] };
  switch (c.state) {
    case 'NEW':
      plan.events.push({ type: 'INIT_CONTAINER' });
      break;
    case 'LOCALIZING':
      plan.effects.push({ type: 'INIT_CONTAINER_RESOURCES' });
      break;
    case 'SCHEDULED':
    case 'RELAUNCHING':
      if (reacquire) plan.events.push({ type: 'CONTAINER_LAUNCHED', ...reacquire });
      else if (c.state === 'RELAUNCHING') {
        // The marker is committed with the transition into RELAUNCHING, so it is always ahead here.
        const attempt = Math.max(c.launchAttempt, c.context.attempt + 1);
        plan.effects.push({ type: 'RELAUNCH_CONTAINER', attempt, notBefore: c.updatedAt + c.context.retryPolicy.retryIntervalMs });
      } else if (launchUnconfirmed(c)) plan.effects.push({ type: 'LAUNCH_CONTAINER', attempt: c.launchAttempt });
      else plan.effects.push({ type: 'SCHEDULE_CONTAINER' });
      break;
    case 'RUNNING':
    case 'PAUSING':
    case 'PAUSED':
    case 'RESUMING':
      if (found.kind !== 'alive') break;
      plan.effects.push({ type: 'START_MONITORING', pid: found.pid });
      if (c.state === 'PAUSING') plan.effects.push({ type: 'PAUSE_CONTAINER' });
      if (c.state === 'RESUMING') plan.effects.push({ type: 'RESUME_CONTAINER' });
      break;
    case 'KILLING':
      plan.effects.push(killedWhileLocalizing(c) ? { type: 'CLEANUP_CONTAINER_RESOURCES' } : { type: 'CLEANUP_CONTAINER' });
      break;
    case 'LOCALIZATION_FAILED':
    case 'EXITED_WITH_SUCCESS':
    case 'EXITED_WITH_FAILURE':
    case 'CONTAINER_CLEANEDUP_AFTER_KILL':
      plan.effects.push({ type: 'CLEANUP_CONTAINER_RESOURCES' });
      break;
    case 'DONE':
      break;
  }
  return plan;
}
