/**
 * The shell around the ContainersMonitor machine (which lives in the core):
 * turns the container machines' START/STOP_MONITORING effects into monitor
 * inputs, and runs the tick (one procfs scan for all trees) and the
 * log-monitor tick on their intervals. The core journals each input, and
 * dispatches the kills the machine decides as KILL_CONTAINER — committed
 * before the process group is signalled, like any other kill.
 *
 * It also keeps what the API shows: each container's latest usage and Mesos
 * statistics, and node utilization. A finished container's figures stay for
 * yarn.nodemanager.container-metrics.unregister-delay-ms (YARN ContainerMetrics).
 */
import type { Logger } from 'pino';
import {
  mayExceedLimit,
  type MonitorEvent,
  type MonitorKill,
  type MonitorSettings,
  type NodeUtilization,
  type OomNotice,
  type RecordedUsage,
  type TreeMeasure,
} from '../../state-machines/containers-monitor.js';
import type { ContainerLimits } from '../../state-machines/limits.js';
import type { ContainerEffect } from '../../state-machines/types.js';
import type { Bus } from '../bus.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/types.js';
import type { Dispatcher } from '../core/dispatcher.js';
import { containerPaths } from '../launcher/container-paths.js';
import type { Pressure } from '../procfs/pressure.js';
import { logDirSize } from './log-dir-size.js';
import type { Containment } from '../containment/containment.js';
import { TreeSampler } from './tree-sampler.js';

/** Mesos `/monitor/statistics` entry (SPEC §6). */
export interface MesosStatistics {
  executor_id: string;
  executor_name: string;
  framework_id: string;
  source: string;
  statistics: {
    timestamp: number;
    cpus_limit: number;
    cpus_user_time_secs: number;
    cpus_system_time_secs: number;
    mem_limit_bytes: number;
    mem_rss_bytes: number;
    mem_total_bytes: number;
    processes: number;
    threads: number;
    // In a cgroup, as Mesos's cgroups isolators report them:
    mem_cache_bytes?: number;
    mem_mapped_file_bytes?: number;
    mem_swap_bytes?: number;
    /** CFS throttling, when a quota is set. */
    cpus_nr_periods?: number;
    cpus_nr_throttled?: number;
    cpus_throttled_time_secs?: number;
  };
}

/** What the monitor last knew of a container. */
export interface ContainerFigures {
  id: string;
  pid: number;
  limits: ContainerLimits;
  measure: TreeMeasure | null;
  usage: RecordedUsage | null;
  /** When monitoring stopped; the figures are dropped unregister-delay-ms later. */
  finishedAt: number | null;
}

export interface ContainersMonitorOptions {
  config: Config;
  core: Dispatcher;
  bus: Bus;
  clock: Clock;
  log: Logger;
  workDir: string;
  /** Who a container's processes are (its cgroup's members); default: its process tree. */
  containment?: Pick<Containment, 'monitoredMembers' | 'stats' | 'oom'>;
  /** The node's memory pressure now, for the early action (absent: none read). */
  memoryPressure?: () => Pressure | null;
}

export class ContainersMonitor {
  readonly settings: MonitorSettings;
  private readonly sampler: TreeSampler;
  private readonly figures = new Map<string, ContainerFigures>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unregisterTimers = new Set<NodeJS.Timeout>();
  /** Which timers run: the monitor's and the log monitor's. */
  readonly running = { monitor: false, logMonitor: false };
  private ticks = 0;
  private closed = false;

  constructor(private readonly opts: ContainersMonitorOptions) {
    const { config } = opts;
    this.settings = opts.core.monitorSettings;
    const { containment } = opts;
    this.sampler = new TreeSampler({
      procfsRoot: config.monitor.procfsRoot,
      smapsBasedRss: config.monitor.smapsBasedRss,
      ...(containment ? { membersOf: (id: string) => containment.monitoredMembers(id) } : {}),
      log: opts.log,
    });
    opts.bus.on('effect', ({ id, effect }) => this.onEffect(id, effect));
  }

  /** Start the tick timers (when monitoring, and the log monitor, are enabled with an interval > 0). */
  start(): void {
    const { monitor, logMonitor } = this.opts.config;
    if (monitor.enabled && monitor.intervalMs > 0) {
      this.every(monitor.intervalMs, 'tick', () => this.tick());
      this.running.monitor = true;
      this.opts.log.info(
        { intervalMs: monitor.intervalMs, pmemCheck: monitor.pmemCheckEnabled, vmemCheck: monitor.vmemCheckEnabled, procfsRoot: monitor.procfsRoot },
        'containers monitor started',
      );
    } else {
      this.opts.log.info('containers monitor disabled: no usage figures and no memory kills');
    }
    if (logMonitor.enabled && logMonitor.intervalMs > 0) {
      this.every(logMonitor.intervalMs, 'log tick', () => this.logTick());
      this.running.logMonitor = true;
      this.opts.log.info({ intervalMs: logMonitor.intervalMs, dirSizeLimitBytes: logMonitor.dirSizeLimitBytes }, 'container log monitor started');
    }
  }

  /** One monitor interval: one procfs scan, every tracked tree, the limit check. */
  tick(): MonitorKill[] {
    const started = performance.now();
    const { tracking } = this.opts.core.monitorContext;
    const roots = new Map<string, number>();
    for (const [id, t] of tracking) roots.set(id, t.pid);
    const samples = this.sampler.sample(roots);
    const oom = this.oomNotices(roots.keys());
    // Only a tree over a limit (or stopped by the kernel) can be killed, and only a kill shows command lines.
    for (const [id, tree] of Object.entries(samples)) {
      if (oom?.[id] !== undefined || mayExceedLimit(this.settings, tracking.get(id)!.limits, tree)) this.sampler.addCommandLines(tree);
    }
    // The node's memory pressure, an input like the samples, only when the early action may use it.
    const pressure = this.settings.pressure.thresholdPercent > 0 ? (this.opts.memoryPressure?.() ?? null) : null;
    const kills = this.send({ type: 'TICK', ts: this.opts.clock.now(), samples, ...(oom ? { oom } : {}), ...(pressure ? { pressure } : {}) });
    this.refreshFigures();
    this.ticks++;
    this.opts.bus.emit('monitorTick', { durationMs: performance.now() - started, containers: roots.size });
    return kills;
  }

  /** The containers the kernel stopped at their cgroup's memory limit (undefined: none). */
  private oomNotices(ids: Iterable<string>): Record<string, OomNotice> | undefined {
    let out: Record<string, OomNotice> | undefined;
    for (const id of ids) {
      const n = this.opts.containment?.oom(id) ?? null;
      if (n !== null) (out ??= {})[id] = n;
    }
    return out;
  }

  /** Whether the kernel has stopped this container at its cgroup's memory limit. */
  oomKilled(id: string): boolean {
    return (this.opts.containment?.oom(id) ?? null) !== null;
  }

  /** One log-monitor interval: the size of each tracked container's log directory. */
  logTick(): MonitorKill[] {
    const logDirs: Record<string, Array<{ dir: string; bytes: number }>> = {};
    for (const id of this.opts.core.monitorContext.tracking.keys()) {
      const dir = containerPaths(this.opts.workDir, id).logDir;
      logDirs[id] = [{ dir, bytes: logDirSize(dir) }];
    }
    return this.send({ type: 'LOG_TICK', ts: this.opts.clock.now(), logDirs });
  }

  /** The container's latest recorded usage and tree figures, while known. */
  figuresOf(id: string): ContainerFigures | undefined {
    return this.figures.get(id);
  }

  utilization(): NodeUtilization {
    return this.opts.core.monitorContext.utilization;
  }

  /** Ticks run since the start. */
  tickCount(): number {
    return this.ticks;
  }

  /** Mesos `/monitor/statistics`: one entry per tracked container that has been sampled. */
  statistics(): MesosStatistics[] {
    const out: MesosStatistics[] = [];
    const { clockTicks } = this.settings.host;
    for (const t of this.opts.core.monitorContext.tracking.values()) {
      const m = t.measure;
      if (m === null) continue;
      const entry = this.opts.core.get(t.id);
      const statistics: MesosStatistics['statistics'] = {
        timestamp: m.timestamp / 1000,
        cpus_limit: t.limits.cpus,
        cpus_user_time_secs: m.utimeTicks / clockTicks,
        cpus_system_time_secs: m.stimeTicks / clockTicks,
        mem_limit_bytes: t.limits.pmemBytes,
        mem_rss_bytes: m.pmemBytes,
        mem_total_bytes: m.rssBytes,
        processes: m.processes,
        threads: m.threads,
      };
      // In a cgroup, memory and CPU come from its own files, read now, as Mesos reads them; the counts stay the tick's members.
      const cg = this.opts.containment?.stats(t.id) ?? null;
      if (cg !== null) {
        Object.assign(statistics, {
          timestamp: this.opts.clock.now() / 1000,
          cpus_user_time_secs: cg.cpuUserSecs,
          cpus_system_time_secs: cg.cpuSystemSecs,
          mem_rss_bytes: cg.memRssBytes,
          mem_total_bytes: cg.memTotalBytes,
          mem_cache_bytes: cg.memCacheBytes,
          mem_mapped_file_bytes: cg.memMappedFileBytes,
          mem_swap_bytes: cg.memSwapBytes,
          ...(cg.throttling
            ? { cpus_nr_periods: cg.throttling.periods, cpus_nr_throttled: cg.throttling.throttled, cpus_throttled_time_secs: cg.throttling.throttledSecs }
            : {}),
        });
      }
      out.push({ executor_id: t.id, executor_name: entry ? entry.spec.command.join(' ') : '', framework_id: 'default', source: t.id, statistics });
    }
    return out;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const t of this.unregisterTimers) clearTimeout(t);
    this.unregisterTimers.clear();
    this.sampler.close();
  }

  private onEffect(id: string, effect: ContainerEffect): void {
    if (this.closed) return;
    const ts = this.opts.clock.now();
    if (effect.type === 'START_MONITORING') {
      const entry = this.opts.core.get(id);
      if (!entry) return;
      this.send({ type: 'START_MONITORING', ts, id, pid: effect.pid, resources: entry.spec.resources, executionType: entry.spec.executionType });
      const t = this.opts.core.monitorContext.tracking.get(id)!;
      this.figures.set(id, { id, pid: t.pid, limits: t.limits, measure: null, usage: null, finishedAt: null });
      this.opts.log.info({ container: id, pid: effect.pid, limits: t.limits }, 'starting resource-monitoring');
    } else if (effect.type === 'STOP_MONITORING') {
      this.send({ type: 'STOP_MONITORING', ts, id });
      this.finish(id, ts);
    }
  }

  private send(event: MonitorEvent): MonitorKill[] {
    const kills = this.opts.core.monitor(event);
    for (const kill of kills) {
      this.opts.log.warn({ container: kill.id, exitStatus: kill.exitStatus }, kill.diagnostics);
      // The killed container is no longer tracked: its figures keep the usage that killed it.
      const f = this.figures.get(kill.id);
      if (f && kill.usage) f.usage = kill.usage;
      if (f && kill.measure) f.measure = kill.measure;
    }
    return kills;
  }

  /** setInterval, with the period capped where Node's timers can hold it (2^31 − 1 ms). */
  private every(ms: number, what: string, run: () => void): void {
    this.timers.push(setInterval(() => this.guard(what, run), Math.min(ms, 2 ** 31 - 1)));
  }

  private refreshFigures(): void {
    for (const t of this.opts.core.monitorContext.tracking.values()) {
      const f = this.figures.get(t.id);
      if (f === undefined) continue;
      f.limits = t.limits;
      // The last figures stay once the tree is gone (a kill): what a final scrape shows until the unregister delay.
      f.measure = t.measure ?? f.measure;
      f.usage = t.usage ?? f.usage;
    }
  }

  /** Keep the figures for the unregister delay (0 when container metrics are off). */
  private finish(id: string, ts: number): void {
    const f = this.figures.get(id);
    if (f === undefined || f.finishedAt !== null) return;
    f.finishedAt = ts;
    const { containerMetricsEnabled, containerMetricsUnregisterDelayMs } = this.opts.config.monitor;
    if (!containerMetricsEnabled || containerMetricsUnregisterDelayMs <= 0) {
      this.figures.delete(id);
      return;
    }
    const timer = setTimeout(() => {
      this.unregisterTimers.delete(timer);
      if (this.figures.get(id) === f) this.figures.delete(id);
    }, Math.min(containerMetricsUnregisterDelayMs, 2 ** 31 - 1));
    timer.unref();
    this.unregisterTimers.add(timer);
  }

  private guard(what: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      this.opts.log.error({ err }, `containers monitor ${what} failed; it will run again next interval`);
    }
  }
}
