/**
 * The launcher adapter: turns "launch this container" into a real process tree
 * and reports how it ended. It makes no lifecycle decisions (the container
 * state machine does); it does the OS work and reports facts.
 *
 * Process model (SPEC §4): every container runs under `launch_container.sh`
 * (see launch-script.ts), spawned detached — a new session and process group
 * whose leader is the wrapper, so the container survives the daemon and one
 * signal to `-pid` reaches the whole tree, grandchildren included.
 *
 * Reporting: each launched or watched container gets exactly one `onExit`
 * call, made asynchronously (never from inside launch()/watch()/kill()).
 * A launch that cannot start a process throws LaunchError and never calls
 * onExit; once launch() has returned a pid, every outcome arrives via onExit.
 * After close() no onExit is called any more.
 *
 * Exit code resolution (one function, `resolveExitCode`, for children and
 * watched processes): the wrapper's `<id>.pid.exitcode` if present; else, for
 * our own child, its wait status (code, or 128 + signal: SIGKILL → 137); for a
 * watched process that we SIGKILLed ourselves, 137; otherwise wait up to
 * exitCodeFileTimeoutMs for the file to appear, then LOST (154).
 *
 * What holds a container's processes, and how they are signalled, counted,
 * paused, is the Containment's (src/containment/): the wrapper's process
 * group by default. Once a container has been seen without a live member it
 * can never gain one again; from then on it is never signalled (a pgid may
 * be reused by an unrelated group).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { ExitCode } from '../../state-machines/exit-status.js';
import { isDeadState, type ProcessStat } from '../../state-machines/process-tree.js';
import type { FoundProcess } from '../../state-machines/recovery.js';
import type { CgroupLimits } from '../containment/cgroup-driver.js';
import type { Containment } from '../containment/containment.js';
import { ProcessGroupContainment } from '../containment/process-group.js';
import { releaseWithRetry, sweepUnowned } from '../containment/release.js';
import { failpoint } from '../failpoints.js';
import { ProcfsReader } from '../procfs/procfs-reader.js';
import { containerPaths, type ContainerPaths } from './container-paths.js';
import { launchScript } from './launch-script.js';
import { placeWrapper } from './placement.js';
import { lookupUser, type RunAs } from './run-as.js';
import { readWrapperFile } from './wrapper-file.js';

export type { ContainerPaths } from './container-paths.js';

export interface ExitNotice {
  exitCode: number;
  diagnostics: string;
}

export interface Launched {
  /** The wrapper's pid: session and process-group leader of the container. */
  pid: number;
  /** Field 22 (starttime, clock ticks since boot) of `<procfsRoot>/<pid>/stat`. */
  startTime: number;
}

export interface WatchOptions {
  /** The caller knows the process is not alive (e.g. its pid is from another boot): it is not checked. */
  ended?: boolean;
  /** The pid is known to be the container's on this boot: members left in its session and group are the container's too. */
  mayOwnOrphans?: boolean;
}

export interface LaunchOptions {
  /** The kernel's OOM order for it (oom-score.ts), set by the wrapper before the command runs; absent: inherited. */
  oomScoreAdj?: number;
  /** Asked again once the files are ready (YARN's shouldLaunchContainer): false skips the spawn. */
  shouldLaunch?: () => boolean;
  /** The user it runs as (run-as.ts); the daemon's own when absent. */
  user?: string;
  /** What its cgroup is limited to (cgroup containment only). */
  limits?: CgroupLimits;
}

/** A cgroup with no limit but the default CPU weight. */
const NO_LIMITS: CgroupLimits = { memoryLimitBytes: null, memorySoftLimitBytes: null, swappiness: null, cpuShares: 1024, cpuQuota: null, pidsMax: null };

export class LaunchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LaunchError';
  }
}

export interface LauncherOptions {
  workDir: string;
  /** SIGTERM → SIGKILL delay (yarn.nodemanager.sleep-delay-before-sigkill.ms). */
  sigkillDelayMs: number;
  /** How long a watched process's exit-code file is waited for (…exit-code-file.timeout-ms). */
  exitCodeFileTimeoutMs: number;
  /** Default `/proc`. Must show the real processes this launcher starts. */
  procfsRoot?: string;
  /** Liveness poll for processes that are not our child; default 1000 ms. */
  pollIntervalMs?: number;
  /** What holds a container's processes; default the wrapper's process group. */
  containment?: Containment;
  log: Logger;
}

export const WRAPPER_SHELL = '/bin/bash';
/** Close file handles without waiting; a close that fails has nothing left to lose. */
function closeQuietly(...handles: fsp.FileHandle[]): void {
  for (const h of handles) h.close().catch(() => undefined);
}

const DIR_MODE = 0o750;
const FILE_MODE = 0o640;
const STDERR_TAIL_BYTES = 4096;
/** Poll period while a kill is in progress (group drain, watched leader). */
const FAST_POLL_MS = 20;
/** Poll period while waiting for a watched container's exit-code file. */
const EXIT_CODE_FILE_POLL_MS = 50;
/** After SIGKILL, how long the notice waits for the kernel to tear the group down. */
const POST_SIGKILL_DRAIN_MS = 2000;

/**
 * A run-as container's directory stays the daemon's, open to the user's
 * group and sticky (1770): the container can make files in its working
 * directory, but never rename or replace what the daemon put there — the
 * launch script, `logs/` (0750, the user's group reads it) — so the daemon
 * never follows a name the user chose. YARN instead gives the directory to
 * the user and has its setuid container-executor do the file work as them.
 */
const RUN_AS_DIR_MODE = 0o1770;
export const LOST_DIAGNOSTICS =
  'Container exited while nodewarden was not running and left no exit code (LOST).';

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function isPid(n: number): boolean {
  return Number.isSafeInteger(n) && n > 1;
}

function realpathOrNull(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

function isLiveSessionLeader(stat: ProcessStat | undefined): stat is ProcessStat {
  return stat !== undefined && !isDeadState(stat.state) && stat.session === stat.pid && stat.pgrp === stat.pid;
}

/** Does the process run the launch wrapper (`bash launch_container.sh …`)? */
function runsWrapper(procfsRoot: string, pid: number): boolean {
  try {
    const argv = fs.readFileSync(path.join(procfsRoot, String(pid), 'cmdline'), 'utf8').split('\0');
    return argv[1] === 'launch_container.sh';
  } catch {
    return false;
  }
}

/** A process's working directory (null when gone or not ours to read). */
function cwdOf(procfsRoot: string, pid: number): string | null {
  try {
    return fs.readlinkSync(path.join(procfsRoot, String(pid), 'cwd'));
  } catch {
    return null;
  }
}

interface Rec {
  id: string;
  pid: number;
  startTime: number;
  paths: ContainerPaths;
  isChild: boolean;
  onExit: (n: ExitNotice) => void;
  /** We may signal -pid: the group is (still) the container's. */
  ownsGroup: boolean;
  /** Watched: the leader was already gone when watch() was called. */
  deadAtWatch: boolean;
  /** Leader gone; the exit code is being resolved or has been. */
  exited: boolean;
  notice?: ExitNotice;
  delivered: boolean;
  /** launch() threw after the spawn: never report. */
  abandoned: boolean;
  killRequested: boolean;
  sigkillSent: boolean;
  /** The leader was alive when we sent SIGKILL (so a missing exit code is 137). */
  sigkilledLeader: boolean;
  drainDeadline: number;
  killTimer?: NodeJS.Timeout;
  pollTimer?: NodeJS.Timeout;
}

/** A new record: what the caller knows, every progress flag cleared. */
function newRec(known: Pick<Rec, 'id' | 'pid' | 'startTime' | 'paths' | 'isChild' | 'onExit' | 'ownsGroup' | 'deadAtWatch'>): Rec {
  return {
    ...known,
    exited: false,
    delivered: false,
    abandoned: false,
    killRequested: false,
    sigkillSent: false,
    sigkilledLeader: false,
    drainDeadline: 0,
  };
}

export class ProcessLauncher {
  private readonly workDir: string;
  private readonly sigkillDelayMs: number;
  private readonly exitCodeFileTimeoutMs: number;
  private readonly procfsRoot: string;
  private readonly procfs: ProcfsReader;
  private readonly pollIntervalMs: number;
  private readonly log: Logger;
  private readonly containment: Containment;
  private readonly recs = new Map<string, Rec>();
  private closed = false;
  /** Launches between their checks and their spawn (files being prepared). */
  private readonly preparing = new Set<string>();

  constructor(opts: LauncherOptions) {
    if (!Number.isFinite(opts.sigkillDelayMs) || opts.sigkillDelayMs < 0) {
      throw new RangeError(`sigkillDelayMs must be >= 0, got ${opts.sigkillDelayMs}`);
    }
    if (!Number.isFinite(opts.exitCodeFileTimeoutMs) || opts.exitCodeFileTimeoutMs < 0) {
      throw new RangeError(`exitCodeFileTimeoutMs must be >= 0, got ${opts.exitCodeFileTimeoutMs}`);
    }
    const poll = opts.pollIntervalMs ?? 1000;
    if (!Number.isFinite(poll) || poll <= 0) throw new RangeError(`pollIntervalMs must be > 0, got ${poll}`);
    this.workDir = path.resolve(opts.workDir);
    this.sigkillDelayMs = opts.sigkillDelayMs;
    this.exitCodeFileTimeoutMs = opts.exitCodeFileTimeoutMs;
    this.procfsRoot = opts.procfsRoot ?? '/proc';
    this.procfs = new ProcfsReader(this.procfsRoot);
    this.pollIntervalMs = poll;
    this.log = opts.log;
    this.containment = opts.containment ?? new ProcessGroupContainment(this.procfs, this.log);
  }

  /** mkdir -p the container dir and its logs dir (0750; see RUN_AS_DIR_MODE for a run-as user); idempotent. Off the event loop (libuv's thread pool). */
  async prepareDir(id: string, runAs: RunAs | null = null): Promise<ContainerPaths> {
    const paths = containerPaths(this.workDir, id);
    try {
      await fsp.mkdir(paths.logDir, { recursive: true, mode: DIR_MODE });
      // mkdir's mode passes through the umask; the modes are part of the contract.
      // `containers/` and `logs/` are the daemon's alone, so these paths cannot lead anywhere else.
      await fsp.chmod(paths.dir, runAs ? RUN_AS_DIR_MODE : DIR_MODE);
      await fsp.chmod(paths.logDir, DIR_MODE);
      if (runAs) {
        await fsp.chown(paths.dir, -1, runAs.gid);
        await fsp.chown(paths.logDir, -1, runAs.gid);
      }
    } catch (e) {
      throw new LaunchError(`cannot prepare container directory ${paths.dir}: ${(e as Error).message}`, { cause: e });
    }
    return paths;
  }

  /**
   * The directory localization fills, and the account it works as: a run-as
   * container's files are fetched as its user (as YARN's ContainerLocalizer
   * runs as the application's user), so that it gets nothing its user could
   * not read. Null: the daemon's own user.
   */
  async prepareLocalization(id: string, user: string | undefined): Promise<{ dir: string; runAs: RunAs | null }> {
    const runAs = user === undefined ? null : await this.runAs(id, user);
    return { dir: (await this.prepareDir(id, runAs)).dir, runAs };
  }

  /**
   * Everything on disk a launch needs: the directory, no stale pid or
   * exit-code file, the launch script, stdout and stderr open for appending.
   * File-system calls stall behind the database's fsyncs on a journaling file
   * system, so they run in the thread pool, never on the event loop.
   */
  private async prepareFiles(id: string, runAs: RunAs | null, oomScoreAdj: number | undefined): Promise<{ paths: ContainerPaths; out: fsp.FileHandle; err: fsp.FileHandle }> {
    const paths = await this.prepareDir(id, runAs);
    let out: fsp.FileHandle | undefined;
    try {
      // A relaunch reuses the directory: stale files from the previous attempt
      // must not be taken for this one's.
      const stale = [paths.pidFile, paths.exitCodeFile, `${paths.pidFile}.tmp`, `${paths.exitCodeFile}.tmp`, `${paths.script}.tmp`];
      await Promise.all(stale.map((f) => fsp.rm(f, { force: true })));
      // New inode each time: a bash still reading an old copy is not disturbed.
      // Exclusive create: a name a run-as container made in the meantime (a symlink) is refused, never followed.
      const tmp = `${paths.script}.tmp`;
      await fsp.writeFile(tmp, launchScript(id, { awaitPlacement: this.containment.needsPlacement, ...(oomScoreAdj === undefined ? {} : { oomScoreAdj }) }), { mode: FILE_MODE, flag: 'wx' });
      await fsp.chmod(tmp, FILE_MODE);
      if (runAs) await fsp.chown(tmp, -1, runAs.gid);
      await fsp.rename(tmp, paths.script);
      out = await fsp.open(paths.stdout, 'a', FILE_MODE);
      const err = await fsp.open(paths.stderr, 'a', FILE_MODE);
      // The user reads its own logs through its group.
      if (runAs) await Promise.all([out.chown(-1, runAs.gid), err.chown(-1, runAs.gid)]);
      return { paths, out, err };
    } catch (e) {
      await out?.close();
      throw new LaunchError(`cannot launch container ${id}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Start `/bin/bash launch_container.sh ...command` in the container directory,
   * in a new session and process group. Throws LaunchError when no process
   * could be started (bad command, directory or file errors, spawn failure
   * such as ENOENT/EACCES/EAGAIN); otherwise onExit is called exactly once,
   * later, with how it ended.
   */
  async launch(id: string, command: string[], env: Record<string, string>, onExit: (n: ExitNotice) => void, opts: LaunchOptions = {}): Promise<Launched | null> {
    const { shouldLaunch = () => true, user, limits = NO_LIMITS } = opts;
    const check = () => {
      if (this.closed) throw new LaunchError(`cannot launch container ${id}: launcher is closed`);
      const running = this.recs.get(id) ?? (this.preparing.has(id) ? { pid: 'being launched' } : undefined);
      if (running !== undefined) throw new LaunchError(`cannot launch container ${id}: it is already running as pid ${running.pid}`);
    };
    if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string')) {
      throw new LaunchError(`cannot launch container ${id}: command must be a non-empty array of strings`);
    }
    if (command[0] === '') throw new LaunchError(`cannot launch container ${id}: empty program name`);
    check();
    this.preparing.add(id);
    let files: Awaited<ReturnType<ProcessLauncher['prepareFiles']>>;
    let runAs: RunAs | null;
    let childEnv: Record<string, string>;
    try {
      runAs = user === undefined ? null : await this.runAs(id, user);
      childEnv = this.buildEnv(id, env, runAs);
      files = await this.prepareFiles(id, runAs, opts.oomScoreAdj);
    } finally {
      this.preparing.delete(id);
    }
    const { paths, out, err } = files;
    if (!shouldLaunch()) {
      closeQuietly(out, err);
      return null;
    }
    const placing = this.containment.needsPlacement;

    let child: ChildProcess;
    try {
      check();
      if (placing) this.containment.prepare(id, limits);
      child = spawn(WRAPPER_SHELL, [path.basename(paths.script), ...command], {
        cwd: paths.dir,
        env: childEnv,
        detached: true,
        // With a cgroup, stdin carries the word that the wrapper has been placed (launch-script.ts).
        stdio: [placing ? 'pipe' : 'ignore', out.fd, err.fd],
        // libuv drops the supplementary groups, then setgid and setuid, before the exec.
        ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      });
    } catch (e) {
      if (placing) this.containment.release(id);
      if (e instanceof LaunchError) throw e;
      throw new LaunchError(`cannot launch container ${id}: ${(e as Error).message}`, { cause: e });
    } finally {
      // The child holds its own copies (uv_spawn returns after exec).
      closeQuietly(out, err);
    }

    const pid = child.pid;
    if (pid === undefined) {
      // Node reports run-time spawn errors (ENOENT, EACCES, EAGAIN, EMFILE…)
      // one tick later as 'error', but leaves pid unset right away: turn that
      // into a synchronous LaunchError and swallow the late event.
      child.once('error', (e) => this.log.debug({ container: id, err: e }, 'spawn error (already reported as LaunchError)'));
      if (placing) this.containment.release(id);
      throw new LaunchError(`cannot launch container ${id}: ${this.diagnoseSpawnFailure(paths.dir)}`);
    }
    child.unref();
    if (placing) {
      try {
        placeWrapper(this.containment, id, child as ChildProcess & { pid: number }, this.log);
      } catch (e) {
        releaseWithRetry(this.containment, id, this.sigkillDelayMs, this.log);
        throw new LaunchError(`cannot launch container ${id}: ${(e as Error).message}`, { cause: e });
      }
    }

    const rec = newRec({ id, pid, startTime: -1, paths, isChild: true, onExit, ownsGroup: true, deadAtWatch: false });
    child.on('error', (e) => {
      // With a pid, 'error' only comes from signalling through the handle,
      // which we never do; the 'exit' event still follows.
      this.log.warn({ container: id, pid, err: e }, 'container process error');
    });
    child.once('exit', (code, signal) => {
      let waitCode: number;
      if (code !== null) waitCode = code;
      else if (signal !== null) waitCode = 128 + (os.constants.signals[signal] ?? 0);
      else waitCode = -1;
      this.leaderGone(rec, waitCode);
    });

    const stat = this.readStat(pid);
    if (stat === undefined) {
      // The process exists (it cannot have been reaped yet: that happens on the
      // event loop), so an unreadable stat means a procfs root that does not
      // show our processes. Without a start time nothing could ever recognise
      // this process again: do not leave it running.
      rec.abandoned = true;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      throw new LaunchError(
        `cannot launch container ${id}: cannot read the start time of pid ${pid} from ${path.join(this.procfsRoot, String(pid), 'stat')}`,
      );
    }
    rec.startTime = stat.startTime;
    this.recs.set(id, rec);
    this.log.info({ container: id, pid, startTime: rec.startTime, command }, 'container launched');
    return { pid, startTime: rec.startTime };
  }

  /**
   * Follow a container process that is not our child (recovered after a
   * daemon restart): every pollIntervalMs, is pid alive with this start time?
   * When not (a zombie counts as dead; a different start time means the pid
   * was reused, so ours is dead), resolve its exit code and call onExit once.
   * A pid that is not ours (start time mismatch) is never signalled, nor one
   * the caller says has ended.
   */
  watch(id: string, pid: number, startTime: number, onExit: (n: ExitNotice) => void, opts: WatchOptions = {}): void {
    if (this.closed) throw new Error(`cannot watch container ${id}: launcher is closed`);
    if (this.recs.has(id)) throw new Error(`container ${id} is already tracked by this launcher`);
    const paths = containerPaths(this.workDir, id);
    const alive = !opts.ended && isPid(pid) && this.isAlive(pid, startTime);
    // A wrapper that died while nobody watched may have left its command running: that group is still the container's.
    const ownsGroup = alive || (opts.mayOwnOrphans === true && isPid(pid) && this.containment.orphaned({ id, pid }));
    const rec = newRec({ id, pid, startTime, paths, isChild: false, onExit, ownsGroup, deadAtWatch: !alive });
    this.recs.set(id, rec);
    this.log.debug({ container: id, pid, startTime, alive }, 'watching recovered container');
    this.schedulePoll(rec, alive ? this.pollIntervalMs : 0);
  }

  /**
   * Recovery: what became of launches that were decided (the launch marker is
   * durable) but never confirmed. The wrapper writes `<id>.pid` first thing;
   * a wrapper that had not written it yet is found among session leaders by
   * its working directory, the container directory, which it never leaves. A
   * pid file that names the previous attempt's pid and no live wrapper is
   * that attempt's leftover. On a new boot nothing recorded can be alive.
   */
  findLaunches(wanted: Array<{ id: string; previousPid: number | null }>): Map<string, FoundProcess> {
    const found = new Map<string, FoundProcess>();
    let wrappers: Map<string, Launched> | undefined;
    for (const { id, previousPid } of wanted) {
      const dir = realpathOrNull(containerPaths(this.workDir, id).dir);
      if (dir === null) {
        found.set(id, { kind: 'none' });
        continue;
      }
      const pid = this.readPidFile(id);
      const alive = pid === undefined ? undefined : this.wrapperIn(pid, dir, id);
      if (alive) found.set(id, { kind: 'alive', ...alive });
      else if (pid !== undefined && pid !== previousPid) found.set(id, { kind: 'ended', pid, startTime: -1 });
      else {
        wrappers ??= this.wrappersByDir();
        const w = wrappers.get(dir);
        found.set(id, w && this.containment.holds(id, w.pid) ? { kind: 'alive', ...w } : { kind: 'none' });
      }
    }
    return found;
  }

  /**
   * Recovery: is the recorded process (pid and start time) alive and still
   * the container's wrapper — a session leader running launch_container.sh in
   * the container directory?
   */
  isWrapperOf(id: string, pid: number, startTime: number): boolean {
    const dir = realpathOrNull(containerPaths(this.workDir, id).dir);
    return dir !== null && this.wrapperIn(pid, dir, id)?.startTime === startTime;
  }

  /** Is this exact process (pid and start time) alive? Zombies are not. */
  isAlive(pid: number, startTime: number): boolean {
    if (!isPid(pid)) return false;
    const stat = this.readStat(pid);
    return stat !== undefined && !isDeadState(stat.state) && stat.startTime === startTime;
  }

  /**
   * SIGTERM + SIGCONT to the group, SIGKILL after sigkillDelayMs if any member
   * is left. The exit notice is held back until the group has no live member
   * (or SIGKILL has been sent and the group has drained, bounded), so a
   * container reported finished leaves no process behind. Idempotent.
   */
  kill(id: string): void {
    const rec = this.recs.get(id);
    if (rec === undefined || this.closed) {
      this.log.warn({ container: id }, 'kill: container not tracked by the launcher (already finished?)');
      return;
    }
    if (rec.killRequested) return;
    rec.killRequested = true;
    this.log.info({ container: id, pid: rec.pid }, 'killing container: SIGTERM to its processes');
    this.contain(rec, 'terminate');
    failpoint('kill-signalled');
    rec.killTimer = setTimeout(() => {
      rec.killTimer = undefined;
      if (rec.delivered) return;
      if (this.groupLive(rec)) {
        rec.sigkilledLeader = !rec.exited && this.isAlive(rec.pid, rec.startTime);
        this.log.info({ container: id, pid: rec.pid }, 'container still running after SIGTERM: SIGKILL to its processes');
        this.contain(rec, 'kill');
      }
      rec.sigkillSent = true;
      rec.drainDeadline = Date.now() + POST_SIGKILL_DRAIN_MS;
      if (!rec.isChild && !rec.exited) this.schedulePoll(rec, 0);
      this.settle(rec);
    }, this.sigkillDelayMs);
    // Deliberately ref'd: a kill that was asked for completes even when the
    // daemon is shutting down.
    if (!rec.isChild && !rec.exited) this.schedulePoll(rec, FAST_POLL_MS);
  }

  /** Stop every process of the container. */
  pause(id: string): void {
    this.containById(id, 'pause');
  }

  /** Let them run again. */
  resume(id: string): void {
    this.containById(id, 'resume');
  }

  /** At start, after recovery: empty and remove what is held for containers nobody owns (`owned` says who is). */
  sweepContainment(owned: (id: string) => boolean): void {
    sweepUnowned(this.containment, (id) => this.recs.has(id) || owned(id), this.sigkillDelayMs, this.log);
  }

  /**
   * Daemon shutdown: stop every poll, forget every container, never call
   * onExit again. Processes are not touched — except that a SIGKILL already
   * scheduled by kill() (or for a finished container's leftovers) still fires,
   * so a kill that was asked for completes.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const rec of this.recs.values()) {
      if (rec.pollTimer !== undefined) clearTimeout(rec.pollTimer);
      rec.pollTimer = undefined;
    }
    this.recs.clear();
  }

  // ---------------------------------------------------------------- internals

  /** The account a request's `user` names, now (checked at admission; it may have gone since). Null: the daemon's own user. */
  private async runAs(id: string, user: string): Promise<RunAs | null> {
    let account: RunAs | null;
    try {
      account = await lookupUser(user);
    } catch (e) {
      throw new LaunchError(`cannot launch container ${id}: ${(e as Error).message}`, { cause: e });
    }
    if (account === null) throw new LaunchError(`cannot launch container ${id}: user ${user} does not exist`);
    return account.uid === process.getuid?.() ? null : account;
  }

  private buildEnv(id: string, env: Record<string, string>, runAs: RunAs | null = null): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'LANG'] as const) {
      const v = process.env[k];
      if (v !== undefined) out[k] = v;
    }
    if (runAs) out.HOME = runAs.home;
    if (out.PATH === undefined) out.PATH = '/usr/local/bin:/usr/bin:/bin';
    for (const [k, v] of Object.entries(env ?? {})) {
      if (k === '' || k.includes('=') || k.includes('\0')) {
        throw new LaunchError(`cannot launch container ${id}: invalid environment variable name ${JSON.stringify(k)}`);
      }
      if (typeof v !== 'string' || v.includes('\0')) {
        throw new LaunchError(`cannot launch container ${id}: invalid value for environment variable ${k}`);
      }
      out[k] = v;
    }
    // Set by the node manager, as YARN does: the container cannot override them.
    out.CONTAINER_ID = id;
    if (runAs) {
      out.USER = runAs.name;
      out.LOGNAME = runAs.name;
    }
    return out;
  }

  private diagnoseSpawnFailure(cwd: string): string {
    try {
      if (!fs.statSync(cwd).isDirectory()) return `working directory ${cwd} is not a directory`;
    } catch (e) {
      return `working directory ${cwd} is not accessible (${errno(e) ?? String(e)})`;
    }
    try {
      fs.accessSync(WRAPPER_SHELL, fs.constants.X_OK);
    } catch (e) {
      return `${WRAPPER_SHELL} cannot be executed (${errno(e) ?? String(e)})`;
    }
    return `spawn of ${WRAPPER_SHELL} failed (out of processes or file descriptors: EAGAIN/EMFILE/ENFILE)`;
  }

  /** The process's stat, or undefined when it is gone or unreadable (a corrupt line counts as unreadable). */
  private readStat(pid: number): ProcessStat | undefined {
    return this.procfs.readStat(pid) ?? undefined;
  }

  /** Does the container still hold a live process? Loses ownership when not: an empty group is never signalled again (its pgid may be reused). */
  private groupLive(rec: Rec): boolean {
    if (!rec.ownsGroup) return false;
    if (this.containment.members(rec).length > 0) return true;
    rec.ownsGroup = false;
    return false;
  }

  /** Terminate, kill, pause or resume what the container still holds. */
  private contain(rec: Rec, action: 'terminate' | 'kill' | 'pause' | 'resume'): void {
    if (!rec.ownsGroup) return;
    this.containment[action](rec).catch((err: unknown) => this.log.error({ container: rec.id, pid: rec.pid, action, err }, 'cannot signal the container'));
  }

  private containById(id: string, action: 'pause' | 'resume'): void {
    const rec = this.recs.get(id);
    if (rec === undefined || this.closed) {
      this.log.warn({ container: id, action }, `${action}: container not tracked by the launcher (already finished?)`);
      return;
    }
    this.log.info({ container: id, pid: rec.pid, action }, `${action === 'pause' ? 'pausing' : 'resuming'} container`);
    this.contain(rec, action);
  }

  /** (Re)arm a watched container's liveness poll. */
  private schedulePoll(rec: Rec, delayMs: number): void {
    if (rec.pollTimer !== undefined) clearTimeout(rec.pollTimer);
    rec.pollTimer = setTimeout(() => {
      rec.pollTimer = undefined;
      if (this.closed || rec.exited) return;
      if (!rec.deadAtWatch && this.isAlive(rec.pid, rec.startTime)) {
        this.schedulePoll(rec, rec.killRequested ? FAST_POLL_MS : this.pollIntervalMs);
        return;
      }
      this.leaderGone(rec, null);
    }, delayMs);
    rec.pollTimer.unref();
  }

  /** The wrapper is gone (reaped child, or a watched pid found dead). */
  private leaderGone(rec: Rec, waitCode: number | null): void {
    if (rec.exited) return;
    rec.exited = true;
    if (rec.pollTimer !== undefined) clearTimeout(rec.pollTimer);
    rec.pollTimer = undefined;
    if (this.closed || rec.abandoned) return;
    this.resolveExitCode(rec, waitCode, (exitCode, lost) => {
      rec.notice = { exitCode, diagnostics: this.diagnostics(rec, exitCode, lost) };
      this.log.info({ container: rec.id, pid: rec.pid, exitCode }, 'container process exited');
      this.settle(rec);
    });
  }

  /**
   * The exit code, for our children and watched processes alike: the
   * exit-code file; else the wait status (children); else 137 if we SIGKILLed
   * the live leader ourselves; else wait for the file up to the timeout; else LOST.
   */
  private resolveExitCode(rec: Rec, waitCode: number | null, done: (exitCode: number, lost: boolean) => void): void {
    const fromFile = this.readExitCodeFile(rec);
    if (fromFile !== undefined) return done(fromFile, false);
    if (waitCode !== null) return done(waitCode, false);
    if (rec.sigkilledLeader) return done(ExitCode.FORCE_KILLED, false);
    const deadline = Date.now() + this.exitCodeFileTimeoutMs;
    const poll = (): void => {
      rec.pollTimer = undefined;
      if (this.closed) return;
      const code = this.readExitCodeFile(rec);
      if (code !== undefined) return done(code, false);
      const left = deadline - Date.now();
      if (left <= 0) return done(ExitCode.LOST, true);
      rec.pollTimer = setTimeout(poll, Math.min(EXIT_CODE_FILE_POLL_MS, left));
      rec.pollTimer.unref();
    };
    rec.pollTimer = setTimeout(poll, Math.min(EXIT_CODE_FILE_POLL_MS, this.exitCodeFileTimeoutMs));
    rec.pollTimer.unref();
  }

  private readPidFile(id: string): number | undefined {
    const text = readWrapperFile(containerPaths(this.workDir, id).pidFile)?.trim();
    if (text === undefined) return undefined;
    return /^[0-9]+$/.test(text) && isPid(Number(text)) ? Number(text) : undefined;
  }

  /** The live wrapper `pid` — a session leader running launch_container.sh in `dir` — or undefined. */
  private wrapperIn(pid: number, dir: string, id: string): Launched | undefined {
    const stat = this.readStat(pid);
    if (!isLiveSessionLeader(stat) || cwdOf(this.procfsRoot, pid) !== dir || !runsWrapper(this.procfsRoot, pid)) return undefined;
    // With cgroups, a member of its cgroup too: a wrapper never placed (the daemon died first) ran nothing.
    if (!this.containment.holds(id, pid)) return undefined;
    return { pid, startTime: stat.startTime };
  }

  /** Every live wrapper working in a container directory, by that directory. */
  private wrappersByDir(): Map<string, Launched> {
    const out = new Map<string, Launched>();
    const containersDir = realpathOrNull(path.join(this.workDir, 'containers'));
    if (containersDir === null) return out;
    for (const pid of this.procfs.listPids()) {
      const stat = this.readStat(pid);
      if (!isLiveSessionLeader(stat)) continue;
      const cwd = cwdOf(this.procfsRoot, pid);
      if (cwd !== null && path.dirname(cwd) === containersDir && runsWrapper(this.procfsRoot, pid)) out.set(cwd, { pid, startTime: stat.startTime });
    }
    return out;
  }

  private readExitCodeFile(rec: Rec): number | undefined {
    const text = readWrapperFile(rec.paths.exitCodeFile);
    if (text === null) return undefined;
    const t = text.trim();
    if (!/^-?[0-9]+$/.test(t)) {
      this.log.warn({ container: rec.id, content: t.slice(0, 64) }, 'exit-code file does not hold an integer; ignored');
      return undefined;
    }
    return Number(t);
  }

  private diagnostics(rec: Rec, exitCode: number, lost: boolean): string {
    if (exitCode === 0) return '';
    if (lost) {
      return rec.deadAtWatch
        ? LOST_DIAGNOSTICS
        : `Container exited and left no exit code within ${this.exitCodeFileTimeoutMs} ms (LOST).`;
    }
    let msg = `Container exited with a non-zero exit code ${exitCode}`;
    const tail = this.stderrTail(rec.paths.stderr);
    if (tail !== '') msg += `. Last ${STDERR_TAIL_BYTES} bytes of stderr :\n${tail}`;
    return msg;
  }

  private stderrTail(file: string): string {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return '';
    }
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, STDERR_TAIL_BYTES);
      if (len <= 0) return '';
      const buf = Buffer.alloc(len);
      const n = fs.readSync(fd, buf, 0, len, size - len);
      let start = 0;
      // Do not start in the middle of a UTF-8 sequence.
      while (start < n && start < 3 && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
      return buf.subarray(start, n).toString('utf8');
    } catch {
      return '';
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Deliver the notice when the kill rules allow it. */
  private settle(rec: Rec): void {
    if (rec.delivered || rec.abandoned || this.closed || rec.notice === undefined) return;
    if (!rec.killRequested) {
      this.deliver(rec);
      // A finished container must not leave processes behind.
      if (this.groupLive(rec)) this.reapLeftovers(rec);
      return;
    }
    if (!this.groupLive(rec)) return this.deliver(rec);
    if (rec.sigkillSent && Date.now() >= rec.drainDeadline) {
      this.log.warn(
        { container: rec.id, pid: rec.pid, members: this.containment.members(rec) },
        'container still has processes after SIGKILL (uninterruptible?); reporting the exit anyway',
      );
      return this.deliver(rec);
    }
    // Wait for the group to drain (or for the SIGKILL timer to fire).
    if (rec.pollTimer !== undefined) clearTimeout(rec.pollTimer);
    rec.pollTimer = setTimeout(() => {
      rec.pollTimer = undefined;
      this.settle(rec);
    }, FAST_POLL_MS);
    rec.pollTimer.unref();
  }

  private deliver(rec: Rec): void {
    const notice = rec.notice;
    if (notice === undefined || rec.delivered) return;
    rec.delivered = true;
    if (rec.pollTimer !== undefined) clearTimeout(rec.pollTimer);
    rec.pollTimer = undefined;
    if (rec.killTimer !== undefined) clearTimeout(rec.killTimer);
    rec.killTimer = undefined;
    if (this.recs.get(rec.id) === rec) this.recs.delete(rec.id);
    try {
      rec.onExit(notice);
    } catch (e) {
      this.log.error({ container: rec.id, err: e }, 'onExit handler threw');
    }
    if (this.containment.needsPlacement) releaseWithRetry(this.containment, rec.id, this.sigkillDelayMs, this.log);
  }

  /** Terminate what a finished container left behind, SIGKILL after the delay. */
  private reapLeftovers(rec: Rec): void {
    this.log.warn(
      { container: rec.id, pgid: rec.pid, members: this.containment.members(rec) },
      'container exited but left processes behind: terminating them',
    );
    this.contain(rec, 'terminate');
    // Ref'd, like kill()'s escalation: it must fire even during shutdown.
    setTimeout(() => {
      if (this.groupLive(rec)) {
        this.log.warn({ container: rec.id, pgid: rec.pid }, 'leftover processes survived SIGTERM: SIGKILL');
        this.contain(rec, 'kill');
      }
    }, this.sigkillDelayMs);
  }
}
