/**
 * The configuration keys of SPEC §2: one row per key with its kind, default and
 * validation. load.ts is generic over this table; adding a key means adding a
 * row here and, if the code reads it, a field in types.ts.
 */
import { parseListenAddress } from './listen-address.js';

export type ConfigKind = 'boolean' | 'integer' | 'number' | 'string';
export type ConfigValue = boolean | number | string;

interface BaseSpec {
  readonly name: string;
  /** Key whose resolved value is used when this key is set nowhere (then no default). */
  readonly fallback?: string;
  /** What a valid value looks like, for error messages ("a number ≥ 1.0"). */
  readonly expected: string;
}

export interface BooleanSpec extends BaseSpec {
  readonly kind: 'boolean';
  readonly default?: boolean;
}

/** 'integer' and 'number' keys share a shape; 'integer' also rejects fractions. */
export interface NumericSpec extends BaseSpec {
  readonly kind: 'integer' | 'number';
  readonly default?: number;
  /** Range check on the parsed value. */
  readonly valid?: (value: number) => boolean;
  /** Maps a valid value to the one in force, e.g. -1 → the default capacity. */
  readonly normalize?: (value: number) => number;
}

export interface StringSpec extends BaseSpec {
  readonly kind: 'string';
  readonly default?: string;
  readonly valid?: (value: string) => boolean;
}

export type KeySpec = BooleanSpec | NumericSpec | StringSpec;

// Small constructors so that the table below reads like SPEC §2.

function bool(name: string, def: boolean): BooleanSpec {
  return { name, kind: 'boolean', default: def, expected: 'true or false' };
}

function nonNegativeInt(name: string, def: number | undefined, fallback?: string): NumericSpec {
  return {
    name,
    kind: 'integer',
    default: def,
    fallback,
    expected: 'a non-negative integer',
    valid: (v) => v >= 0,
  };
}

function positiveInt(name: string, def: number): NumericSpec {
  return { name, kind: 'integer', default: def, expected: 'a positive integer', valid: (v) => v > 0 };
}

/** Node capacity: a positive integer, or -1 for the built-in default (YARN's convention). */
function capacity(name: string, def: number): NumericSpec {
  return {
    name,
    kind: 'integer',
    default: def,
    expected: 'a positive integer, or -1 for the default',
    valid: (v) => v > 0 || v === -1,
    normalize: (v) => (v === -1 ? def : v),
  };
}

export const RESOURCE_MONITOR_INTERVAL = 'yarn.nodemanager.resource-monitor.interval-ms';
export const CONTAINER_MONITOR_INTERVAL = 'yarn.nodemanager.container-monitor.interval-ms';

export const KEYS: readonly KeySpec[] = [
  bool('yarn.nodemanager.container-monitor.enabled', true),
  nonNegativeInt(CONTAINER_MONITOR_INTERVAL, undefined, RESOURCE_MONITOR_INTERVAL),
  nonNegativeInt(RESOURCE_MONITOR_INTERVAL, 3000),
  bool('yarn.nodemanager.pmem-check-enabled', true),
  bool('yarn.nodemanager.vmem-check-enabled', true),
  {
    name: 'yarn.nodemanager.vmem-pmem-ratio',
    kind: 'number',
    default: 2.1,
    expected: 'a number ≥ 1.0',
    valid: (v) => v >= 1.0,
  },
  capacity('yarn.nodemanager.resource.memory-mb', 8192),
  capacity('yarn.nodemanager.resource.cpu-vcores', 8),
  {
    name: 'yarn.nodemanager.resource.percentage-physical-cpu-limit',
    kind: 'integer',
    default: 100,
    expected: 'an integer from 1 to 100',
    valid: (v) => v >= 1 && v <= 100,
  },
  nonNegativeInt('yarn.nodemanager.sleep-delay-before-sigkill.ms', 250),
  bool('yarn.nodemanager.container-monitor.procfs-tree.smaps-based-rss.enabled', false),
  bool('yarn.nodemanager.container-log-monitor.enable', false),
  nonNegativeInt('yarn.nodemanager.container-log-monitor.interval-ms', 60000),
  nonNegativeInt('yarn.nodemanager.container-log-monitor.dir-size-limit-bytes', 1_000_000_000),
  nonNegativeInt('yarn.nodemanager.container-log-monitor.total-size-limit-bytes', 10_000_000_000),
  nonNegativeInt('yarn.nodemanager.container-diagnostics-maximum-size', 10000),
  bool('yarn.nodemanager.container-metrics.enable', true),
  nonNegativeInt('yarn.nodemanager.container-metrics.unregister-delay-ms', 10000),
  bool('yarn.nodemanager.recovery.enabled', true),
  bool('yarn.nodemanager.recovery.supervised', true),
  nonNegativeInt('yarn.nodemanager.container-executor.exit-code-file.timeout-ms', 2000),
  nonNegativeInt('yarn.nodemanager.opportunistic-containers-max-queue-length', 0),
  {
    name: 'nodewarden.executor.allowance.cpus',
    kind: 'number',
    default: 0.1,
    expected: 'a number ≥ 0',
    valid: (v) => v >= 0,
  },
  nonNegativeInt('nodewarden.executor.allowance.memory-mb', 32),
  // Prometheus over TCP: GET /metrics and /healthz only, never the write API. Empty: off.
  {
    name: 'nodewarden.metrics.address',
    kind: 'string',
    default: '',
    expected: 'HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464), or empty for none',
    valid: (v) => v === '' || parseListenAddress(v) !== null,
  },
  // Sharing the socket (SO_PEERCRED): a group that may connect, and one whose members administer the node.
  {
    name: 'nodewarden.socket.group',
    kind: 'string',
    default: '',
    expected: 'a group name, or empty (the socket stays the daemon user\'s own)',
    valid: (v) => v === '' || /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(v),
  },
  {
    name: 'nodewarden.socket.admin-group',
    kind: 'string',
    default: '',
    expected: 'a group name, or empty (only root and the daemon\'s own user administer the node)',
    valid: (v) => v === '' || /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(v),
  },
  // YARN's non-secure mode: a container an administrator launches without naming a user runs as local-user.
  bool('yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users', false),
  {
    name: 'yarn.nodemanager.linux-container-executor.nonsecure-mode.local-user',
    kind: 'string',
    default: 'nobody',
    expected: 'a login name',
    valid: (v) => /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(v),
  },
  // Per-user limits on a shared socket (0: none), counted over each user's containers not yet DONE.
  nonNegativeInt('nodewarden.user-limits.max-containers', 0),
  nonNegativeInt('nodewarden.user-limits.max-memory-mb', 0),
  {
    name: 'nodewarden.procfs.root',
    kind: 'string',
    default: '/proc',
    expected: 'a non-empty path',
    valid: (v) => v.length > 0,
  },
  {
    name: 'nodewarden.journal.retention-hours',
    kind: 'number',
    default: 24,
    expected: 'a number > 0',
    valid: (v) => v > 0,
  },
  // How often the pruner checkpoints and cuts: the journal holds the window plus at most one interval.
  {
    name: 'nodewarden.journal.prune-interval-ms',
    kind: 'number',
    default: 0,
    expected: 'an integer ≥ 0 (0: a quarter of the retention window, at most an hour)',
    valid: (v) => Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1,
  },
  // Containment (SPEC §10): cgroups as YARN's LinuxContainerExecutor and Mesos use them.
  {
    name: 'nodewarden.cgroups.enabled',
    kind: 'string',
    // auto: cgroups wherever the daemon can have them (root, controllers mounted), process groups elsewhere.
    default: 'auto',
    expected: 'auto, true or false',
    valid: (v) => v === 'auto' || v === 'true' || v === 'false',
  },
  {
    name: 'yarn.nodemanager.linux-container-executor.cgroups.hierarchy',
    kind: 'string',
    default: '/nodewarden',
    expected: 'one cgroup name (a leading / is allowed, as in YARN)',
    valid: (v) => /^\/?[A-Za-z0-9._-]+$/.test(v) && v.replace(/^\//, '') !== '.' && v.replace(/^\//, '') !== '..',
  },
  nonNegativeInt('nodewarden.cgroups.pids-max', 4096),
  // YARN's CGroupsCpuResourceHandlerImpl: a CFS quota per container from its vcores.
  bool('yarn.nodemanager.linux-container-executor.cgroups.strict-resource-usage', false),
  // YARN's CGroupsMemoryResourceHandlerImpl (strict memory in the kernel).
  bool('yarn.nodemanager.resource.memory.enabled', false),
  bool('yarn.nodemanager.resource.memory.enforced', true),
  {
    name: 'yarn.nodemanager.resource.memory.cgroups.soft-limit-percentage',
    kind: 'number',
    default: 90,
    expected: 'a number from 0 to 100',
    valid: (v) => v >= 0 && v <= 100,
  },
  {
    name: 'yarn.nodemanager.resource.memory.cgroups.swappiness',
    kind: 'integer',
    default: 0,
    expected: 'an integer from 0 to 100',
    valid: (v) => v >= 0 && v <= 100,
  },
  // YARN's elastic memory control (CGroupElasticMemoryController): the containers together held to memory-mb, and our OOM handler picks who goes.
  bool('yarn.nodemanager.elastic-memory-control.enabled', false),
  positiveInt('yarn.nodemanager.elastic-memory-control.timeout-sec', 5),
  // Ours: preempt before the kernel's OOM killer when memory pressure (PSI some avg10) stays high. 0: off.
  {
    name: 'nodewarden.memory-pressure.preempt-threshold-percent',
    kind: 'number',
    default: 0,
    expected: 'a percentage from 0 (off) to 100',
    valid: (v) => v >= 0 && v <= 100,
  },
  positiveInt('nodewarden.memory-pressure.preempt-after-ms', 10_000),
  // The kernel's OOM order (kubelet's --oom-score-adj): the daemon's own oom_score_adj, so it goes last.
  {
    name: 'nodewarden.oom-score-adj',
    kind: 'integer',
    default: -999,
    expected: 'an integer from -1000 to 1000',
    valid: (v) => v >= -1000 && v <= 1000,
  },
  // Bounds that keep a long-running daemon's memory and disk in check.
  positiveInt('nodewarden.containers.max-known', 10000),
  positiveInt('nodewarden.containers.max-queued', 1000),
  nonNegativeInt('nodewarden.containers.finished-retention-ms', 3 * 3_600_000),
  // The run-as checks of YARN's container-executor.cfg (min.user.id, banned.users).
  nonNegativeInt('nodewarden.container-executor.min-user-id', 1000),
  {
    name: 'nodewarden.container-executor.banned-users',
    kind: 'string',
    default: 'hdfs,yarn,mapred,bin',
    expected: 'comma-separated user names (may be empty)',
    valid: (v) => /^[A-Za-z0-9_.,-]*$/.test(v.replaceAll(' ', '')),
  },
];

export const KEYS_BY_NAME: ReadonlyMap<string, KeySpec> = new Map(KEYS.map((k) => [k.name, k]));
