/**
 * The data every part of nodewarden shares: what a container is asked to be
 * (its spec), what it can be told (events), and what it asks the world to do
 * (effects). Plain data only: these cross the store, the journal and replay.
 */
import type { ExitStatus } from './exit-status.js';

export type ExecutionType = 'GUARANTEED' | 'OPPORTUNISTIC';

/** YARN ContainerRetryPolicy. */
export type RetryPolicyName = 'NEVER_RETRY' | 'RETRY_ON_ALL_ERRORS' | 'RETRY_ON_SPECIFIC_ERROR_CODES';

/** YARN ContainerRetryContext (maxRetries -1 = retry forever). */
export interface RetryPolicy {
  policy: RetryPolicyName;
  errorCodes: number[];
  maxRetries: number;
  retryIntervalMs: number;
}

export interface LocalResource {
  /** Path on this node to link (or copy) into the container directory. */
  source: string;
  /** File name inside the container directory: one path component. */
  name: string;
  /** Copy instead of symlinking. */
  copy?: boolean;
}

export interface Resources {
  memoryMb: number;
  vcores: number;
}

/** A validated launch request: what the container is, never changed afterwards. */
export interface ContainerSpec {
  id: string;
  command: string[];
  env: Record<string, string>;
  resources: Resources;
  executionType: ExecutionType;
  localResources: LocalResource[];
  retryPolicy: RetryPolicy;
  /** Run as this user (YARN's run-as user of the LinuxContainerExecutor); absent: the daemon's own user. */
  user?: string;
}

/** YARN ContainerState. */
export const CONTAINER_STATES = [
  'NEW',
  'LOCALIZING',
  'LOCALIZATION_FAILED',
  'SCHEDULED',
  'RUNNING',
  'RELAUNCHING',
  'PAUSING',
  'PAUSED',
  'RESUMING',
  'KILLING',
  'EXITED_WITH_SUCCESS',
  'EXITED_WITH_FAILURE',
  'CONTAINER_CLEANEDUP_AFTER_KILL',
  'DONE',
] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

type At = { ts: number };
type KillStatus = (typeof ExitStatus)[keyof typeof ExitStatus] | number;

/**
 * YARN ContainerEventType, each carrying the time it happened (`ts`, ms since
 * the epoch) and whatever the machine needs to decide: the machine never reads
 * the clock or the OS itself.
 */
export type ContainerEvent =
  | ({ type: 'INIT_CONTAINER' } & At)
  | ({ type: 'RESOURCE_LOCALIZED'; name: string } & At)
  | ({ type: 'RESOURCE_FAILED'; name: string; diagnostics: string } & At)
  /** pid and its /proc starttime (clock ticks since boot) identify the process even if the pid is reused. */
  | ({ type: 'CONTAINER_LAUNCHED'; pid: number; startTime: number } & At)
  | ({ type: 'CONTAINER_EXITED_WITH_SUCCESS'; exitCode: number } & At)
  | ({ type: 'CONTAINER_EXITED_WITH_FAILURE'; exitCode: number; diagnostics: string } & At)
  | ({ type: 'CONTAINER_KILLED_ON_REQUEST'; exitCode: number; diagnostics: string } & At)
  | ({ type: 'KILL_CONTAINER'; exitStatus: KillStatus; diagnostics: string } & At)
  | ({ type: 'CONTAINER_RESOURCES_CLEANEDUP' } & At)
  | ({ type: 'PAUSE_CONTAINER' } & At)
  | ({ type: 'CONTAINER_PAUSED' } & At)
  | ({ type: 'RESUME_CONTAINER' } & At)
  | ({ type: 'CONTAINER_RESUMED' } & At)
  | ({ type: 'UPDATE_DIAGNOSTICS_MSG'; message: string } & At);

export type ContainerEventType = ContainerEvent['type'];
export const CONTAINER_EVENT_TYPES: readonly ContainerEventType[] = [
  'INIT_CONTAINER',
  'RESOURCE_LOCALIZED',
  'RESOURCE_FAILED',
  'CONTAINER_LAUNCHED',
  'CONTAINER_EXITED_WITH_SUCCESS',
  'CONTAINER_EXITED_WITH_FAILURE',
  'CONTAINER_KILLED_ON_REQUEST',
  'KILL_CONTAINER',
  'CONTAINER_RESOURCES_CLEANEDUP',
  'PAUSE_CONTAINER',
  'CONTAINER_PAUSED',
  'RESUME_CONTAINER',
  'CONTAINER_RESUMED',
  'UPDATE_DIAGNOSTICS_MSG',
];

/**
 * What a machine asks the world to do, named after the YARN event that carries
 * the same request to the localizer, scheduler, launcher or monitor. The shell
 * performs them only after the transition that asked is committed.
 */
export type ContainerEffect =
  /** ResourceLocalizationService: link or copy the local resources. */
  | { type: 'INIT_CONTAINER_RESOURCES' }
  /** ResourceLocalizationService: release resources, then CONTAINER_RESOURCES_CLEANEDUP. */
  | { type: 'CLEANUP_CONTAINER_RESOURCES' }
  /** ContainerScheduler: find room to start the container. */
  | { type: 'SCHEDULE_CONTAINER' }
  /** ContainerScheduler: the container is finished; give its resources back. */
  | { type: 'CONTAINER_COMPLETED' }
  /** ContainersLauncher: start the process (decided by the ContainerScheduler, not the machine). */
  | { type: 'LAUNCH_CONTAINER'; attempt: number }
  /** ContainersLauncher: start again after a failure, not before `notBefore` (ms). */
  | { type: 'RELAUNCH_CONTAINER'; notBefore: number; attempt: number }
  /** ContainersLauncher: stop the process group (or cancel a launch not yet made). */
  | { type: 'CLEANUP_CONTAINER' }
  | { type: 'PAUSE_CONTAINER' }
  | { type: 'RESUME_CONTAINER' }
  /** ContainersMonitor. */
  | { type: 'START_MONITORING'; pid: number }
  | { type: 'STOP_MONITORING' };

export type ContainerEffectType = ContainerEffect['type'];
