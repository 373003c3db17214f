/** The container view of SPEC §6: what the API, the CLI and tests see of a container. */
import type { CallerRecord } from './caller.js';
import os from 'node:os';
import { containerLimits as limitsOf } from '../../state-machines/limits.js';
import type { RecordedUsage } from '../../state-machines/containers-monitor.js';
import type { ContainerState, ExecutionType, LocalResource, Resources, RetryPolicy } from '../../state-machines/types.js';
import type { Config } from '../config/types.js';
import type { ContainerEntry } from '../core/dispatcher.js';
import { containerPaths } from '../launcher/container-paths.js';

/** What a container's cgroup charges it for, read when asked (Mesos's memory figures; SPEC §10). */
export interface CgroupMemory {
  /** memory.stat total_rss (v2: anon), Mesos mem_rss_bytes. */
  rssBytes: number;
  /** total_cache (v2: file). */
  cacheBytes: number;
  /** memory.usage_in_bytes (v2: memory.current), Mesos mem_total_bytes: what the kernel's limit is held against. */
  totalBytes: number;
  swapBytes: number;
}

/**
 * The monitor's last recorded usage (YARN recordUsage); null until a tick has
 * measured CPU. With cgroups, `cgroup` adds the cgroup's own memory figures.
 */
export type ContainerUsage = RecordedUsage & { cgroup?: CgroupMemory };

/** Containers that name no user run as the daemon's. */
const DAEMON_USER = os.userInfo().username;

export interface ContainerView {
  id: string;
  state: ContainerState;
  pid: number | null;
  exitStatus: number;
  exitCode: number;
  diagnostics: string;
  /** The request as launched (beyond SPEC §6's view: what `nodewarden show` tells). */
  command: string[];
  env: Record<string, string>;
  localResources: LocalResource[];
  retryPolicy: RetryPolicy;
  /** Who it runs as: the request's `user`, else the daemon's own user. */
  user: string;
  resources: Resources;
  /** Enforced limits: the request plus the executor allowance. */
  limits: { pmemBytes: number; vmemBytes: number; cpus: number };
  executionType: ExecutionType;
  usage: ContainerUsage | null;
  /** Who launched it, and who asked for its kill, as the kernel said (SO_PEERCRED); null: the daemon itself, or not known. */
  launchedBy: CallerRecord | null;
  killedBy: CallerRecord | null;
  createdAt: number;
  updatedAt: number;
  workDir: string;
  logDir: string;
}

export function containerLimits(resources: Resources, config: Config): ContainerView['limits'] {
  return limitsOf(resources, { vmemPmemRatio: config.monitor.vmemPmemRatio, allowance: config.allowance });
}

export function containerView(entry: ContainerEntry, config: Config, workDir: string, usage: ContainerUsage | null = null): ContainerView {
  const { context } = entry.actor;
  const paths = containerPaths(workDir, entry.spec.id);
  return {
    id: entry.spec.id,
    state: entry.actor.state,
    pid: context.pid,
    exitStatus: context.exitStatus,
    exitCode: context.exitCode,
    diagnostics: context.diagnostics,
    command: entry.spec.command,
    env: entry.spec.env,
    localResources: entry.spec.localResources,
    retryPolicy: entry.spec.retryPolicy,
    user: entry.spec.user ?? DAEMON_USER,
    resources: entry.spec.resources,
    limits: containerLimits(entry.spec.resources, config),
    executionType: entry.spec.executionType,
    usage:
      usage === null
        ? null
        : {
            pmemBytes: usage.pmemBytes,
            vmemBytes: usage.vmemBytes,
            cpuPercent: usage.cpuPercent,
            milliVcores: usage.milliVcores,
            timestamp: usage.timestamp,
            ...(usage.cgroup ? { cgroup: usage.cgroup } : {}),
          },
    launchedBy: entry.launchedBy,
    killedBy: entry.killedBy,
    createdAt: entry.createdAt,
    updatedAt: entry.updatedAt,
    workDir: paths.dir,
    logDir: paths.logDir,
  };
}
