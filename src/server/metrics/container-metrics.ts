/**
 * Per container, while the monitor has figures for it (YARN ContainerMetrics:
 * kept for yarn.nodemanager.container-metrics.unregister-delay-ms after it
 * stops, then dropped, so finished containers leave the scrape).
 *
 * Two sets of names:
 * - nodewarden's own, labelled `container`;
 * - cAdvisor's (and kubelet's), labelled `id` and `name`, both the container
 *   id, so a dashboard or alert written for cAdvisor works here with a label
 *   change at most. With a cgroup the figures are the cgroup's own, as
 *   cAdvisor reads them; without one, the monitor's for the process tree.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { cpuSharesOf } from '../../containment/cgroup-limits.js';
import type { ContainerUsage } from '../../node/container-view.js';
import type { ContainerMetricFigures, NodeWarden } from '../../node/nodewarden.js';
import type { Scrape } from './scrape.js';

type Pick_ = (f: ContainerMetricFigures, clockTicks: number) => number | undefined;

export function containerMetrics(registry: Registry, node: NodeWarden, scrape: Scrape): void {
  const registers = [registry];
  const clockTicks = node.monitor.settings.host.clockTicks;

  // nodewarden's own. Undefined: not known for that container (a cgroup figure in process-group mode).
  const own = (name: string, help: string, pick: (u: ContainerUsage) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['container'],
      registers,
      collect() {
        this.reset();
        for (const { id, usage } of scrape.usages) {
          const v = pick(usage);
          if (v !== undefined) this.set({ container: id }, v);
        }
      },
    });
  own('nodewarden_container_pmem_bytes', 'Physical memory (RSS) of the container process tree', (u) => u.pmemBytes);
  own('nodewarden_container_vmem_bytes', 'Virtual memory of the container process tree', (u) => u.vmemBytes);
  own('nodewarden_container_cpu_percent', 'CPU used by the container tree, percent of one core', (u) => Math.max(u.cpuPercent, 0));
  own('nodewarden_container_milli_vcores', 'CPU used by the container tree in milli-vcores', (u) => Math.max(u.milliVcores, 0));
  // With cgroups, the cgroup's own figures, as /monitor/statistics gives them.
  own('nodewarden_container_memory_rss_bytes', "Anonymous memory the container's cgroup is charged (memory.stat total_rss; v2 anon)", (u) => u.cgroup?.rssBytes);
  own('nodewarden_container_memory_cache_bytes', "Page cache the container's cgroup is charged (total_cache; v2 file)", (u) => u.cgroup?.cacheBytes);
  own('nodewarden_container_memory_usage_bytes', "Memory the container's cgroup is charged, cache included (usage_in_bytes; v2 memory.current)", (u) => u.cgroup?.totalBytes);
  own('nodewarden_container_memory_swap_bytes', "Swap the container's cgroup uses", (u) => u.cgroup?.swapBytes);

  // cAdvisor's. Undefined: not known for that container (page cache without a cgroup).
  const cadvisor = (kind: 'gauge' | 'counter', name: string, help: string, pick: Pick_) => {
    const each = (set: (labels: { id: string; name: string }, v: number) => void) => {
      for (const f of scrape.containerFigures) {
        const v = pick(f, clockTicks);
        if (v !== undefined && Number.isFinite(v) && v >= 0) set({ id: f.id, name: f.id }, v);
      }
    };
    const labelNames = ['id', 'name'];
    if (kind === 'gauge') {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          each((l, v) => this.set(l, v));
        },
      });
    } else {
      // A counter read whole from the kernel (or the tree) at the scrape. A tree's sum falls when a child
      // exits, and a container's figures fall back from its cgroup's to its tree's once the cgroup is gone:
      // a counter never goes down, so each series keeps the highest value it has shown until it leaves.
      const shown = new Map<string, number>();
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          const present = new Set<string>();
          each((l, v) => {
            const highest = Math.max(v, shown.get(l.id) ?? 0);
            shown.set(l.id, highest);
            present.add(l.id);
            this.inc(l, highest);
          });
          for (const id of shown.keys()) if (!present.has(id)) shown.delete(id);
        },
      });
    }
  };
  const m = (f: ContainerMetricFigures) => f.figures.measure;
  cadvisor('gauge', 'container_memory_working_set_bytes', 'Memory the container needs: its charge less inactive file cache (without a cgroup, its RSS)', (f) =>
    f.cgroup ? Math.max(0, f.cgroup.memTotalBytes - f.cgroup.memInactiveFileBytes) : m(f)?.pmemBytes,
  );
  cadvisor('gauge', 'container_memory_rss', 'Anonymous memory: the cgroup\'s total_rss (v2 anon), or the tree\'s RSS', (f) => (f.cgroup ? f.cgroup.memRssBytes : m(f)?.rssBytes));
  cadvisor('gauge', 'container_memory_cache', 'Page cache charged to the container\'s cgroup', (f) => f.cgroup?.memCacheBytes);
  cadvisor('gauge', 'container_memory_usage_bytes', 'Memory charged to the container, cache included (without a cgroup, its RSS)', (f) => (f.cgroup ? f.cgroup.memTotalBytes : m(f)?.rssBytes));
  cadvisor('gauge', 'container_spec_memory_limit_bytes', 'The memory limit the monitor enforces: the request plus the executor allowance', (f) => f.figures.limits.pmemBytes);
  cadvisor('gauge', 'container_spec_cpu_shares', 'CPU shares: 1024 per vcore, 2 for an OPPORTUNISTIC container', (f) => cpuSharesOf(f.spec));
  const cpu = (which: 'user' | 'system' | 'both'): Pick_ => (f, ticks) => {
    if (f.cgroup) return which === 'user' ? f.cgroup.cpuUserSecs : which === 'system' ? f.cgroup.cpuSystemSecs : f.cgroup.cpuUserSecs + f.cgroup.cpuSystemSecs;
    const t = m(f);
    if (!t) return undefined;
    return (which === 'user' ? t.utimeTicks : which === 'system' ? t.stimeTicks : t.utimeTicks + t.stimeTicks) / ticks;
  };
  cadvisor('counter', 'container_cpu_usage_seconds_total', 'CPU time the container used, user and system', cpu('both'));
  cadvisor('counter', 'container_cpu_user_seconds_total', 'CPU time the container used in user mode', cpu('user'));
  cadvisor('counter', 'container_cpu_system_seconds_total', 'CPU time the container used in kernel mode', cpu('system'));
  cadvisor('gauge', 'container_processes', 'Processes in the container', (f) => m(f)?.processes);
  cadvisor('gauge', 'container_threads', 'Threads in the container', (f) => m(f)?.threads);
  cadvisor('counter', 'container_oom_events_total', "Times the kernel's OOM killer killed a process in the container's cgroup", (f) => (f.cgroup || f.oomKills > 0 ? f.oomKills : undefined));
}
