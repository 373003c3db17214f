/**
 * The node as a whole: containers by state, capacity against what is
 * allocated and used, the queues, the store, the monitor's tick against its
 * interval, kills and transitions, memory pressure (PSI) and elastic memory
 * control. Gauges are read at the scrape; counters follow the bus from the
 * daemon's start.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ExitStatus } from '../../../state-machines/exit-status.js';
import type { ElasticMemoryStatus } from '../../monitor/elastic-memory.js';
import type { NodeReport, NodeWarden } from '../../node/nodewarden.js';
import type { Scrape } from './scrape.js';

const MB = 2 ** 20;

/** The exit statuses a kill can carry. Their series exist at 0 from the start, so rate() sees the first kill. */
const KILL_STATUSES = [
  ExitStatus.ABORTED,
  ExitStatus.PREEMPTED,
  ExitStatus.KILLED_EXCEEDED_VMEM,
  ExitStatus.KILLED_EXCEEDED_PMEM,
  ExitStatus.KILLED_BY_APPMASTER,
  ExitStatus.KILLED_BY_RESOURCEMANAGER,
  ExitStatus.KILLED_AFTER_APP_COMPLETION,
  ExitStatus.KILLED_BY_CONTAINER_SCHEDULER,
  ExitStatus.KILLED_FOR_EXCESS_LOGS,
];

export function nodeMetrics(registry: Registry, node: NodeWarden, scrape: Scrape): void {
  const registers = [registry];
  /** One gauge, one figure of the scrape's node report (null: none, the series is left out). */
  const gauge = (name: string, help: string, value: (r: NodeReport) => number | null) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.reset();
        const v = value(scrape.nodeReport);
        if (v !== null) this.set(v);
      },
    });

  new Gauge({
    name: 'nodewarden_containers',
    help: 'Containers known to the daemon, by lifecycle state',
    labelNames: ['state'],
    registers,
    collect() {
      for (const [state, n] of node.stateCounts()) this.set({ state }, n);
    },
  });

  gauge('nodewarden_node_capacity_memory_bytes', 'Memory the node offers containers (yarn.nodemanager.resource.memory-mb)', (r) => r.capacity.memoryMb * MB);
  gauge('nodewarden_node_capacity_vcores', 'Vcores the node offers containers (yarn.nodemanager.resource.cpu-vcores)', (r) => r.capacity.vcores);
  gauge('nodewarden_node_allocated_memory_bytes', 'Memory handed out to running containers: requests plus the executor allowance', (r) => r.allocated.memoryMb * MB);
  gauge('nodewarden_node_allocated_vcores', 'Vcores handed out to running containers', (r) => r.allocated.vcores);
  gauge('nodewarden_node_used_memory_bytes', 'Physical memory the containers use, as the monitor last measured it', (r) => r.utilization.pmemMb * MB);
  gauge('nodewarden_node_used_vcores', 'Vcores the containers use, as the monitor last measured it', (r) => r.utilization.vcores);
  new Gauge({
    name: 'nodewarden_queued_containers',
    help: 'Containers waiting for room, by execution type',
    labelNames: ['execution_type'],
    registers,
    collect() {
      const { queued } = scrape.nodeReport;
      this.set({ execution_type: 'GUARANTEED' }, queued.guaranteed);
      this.set({ execution_type: 'OPPORTUNISTIC' }, queued.opportunistic);
    },
  });
  gauge('nodewarden_store_writable', '1 while the database commits; 0 in a store fault (launches refused with 503)', (r) => (r.store.writable ? 1 : 0));
  gauge('nodewarden_monitor_interval_seconds', 'The monitor tick interval (yarn.nodemanager.container-monitor.interval-ms); 0 when the monitor is off', (r) =>
    r.monitor.running ? r.monitor.intervalMs / 1000 : 0,
  );

  // The node's memory pressure (PSI), read at the scrape: the averages, and the stall as a counter (cAdvisor's
  // container_pressure_memory_stalled_seconds_total, for the node).
  const pressureLines = () => {
    const p = scrape.nodeReport.pressure.memory;
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
  const elastic = (value: (s: ElasticMemoryStatus) => number | null) => (r: NodeReport) => (r.elastic === null ? null : value(r.elastic));
  gauge('nodewarden_node_memory_limit_bytes', 'The limit the containers together are held to (elastic memory control: yarn.nodemanager.resource.memory-mb)', elastic((s) => s.limitBytes));
  gauge('nodewarden_node_memory_usage_bytes', 'What the node cgroup above every container is charged (v1 memory.usage_in_bytes, v2 memory.current)', elastic((s) => s.usageBytes));
  gauge('nodewarden_node_memory_oom', '1 while the containers together are out of memory (the OOM handler is choosing), else 0', elastic((s) => (s.underOom ? 1 : 0)));
  gauge('nodewarden_node_memory_oom_unresolved', '1 while an OOM has lasted past yarn.nodemanager.elastic-memory-control.timeout-sec (degraded)', elastic((s) => (s.unresolved ? 1 : 0)));
  for (const [name, help, value] of [
    ['nodewarden_node_memory_oom_episodes_total', 'Times the containers together ran out of memory', (s: ElasticMemoryStatus) => s.episodes],
    ['nodewarden_node_memory_oom_kills_total', "Containers killed by the elastic memory control's OOM handler", (s: ElasticMemoryStatus) => s.kills],
  ] as const) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        const s = scrape.nodeReport.elastic;
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
  for (const status of KILL_STATUSES) kills.inc({ exit_status: String(status) }, 0);
  const transitions = new Counter({ name: 'nodewarden_transitions_total', help: 'Container transitions committed', registers });
  const tick = new Histogram({
    name: 'nodewarden_monitor_tick_duration_seconds',
    help: 'Duration of one ContainersMonitor tick (one procfs scan and the limit checks)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
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
