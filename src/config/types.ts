import type { ListenAddress } from './listen-address.js';
import type { CgroupsSetting } from '../containment/detect.js';

/**
 * The daemon's configuration, as the code reads it. Every field comes from one
 * key of SPEC §2 (named in the comment); `effective` keeps the flat key → value
 * map that was in force, for the journal header and GET /v1/node.
 */
export interface Config {
  monitor: {
    /** yarn.nodemanager.container-monitor.enabled (and interval > 0) */
    enabled: boolean;
    /** yarn.nodemanager.container-monitor.interval-ms, else resource-monitor.interval-ms */
    intervalMs: number;
    /** yarn.nodemanager.pmem-check-enabled */
    pmemCheckEnabled: boolean;
    /** yarn.nodemanager.vmem-check-enabled */
    vmemCheckEnabled: boolean;
    /** yarn.nodemanager.vmem-pmem-ratio (≥ 1.0) */
    vmemPmemRatio: number;
    /** yarn.nodemanager.container-monitor.procfs-tree.smaps-based-rss.enabled */
    smapsBasedRss: boolean;
    /** nodewarden.procfs.root */
    procfsRoot: string;
    /** yarn.nodemanager.container-metrics.enable */
    containerMetricsEnabled: boolean;
    /** yarn.nodemanager.container-metrics.unregister-delay-ms */
    containerMetricsUnregisterDelayMs: number;
  };
  logMonitor: {
    /** yarn.nodemanager.container-log-monitor.enable */
    enabled: boolean;
    /** yarn.nodemanager.container-log-monitor.interval-ms */
    intervalMs: number;
    /** yarn.nodemanager.container-log-monitor.dir-size-limit-bytes */
    dirSizeLimitBytes: number;
    /** yarn.nodemanager.container-log-monitor.total-size-limit-bytes */
    totalSizeLimitBytes: number;
  };
  node: {
    /** yarn.nodemanager.resource.memory-mb (-1 → 8192) */
    memoryMb: number;
    /** yarn.nodemanager.resource.cpu-vcores (-1 → 8) */
    vcores: number;
    /** yarn.nodemanager.resource.percentage-physical-cpu-limit (1..100) */
    cpuLimitPercent: number;
  };
  /** The Mesos command-executor allowance added to every container's limits. */
  allowance: {
    /** nodewarden.executor.allowance.cpus */
    cpus: number;
    /** nodewarden.executor.allowance.memory-mb */
    memoryMb: number;
  };
  /** yarn.nodemanager.sleep-delay-before-sigkill.ms */
  sigkillDelayMs: number;
  /** yarn.nodemanager.container-diagnostics-maximum-size */
  diagnosticsMaxSize: number;
  /** yarn.nodemanager.opportunistic-containers-max-queue-length */
  opportunisticQueueLength: number;
  recovery: {
    /** yarn.nodemanager.recovery.enabled */
    enabled: boolean;
    /** yarn.nodemanager.recovery.supervised */
    supervised: boolean;
    /** yarn.nodemanager.container-executor.exit-code-file.timeout-ms */
    exitCodeFileTimeoutMs: number;
  };
  journal: {
    /** nodewarden.journal.retention-hours */
    retentionHours: number;
    /** nodewarden.journal.prune-interval-ms (0: a quarter of the window, at most an hour). */
    pruneIntervalMs: number;
  };
  limits: {
    /** nodewarden.containers.max-known: containers the daemon knows at once, finished ones included. */
    maxKnown: number;
    /** nodewarden.containers.max-queued: containers not started yet (queued by the scheduler, or still NEW or LOCALIZING), opportunistic ones included (they also have their own queue length). */
    maxQueued: number;
    /** nodewarden.containers.finished-retention-ms: a DONE container is forgotten, directory and all, this long after it finished. */
    finishedRetentionMs: number;
  };
  /** nodewarden.metrics.address: where Prometheus scrapes over TCP (null: nowhere, the socket only). */
  metricsAddress: ListenAddress | null;
  access: AccessConfig;
  /** The node under memory pressure: YARN's elastic memory control, and our early preemption on PSI. */
  memoryPressure: {
    /** yarn.nodemanager.elastic-memory-control.enabled: the hierarchy is held to memory-mb and the daemon's OOM handler decides */
    elastic: boolean;
    /** yarn.nodemanager.elastic-memory-control.timeout-sec: an OOM not resolved in this long makes the node degraded */
    elasticTimeoutSec: number;
    /** nodewarden.memory-pressure.preempt-threshold-percent: PSI memory `some avg10` at which to preempt; 0 is off */
    preemptThresholdPercent: number;
    /** nodewarden.memory-pressure.preempt-after-ms: how long pressure stays over the threshold before each preemption */
    preemptAfterMs: number;
  };
  /** nodewarden.oom-score-adj: the daemon's own oom_score_adj (containers get theirs by execution type). */
  oomScoreAdj: number;
  /** Containment: cgroups or process groups (SPEC §10). */
  cgroups: {
    /** nodewarden.cgroups.enabled: auto (when root and the controllers are there), true (required), false */
    enabled: CgroupsSetting;
    /** yarn.nodemanager.linux-container-executor.cgroups.hierarchy, without YARN's leading slash */
    hierarchy: string;
    /** nodewarden.cgroups.pids-max: pids.max per container; 0 for none */
    pidsMax: number;
    /** yarn.nodemanager.linux-container-executor.cgroups.strict-resource-usage: a CFS quota per container from its vcores */
    strictCpu: boolean;
    /** YARN's strict memory in the kernel (CGroupsMemoryResourceHandlerImpl). */
    memory: {
      /** yarn.nodemanager.resource.memory.enabled: the hard limit is the container's limit, not the 2× backstop */
      enabled: boolean;
      /** yarn.nodemanager.resource.memory.enforced: false writes no memory limit at all */
      enforced: boolean;
      /** yarn.nodemanager.resource.memory.cgroups.soft-limit-percentage (GUARANTEED) */
      softLimitPercent: number;
      /** yarn.nodemanager.resource.memory.cgroups.swappiness (GUARANTEED; OPPORTUNISTIC gets 100) */
      swappiness: number;
    };
  };
  /** Who a container may run as (YARN container-executor.cfg). */
  runAs: {
    /** nodewarden.container-executor.min-user-id (YARN min.user.id) */
    minUserId: number;
    /** nodewarden.container-executor.banned-users (YARN banned.users) */
    bannedUsers: string[];
  };
  /** Flat key → value map in force after defaults, files and --set (values typed). */
  effective: Record<string, string | number | boolean>;
}

/** YARN NodeManager: containers outlive the daemon only when recovery is enabled and the daemon is supervised. */
export function keepsContainersOnShutdown(config: Config): boolean {
  return config.recovery.enabled && config.recovery.supervised;
}

/** Who may use the socket, and as whom their containers run (callers known by SO_PEERCRED). */
export interface AccessConfig {
  /** nodewarden.socket.group: the socket is 0660 root:<group> (null: the daemon user's own). */
  socketGroup: string | null;
  /** nodewarden.socket.admin-group: its members see and control every container, as root does. */
  adminGroup: string | null;
  /** yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users: an administrator's container that names no user runs as localUser. */
  limitUsers: boolean;
  /** yarn.nodemanager.linux-container-executor.nonsecure-mode.local-user */
  localUser: string;
  /** Per user, over their containers not yet DONE; enforced on the launches of callers who do not administer the node (0: no limit). */
  perUser: {
    /** nodewarden.user-limits.max-containers */
    maxContainers: number;
    /** nodewarden.user-limits.max-memory-mb: the sum of their requests' memoryMb */
    maxMemoryMb: number;
  };
}
