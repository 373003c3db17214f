/**
 * YARN's elastic memory control (CGroupElasticMemoryController), the shell
 * side: the node cgroup (the hierarchy above every container) is held to
 * yarn.nodemanager.resource.memory-mb, with the kernel's OOM killer off
 * there, so when the containers together fill it the kernel stops them and
 * tells us. Each notice becomes a NODE_OOM input (the node's charge and
 * each container's), journaled; the monitor machine picks one victim by
 * DefaultOOMHandler's order and the dispatcher commits the kill. Then the
 * victim's processes get SIGKILL at once (YARN's handler does the same,
 * every 10 ms until its cgroup is empty), and the node is checked again:
 * still out of memory, the next victim; one at a time.
 *
 * Unlike YARN, an OOM that lasts past the timeout does not stop the daemon:
 * it logs, reports itself degraded (/healthz, /v1/node), and goes on.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { CgroupDriver, NodeMemory } from '../containment/cgroup-driver.js';
import type { Dispatcher } from '../core/dispatcher.js';
import { ContainmentUnavailable } from '../containment/detect.js';

/** YARN's watchdog period while under OOM, and how often a victim's leftovers get SIGKILL again. */
const RECHECK_MS = 10;
/** Out of memory with nothing to kill: look again this often (the kernel may yet free something). */
const NOTHING_TO_KILL_RECHECK_MS = 1000;

export interface ElasticMemoryOptions {
  driver: Pick<CgroupDriver, 'limitHierarchyMemory' | 'hierarchyMemory' | 'watchHierarchyOom' | 'memoryUsage' | 'killNow' | 'members'>;
  core: Pick<Dispatcher, 'monitor' | 'monitorContext' | 'durable'>;
  clock: Clock;
  log: Logger;
  /** yarn.nodemanager.resource.memory-mb, in bytes. */
  limitBytes: number;
  /** yarn.nodemanager.elastic-memory-control.timeout-sec, in ms. */
  timeoutMs: number;
}

/** One stretch of time the node cgroup is out of memory. */
interface Episode {
  /** Clock time (journaled) and monotonic time (for durations) it began. */
  since: number;
  startedAt: number;
  /** The container killed last, whose processes must be gone before the next is chosen. */
  victim: string | null;
  kills: number;
  /** Past the timeout: the node is degraded until it ends. */
  unresolved: boolean;
  /** Said once per episode. */
  nothingToKillLogged: boolean;
  /** The tracked containers when the handler last found none to kill (null: it has not). */
  nothingToKillAmong: string | null;
}

/** What GET /v1/node and /healthz say of it. */
export interface ElasticMemoryStatus {
  limitBytes: number;
  usageBytes: number | null;
  /** Out of memory right now, and since when (ms since the epoch). */
  underOom: boolean;
  oomSince: number | null;
  /** Out of memory for longer than the timeout. */
  unresolved: boolean;
  /** Containers killed by the OOM handler since the start. */
  kills: number;
  /** Node OOM episodes since the start, and how long the last one took to resolve. */
  episodes: number;
  lastResolvedMs: number | null;
}

export class ElasticMemoryController {
  private episode: Episode | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopWatching: (() => void) | null = null;
  private running = false;
  private closed = false;
  private kills = 0;
  private episodes = 0;
  private lastResolvedMs: number | null = null;

  constructor(private readonly opts: ElasticMemoryOptions) {}

  /**
   * Hold the node cgroup to the limit and listen. The node is looked at once
   * at once: a daemon restarted while it was out of memory resolves it now.
   */
  start(): void {
    const { driver, log, limitBytes } = this.opts;
    try {
      // v1 refuses (EBUSY) a limit below what the containers hold and cannot give back.
      driver.limitHierarchyMemory(limitBytes);
      this.stopWatching = driver.watchHierarchyOom(
        () => this.onNotice(),
        (err) => log.error({ err }, 'elastic memory control: the kernel\'s OOM notice cannot be read; until a restart, a node OOM is not handled'),
      );
    } catch (err) {
      // Nobody would answer the kernel: give the node back to its own OOM killer before saying so.
      try {
        driver.limitHierarchyMemory(null);
      } catch {
        // the error below is the one to tell
      }
      throw new ContainmentUnavailable(
        `yarn.nodemanager.elastic-memory-control.enabled is true, but the node cgroup cannot be held to ${limitBytes} bytes and watched: ${(err as Error).message}`,
        { cause: err },
      );
    }
    log.info({ limitBytes, timeoutMs: this.opts.timeoutMs }, 'elastic memory control: the containers together are held to yarn.nodemanager.resource.memory-mb');
    this.onNotice();
  }

  status(): ElasticMemoryStatus {
    const node = this.opts.driver.hierarchyMemory();
    return {
      limitBytes: this.opts.limitBytes,
      usageBytes: node?.usageBytes ?? null,
      underOom: this.episode !== null,
      oomSince: this.episode?.since ?? null,
      unresolved: this.episode?.unresolved ?? false,
      kills: this.kills,
      episodes: this.episodes,
      lastResolvedMs: this.lastResolvedMs,
    };
  }

  /**
   * Shutdown: stop listening. The node cgroup keeps its limit and its OOM
   * killer off: containers kept running that fill it while the daemon is
   * away wait, as after a crash, and the next start resolves it.
   */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopWatching?.();
    this.stopWatching = null;
  }

  /** The kernel's notice (or a start): handle it unless a round is already under way. */
  private onNotice(): void {
    if (this.closed || this.running || this.timer) return;
    void this.round();
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.round();
    }, ms);
  }

  /** One look at the node: resolved, the last victim still dying, or the next victim. */
  private async round(): Promise<void> {
    if (this.closed || this.running) return;
    this.running = true;
    try {
      const next = await this.decide();
      if (next !== null) this.schedule(next);
    } catch (err) {
      this.opts.log.error({ err }, 'elastic memory control: handling the node OOM failed; trying again');
      this.schedule(NOTHING_TO_KILL_RECHECK_MS);
    } finally {
      this.running = false;
    }
  }

  /** What to do now; the delay before the next look, or null when the node is out of OOM. */
  private async decide(): Promise<number | null> {
    const { driver, core, clock, log } = this.opts;
    const node = driver.hierarchyMemory();
    if (node === null) {
      // Unreadable for a moment: an OOM under way is not over because we could not see it (v1 notifies once).
      return this.episode ? NOTHING_TO_KILL_RECHECK_MS : null;
    }
    if (!node.underOom || !Number.isFinite(node.limitBytes)) {
      this.resolved();
      return null;
    }
    const episode = this.begin(node);
    this.checkTimeout(episode, node);
    if (episode.victim !== null && driver.members(episode.victim).length > 0) {
      driver.killNow(episode.victim);
      return RECHECK_MS;
    }
    const tracked = [...core.monitorContext.tracking.keys()];
    // Nothing was left to kill, and nothing has started since: the same answer, not another journal record.
    if (episode.nothingToKillAmong !== null && episode.nothingToKillAmong === tracked.join('\n')) return NOTHING_TO_KILL_RECHECK_MS;
    const usages: Record<string, number> = {};
    for (const id of tracked) {
      const usage = driver.memoryUsage(id);
      if (usage !== null) usages[id] = usage;
    }
    const kills = core.monitor({ type: 'NODE_OOM', ts: clock.now(), limitBytes: node.limitBytes, usageBytes: node.usageBytes, usages });
    const kill = kills[0];
    if (kill === undefined) {
      episode.nothingToKillAmong = tracked.join('\n');
      if (!episode.nothingToKillLogged) {
        episode.nothingToKillLogged = true;
        log.error(
          { usageBytes: node.usageBytes, limitBytes: node.limitBytes },
          'elastic memory control: the node cgroup is out of memory, but no running container is left to kill (YARN: "Could not find any containers but CGroups reserved for containers ran out of memory")',
        );
      }
      return NOTHING_TO_KILL_RECHECK_MS;
    }
    // Persist before acting: the kill is committed, then signalled. During a store fault a kill does not wait.
    await core.durable().catch(() => {});
    episode.victim = kill.id;
    episode.kills++;
    this.kills++;
    driver.killNow(kill.id);
    log.warn({ container: kill.id, exitStatus: kill.exitStatus }, `container ${kill.id} killed by the elastic memory control's OOM handler`);
    return RECHECK_MS;
  }

  private begin(node: NodeMemory): Episode {
    if (this.episode === null) {
      this.episode = { since: this.opts.clock.now(), startedAt: performance.now(), victim: null, kills: 0, unresolved: false, nothingToKillLogged: false, nothingToKillAmong: null };
      this.episodes++;
      this.opts.log.warn({ usageBytes: node.usageBytes, limitBytes: node.limitBytes }, 'elastic memory control: the containers together are out of memory; the OOM handler chooses who goes');
    }
    return this.episode;
  }

  /** YARN stops the NodeManager here ("OOM was not resolved in %d ms"); we say so and go on. */
  private checkTimeout(episode: Episode, node: NodeMemory): void {
    const elapsed = performance.now() - episode.startedAt;
    if (episode.unresolved || elapsed < this.opts.timeoutMs) return;
    episode.unresolved = true;
    this.opts.log.error(
      { usageBytes: node.usageBytes, limitBytes: node.limitBytes, killed: episode.kills },
      `elastic memory control: OOM was not resolved in ${Math.round(elapsed)} ms (yarn.nodemanager.elastic-memory-control.timeout-sec); ` +
        'the node is degraded and the handler goes on killing in the same order (YARN would stop the NodeManager here)',
    );
  }

  private resolved(): void {
    const episode = this.episode;
    if (episode === null) return;
    this.episode = null;
    this.lastResolvedMs = performance.now() - episode.startedAt;
    this.opts.log.info(
      { killed: episode.kills, durationMs: Math.round(this.lastResolvedMs) },
      `elastic memory control: the node is out of OOM after ${Math.round(this.lastResolvedMs)} ms`,
    );
  }
}
