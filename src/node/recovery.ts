/**
 * Work-preserving restart, the shell's half (SPEC §8; YARN
 * ContainerManagerImpl.recoverContainer and RecoveredContainerLaunch).
 *
 * The machines are already restored in the states they were committed in.
 * For each container not DONE this finds what became of its process — the
 * recorded pid alive with the recorded start time on the same boot, or a
 * launch that was decided but never confirmed — and carries out the plan of
 * state-machines/recovery.ts: reacquire the process (followed until it exits,
 * killable, monitored), confirm a launch that happened, perform again what
 * the state still owes. The decisions are the core's (NodeCore.recover),
 * journaled with what was found, so a start replays like any other input,
 * and committed before anything acts on them.
 */
import type { Logger } from 'pino';
import { processToFind, type FoundProcess } from '../../state-machines/recovery.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { ContainerEntry, Dispatcher } from '../core/dispatcher.js';
import { restoredOf } from '../core/node-core.js';
import type { ProcessLauncher } from '../launcher/process-launcher.js';
import type { EffectRunner } from './effect-runner.js';

export { RECOVERY_DISABLED_DIAGNOSTICS } from '../core/node-core.js';

export interface RecoverySummary {
  /** Containers that were not DONE. */
  containers: number;
  /** Processes found alive and followed again. */
  reacquired: number;
  /** Processes that ended while nodewarden was down (their exit code comes from the exit-code file, or LOST). */
  ended: number;
  /** Launches that were decided but never made: made now. */
  launched: number;
  /** The machine was rebooted since the last start: no recorded process could still be alive. */
  rebooted: boolean;
  /** yarn.nodemanager.recovery.enabled was false: every unfinished container was killed. */
  killed: number;
  durationMs: number;
}

export interface RecoveryContext {
  core: Dispatcher;
  runner: EffectRunner;
  launcher: ProcessLauncher;
  config: Config;
  clock: Clock;
  log: Logger;
  /** This boot's id (null: unknown); a pid recorded on another boot names no process of ours. */
  bootId: string | null;
}

export function recoverContainers(ctx: RecoveryContext): RecoverySummary {
  const started = performance.now();
  const { core, runner, launcher, config, clock, log } = ctx;
  const unfinished = [...core.all()].filter((e) => e.actor.state !== 'DONE');
  const trusted = (e: ContainerEntry) => e.pidBootId === null || ctx.bootId === null || e.pidBootId === ctx.bootId;
  const summary: RecoverySummary = {
    containers: unfinished.length,
    reacquired: 0,
    ended: 0,
    launched: 0,
    rebooted: unfinished.some((e) => e.actor.context.pid !== null && !trusted(e)),
    killed: 0,
    durationMs: 0,
  };

  const found = findProcesses(unfinished, launcher, trusted);
  const processes: Record<string, FoundProcess> = {};
  for (const [id, { process }] of found) if (process.kind !== 'none') processes[id] = process;
  // The decisions, journaled with what was found: a start replays like any input.
  const { plans, killed } = core.recover(processes, clock.now());
  summary.killed = killed;
  // Followed only now, so an exit noticed at once comes after the start in the journal.
  for (const entry of unfinished) {
    const id = entry.spec.id;
    const process = processes[id] ?? { kind: 'none' };
    const plan = plans.get(id)!;
    logPlan(entry, process);
    if (plan.reacquire) {
      runner.reacquire(entry, plan.reacquire.pid, plan.reacquire.startTime, { ended: process.kind !== 'alive', mayOwnOrphans: found.get(id)?.mayOwnOrphans ?? false });
      if (process.kind === 'alive') summary.reacquired++;
      else summary.ended++;
    }
    if (!config.recovery.enabled) continue;
    if (plan.effects.some((e) => e.type === 'LAUNCH_CONTAINER' || e.type === 'RELAUNCH_CONTAINER')) summary.launched++;
  }

  summary.durationMs = Math.round((performance.now() - started) * 10) / 10;
  if (summary.containers > 0) {
    log.info(
      summary,
      `recovered ${summary.containers} unfinished container(s): ${summary.reacquired} running reacquired, ` +
        `${summary.ended} ended while nodewarden was down, ${summary.launched} launched now` +
        (summary.rebooted ? ' (the machine was rebooted since their pids were recorded)' : '') +
        (summary.killed > 0 ? `, ${summary.killed} killed because recovery is disabled` : ''),
    );
  }
  return summary;
}


/**
 * What became of each container's process: a recorded one is alive when it
 * is still the container's wrapper (pid, start time, session, command,
 * directory) on the boot it was recorded on; unconfirmed launches are
 * searched for.
 */
function findProcesses(
  entries: ContainerEntry[],
  launcher: ProcessLauncher,
  trusted: (e: ContainerEntry) => boolean,
): Map<string, { process: FoundProcess; mayOwnOrphans: boolean }> {
  const found = new Map<string, { process: FoundProcess; mayOwnOrphans: boolean }>();
  const unconfirmed: Array<{ id: string; previousPid: number | null }> = [];
  for (const e of entries) {
    const want = processToFind(restoredOf(e));
    if (want.kind === 'recorded') {
      const alive = trusted(e) && launcher.isWrapperOf(e.spec.id, want.pid, want.startTime);
      // Only a pid recorded on this boot may have left orphans that are the container's.
      found.set(e.spec.id, { process: { kind: alive ? 'alive' : 'ended', pid: want.pid, startTime: want.startTime }, mayOwnOrphans: trusted(e) });
    } else if (want.kind === 'unconfirmed') {
      unconfirmed.push({ id: e.spec.id, previousPid: want.previousPid });
    }
  }
  for (const [id, process] of launcher.findLaunches(unconfirmed)) found.set(id, { process, mayOwnOrphans: false });
  return found;
}

function logPlan(entry: ContainerEntry, process: FoundProcess): void {
  const state = entry.actor.state;
  if (process.kind === 'none') {
    entry.log.debug({ state }, 'recovering');
    return;
  }
  const how = process.kind === 'alive' ? 'still running: reacquired' : 'ended while nodewarden was down';
  entry.log.info({ state, pid: process.pid, startTime: process.startTime }, `recovering: process ${process.pid} ${how}`);
}
