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
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Dispatcher } from '../core/dispatcher.js';
import { containerPaths, type ContainerPaths } from '../launcher/container-paths.js';
import { ID_PATTERN } from '../core/launch-request.js';
import { conflict } from '../core/errors.js';
import { readWrapperFile } from '../launcher/wrapper-file.js';

const execFileAsync = promisify(execFile);

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
   * Before an id is used again: the directory its forgotten container left
   * (no pass has removed it yet) goes first, so that the new container —
   * perhaps another user's — never gets the old one's files and logs. The
   * launch adds its container as soon as this resolves, before any other
   * removal of the id can begin (removals of one id run one at a time).
   */
  removeLeftover(id: string): Promise<void> {
    return this.oneAtATime(id, async () => {
      const paths = containerPaths(this.opts.workDir, id);
      // Only a directory is ours to remove; anything else there (a file, a symlink) is left, and the launch will say so.
      const found = await fsp.lstat(paths.dir).catch(() => null);
      if (!found?.isDirectory() || this.opts.core.get(id)) return;
      if (await wrapperRunsIn(paths)) throw conflict(`a process of an earlier container ${id} still runs in ${paths.dir}; choose another id`);
      await removeContainerDir(paths.dir);
    });
  }

  /** Removals of an id's directory, in order: a pass and a launch never remove the same one at once. */
  private readonly removals = new Map<string, Promise<void>>();

  private oneAtATime(id: string, removal: () => Promise<void>): Promise<void> {
    const next = (this.removals.get(id) ?? Promise.resolve()).then(removal);
    const tail = next.catch(() => undefined);
    this.removals.set(id, tail);
    void tail.then(() => {
      if (this.removals.get(id) === tail) this.removals.delete(id);
    });
    return next;
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
      try {
        await this.oneAtATime(name, async () => {
          // Asked again in its turn and after each await: the id may have been launched anew meanwhile.
          if (this.opts.core.get(name) || (await wrapperRunsIn(paths)) || this.opts.core.get(name)) return;
          await removeContainerDir(paths.dir);
        });
      } catch (err) {
        this.opts.log.warn({ err, container: name }, 'cannot remove the directory of a forgotten container; tried again next pass');
      }
    }
  }
}

/**
 * `rm -rf` of a container directory. What a run-as container made is
 * removed as its owner: root walking a tree a user controls could be steered
 * elsewhere by a directory swapped for a symlink mid-walk (YARN's
 * DeletionService deletes as the user too). The rest is the daemon's.
 */
async function removeContainerDir(dir: string): Promise<void> {
  const me = process.getuid?.();
  const theirs = new Map<number, { gid: number; names: string[] }>();
  // A pass and a launch of the same id may both be removing it: what is gone already is done.
  const names = await fsp.readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  for (const name of names) {
    const st = await fsp.lstat(path.join(dir, name)).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
    if (st === null) continue;
    if (st.uid === me) continue;
    const owner = theirs.get(st.uid) ?? { gid: st.gid, names: [] };
    owner.names.push(name);
    theirs.set(st.uid, owner);
  }
  // As the user: make its own directories writable again (a container may have taken that away), then remove them.
  const script = 'chmod -R u+rwX -- "$@" 2>/dev/null; exec rm -rf -- "$@"';
  for (const [uid, { gid, names }] of theirs) await execFileAsync('/bin/sh', ['-c', script, 'sh', ...names], { cwd: dir, uid, gid });
  await fsp.rm(dir, { recursive: true, force: true });
}

/** Is the pid of the directory's pid file alive with its working directory there? (A reused pid never is.) */
async function wrapperRunsIn(paths: ContainerPaths): Promise<boolean> {
  try {
    const pid = Number(readWrapperFile(paths.pidFile)?.trim());
    if (!Number.isSafeInteger(pid) || pid <= 1) return false;
    const [cwd, dir] = await Promise.all([fsp.readlink(`/proc/${pid}/cwd`), fsp.realpath(paths.dir)]);
    return cwd === dir;
  } catch {
    return false; // no pid file, or no such process
  }
}
