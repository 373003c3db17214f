/** The recovery table of state-machines/recovery.ts, row by row, and the launcher's search for unconfirmed launches. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { NEVER_RETRY } from '../state-machines/retry-policy.js';
import { processToFind, recoveryPlan, type FoundProcess, type RestoredContainer } from '../state-machines/recovery.js';
import type { ContainerState } from '../state-machines/types.js';
import { ProcessLauncher } from '../src/launcher/process-launcher.js';
import { containerPaths } from '../src/launcher/container-paths.js';
import { killGroups, waitFor } from './helpers/proc.js';

const retryPolicy = { ...NEVER_RETRY, retryIntervalMs: 500 };
const restored = (state: ContainerState, over: Partial<RestoredContainer['context']> & { launchAttempt?: number } = {}): RestoredContainer => {
  const { launchAttempt, ...context } = over;
  return {
    state,
    context: { pid: null, pidStartTime: null, attempt: 0, retryPolicy, pendingResources: [], ...context },
    launchAttempt: launchAttempt ?? context.attempt ?? 0,
    updatedAt: 1000,
  };
};
const NONE: FoundProcess = { kind: 'none' };
const ALIVE: FoundProcess = { kind: 'alive', pid: 42, startTime: 7 };
const ENDED: FoundProcess = { kind: 'ended', pid: 42, startTime: -1 };
const running = { pid: 42, pidStartTime: 7, attempt: 1 };

describe('which process recovery looks for', () => {
  it('the recorded one for states with a process, an unconfirmed one when the launch marker is ahead, none otherwise', () => {
    expect(processToFind(restored('RUNNING', running))).toEqual({ kind: 'recorded', pid: 42, startTime: 7 });
    for (const s of ['PAUSING', 'PAUSED', 'RESUMING', 'KILLING'] as const) expect(processToFind(restored(s, running)).kind).toBe('recorded');
    expect(processToFind(restored('SCHEDULED', { launchAttempt: 1 }))).toEqual({ kind: 'unconfirmed', previousPid: null });
    expect(processToFind(restored('RELAUNCHING', { ...running, launchAttempt: 2 }))).toEqual({ kind: 'unconfirmed', previousPid: 42 });
    expect(processToFind(restored('KILLING', { launchAttempt: 1 }))).toEqual({ kind: 'unconfirmed', previousPid: null });
    for (const s of ['NEW', 'LOCALIZING', 'SCHEDULED', 'EXITED_WITH_SUCCESS', 'DONE'] as const) expect(processToFind(restored(s, { attempt: 0 })).kind).toBe('none');
  });
});

describe('the recovery plan', () => {
  const plan = (r: RestoredContainer, f: FoundProcess) => {
    const p = recoveryPlan(r, f);
    return { reacquire: p.reacquire, events: p.events.map((e) => e.type), effects: p.effects };
  };

  it('before any launch: the step the state was in is taken again', () => {
    expect(plan(restored('NEW'), NONE)).toEqual({ reacquire: null, events: ['INIT_CONTAINER'], effects: [] });
    expect(plan(restored('LOCALIZING'), NONE).effects).toEqual([{ type: 'INIT_CONTAINER_RESOURCES' }]);
    expect(plan(restored('SCHEDULED'), NONE).effects).toEqual([{ type: 'SCHEDULE_CONTAINER' }]);
  });

  it('a decided launch: confirmed when its process is found (alive or ended), made now when not', () => {
    const decided = restored('SCHEDULED', { launchAttempt: 1 });
    expect(plan(decided, ALIVE)).toEqual({ reacquire: { pid: 42, startTime: 7 }, events: ['CONTAINER_LAUNCHED'], effects: [] });
    expect(recoveryPlan(decided, ALIVE).events[0]).toEqual({ type: 'CONTAINER_LAUNCHED', pid: 42, startTime: 7 });
    expect(plan(decided, ENDED)).toMatchObject({ reacquire: { pid: 42 }, events: ['CONTAINER_LAUNCHED'] });
    expect(plan(decided, NONE)).toEqual({ reacquire: null, events: [], effects: [{ type: 'LAUNCH_CONTAINER', attempt: 1 }] });
    // A relaunch keeps its interval, counted from the failure.
    expect(plan(restored('RELAUNCHING', { ...running, launchAttempt: 2 }), NONE).effects).toEqual([{ type: 'RELAUNCH_CONTAINER', attempt: 2, notBefore: 1500 }]);
  });

  it('a running process is monitored again, and a pause or resume under way is redone; an ended one only reports its exit', () => {
    expect(plan(restored('RUNNING', running), ALIVE).effects).toEqual([{ type: 'START_MONITORING', pid: 42 }]);
    expect(plan(restored('PAUSING', running), ALIVE).effects).toEqual([{ type: 'START_MONITORING', pid: 42 }, { type: 'PAUSE_CONTAINER' }]);
    expect(plan(restored('PAUSED', running), ALIVE).effects).toEqual([{ type: 'START_MONITORING', pid: 42 }]);
    expect(plan(restored('RESUMING', running), ALIVE).effects).toEqual([{ type: 'START_MONITORING', pid: 42 }, { type: 'RESUME_CONTAINER' }]);
    expect(plan(restored('RUNNING', running), ENDED)).toEqual({ reacquire: { pid: 42, startTime: -1 }, events: [], effects: [] });
    // Running by its state with no pid at all: looked for as pid -1, which never lives, so its end is reported (LOST).
    expect(processToFind(restored('PAUSED', { attempt: 1 }))).toEqual({ kind: 'recorded', pid: -1, startTime: -1 });
  });

  it('a kill is carried out again; finished states release their resources; DONE needs nothing', () => {
    expect(plan(restored('KILLING', running), ALIVE)).toEqual({ reacquire: { pid: 42, startTime: 7 }, events: [], effects: [{ type: 'CLEANUP_CONTAINER' }] });
    expect(plan(restored('KILLING'), NONE)).toEqual({ reacquire: null, events: [], effects: [{ type: 'CLEANUP_CONTAINER' }] });
    // Killed while localizing: the machine asked for the resources' cleanup, not the container's.
    expect(plan(restored('KILLING', { pendingResources: ['data'] }), NONE).effects).toEqual([{ type: 'CLEANUP_CONTAINER_RESOURCES' }]);
    for (const s of ['LOCALIZATION_FAILED', 'EXITED_WITH_SUCCESS', 'EXITED_WITH_FAILURE', 'CONTAINER_CLEANEDUP_AFTER_KILL'] as const) {
      expect(plan(restored(s, running), NONE).effects).toEqual([{ type: 'CLEANUP_CONTAINER_RESOURCES' }]);
    }
    expect(plan(restored('DONE', running), NONE)).toEqual({ reacquire: null, events: [], effects: [] });
  });
});

describe('finding a launch that was never confirmed', () => {
  let dir: string;
  const groups: number[] = [];
  afterEach(async () => {
    await killGroups(groups.splice(0));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const launcher = () => new ProcessLauncher({ workDir: dir, sigkillDelayMs: 100, exitCodeFileTimeoutMs: 100, log: pino({ level: 'silent' }) });
  /** `bash launch_container.sh` as a session leader in the container's directory (a stand-in script: writes the pid file or not, then sleeps). */
  const wrapper = (id: string, writePidFile: boolean) => {
    const paths = containerPaths(dir, id);
    fs.mkdirSync(paths.dir, { recursive: true });
    fs.writeFileSync(paths.script, writePidFile ? `echo $$ > ${id}.pid; sleep 600\n` : 'sleep 600\n');
    const child = spawn('/bin/bash', ['launch_container.sh'], { cwd: paths.dir, detached: true, stdio: 'ignore' });
    child.unref();
    groups.push(child.pid!);
    return child.pid!;
  };

  it('by its pid file; by its working directory before it wrote one; a leftover pid file of the previous attempt is not it', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-find-'));
    const withFile = wrapper('with-file', true);
    // Its content, not only its existence: `echo $$ > file` creates the file before it writes the pid.
    const pidFile = containerPaths(dir, 'with-file').pidFile;
    await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() === String(withFile), 15_000, 'the pid file');
    const noFile = wrapper('no-file', false);
    fs.mkdirSync(containerPaths(dir, 'never').dir, { recursive: true });
    fs.mkdirSync(containerPaths(dir, 'ended').dir, { recursive: true });
    fs.writeFileSync(containerPaths(dir, 'ended').pidFile, '999999\n');
    fs.mkdirSync(containerPaths(dir, 'stale').dir, { recursive: true });
    fs.writeFileSync(containerPaths(dir, 'stale').pidFile, '999998\n');

    const l = launcher();
    const wanted = ['with-file', 'no-file', 'never', 'ended', 'no-dir'].map((id) => ({ id, previousPid: null }));
    // A session leader in a container directory that is not the wrapper is not taken for it.
    const impostor = spawn('/bin/sleep', ['600'], { cwd: containerPaths(dir, 'never').dir, detached: true, stdio: 'ignore' });
    impostor.unref();
    groups.push(impostor.pid!);
    const found = l.findLaunches([...wanted, { id: 'stale', previousPid: 999998 }]);
    expect(found.get('with-file')).toMatchObject({ kind: 'alive', pid: withFile });
    expect(found.get('no-file')).toMatchObject({ kind: 'alive', pid: noFile });
    expect(found.get('never')).toEqual({ kind: 'none' });
    expect(found.get('ended')).toEqual({ kind: 'ended', pid: 999999, startTime: -1 });
    expect(found.get('no-dir')).toEqual({ kind: 'none' });
    expect(found.get('stale')).toEqual({ kind: 'none' });
    // A recorded process is the container's only while it is its wrapper, with the recorded start time.
    const stat = fs.readFileSync(`/proc/${withFile}/stat`, 'utf8');
    const startTime = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    expect(l.isWrapperOf('with-file', withFile, startTime)).toBe(true);
    expect(l.isWrapperOf('with-file', withFile, startTime + 1)).toBe(false);
    expect(l.isWrapperOf('no-file', withFile, startTime)).toBe(false);
    expect(l.isWrapperOf('never', impostor.pid!, Number(fs.readFileSync(`/proc/${impostor.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]))).toBe(false);
    l.close();
  });
});
