/**
 * The imperative shell: performs the effects the core emits (only ever after
 * they are committed) with the localizer and the launcher, and turns what the
 * world answers — resource ready, pid, exit code — into the next events. It
 * decides nothing about the lifecycle; the one check it makes is YARN's
 * ContainerLaunch.shouldLaunchContainer: a container killed before its launch
 * ran is never spawned.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { exitEventType, ExitCode } from '../../state-machines/exit-status.js';
import { containerOomScoreAdj } from '../../state-machines/oom-score.js';
import type { ContainerEffect } from '../../state-machines/types.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import { cgroupLimits } from '../containment/cgroup-limits.js';
import { hostFacts } from '../procfs/host-facts.js';
import type { ContainerEntry, Dispatcher } from '../core/dispatcher.js';
import { failpoint } from '../failpoints.js';
import { localizeResource } from '../localizer/localizer.js';
import { LaunchError, type ExitNotice, type ProcessLauncher, type WatchOptions } from '../launcher/process-launcher.js';
import type { RunAs } from '../launcher/run-as.js';

export const TERMINATED_BEFORE_LAUNCH = 'Container terminated before launch.';

export class EffectRunner {
  /** Containers with a live process: launched and not yet reported exited. */
  private readonly live = new Set<string>();
  private readonly relaunchTimers = new Map<string, NodeJS.Timeout>();
  private closed = false;
  /** Launches whose files are being prepared. */
  private readonly launching = new Set<Promise<void>>();

  constructor(
    private readonly core: Dispatcher,
    private readonly launcher: ProcessLauncher,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly config: Pick<Config, 'cgroups' | 'monitor' | 'allowance' | 'node' | 'memoryPressure'>,
    /** Called with an exit before it is reported: the monitor's last word on it (the kernel's OOM kill becomes -104). */
    private readonly beforeExit: (id: string) => void = () => undefined,
  ) {}

  run({ id, effect }: { id: string; effect: ContainerEffect }): void {
    const entry = this.core.get(id);
    if (!entry) return;
    switch (effect.type) {
      case 'INIT_CONTAINER_RESOURCES':
        void this.localize(entry);
        return;
      case 'CLEANUP_CONTAINER_RESOURCES':
        // Localized resources stay in the container directory with its logs;
        // the group's leftovers were already dealt with when it exited.
        this.send(id, { type: 'CONTAINER_RESOURCES_CLEANEDUP' });
        return;
      case 'LAUNCH_CONTAINER':
        this.launch(entry);
        return;
      case 'RELAUNCH_CONTAINER': {
        const delay = Math.max(0, effect.notBefore - this.clock.now());
        this.relaunchTimers.set(id, setTimeout(() => {
          this.relaunchTimers.delete(id);
          this.launch(entry);
        }, delay));
        return;
      }
      case 'CLEANUP_CONTAINER':
        this.cleanup(entry);
        return;
      case 'PAUSE_CONTAINER':
        this.launcher.pause(id);
        this.send(id, { type: 'CONTAINER_PAUSED' });
        return;
      case 'RESUME_CONTAINER':
        this.launcher.resume(id);
        this.send(id, { type: 'CONTAINER_RESUMED' });
        return;
      case 'START_MONITORING':
      case 'STOP_MONITORING':
      case 'SCHEDULE_CONTAINER':
      case 'CONTAINER_COMPLETED':
        return; // the monitor and the scheduler take these, not the launcher
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.relaunchTimers.values()) clearTimeout(t);
    this.relaunchTimers.clear();
  }

  private send(id: string, event: DistributiveOmit<Parameters<Dispatcher['dispatch']>[1], 'ts'>): void {
    this.core.dispatch(id, { ...event, ts: this.clock.now() } as Parameters<Dispatcher['dispatch']>[1]);
  }

  private async localize(entry: ContainerEntry): Promise<void> {
    const id = entry.spec.id;
    let dir: string;
    let runAs: RunAs | null;
    try {
      ({ dir, runAs } = await this.launcher.prepareLocalization(id, entry.spec.user));
    } catch (err) {
      // No directory (disk full, permissions), or its user gone: the container fails, the daemon goes on.
      const diagnostics = `cannot prepare the container directory: ${(err as Error).message}`;
      const first = entry.spec.localResources[0]!;
      this.send(id, { type: 'RESOURCE_FAILED', name: first.name, diagnostics });
      return;
    }
    for (const r of entry.spec.localResources) {
      // A kill while localizing: stop copying, the machine has moved on.
      if (entry.actor.state !== 'LOCALIZING') return;
      const result = await localizeResource(dir, r, runAs);
      if (result.ok) this.send(id, { type: 'RESOURCE_LOCALIZED', name: result.name });
      else {
        entry.log.warn({ resource: r.source }, result.diagnostics);
        this.send(id, { type: 'RESOURCE_FAILED', name: result.name, diagnostics: result.diagnostics });
        return;
      }
    }
  }

  private launch(entry: ContainerEntry): void {
    const { id, command, env, user } = entry.spec;
    // YARN ContainerLaunch.shouldLaunchContainer: asked again once the files
    // are ready, since a kill may have come in while they were prepared.
    const stillToLaunch = () => {
      const state = entry.actor.state;
      if (state === 'SCHEDULED' || state === 'RELAUNCHING') return true;
      entry.log.info({ state }, 'launch skipped: the container left SCHEDULED before it ran');
      return false;
    };
    if (!stillToLaunch()) return;
    failpoint('launch-committed');
    const limits = cgroupLimits(entry.spec, this.config, hostFacts().processors);
    const oomScoreAdj = containerOomScoreAdj(entry.spec.executionType, entry.spec.resources.memoryMb * 2 ** 20, os.totalmem());
    const launching = this.launcher.launch(id, command, env, (notice) => this.exited(id, notice), { shouldLaunch: stillToLaunch, user, limits, oomScoreAdj }).then(
      (launched) => {
        if (launched === null) return;
        failpoint('spawned');
        this.live.add(id);
        this.send(id, { type: 'CONTAINER_LAUNCHED', pid: launched.pid, startTime: launched.startTime });
      },
      (err: unknown) => {
        if (this.closed) return; // the daemon is stopping: recovery finishes this launch
        const message = err instanceof LaunchError ? err.message : `unexpected launch error: ${(err as Error).message}`;
        entry.log.error({ err }, message);
        this.send(id, { type: 'CONTAINER_EXITED_WITH_FAILURE', exitCode: -1, diagnostics: `Failed to launch container: ${message}` });
      },
    );
    this.launching.add(launching);
    launching
      .catch((err: unknown) => entry.log.error({ err }, 'launch follow-up failed'))
      .finally(() => this.launching.delete(launching));
  }

  /** Resolves once no launch is under way (its files prepared, then spawned or skipped). */
  async launchesSettled(): Promise<void> {
    while (this.launching.size > 0) await Promise.all(this.launching);
  }

  private cleanup(entry: ContainerEntry): void {
    failpoint('kill-committed');
    const id = entry.spec.id;
    const timer = this.relaunchTimers.get(id);
    if (timer) {
      clearTimeout(timer);
      this.relaunchTimers.delete(id);
    }
    if (this.live.has(id)) {
      this.launcher.kill(id);
    } else {
      this.send(id, { type: 'CONTAINER_KILLED_ON_REQUEST', exitCode: ExitCode.TERMINATED, diagnostics: TERMINATED_BEFORE_LAUNCH });
    }
  }

  /**
   * Recovery: follow a container process that is not our child (started by
   * the daemon before this one). Its exit arrives like a child's; a kill
   * reaches it the same way.
   */
  reacquire(entry: ContainerEntry, pid: number, startTime: number, opts: WatchOptions): void {
    const id = entry.spec.id;
    this.launcher.watch(id, pid, startTime, (notice) => this.exited(id, notice), opts);
    this.live.add(id);
  }

  private exited(id: string, notice: ExitNotice): void {
    failpoint('exit-noticed');
    this.beforeExit(id);
    this.live.delete(id);
    const type = exitEventType(notice.exitCode);
    if (type === 'CONTAINER_EXITED_WITH_SUCCESS') this.send(id, { type, exitCode: notice.exitCode });
    else if (type === 'CONTAINER_KILLED_ON_REQUEST') {
      const diagnostics = `Container killed on request. Exit code is ${notice.exitCode}\n${notice.diagnostics}`;
      this.send(id, { type, exitCode: notice.exitCode, diagnostics });
    } else this.send(id, { type, exitCode: notice.exitCode, diagnostics: notice.diagnostics });
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
