/**
 * YARN's ContainersMonitorImpl as a pure xstate machine. The container
 * machines' START/STOP_MONITORING add and remove containers from
 * `tracking` (YARN trackingContainers); every TICK carries the process trees
 * the shell read from one procfs scan, and the machine does the rest of
 * YARN's MonitoringThread: ages, CPU, usage recording, node utilization and
 * the limit check, emitting KILL_CONTAINER with YARN's exit status and
 * message. LOG_TICK does the same for the log monitor (-109). NODE_OOM
 * is YARN's elastic memory control's OOM handler, and a TICK's memory
 * pressure our earlier preemption (node-memory.ts).
 *
 * Nothing here reads procfs or the clock, so the same samples always give
 * the same kills — live, after recovery, and in replay.
 */
import { assign, enqueueActions, setup } from 'xstate';
import { newCpuTracker, jiffyLengthMs, sampleCpu, type CpuTracker } from './cpu-tracker.js';
import { ExitStatus } from './exit-status.js';
import { containerLimits, isProcessTreeOverLimit, milliVcoresUsed, type ContainerLimits, type LimitSettings } from './limits.js';
import { logDirKillMessage, logTotalKillMessage, memoryKillMessage } from './monitor-diagnostics.js';
import { processTreeDump } from './process-tree-dump.js';
import {
  ageTree,
  rssMemorySize,
  virtualMemorySize,
  type Ages,
  type ProcessSample,
} from './process-tree.js';
import {
  kernelOomMessage,
  nodeOomMessage,
  preemptionExitStatus,
  pressureCandidates,
  pressureMessage,
  victimOrder,
  watchPressure,
  type Pressure,
  type PressureSettings,
  type PressureWatch,
  type VictimCandidate,
} from './node-memory.js';
import type { ExecutionType, Resources } from './types.js';

/** Facts about the host the numbers depend on; recorded so replay elsewhere decides the same. */
export interface HostFacts {
  /** Logical processors (YARN ResourceCalculatorPlugin.getNumProcessors). */
  processors: number;
  /** Bytes per page (`getconf PAGESIZE`). */
  pageSize: number;
  /** Clock ticks per second (`getconf CLK_TCK`). */
  clockTicks: number;
  /**
   * Whether containers are in cgroups that the kernel limits (containment mode
   * cgroup-v1 or cgroup-v2, detected at start). Absent: they are not.
   */
  cgroups?: boolean;
}

export interface MonitorSettings extends LimitSettings {
  pmemCheckEnabled: boolean;
  vmemCheckEnabled: boolean;
  /** RSS from smaps (Anonymous of non-shared mappings) instead of stat's rss pages. */
  smapsBasedRss: boolean;
  /** yarn.nodemanager.resource.cpu-vcores */
  nodeVcores: number;
  /** yarn.nodemanager.resource.percentage-physical-cpu-limit */
  cpuLimitPercent: number;
  logDirSizeLimitBytes: number;
  logTotalSizeLimitBytes: number;
  /** The early action on memory pressure (nodewarden.memory-pressure.*). */
  pressure: PressureSettings;
  host: HostFacts;
}

/** What one tick measured of a container's tree (kept for the API and Mesos statistics). */
export interface TreeMeasure {
  timestamp: number;
  pmemBytes: number;
  vmemBytes: number;
  /** Σ rss pages × page size, whatever the pmem mode (Mesos mem_total_bytes). */
  rssBytes: number;
  /** Σ utime and Σ stime of the tree's current processes, clock ticks. */
  utimeTicks: number;
  stimeTicks: number;
  processes: number;
  threads: number;
}

/** YARN recordUsage: what a tick recorded for a container whose CPU is known. */
export interface RecordedUsage {
  timestamp: number;
  pmemBytes: number;
  vmemBytes: number;
  /** 100 = one core. */
  cpuPercent: number;
  milliVcores: number;
}

/** YARN ProcessTreeInfo: one tracked container. */
export interface TrackedContainer {
  id: string;
  /** The container's pid: its wrapper, session and group leader. */
  pid: number;
  resources: Resources;
  /** OPPORTUNISTIC ones go first when the node takes memory back. */
  executionType: ExecutionType;
  limits: ContainerLimits;
  /** The tree as of the last tick: member pid → age. */
  ages: Ages;
  cpu: CpuTracker;
  measure: TreeMeasure | null;
  usage: RecordedUsage | null;
}

/** YARN ResourceUtilization of all tracked containers, per tick. */
export interface NodeUtilization {
  timestamp: number;
  /** Σ (pmem >> 20) */
  pmemMb: number;
  /** Σ (vmem >> 20) */
  vmemMb: number;
  /** Σ milliVcores / 1000, float32 as YARN adds it. */
  vcores: number;
}

export interface MonitorContext {
  settings: MonitorSettings;
  tracking: ReadonlyMap<string, TrackedContainer>;
  utilization: NodeUtilization;
  /** Since when memory pressure has been over the preemption threshold. */
  pressure: PressureWatch;
}

type At = { ts: number };

export type MonitorEvent =
  /** `executionType` absent (journals before it was recorded): GUARANTEED. */
  | ({ type: 'START_MONITORING'; id: string; pid: number; resources: Resources; executionType?: ExecutionType } & At)
  | ({ type: 'STOP_MONITORING'; id: string } & At)
  /** YARN CHANGE_MONITORING_CONTAINER_RESOURCE: new limits from new resources. */
  | ({ type: 'CHANGE_MONITORING_CONTAINER_RESOURCE'; id: string; resources: Resources } & At)
  /**
   * One monitor interval: each tracked container's tree from the same procfs
   * scan (absent: not sampled), and, for containers in a cgroup, what its
   * memory controller says of OOM kills (absent: none, or no cgroup), and
   * the node's memory pressure when the early action is on.
   */
  | ({ type: 'TICK'; samples: Readonly<Record<string, readonly ProcessSample[]>>; oom?: Readonly<Record<string, OomNotice>>; pressure?: Pressure } & At)
  /**
   * The node cgroup is out of memory (elastic memory control): its limit and
   * charge, and each container's charge (absent: it has no cgroup to read).
   * The machine picks one victim by DefaultOOMHandler's order.
   */
  | ({ type: 'NODE_OOM'; limitBytes: number; usageBytes: number; usages: Readonly<Record<string, number>> } & At)
  /** One log-monitor interval: the size of each tracked container's log directories. */
  | ({ type: 'LOG_TICK'; logDirs: Readonly<Record<string, ReadonlyArray<{ dir: string; bytes: number }>>> } & At);

/**
 * The kernel stopped a container at its cgroup's memory limit (v1
 * memory.oom_control `oom_kill`, v2 memory.events): how often, its peak usage
 * and the cgroup's limit.
 */
export interface OomNotice {
  kills: number;
  peakBytes: number;
  limitBytes: number;
  /**
   * Whether it reached its own limit (v1 memory.failcnt, v2 memory.events `oom`); false: the OOM was
   * the node's, or a cgroup's above it. Absent (journals before it was recorded): its own.
   */
  atOwnLimit?: boolean;
}

/** The monitor's one request to the world: YARN ContainerKillEvent. */
export interface MonitorKill {
  type: 'KILL_CONTAINER';
  id: string;
  exitStatus: number;
  diagnostics: string;
  /** What the killing tick recorded and measured (YARN records usage before checkLimit): the figures the operator sees of a killed container. */
  usage?: RecordedUsage;
  measure?: TreeMeasure;
}

type Ev<T extends MonitorEvent['type']> = Extract<MonitorEvent, { type: T }>;

function track(settings: MonitorSettings, id: string, pid: number, resources: Resources, executionType: ExecutionType): TrackedContainer {
  return {
    id,
    pid,
    resources,
    executionType,
    limits: containerLimits(resources, settings),
    ages: new Map(),
    cpu: newCpuTracker(jiffyLengthMs(settings.host.clockTicks)),
    measure: null,
    usage: null,
  };
}

/** One container's memory check, vmem before pmem: the kill, or null. YARN checkLimit. */
function checkLimit(s: MonitorSettings, t: TrackedContainer, members: readonly ProcessSample[], ages: Ages, m: TreeMeasure): MonitorKill | null {
  const usage = { pmemBytes: m.pmemBytes, pmemLimit: t.limits.pmemBytes, vmemBytes: m.vmemBytes, vmemLimit: t.limits.vmemBytes };
  let kind: 'virtual' | 'physical' | null = null;
  // The aged sum is part of the current one, so a tree within its limit now is within it either way (and its aged sum is not worked out).
  if (s.vmemCheckEnabled && m.vmemBytes > t.limits.vmemBytes && isProcessTreeOverLimit(m.vmemBytes, virtualMemorySize(members, ages, 1), t.limits.vmemBytes)) {
    kind = 'virtual';
  } else if (
    s.pmemCheckEnabled &&
    m.pmemBytes > t.limits.pmemBytes &&
    isProcessTreeOverLimit(m.pmemBytes, rssMemorySize(members, ages, 1, { pageSize: s.host.pageSize, smaps: s.smapsBasedRss }), t.limits.pmemBytes)
  ) {
    kind = 'physical';
  }
  if (kind === null) return null;
  const delta = kind === 'virtual' ? m.vmemBytes - t.limits.vmemBytes : m.pmemBytes - t.limits.pmemBytes;
  return {
    type: 'KILL_CONTAINER',
    id: t.id,
    exitStatus: kind === 'virtual' ? ExitStatus.KILLED_EXCEEDED_VMEM : ExitStatus.KILLED_EXCEEDED_PMEM,
    diagnostics: memoryKillMessage(kind, t.pid, t.id, usage, delta, processTreeDump(members)),
  };
}

/**
 * A container the kernel stopped at its cgroup limit is killed whole, -104,
 * with YARN's PHYSICAL message: its peak against its limit (not the cgroup's
 * backstop, which the last line names), and the dump of what is left.
 * YARN leaves a bare 137 "Killed by external signal" here.
 */
function oomKill(s: MonitorSettings, t: TrackedContainer, members: readonly ProcessSample[], oom: OomNotice): MonitorKill {
  if (oom.atOwnLimit === false) return nodeOomKill(t, oom);
  const vmemBytes = members.length > 0 ? virtualMemorySize(members, NO_AGES, 0) : 0;
  const usage = { pmemBytes: oom.peakBytes, pmemLimit: t.limits.pmemBytes, vmemBytes, vmemLimit: t.limits.vmemBytes };
  const times = oom.kills === 1 ? 'once' : `${oom.kills} times`;
  return {
    type: 'KILL_CONTAINER',
    id: t.id,
    exitStatus: ExitStatus.KILLED_EXCEEDED_PMEM,
    diagnostics:
      // Never a negative 'beyond': in strict mode the cgroup limit is the limit, and the peak stops at it (or a page under).
      memoryKillMessage('physical', t.pid, t.id, usage, Math.max(0, oom.peakBytes - t.limits.pmemBytes), processTreeDump(members)) +
      `The kernel's OOM killer stopped it ${times} at its cgroup memory limit of ${oom.limitBytes}B.\n`,
  };
}

/**
 * The kernel's OOM killer took it while it was under its own cgroup limit:
 * the node (or a cgroup above the container, such as the node cgroup
 * without elastic control) was out of memory, and the kernel's order
 * (oom_score_adj, set by execution type) chose it. Not -104: it was
 * preempted for the node, as the OOM handler would have (node-memory.ts).
 */
function nodeOomKill(t: TrackedContainer, oom: OomNotice): MonitorKill {
  const usage = { id: t.id, executionType: t.executionType, usageBytes: oom.peakBytes, requestBytes: t.resources.memoryMb * 2 ** 20 };
  return { type: 'KILL_CONTAINER', id: t.id, exitStatus: preemptionExitStatus(t.executionType), diagnostics: kernelOomMessage(usage, oom.kills) };
}

/**
 * Could this tree be killed for memory this tick? Only if its current usage is
 * over a checked limit: the 2× rule needs it, and the aged sum is part of the
 * current one. The shell reads command lines (for the dump) just for these.
 */
export function mayExceedLimit(s: MonitorSettings, limits: ContainerLimits, members: readonly ProcessSample[]): boolean {
  if (members.length === 0) return false;
  // olderThanAge 0 counts every member, whatever its age.
  if (s.vmemCheckEnabled && virtualMemorySize(members, NO_AGES, 0) > limits.vmemBytes) return true;
  return s.pmemCheckEnabled && rssMemorySize(members, NO_AGES, 0, { pageSize: s.host.pageSize, smaps: s.smapsBasedRss }) > limits.pmemBytes;
}

const NO_AGES: Ages = new Map();

function measure(s: MonitorSettings, members: readonly ProcessSample[], ages: Ages, ts: number): TreeMeasure {
  let utime = 0;
  let stime = 0;
  let threads = 0;
  for (const p of members) {
    utime += p.utime;
    stime += p.stime;
    threads += p.numThreads;
  }
  const pmemBytes = rssMemorySize(members, ages, 0, { pageSize: s.host.pageSize, smaps: s.smapsBasedRss });
  return {
    timestamp: ts,
    pmemBytes,
    vmemBytes: virtualMemorySize(members, ages, 0),
    // The same as pmem unless pmem comes from smaps.
    rssBytes: s.smapsBasedRss ? rssMemorySize(members, ages, 0, { pageSize: s.host.pageSize, smaps: false }) : pmemBytes,
    utimeTicks: utime,
    stimeTicks: stime,
    processes: members.length,
    threads,
  };
}

/**
 * One MonitoringThread iteration over every tracked container, in tracking
 * order. A container whose tree is gone (memory -1) or whose CPU is not yet
 * known (its first sample) is skipped: nothing is killed on its first sample.
 * A container over its limit is removed from tracking and killed, once.
 */
export function monitorTick(context: MonitorContext, event: Ev<'TICK'>): { context: MonitorContext; kills: MonitorKill[] } {
  const s = context.settings;
  const tracking = new Map<string, TrackedContainer>();
  const kills: MonitorKill[] = [];
  const f = Math.fround;
  const util: NodeUtilization = { timestamp: event.ts, pmemMb: 0, vmemMb: 0, vcores: 0 };
  for (const [id, t] of context.tracking) {
    const members = event.samples[id];
    const oom = event.oom?.[id];
    if (oom !== undefined && oom.kills > 0) {
      kills.push(oomKill(s, t, members ?? [], oom)); // removed from tracking: killed once
      continue;
    }
    if (members === undefined) {
      tracking.set(id, t);
      continue;
    }
    const ages = ageTree(t.ages, members);
    if (members.length === 0) {
      // YARN: "Skipping monitoring container because memory usage is not available."
      tracking.set(id, { ...t, ages, measure: null });
      continue;
    }
    const m = measure(s, members, ages, event.ts);
    const cpu = sampleCpu(t.cpu, m.utimeTicks + m.stimeTicks, event.ts);
    if (cpu.percent < 0) {
      // YARN: "Skipping monitoring container since CPU usage is not yet available."
      tracking.set(id, { ...t, ages, cpu, measure: m });
      continue;
    }
    const milliVcores = milliVcoresUsed(cpu.percent, s.host.processors, s.nodeVcores, s.cpuLimitPercent);
    const usage: RecordedUsage = { timestamp: event.ts, pmemBytes: m.pmemBytes, vmemBytes: m.vmemBytes, cpuPercent: cpu.percent, milliVcores };
    util.pmemMb += Math.floor(m.pmemBytes / 2 ** 20);
    util.vmemMb += Math.floor(m.vmemBytes / 2 ** 20);
    util.vcores = f(util.vcores + f(milliVcores / 1000));
    const next: TrackedContainer = { ...t, ages, cpu, measure: m, usage };
    const kill = checkLimit(s, next, members, ages, m);
    if (kill) kills.push({ ...kill, usage, measure: m }); // removed from tracking: killed once
    else tracking.set(id, next);
  }
  let pressure = context.pressure;
  // A tick with nothing tracked is not journaled (it decides nothing): it must not move the watch either.
  if (event.pressure !== undefined && context.tracking.size > 0) {
    const watched = watchPressure(pressure, s.pressure, event.pressure, event.ts);
    pressure = watched.watch;
    const victim = watched.preempt && victimOrder(pressureCandidates(candidates(tracking, (t) => t.measure?.pmemBytes)))[0];
    if (victim && watched.preempt) {
      tracking.delete(victim.id);
      const diagnostics = pressureMessage(victim, { ...watched.preempt, thresholdPercent: s.pressure.thresholdPercent });
      kills.push({ type: 'KILL_CONTAINER', id: victim.id, exitStatus: preemptionExitStatus(victim.executionType), diagnostics });
    }
  }
  return { context: { ...context, tracking, utilization: util, pressure }, kills };
}

/** The tracked containers that have a usage figure, as the victim order sees them (in launch order). */
function candidates(tracking: ReadonlyMap<string, TrackedContainer>, usageOf: (t: TrackedContainer) => number | undefined): VictimCandidate[] {
  const out: VictimCandidate[] = [];
  for (const t of tracking.values()) {
    const usageBytes = usageOf(t);
    if (usageBytes === undefined) continue;
    out.push({ id: t.id, executionType: t.executionType, usageBytes, requestBytes: t.resources.memoryMb * 2 ** 20 });
  }
  return out;
}

/**
 * YARN DefaultOOMHandler, one round: the first container by its order is
 * removed from tracking and killed. None with a cgroup to read: nothing
 * (the shell says so, and the node stays out of memory).
 */
export function nodeOom(context: MonitorContext, event: Ev<'NODE_OOM'>): { context: MonitorContext; kills: MonitorKill[] } {
  const victim = victimOrder(candidates(context.tracking, (t) => (Object.hasOwn(event.usages, t.id) ? event.usages[t.id] : undefined)))[0];
  if (victim === undefined) return { context, kills: [] };
  const tracking = new Map(context.tracking);
  tracking.delete(victim.id);
  const diagnostics = nodeOomMessage(victim, event);
  return { context: { ...context, tracking }, kills: [{ type: 'KILL_CONTAINER', id: victim.id, exitStatus: preemptionExitStatus(victim.executionType), diagnostics }] };
}

/**
 * The log monitor: a tracked container whose log directory is over the
 * single-directory limit, or whose directories together are over the total
 * limit, is removed from tracking and killed with -109.
 */
export function logMonitorTick(context: MonitorContext, event: Ev<'LOG_TICK'>): { context: MonitorContext; kills: MonitorKill[] } {
  const s = context.settings;
  const tracking = new Map(context.tracking);
  const kills: MonitorKill[] = [];
  for (const [id, t] of context.tracking) {
    const dirs = event.logDirs[id];
    if (dirs === undefined) continue;
    let diagnostics: string | null = null;
    let total = 0;
    for (const { dir, bytes } of dirs) {
      total += bytes;
      if (bytes > s.logDirSizeLimitBytes) {
        diagnostics = logDirKillMessage(t.pid, id, s.logDirSizeLimitBytes, bytes, dir);
        break;
      }
    }
    if (diagnostics === null && total > s.logTotalSizeLimitBytes) {
      diagnostics = logTotalKillMessage(t.pid, id, s.logTotalSizeLimitBytes, total);
    }
    if (diagnostics !== null && tracking.delete(id)) {
      kills.push({ type: 'KILL_CONTAINER', id, exitStatus: ExitStatus.KILLED_FOR_EXCESS_LOGS, diagnostics });
    }
  }
  return { context: { ...context, tracking }, kills };
}

export function initialMonitorContext(settings: MonitorSettings): MonitorContext {
  return { settings, tracking: new Map(), utilization: { timestamp: 0, pmemMb: 0, vmemMb: 0, vcores: 0 }, pressure: { overSince: null } };
}

export const containersMonitorMachine = setup({
  types: {
    context: {} as MonitorContext,
    events: {} as MonitorEvent,
    input: {} as MonitorSettings,
    emitted: {} as MonitorKill,
  },
  actions: {
    /** YARN onStartMonitoringContainer (a relaunch replaces the old tree, and counts as the latest launch). */
    startTracking: assign(({ context, event }) => {
      const e = event as Ev<'START_MONITORING'>;
      const tracking = new Map(context.tracking);
      tracking.delete(e.id);
      tracking.set(e.id, track(context.settings, e.id, e.pid, e.resources, e.executionType ?? 'GUARANTEED'));
      // The first container after an idle spell: pressure is watched afresh from here.
      return context.tracking.size === 0 ? { tracking, pressure: { overSince: null } } : { tracking };
    }),
    /** YARN onStopMonitoringContainer. */
    stopTracking: assign(({ context, event }) => {
      const { id } = event as Ev<'STOP_MONITORING'>;
      if (!context.tracking.has(id)) return {};
      const tracking = new Map(context.tracking);
      tracking.delete(id);
      return { tracking };
    }),
    /** YARN onChangeMonitoringContainerResource: an untracked container (already finished) is left alone. */
    changeLimits: assign(({ context, event }) => {
      const e = event as Ev<'CHANGE_MONITORING_CONTAINER_RESOURCE'>;
      const t = context.tracking.get(e.id);
      if (t === undefined) return {};
      const tracking = new Map(context.tracking);
      tracking.set(e.id, { ...t, resources: e.resources, limits: containerLimits(e.resources, context.settings) });
      return { tracking };
    }),
    checkTrees: enqueueActions(({ context, event, enqueue }) => {
      const result = monitorTick(context, event as Ev<'TICK'>);
      enqueue.assign(result.context);
      for (const kill of result.kills) enqueue.emit(kill);
    }),
    handleNodeOom: enqueueActions(({ context, event, enqueue }) => {
      const result = nodeOom(context, event as Ev<'NODE_OOM'>);
      enqueue.assign(result.context);
      for (const kill of result.kills) enqueue.emit(kill);
    }),
    checkLogs: enqueueActions(({ context, event, enqueue }) => {
      const result = logMonitorTick(context, event as Ev<'LOG_TICK'>);
      enqueue.assign(result.context);
      for (const kill of result.kills) enqueue.emit(kill);
    }),
  },
}).createMachine({
  id: 'containersMonitor',
  context: ({ input }) => initialMonitorContext(input),
  initial: 'monitoring',
  states: {
    monitoring: {
      on: {
        START_MONITORING: { actions: 'startTracking' },
        STOP_MONITORING: { actions: 'stopTracking' },
        CHANGE_MONITORING_CONTAINER_RESOURCE: { actions: 'changeLimits' },
        TICK: { actions: 'checkTrees' },
        LOG_TICK: { actions: 'checkLogs' },
        NODE_OOM: { actions: 'handleNodeOom' },
      },
    },
  },
});
