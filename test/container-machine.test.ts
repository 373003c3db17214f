import { describe, expect, it } from 'vitest';
import { ContainerActor } from '../state-machines/container-actor.js';
import { MachineStepError } from '../state-machines/stepped-actor.js';
import { initialContext, type ContainerContext } from '../state-machines/container-machine.js';
import { ExitStatus } from '../state-machines/exit-status.js';
import {
  CONTAINER_EVENT_TYPES,
  CONTAINER_STATES,
  type ContainerEvent,
  type ContainerEventType,
  type ContainerSpec,
  type ContainerState,
} from '../state-machines/types.js';
import { containerSpec } from './helpers/spec.js';

const T0 = Date.UTC(2026, 10, 21, 8, 30, 0, 5);

const spec = (over: Partial<ContainerSpec> = {}) => containerSpec('c1', over);

function at(state: ContainerState, ctx: Partial<ContainerContext> = {}, s: ContainerSpec = spec()): ContainerActor {
  const input = { spec: s, diagnosticsMaxSize: 10_000 };
  return new ContainerActor(input, { state, context: { ...initialContext(input), ...ctx } });
}

/** One sample event of every type, as the shell would send it. */
function sample(type: ContainerEventType): ContainerEvent {
  const ts = T0;
  switch (type) {
    case 'INIT_CONTAINER':
    case 'CONTAINER_RESOURCES_CLEANEDUP':
    case 'PAUSE_CONTAINER':
    case 'CONTAINER_PAUSED':
    case 'RESUME_CONTAINER':
    case 'CONTAINER_RESUMED':
      return { type, ts };
    case 'RESOURCE_LOCALIZED':
      return { type, ts, name: 'a' };
    case 'RESOURCE_FAILED':
      return { type, ts, name: 'a', diagnostics: 'a: no such file' };
    case 'CONTAINER_LAUNCHED':
      return { type, ts, pid: 4242, startTime: 777 };
    case 'CONTAINER_EXITED_WITH_SUCCESS':
      return { type, ts, exitCode: 0 };
    case 'CONTAINER_EXITED_WITH_FAILURE':
      return { type, ts, exitCode: 3, diagnostics: 'Container exited with a non-zero exit code 3' };
    case 'CONTAINER_KILLED_ON_REQUEST':
      return { type, ts, exitCode: 143, diagnostics: 'Container killed on request. Exit code is 143' };
    case 'KILL_CONTAINER':
      return { type, ts, exitStatus: ExitStatus.KILLED_BY_APPMASTER, diagnostics: 'Container killed by the ApplicationMaster.' };
    case 'UPDATE_DIAGNOSTICS_MSG':
      return { type, ts, message: 'hello' };
  }
}

/**
 * The ContainerImpl table of reference/yarn-nodemanager.md, written out again
 * here independently of the machine: state → event → target ('self' = stays).
 * Context set-up for guarded rows is given where the default would not reach it.
 */
const TABLE: Partial<Record<ContainerState, Partial<Record<ContainerEventType, ContainerState | 'self'>>>> = {
  NEW: { INIT_CONTAINER: 'SCHEDULED', KILL_CONTAINER: 'DONE' },
  LOCALIZING: { RESOURCE_LOCALIZED: 'SCHEDULED', RESOURCE_FAILED: 'LOCALIZATION_FAILED', KILL_CONTAINER: 'KILLING' },
  LOCALIZATION_FAILED: {
    CONTAINER_RESOURCES_CLEANEDUP: 'DONE',
    KILL_CONTAINER: 'self',
    RESOURCE_LOCALIZED: 'self',
    RESOURCE_FAILED: 'self',
  },
  SCHEDULED: { CONTAINER_LAUNCHED: 'RUNNING', CONTAINER_EXITED_WITH_FAILURE: 'EXITED_WITH_FAILURE', KILL_CONTAINER: 'KILLING' },
  RUNNING: {
    CONTAINER_EXITED_WITH_SUCCESS: 'EXITED_WITH_SUCCESS',
    CONTAINER_EXITED_WITH_FAILURE: 'EXITED_WITH_FAILURE',
    KILL_CONTAINER: 'KILLING',
    CONTAINER_KILLED_ON_REQUEST: 'EXITED_WITH_FAILURE',
    PAUSE_CONTAINER: 'PAUSING',
  },
  PAUSING: {
    CONTAINER_PAUSED: 'PAUSED',
    KILL_CONTAINER: 'KILLING',
    CONTAINER_EXITED_WITH_SUCCESS: 'EXITED_WITH_SUCCESS',
    CONTAINER_EXITED_WITH_FAILURE: 'EXITED_WITH_FAILURE',
  },
  PAUSED: { RESUME_CONTAINER: 'RESUMING', KILL_CONTAINER: 'KILLING', PAUSE_CONTAINER: 'self' },
  RESUMING: { CONTAINER_RESUMED: 'RUNNING', KILL_CONTAINER: 'KILLING' },
  RELAUNCHING: { CONTAINER_LAUNCHED: 'RUNNING', CONTAINER_EXITED_WITH_FAILURE: 'EXITED_WITH_FAILURE', KILL_CONTAINER: 'KILLING' },
  KILLING: {
    CONTAINER_KILLED_ON_REQUEST: 'CONTAINER_CLEANEDUP_AFTER_KILL',
    CONTAINER_EXITED_WITH_SUCCESS: 'EXITED_WITH_SUCCESS',
    CONTAINER_EXITED_WITH_FAILURE: 'EXITED_WITH_FAILURE',
    CONTAINER_RESOURCES_CLEANEDUP: 'DONE',
    KILL_CONTAINER: 'self',
    CONTAINER_LAUNCHED: 'self',
    RESOURCE_LOCALIZED: 'self',
    RESOURCE_FAILED: 'self',
  },
  CONTAINER_CLEANEDUP_AFTER_KILL: { CONTAINER_RESOURCES_CLEANEDUP: 'DONE' },
  EXITED_WITH_SUCCESS: { CONTAINER_RESOURCES_CLEANEDUP: 'DONE' },
  EXITED_WITH_FAILURE: { CONTAINER_RESOURCES_CLEANEDUP: 'DONE' },
  DONE: {},
};
// "EXITED_*, CONTAINER_CLEANEDUP_AFTER_KILL, DONE | KILL_CONTAINER and late exit events | self"
for (const s of ['EXITED_WITH_SUCCESS', 'EXITED_WITH_FAILURE', 'CONTAINER_CLEANEDUP_AFTER_KILL', 'DONE'] as const) {
  for (const e of ['KILL_CONTAINER', 'CONTAINER_KILLED_ON_REQUEST', 'CONTAINER_EXITED_WITH_SUCCESS', 'CONTAINER_EXITED_WITH_FAILURE'] as const) {
    TABLE[s]![e] = 'self';
  }
}
// Beyond the reference, as YARN's ContainerImpl has them: PAUSING, PAUSED and
// RESUMING end when the process does, or when someone else kills it.
for (const s of ['PAUSING', 'PAUSED', 'RESUMING'] as const) {
  TABLE[s]!.CONTAINER_EXITED_WITH_SUCCESS = 'EXITED_WITH_SUCCESS';
  TABLE[s]!.CONTAINER_EXITED_WITH_FAILURE = 'EXITED_WITH_FAILURE';
  TABLE[s]!.CONTAINER_KILLED_ON_REQUEST = 'EXITED_WITH_FAILURE';
}
// DONE also absorbs a late cleanup notice.
TABLE.DONE!.CONTAINER_RESOURCES_CLEANEDUP = 'self';
// "In every state UPDATE_DIAGNOSTICS_MSG appends … and stays."
for (const s of CONTAINER_STATES) TABLE[s]!.UPDATE_DIAGNOSTICS_MSG = 'self';

/** Where the machine must start for a row to take its default branch. */
const SETUP: Partial<Record<ContainerState, Partial<ContainerContext>>> = {
  LOCALIZING: { pendingResources: ['a'] },
  RUNNING: { pid: 4242, attempt: 1 },
  PAUSED: { pid: 4242, attempt: 1 },
  PAUSING: { pid: 4242, attempt: 1 },
  RESUMING: { pid: 4242, attempt: 1 },
};

describe('container machine: the YARN transition table', () => {
  for (const state of CONTAINER_STATES) {
    for (const type of CONTAINER_EVENT_TYPES) {
      const expected = TABLE[state]?.[type];
      if (expected) {
        it(`${state} | ${type} → ${expected}`, () => {
          const a = at(state, SETUP[state]);
          const step = a.step(sample(type));
          expect(step.handled).toBe(true);
          expect(step.from).toBe(state);
          expect(step.to).toBe(expected === 'self' ? state : expected);
          // Every way into DONE stops monitoring and gives the resources back.
          if (step.to === 'DONE' && step.from !== 'DONE') {
            expect(step.effects).toEqual(expect.arrayContaining([{ type: 'STOP_MONITORING' }, { type: 'CONTAINER_COMPLETED' }]));
          }
        });
      } else {
        it(`${state} | ${type} is ignored, nothing changes`, () => {
          const a = at(state, SETUP[state]);
          const before = structuredClone(a.context);
          const step = a.step(sample(type));
          expect(step.handled).toBe(false);
          expect(step.to).toBe(state);
          expect(step.effects).toEqual([]);
          expect(a.context).toEqual(before);
        });
      }
    }
  }
});

describe('container machine: branches, effects and context', () => {
  it('NEW | INIT_CONTAINER goes to LOCALIZING when there are resources, asking for them', () => {
    const a = at('NEW', {}, spec({ localResources: [{ source: '/x', name: 'a' }, { source: '/y', name: 'b' }] }));
    const step = a.step(sample('INIT_CONTAINER'));
    expect(step.to).toBe('LOCALIZING');
    expect(step.effects).toEqual([{ type: 'INIT_CONTAINER_RESOURCES' }]);
  });

  it('NEW | INIT_CONTAINER without resources is scheduled at once', () => {
    const step = at('NEW').step(sample('INIT_CONTAINER'));
    expect(step.to).toBe('SCHEDULED');
    expect(step.effects).toEqual([{ type: 'SCHEDULE_CONTAINER' }]);
  });

  it('LOCALIZING stays until every resource is in, then schedules', () => {
    const a = at('NEW', {}, spec({ localResources: [{ source: '/x', name: 'a' }, { source: '/y', name: 'b' }] }));
    a.step(sample('INIT_CONTAINER'));
    const first = a.step({ type: 'RESOURCE_LOCALIZED', ts: T0, name: 'a' });
    expect(first).toMatchObject({ from: 'LOCALIZING', to: 'LOCALIZING', handled: true, effects: [] });
    const second = a.step({ type: 'RESOURCE_LOCALIZED', ts: T0, name: 'b' });
    expect(second).toMatchObject({ to: 'SCHEDULED', effects: [{ type: 'SCHEDULE_CONTAINER' }] });
  });

  it('a localization failure records the diagnostic and cleans up', () => {
    const a = at('LOCALIZING', { pendingResources: ['a'] });
    const step = a.step(sample('RESOURCE_FAILED'));
    expect(step.effects).toEqual([{ type: 'CLEANUP_CONTAINER_RESOURCES' }]);
    expect(a.context.diagnostics).toBe('[2026-11-21 08:30:00.005] a: no such file\n');
    expect(a.step(sample('CONTAINER_RESOURCES_CLEANEDUP')).to).toBe('DONE');
    expect(a.context.exitStatus).toBe(ExitStatus.INVALID);
  });

  it('a kill while localizing cleans up resources (no process to signal)', () => {
    const a = at('LOCALIZING', { pendingResources: ['a'] });
    const step = a.step(sample('KILL_CONTAINER'));
    expect(step.effects).toEqual([{ type: 'CLEANUP_CONTAINER_RESOURCES' }]);
    expect(a.context.diagnostics).toContain('Container is killed before being launched.');
  });

  it('a kill while scheduled stops a launch under way and says it was before launch', () => {
    const a = at('SCHEDULED');
    expect(a.step(sample('KILL_CONTAINER')).effects).toEqual([{ type: 'CLEANUP_CONTAINER' }]);
    expect(a.context.exitStatus).toBe(-105);
    expect(a.context.diagnostics).toContain('Container is killed before being launched.');
  });

  it('a 137/143 nobody asked for is "Killed by external signal"', () => {
    const a = at('RUNNING', SETUP.RUNNING);
    a.step(sample('CONTAINER_KILLED_ON_REQUEST'));
    expect(a.context).toMatchObject({ exitStatus: 143, exitCode: 143 });
    expect(a.context.diagnostics).toMatch(/Exit code is 143\n\[[^\]]+\] Killed by external signal\n$/);
  });

  it('launch starts monitoring with the pid', () => {
    const a = at('SCHEDULED');
    const step = a.step(sample('CONTAINER_LAUNCHED'));
    expect(step.effects).toEqual([{ type: 'START_MONITORING', pid: 4242 }]);
    expect(a.context).toMatchObject({ pid: 4242, pidStartTime: 777, attempt: 1 });
  });

  it('success: exit status 0, cleanup, DONE stops monitoring and releases resources', () => {
    const a = at('RUNNING', SETUP.RUNNING);
    expect(a.step(sample('CONTAINER_EXITED_WITH_SUCCESS')).effects).toEqual([{ type: 'CLEANUP_CONTAINER_RESOURCES' }]);
    const done = a.step(sample('CONTAINER_RESOURCES_CLEANEDUP'));
    expect(done.effects).toEqual([{ type: 'STOP_MONITORING' }, { type: 'CONTAINER_COMPLETED' }]);
    expect(a.context).toMatchObject({ exitStatus: 0, exitCode: 0 });
  });

  it('failure: the process exit code becomes the exit status', () => {
    const a = at('RUNNING', SETUP.RUNNING);
    a.step(sample('CONTAINER_EXITED_WITH_FAILURE'));
    expect(a.context).toMatchObject({ exitStatus: 3, exitCode: 3 });
    expect(a.context.diagnostics).toContain('Container exited with a non-zero exit code 3');
  });

  it('the kill exit status is sticky: the 143 of the dying process does not overwrite it', () => {
    const a = at('RUNNING', SETUP.RUNNING);
    expect(a.step(sample('KILL_CONTAINER')).effects).toEqual([{ type: 'CLEANUP_CONTAINER' }]);
    a.step({ type: 'KILL_CONTAINER', ts: T0, exitStatus: ExitStatus.KILLED_EXCEEDED_PMEM, diagnostics: 'second kill' });
    a.step(sample('CONTAINER_KILLED_ON_REQUEST'));
    expect(a.state).toBe('CONTAINER_CLEANEDUP_AFTER_KILL');
    expect(a.context).toMatchObject({ exitStatus: -105, exitCode: 143 });
    expect(a.context.diagnostics).not.toContain('second kill');
  });

  it('a kill that wins over a clean exit keeps its status too', () => {
    const a = at('KILLING', { ...SETUP.RUNNING, exitStatus: -104 });
    a.step(sample('CONTAINER_EXITED_WITH_SUCCESS'));
    expect(a.context).toMatchObject({ exitStatus: -104, exitCode: 0 });
  });

  it('NEW | KILL_CONTAINER: done, killed before being launched', () => {
    const a = at('NEW');
    const step = a.step(sample('KILL_CONTAINER'));
    expect(step.effects).toEqual([{ type: 'STOP_MONITORING' }, { type: 'CONTAINER_COMPLETED' }]);
    expect(a.context.exitStatus).toBe(-105);
    expect(a.context.diagnostics).toContain('Container is killed before being launched.');
  });

  it('pause and resume ask the launcher', () => {
    const a = at('RUNNING', SETUP.RUNNING);
    expect(a.step(sample('PAUSE_CONTAINER')).effects).toEqual([{ type: 'PAUSE_CONTAINER' }]);
    expect(a.step(sample('CONTAINER_PAUSED')).to).toBe('PAUSED');
    expect(a.step(sample('RESUME_CONTAINER')).effects).toEqual([{ type: 'RESUME_CONTAINER' }]);
    expect(a.step(sample('CONTAINER_RESUMED')).to).toBe('RUNNING');
  });

  it('UPDATE_DIAGNOSTICS_MSG appends a stamped line and trims from the front', () => {
    const input = { spec: spec(), diagnosticsMaxSize: 40 };
    const a = new ContainerActor(input, { state: 'RUNNING', context: initialContext(input) });
    a.step({ type: 'UPDATE_DIAGNOSTICS_MSG', ts: T0, message: 'first' });
    expect(a.context.diagnostics).toBe('[2026-11-21 08:30:00.005] first\n');
    a.step({ type: 'UPDATE_DIAGNOSTICS_MSG', ts: T0 + 1, message: 'second' });
    expect(a.context.diagnostics).toHaveLength(40);
    expect(a.context.diagnostics.endsWith('[2026-11-21 08:30:00.006] second\n')).toBe(true);
  });
});

describe('container machine: retry policy (RELAUNCHING)', () => {
  const failure = (exitCode: number, ts = T0): ContainerEvent => ({
    type: 'CONTAINER_EXITED_WITH_FAILURE',
    ts,
    exitCode,
    diagnostics: `Container exited with a non-zero exit code ${exitCode}`,
  });

  it('RETRY_ON_ALL_ERRORS relaunches after the interval, then gives up when retries run out', () => {
    const s = spec({ retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', errorCodes: [], maxRetries: 2, retryIntervalMs: 500 } });
    const a = at('SCHEDULED', {}, s);
    a.step({ type: 'CONTAINER_LAUNCHED', ts: T0, pid: 10, startTime: 1 });
    for (let i = 1; i <= 2; i++) {
      const step = a.step(failure(7, T0 + i * 1000));
      expect(step.to).toBe('RELAUNCHING');
      expect(step.effects).toEqual([
        { type: 'STOP_MONITORING' },
        { type: 'RELAUNCH_CONTAINER', notBefore: T0 + i * 1000 + 500, attempt: i + 1 },
      ]);
      expect(a.step({ type: 'CONTAINER_LAUNCHED', ts: T0 + i * 1000 + 500, pid: 10 + i, startTime: 1 }).to).toBe('RUNNING');
    }
    expect(a.step(failure(7)).to).toBe('EXITED_WITH_FAILURE');
    expect(a.context).toMatchObject({ exitStatus: 7, exitCode: 7, attempt: 3, remainingRetries: 0 });
    // Each attempt's failure is marked as such (YARN RetryFailureTransition).
    expect(a.context.diagnostics.match(/Diagnostic message from attempt : \nContainer exited with a non-zero exit code 7/g)).toHaveLength(3);
  });

  it('RETRY_ON_SPECIFIC_ERROR_CODES relaunches only on the listed codes', () => {
    const s = spec({ retryPolicy: { policy: 'RETRY_ON_SPECIFIC_ERROR_CODES', errorCodes: [5], maxRetries: 3, retryIntervalMs: 0 } });
    expect(at('RUNNING', SETUP.RUNNING, s).step(failure(5)).to).toBe('RELAUNCHING');
    expect(at('RUNNING', SETUP.RUNNING, s).step(failure(6)).to).toBe('EXITED_WITH_FAILURE');
  });

  it('maxRetries -1 retries forever; 137 and 143 are never retried', () => {
    const s = spec({ retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', errorCodes: [], maxRetries: -1, retryIntervalMs: 0 } });
    const a = at('RUNNING', SETUP.RUNNING, s);
    for (let i = 0; i < 5; i++) {
      expect(a.step(failure(1)).to).toBe('RELAUNCHING');
      a.step({ type: 'CONTAINER_LAUNCHED', ts: T0, pid: 11, startTime: 1 });
    }
    expect(at('RUNNING', SETUP.RUNNING, s).step(failure(137)).to).toBe('EXITED_WITH_FAILURE');
    expect(at('RUNNING', SETUP.RUNNING, s).step(failure(143)).to).toBe('EXITED_WITH_FAILURE');
  });

  it('NEVER_RETRY never relaunches, and its failure is not called an attempt', () => {
    const a = at('RUNNING', SETUP.RUNNING);
    expect(a.step(failure(1)).to).toBe('EXITED_WITH_FAILURE');
    expect(a.context.diagnostics).not.toContain('attempt');
  });
});

describe('container actor: finished containers are parked', () => {
  it('keeps state and context after DONE and still takes late events from the table', () => {
    const a = at('RUNNING', SETUP.RUNNING);
    a.step(sample('CONTAINER_EXITED_WITH_FAILURE'));
    a.step(sample('CONTAINER_RESOURCES_CLEANEDUP'));
    expect(a.state).toBe('DONE');
    const context = structuredClone(a.context);
    expect(a.step(sample('KILL_CONTAINER'))).toEqual({ from: 'DONE', to: 'DONE', handled: true, effects: [] });
    expect(a.step(sample('CONTAINER_LAUNCHED')).handled).toBe(false);
    a.step({ type: 'UPDATE_DIAGNOSTICS_MSG', ts: T0, message: 'late note' });
    expect(a.context).toEqual({ ...context, diagnostics: `${context.diagnostics}[2026-11-21 08:30:00.005] late note\n` });
  });
});

describe('container actor: an event the machine cannot digest', () => {
  it('throws MachineStepError to the caller and leaves the state and context as they were', () => {
    const actor = at('RUNNING', { pid: 42, pidStartTime: 7, attempt: 1 });
    const before = { state: actor.state, context: actor.context };
    // No message: the machine's diagnostics action fails on it.
    expect(() => actor.step({ type: 'UPDATE_DIAGNOSTICS_MSG', ts: 5 } as unknown as ContainerEvent)).toThrow(MachineStepError);
    expect({ state: actor.state, context: actor.context }).toEqual(before);
    // The actor carries on: the next event is taken as usual.
    expect(actor.step({ type: 'CONTAINER_EXITED_WITH_SUCCESS', ts: 6, exitCode: 0 })).toMatchObject({ from: 'RUNNING', to: 'EXITED_WITH_SUCCESS' });
  });
});
