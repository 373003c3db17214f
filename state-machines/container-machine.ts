/**
 * The container lifecycle: YARN's ContainerImpl state machine in xstate v5.
 *
 * The `states` block below is the transition table of
 * reference/yarn-nodemanager.md, one state a block, one row an event. The
 * machine is pure: it decides from its context and the event (which carries
 * the time and whatever the world reported), never touches the OS and never
 * reads the clock. What it wants done it emits as an effect (see types.ts);
 * the shell performs effects only after the transition is committed.
 *
 * An event a state has no row for reaches the root `'*'` handler, which emits
 * IGNORED so the shell can log it: never an error, never a state change.
 */
import { assign, emit, setup } from 'xstate';
import { appendDiagnostics } from './diagnostics.js';
import { ExitStatus } from './exit-status.js';
import { shouldRetry } from './retry-policy.js';
import type { ContainerEffect, ContainerEvent, ContainerSpec, RetryPolicy } from './types.js';

export interface ContainerContext {
  id: string;
  retryPolicy: RetryPolicy;
  diagnosticsMaxSize: number;
  /** Local resources not yet reported localized. */
  pendingResources: string[];
  /** YARN ContainerExitStatus; -1000 until known, and sticky once a kill sets it. */
  exitStatus: number;
  /** The last process exit code (137/143 for a killed one); -1000 until known. */
  exitCode: number;
  diagnostics: string;
  /** The wrapper's pid, session and process-group leader; null until launched. */
  pid: number | null;
  /** The pid's /proc starttime, to tell it from a later process that reuses the pid. */
  pidStartTime: number | null;
  /** Launches made so far (a relaunch counts). */
  attempt: number;
  remainingRetries: number;
}

export interface ContainerInput {
  spec: ContainerSpec;
  diagnosticsMaxSize: number;
}

/** What the machine emits: an effect for the shell, or notice of an ignored event. */
export type ContainerEmitted = ContainerEffect | { type: 'IGNORED'; event: ContainerEvent['type'] };

type Ev<T extends ContainerEvent['type']> = Extract<ContainerEvent, { type: T }>;

/** Build the initial context of a container from its spec. */
export function initialContext({ spec, diagnosticsMaxSize }: ContainerInput): ContainerContext {
  return {
    id: spec.id,
    retryPolicy: spec.retryPolicy,
    diagnosticsMaxSize,
    pendingResources: spec.localResources.map((r) => r.name),
    exitStatus: ExitStatus.INVALID,
    exitCode: ExitStatus.INVALID,
    diagnostics: '',
    pid: null,
    pidStartTime: null,
    attempt: 0,
    remainingRetries: spec.retryPolicy.maxRetries,
  };
}

function withDiagnostics(context: ContainerContext, message: string, ts: number): string {
  return appendDiagnostics(context.diagnostics, message, ts, context.diagnosticsMaxSize);
}

/** A kill records its exit status unless one is already set: the first kill wins. */
function killed(context: ContainerContext, event: Ev<'KILL_CONTAINER'>): Partial<ContainerContext> {
  return {
    exitStatus: context.exitStatus === ExitStatus.INVALID ? event.exitStatus : context.exitStatus,
    diagnostics: withDiagnostics(context, event.diagnostics, event.ts),
  };
}

type ExitEvent = Ev<'CONTAINER_EXITED_WITH_SUCCESS' | 'CONTAINER_EXITED_WITH_FAILURE' | 'CONTAINER_KILLED_ON_REQUEST'>;

/** A process exit records its code; it becomes the exit status only if no kill status is there. */
function exited(context: ContainerContext, event: ExitEvent): Partial<ContainerContext> {
  return {
    exitCode: event.exitCode,
    exitStatus: context.exitStatus === ExitStatus.INVALID ? event.exitCode : context.exitStatus,
    diagnostics: 'diagnostics' in event ? withDiagnostics(context, event.diagnostics, event.ts) : context.diagnostics,
  };
}

/** With a retry policy, YARN marks each failure as one attempt's. */
function attemptFailure(context: ContainerContext, event: Ev<'CONTAINER_EXITED_WITH_FAILURE'>): Ev<'CONTAINER_EXITED_WITH_FAILURE'> {
  if (context.retryPolicy.policy === 'NEVER_RETRY' || event.diagnostics === '') return event;
  return { ...event, diagnostics: `Diagnostic message from attempt : \n${event.diagnostics}` };
}

/** The process runs: monitor it. YARN LaunchTransition. */
const launched = { target: 'RUNNING', actions: ['recordLaunch', 'startMonitoring'] } as const;

/** Any state with a process (or about to have one): a kill stops it. YARN KillTransition. */
const toKilling = { target: 'KILLING', actions: ['recordKill', 'cleanupContainer'] } as const;

/** The process ended by itself, or someone else killed it (137/143 we did not ask for). */
const processExits = {
  CONTAINER_EXITED_WITH_SUCCESS: { target: 'EXITED_WITH_SUCCESS', actions: 'recordExit' },
  CONTAINER_EXITED_WITH_FAILURE: { target: 'EXITED_WITH_FAILURE', actions: 'recordExit' },
  CONTAINER_KILLED_ON_REQUEST: { target: 'EXITED_WITH_FAILURE', actions: 'recordKilledExternally' },
} as const;

/** Nothing runs yet: record the kill, then stop what is under way. YARN KillBeforeRunningTransition. */
const killBeforeRunning = (stop: 'cleanupResources' | 'cleanupContainer') =>
  ({ target: 'KILLING', actions: ['recordKillBeforeLaunch', stop] }) as const;

/** "EXITED_*, CONTAINER_CLEANEDUP_AFTER_KILL, DONE | KILL_CONTAINER and late exit events | self". */
const lateEventsIgnored = {
  KILL_CONTAINER: {},
  CONTAINER_KILLED_ON_REQUEST: {},
  CONTAINER_EXITED_WITH_SUCCESS: {},
  CONTAINER_EXITED_WITH_FAILURE: {},
} as const;

/** EXITED_WITH_SUCCESS, EXITED_WITH_FAILURE and CONTAINER_CLEANEDUP_AFTER_KILL: release resources, then DONE. */
const finished = {
  entry: 'cleanupResources',
  on: { CONTAINER_RESOURCES_CLEANEDUP: 'DONE', ...lateEventsIgnored },
} as const;

export const containerMachine = setup({
  types: {
    context: {} as ContainerContext,
    events: {} as ContainerEvent,
    input: {} as ContainerInput,
    emitted: {} as ContainerEmitted,
  },
  guards: {
    hasLocalResources: ({ context }) => context.pendingResources.length > 0,
    isLastResource: ({ context, event }) => {
      const { name } = event as Ev<'RESOURCE_LOCALIZED'>;
      return context.pendingResources.every((r) => r === name);
    },
    retryAllowed: ({ context, event }) =>
      shouldRetry(context.retryPolicy, context.remainingRetries, (event as Ev<'CONTAINER_EXITED_WITH_FAILURE'>).exitCode),
  },
  actions: {
    recordLocalized: assign(({ context, event }) => ({
      pendingResources: context.pendingResources.filter((r) => r !== (event as Ev<'RESOURCE_LOCALIZED'>).name),
    })),
    recordLocalizationFailure: assign(({ context, event }) => {
      const e = event as Ev<'RESOURCE_FAILED'>;
      return { diagnostics: withDiagnostics(context, e.diagnostics, e.ts) };
    }),
    recordKill: assign(({ context, event }) => killed(context, event as Ev<'KILL_CONTAINER'>)),
    /** YARN KillOnNewTransition and KillBeforeRunningTransition. */
    recordKillBeforeLaunch: assign(({ context, event }) => {
      const e = event as Ev<'KILL_CONTAINER'>;
      const after = { ...context, ...killed(context, e) };
      return { ...after, diagnostics: withDiagnostics(after, 'Container is killed before being launched.', e.ts) };
    }),
    recordLaunch: assign(({ context, event }) => {
      const e = event as Ev<'CONTAINER_LAUNCHED'>;
      return { pid: e.pid, pidStartTime: e.startTime, attempt: context.attempt + 1 };
    }),
    recordExit: assign(({ context, event }) => exited(context, event as ExitEvent)),
    /** YARN KilledExternallyTransition: 137/143 that nobody here asked for. */
    recordKilledExternally: assign(({ context, event }) => {
      const e = event as Ev<'CONTAINER_KILLED_ON_REQUEST'>;
      const after = { ...context, ...exited(context, e) };
      return { ...after, diagnostics: withDiagnostics(after, 'Killed by external signal', e.ts) };
    }),
    /** YARN RetryFailureTransition, last attempt: the failure, marked as an attempt's when retries were asked for. */
    recordFailedAttempt: assign(({ context, event }) => exited(context, attemptFailure(context, event as Ev<'CONTAINER_EXITED_WITH_FAILURE'>))),
    /** YARN RetryFailureTransition: keep the attempt's code and message, spend a retry. */
    recordRetry: assign(({ context, event }) => {
      const e = attemptFailure(context, event as Ev<'CONTAINER_EXITED_WITH_FAILURE'>);
      return {
        exitCode: e.exitCode,
        diagnostics: withDiagnostics(context, e.diagnostics, e.ts),
        remainingRetries: context.remainingRetries > 0 ? context.remainingRetries - 1 : context.remainingRetries,
      };
    }),
    updateDiagnostics: assign(({ context, event }) => {
      const e = event as Ev<'UPDATE_DIAGNOSTICS_MSG'>;
      return { diagnostics: withDiagnostics(context, e.message, e.ts) };
    }),

    // Effects: requests to the localizer, scheduler, launcher and monitor.
    initResources: emit({ type: 'INIT_CONTAINER_RESOURCES' }),
    cleanupResources: emit({ type: 'CLEANUP_CONTAINER_RESOURCES' }),
    schedule: emit({ type: 'SCHEDULE_CONTAINER' }),
    cleanupContainer: emit({ type: 'CLEANUP_CONTAINER' }),
    pauseContainer: emit({ type: 'PAUSE_CONTAINER' }),
    resumeContainer: emit({ type: 'RESUME_CONTAINER' }),
    stopMonitoring: emit({ type: 'STOP_MONITORING' }),
    completed: emit({ type: 'CONTAINER_COMPLETED' }),
    startMonitoring: emit(({ context }) => ({ type: 'START_MONITORING' as const, pid: context.pid ?? -1 })),
    relaunch: emit(({ context, event }) => ({
      type: 'RELAUNCH_CONTAINER' as const,
      notBefore: event.ts + context.retryPolicy.retryIntervalMs,
      attempt: context.attempt + 1,
    })),
    ignored: emit(({ event }) => ({ type: 'IGNORED' as const, event: event.type })),
  },
}).createMachine({
  id: 'container',
  initial: 'NEW',
  context: ({ input }) => initialContext(input),
  on: {
    UPDATE_DIAGNOSTICS_MSG: { actions: 'updateDiagnostics' },
    '*': { actions: 'ignored' },
  },
  states: {
    NEW: {
      on: {
        INIT_CONTAINER: [
          { guard: 'hasLocalResources', target: 'LOCALIZING', actions: 'initResources' },
          { target: 'SCHEDULED' },
        ],
        KILL_CONTAINER: { target: 'DONE', actions: 'recordKillBeforeLaunch' },
      },
    },
    LOCALIZING: {
      on: {
        RESOURCE_LOCALIZED: [
          { guard: 'isLastResource', target: 'SCHEDULED', actions: 'recordLocalized' },
          { actions: 'recordLocalized' },
        ],
        RESOURCE_FAILED: { target: 'LOCALIZATION_FAILED', actions: 'recordLocalizationFailure' },
        KILL_CONTAINER: killBeforeRunning('cleanupResources'),
      },
    },
    LOCALIZATION_FAILED: {
      entry: 'cleanupResources',
      on: {
        CONTAINER_RESOURCES_CLEANEDUP: 'DONE',
        KILL_CONTAINER: {},
        RESOURCE_LOCALIZED: {},
        RESOURCE_FAILED: {},
      },
    },
    SCHEDULED: {
      entry: 'schedule',
      on: {
        CONTAINER_LAUNCHED: launched,
        // The launch itself failed.
        CONTAINER_EXITED_WITH_FAILURE: { target: 'EXITED_WITH_FAILURE', actions: 'recordExit' },
        // A launch may be under way: CLEANUP_CONTAINER stops it, or stops the process it made.
        KILL_CONTAINER: killBeforeRunning('cleanupContainer'),
      },
    },
    RUNNING: {
      on: {
        ...processExits,
        CONTAINER_EXITED_WITH_FAILURE: [
          { guard: 'retryAllowed', target: 'RELAUNCHING', actions: ['recordRetry', 'stopMonitoring', 'relaunch'] },
          { target: 'EXITED_WITH_FAILURE', actions: 'recordFailedAttempt' },
        ],
        KILL_CONTAINER: toKilling,
        PAUSE_CONTAINER: { target: 'PAUSING', actions: 'pauseContainer' },
      },
    },
    RELAUNCHING: {
      on: {
        CONTAINER_LAUNCHED: launched,
        CONTAINER_EXITED_WITH_FAILURE: processExits.CONTAINER_EXITED_WITH_FAILURE,
        KILL_CONTAINER: toKilling,
      },
    },
    // YARN also lets PAUSING, PAUSED and RESUMING end when the process does
    // (ContainerImpl: "in case something goes wrong"); without those rows a
    // paused container whose process died would wait forever.
    PAUSING: {
      on: { CONTAINER_PAUSED: 'PAUSED', KILL_CONTAINER: toKilling, ...processExits },
    },
    PAUSED: {
      on: {
        RESUME_CONTAINER: { target: 'RESUMING', actions: 'resumeContainer' },
        KILL_CONTAINER: toKilling,
        PAUSE_CONTAINER: {},
        ...processExits,
      },
    },
    RESUMING: {
      on: { CONTAINER_RESUMED: 'RUNNING', KILL_CONTAINER: toKilling, ...processExits },
    },
    KILLING: {
      on: {
        ...processExits,
        // The kill we asked for took effect.
        CONTAINER_KILLED_ON_REQUEST: { target: 'CONTAINER_CLEANEDUP_AFTER_KILL', actions: 'recordExit' },
        CONTAINER_RESOURCES_CLEANEDUP: 'DONE',
        KILL_CONTAINER: {},
        CONTAINER_LAUNCHED: {},
        RESOURCE_LOCALIZED: {},
        RESOURCE_FAILED: {},
      },
    },
    CONTAINER_CLEANEDUP_AFTER_KILL: finished,
    EXITED_WITH_SUCCESS: finished,
    EXITED_WITH_FAILURE: finished,
    DONE: {
      entry: ['stopMonitoring', 'completed'],
      on: { ...lateEventsIgnored, CONTAINER_RESOURCES_CLEANEDUP: {} },
    },
  },
});

export type ContainerMachine = typeof containerMachine;
