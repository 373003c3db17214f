/**
 * Forgets finished containers once their retention is over
 * (nodewarden.containers.finished-retention-ms), with their directories and
 * logs, so a long-running daemon's memory and disk stay bounded. YARN splits
 * this between the NodeStatusUpdater (stopped containers leave the NM context
 * after duration-to-track-stopped-containers) and the DeletionService (their
 * directories go, after yarn.nodemanager.delete.debug-delay-sec).
 *
 * The forgetting is an input of the core (a `forget` record), committed
 * before anything is deleted: a crash in between leaves a directory that no
 * container owns, which the next pass removes.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Dispatcher } from '../core/dispatcher.js';
import { containerPaths, type ContainerPaths } from '../launcher/container-paths.js';
import { ID_PATTERN } from '../core/launch-request.js';

/** A pass at least this often, so a container is gone at most this long after its retention ends. */
const MAX_INTERVAL_MS = 60_000;
const MIN_INTERVAL_MS = 50;

export interface ContainerGcOptions {
  core: Dispatcher;
  workDir: string;
  retentionMs: number;
  clock: Clock;
  log: Logger;
}

export class ContainerGc {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<string[]> | null = null;
  private closed = false;
  readonly intervalMs: number;

  constructor(private readonly opts: ContainerGcOptions) {
    this.intervalMs = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.floor(opts.retentionMs / 2)));
  }

  start(): void {
    this.timer = setInterval(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }

  /** One pass; resolves to the ids forgotten. */
  run(): Promise<string[]> {
    this.running ??= this.pass()
      .catch((err: unknown) => {
        this.opts.log.error({ err }, 'forgetting finished containers failed; tried again next pass');
        return [];
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async pass(): Promise<string[]> {
    const { core, clock, log, retentionMs } = this.opts;
    // Nothing is forgotten, and no directory removed, while forgetting cannot be made durable.
    if (core.storeFault) return [];
    const now = clock.now();
    const due: string[] = [];
    for (const e of core.all()) if (e.actor.state === 'DONE' && e.updatedAt + retentionMs <= now) due.push(e.spec.id);
    const forgotten = core.forget(due, now);
    if (forgotten.length > 0) {
      // Persist before acting: the directories go only once the forgetting is durable.
      await core.durable();
      log.info({ containers: forgotten.length, retentionMs }, `forgot ${forgotten.length} finished container(s) and their directories`);
    }
    if (this.closed) return forgotten;
    await this.removeOrphanDirs();
    return forgotten;
  }

  /**
   * Remove every container directory that no known container owns: the ones
   * just forgotten, and those a crash left behind. One whose wrapper still
   * runs in it (a database replaced under running containers) is left alone.
   */
  private async removeOrphanDirs(): Promise<void> {
    const root = path.join(this.opts.workDir, 'containers');
    let names: string[];
    try {
      names = await fsp.readdir(root);
    } catch {
      return; // nothing launched yet
    }
    for (const name of names) {
      // Only what a container id can name: anything else in there is not ours to delete.
      if (!ID_PATTERN.test(name) || this.opts.core.get(name) || this.closed) continue;
      const paths = containerPaths(this.opts.workDir, name);
      if (await wrapperRunsIn(paths)) continue;
      try {
        await fsp.rm(paths.dir, { recursive: true, force: true });
      } catch (err) {
        this.opts.log.warn({ err, container: name }, 'cannot remove the directory of a forgotten container; tried again next pass');
      }
    }
  }
}

/** Is the pid of the directory's pid file alive with its working directory there? (A reused pid never is.) */
async function wrapperRunsIn(paths: ContainerPaths): Promise<boolean> {
  try {
    const pid = Number((await fsp.readFile(paths.pidFile, 'utf8')).trim());
    if (!Number.isSafeInteger(pid) || pid <= 1) return false;
    const [cwd, dir] = await Promise.all([fsp.readlink(`/proc/${pid}/cwd`), fsp.realpath(paths.dir)]);
    return cwd === dir;
  } catch {
    return false; // no pid file, or no such process
  }
}
