/**
 * GET /metrics (Prometheus text format, prom-client). A registry per daemon,
 * not prom-client's global one, so that several daemons in one process (the
 * tests) never share counters. Gauges are read from the node when scraped;
 * counters follow the bus from the moment the daemon starts.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ContainerUsage } from '../node/container-view.js';
import type { NodeWarden } from '../node/nodewarden.js';
import type { ElasticMemoryStatus } from '../monitor/elastic-memory.js';

export class ApiMetrics {
  readonly registry = new Registry();

  constructor(node: NodeWarden) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'nodewarden_' });

    new Gauge({
      name: 'nodewarden_containers',
      help: 'Containers known to the daemon, by lifecycle state',
      labelNames: ['state'],
      registers,
      collect() {
        for (const [state, n] of node.stateCounts()) this.set({ state }, n);
      },
    });

    // Per container (YARN ContainerMetrics): the monitor's last figures, kept
    // for unregister-delay-ms after the container stops, none when disabled.
    // Undefined: not known for that container (a cgroup figure in process-group mode).
    const perContainer = (name: string, help: string, pick: (u: ContainerUsage) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['container'],
        registers,
        collect() {
          this.reset();
          for (const { id, usage } of node.usages()) {
            const v = pick(usage);
            if (v !== undefined) this.set({ container: id }, v);
          }
        },
      });
    perContainer('nodewarden_container_pmem_bytes', 'Physical memory (RSS) of the container process tree', (u) => u.pmemBytes);
    perContainer('nodewarden_container_vmem_bytes', 'Virtual memory of the container process tree', (u) => u.vmemBytes);
    perContainer('nodewarden_container_cpu_percent', 'CPU used by the container tree, percent of one core', (u) => Math.max(u.cpuPercent, 0));
    perContainer('nodewarden_container_milli_vcores', 'CPU used by the container tree in milli-vcores', (u) => Math.max(u.milliVcores, 0));
    // With cgroups, the cgroup's own figures, as /monitor/statistics gives them.
    perContainer('nodewarden_container_memory_rss_bytes', 'Anonymous memory the container\'s cgroup is charged (memory.stat total_rss; v2 anon)', (u) => u.cgroup?.rssBytes);
    perContainer('nodewarden_container_memory_cache_bytes', 'Page cache the container\'s cgroup is charged (total_cache; v2 file)', (u) => u.cgroup?.cacheBytes);
    perContainer('nodewarden_container_memory_usage_bytes', 'Memory the container\'s cgroup is charged, cache included (usage_in_bytes; v2 memory.current)', (u) => u.cgroup?.totalBytes);
    perContainer('nodewarden_container_memory_swap_bytes', 'Swap the container\'s cgroup uses', (u) => u.cgroup?.swapBytes);

    // The node's memory pressure (PSI), read at the scrape: the averages, and the stall as a counter (cAdvisor's
    // container_pressure_memory_stalled_seconds_total, for the node).
    const pressureLines = () => {
      const p = node.memoryPressure();
      return (['some', 'full'] as const).flatMap((kind) => (p?.[kind] ? [{ kind, line: p[kind]! }] : []));
    };
    new Gauge({
      name: 'nodewarden_node_memory_pressure_percent',
      help: 'Share of time tasks waited for memory (PSI /proc/pressure/memory), by kind (some, full) and window (10s, 60s, 300s)',
      labelNames: ['kind', 'window'],
      registers,
      collect() {
        this.reset();
        for (const { kind, line } of pressureLines()) {
          this.set({ kind, window: '10s' }, line.avg10);
          this.set({ kind, window: '60s' }, line.avg60);
          this.set({ kind, window: '300s' }, line.avg300);
        }
      },
    });
    new Counter({
      name: 'nodewarden_node_memory_pressure_stalled_seconds_total',
      help: 'Total time tasks waited for memory (PSI total), by kind (some, full)',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const { kind, line } of pressureLines()) this.inc({ kind }, line.total / 1e6);
      },
    });

    // Elastic memory control: the node cgroup against memory-mb, and what its OOM handler did (absent when off).
    const elastic = () => node.elastic?.status() ?? null;
    const nodeGauge = (name: string, help: string, value: (s: ElasticMemoryStatus) => number | null) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.reset();
          const s = elastic();
          const v = s === null ? null : value(s);
          if (v !== null) this.set(v);
        },
      });
    nodeGauge('nodewarden_node_memory_limit_bytes', 'The limit the containers together are held to (elastic memory control: yarn.nodemanager.resource.memory-mb)', (s) => s.limitBytes);
    nodeGauge('nodewarden_node_memory_usage_bytes', 'What the node cgroup above every container is charged (v1 memory.usage_in_bytes, v2 memory.current)', (s) => s.usageBytes);
    nodeGauge('nodewarden_node_memory_oom', '1 while the containers together are out of memory (the OOM handler is choosing), else 0', (s) => (s.underOom ? 1 : 0));
    nodeGauge('nodewarden_node_memory_oom_unresolved', '1 while an OOM has lasted past yarn.nodemanager.elastic-memory-control.timeout-sec (degraded)', (s) => (s.unresolved ? 1 : 0));
    for (const [name, help, value] of [
      ['nodewarden_node_memory_oom_episodes_total', 'Times the containers together ran out of memory', (s: ElasticMemoryStatus) => s.episodes],
      ['nodewarden_node_memory_oom_kills_total', 'Containers killed by the elastic memory control\'s OOM handler', (s: ElasticMemoryStatus) => s.kills],
    ] as const) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          const s = elastic();
          if (s !== null) this.inc(value(s));
        },
      });
    }

    const kills = new Counter({
      name: 'nodewarden_container_kills_total',
      help: 'Containers killed (KILL_CONTAINER taken), by YARN exit status',
      labelNames: ['exit_status'],
      registers,
    });
    const transitions = new Counter({ name: 'nodewarden_transitions_total', help: 'Container transitions committed', registers });
    const tick = new Histogram({
      name: 'nodewarden_monitor_tick_duration_seconds',
      help: 'Duration of one ContainersMonitor tick (one procfs scan and the limit checks)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });

    node.bus.on('transitions', (rows) => {
      transitions.inc(rows.length);
      for (const r of rows) {
        if (r.event.type === 'KILL_CONTAINER' && r.from !== r.to) kills.inc({ exit_status: String(r.event.exitStatus) });
      }
    });
    node.bus.on('monitorTick', ({ durationMs }) => tick.observe(durationMs / 1000));
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
