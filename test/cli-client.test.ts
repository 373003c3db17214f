/**
 * The CLI of SPEC §7 against a real `nodewarden start` process over its socket:
 * human output, --json, exit codes 0/1/2, --socket and NODEWARDEN_SOCKET, and
 * a second daemon refused with the holder named.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSetArgs, cleanupHierarchy, containmentSettings, testHierarchy } from './helpers/cgroups.js';
import { isLive, killGroups, waitFor } from './helpers/proc.js';

const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');
let dir: string;
let socket: string;
let daemon: ChildProcess;
let log = '';
const pids = new Set<number>();
const hierarchies: string[] = [];

// A long SIGKILL delay: nothing here ignores SIGTERM, and the wrapper must have the time it needs on a
// busy machine to record the 143 the events test expects (a SIGKILL first would make it 137).
const SETTINGS = ['yarn.nodemanager.container-monitor.interval-ms=100', 'yarn.nodemanager.sleep-delay-before-sigkill.ms=10000'];

function startDaemon(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  // Each daemon a cgroup hierarchy of its own, where cgroups are in force: none takes another's containers for its own.
  const hierarchy = testHierarchy();
  hierarchies.push(hierarchy);
  const child = spawn(process.execPath, [BIN, 'start', ...SETTINGS.flatMap((s) => ['--set', s]), ...asSetArgs(containmentSettings(hierarchy)), ...args], { cwd: dir });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  // 'close', not 'exit': the output is read once the process has ended, and 'exit' can come before the last of it.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-cli-client-'));
  socket = path.join(dir, 'run', 'nw.sock');
  const d = startDaemon(['--socket', socket, '--db', path.join(dir, 'db', 'nw.sqlite'), '--work-dir', path.join(dir, 'var')]);
  daemon = d.child;
  await waitFor(() => d.output().includes('listening on'), 20_000, 'the daemon to listen');
  log = d.output();
});

afterAll(async () => {
  // Containers outlive a stopped daemon (supervised): kill their groups too.
  const ps = nw('ps', '--json');
  if (ps.status === 0) for (const c of JSON.parse(ps.stdout).containers) if (c.pid) pids.add(c.pid);
  daemon?.kill('SIGTERM');
  await waitFor(() => daemon.exitCode !== null || daemon.signalCode !== null, 20_000, 'the daemon to stop');
  for (const h of hierarchies) await cleanupHierarchy(h);
  await killGroups(pids);
  fs.rmSync(dir, { recursive: true, force: true });
}, 90_000);

/** The environment of a CLI run: the daemon's socket, and colour left to the CLI (plain into a pipe) whatever runs the tests. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODEWARDEN_SOCKET: socket, ...extra };
  for (const name of ['NO_COLOR', 'FORCE_COLOR']) if (!(name in extra)) delete env[name];
  return env;
}

const nw = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir, timeout: 30_000, env: cliEnv() });

const stateOf = (id: string) => JSON.parse(nw('show', id, '--json').stdout).state as string;

// Each test runs several CLI processes (a Node start each, about a second on a loaded machine), some in polls.
describe('nodewarden CLI against a running daemon', { timeout: 90_000 }, () => {
  it('launch prints the id; ps, show and stats print tables; --json prints the API JSON', async () => {
    const launched = nw('launch', '--id', 'web', '--memory-mb', '64', '--vcores', '1', '--env', 'GREETING=hi there', '--', 'sh', '-c', 'echo "$GREETING"; sleep 3600'); // killed by the next test (and by afterAll, should that fail)
    expect(launched.status).toBe(0);
    expect(launched.stdout).toBe('web\n');
    await waitFor(() => stateOf('web') === 'RUNNING', 20_000, 'web to run');
    const view = JSON.parse(nw('show', 'web', '--json').stdout);
    pids.add(view.pid);
    expect(view).toMatchObject({ id: 'web', state: 'RUNNING', resources: { memoryMb: 64, vcores: 1 } });
    await waitFor(() => fs.existsSync(path.join(view.logDir, 'stdout')) && fs.readFileSync(path.join(view.logDir, 'stdout'), 'utf8') === 'hi there\n', 15_000, 'the env to reach the command');

    const ps = nw('ps');
    expect(ps.status).toBe(0);
    const [header, row] = ps.stdout.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['ID', 'STATE', 'PID', 'MEMORY', 'CPU%', 'VCORES', 'EXIT', 'AGE']);
    expect(row).toMatch(new RegExp(`^web\\s+RUNNING\\s+${view.pid}\\s`));
    expect(JSON.parse(nw('ps', '--json').stdout).containers.map((c: { id: string }) => c.id)).toEqual(['web']);

    const show = nw('show', 'web');
    expect(show.stdout).toMatch(/^id:\s+web$/m);
    expect(show.stdout).toMatch(/^state:\s+RUNNING$/m);
    expect(show.stdout).toMatch(/^limits:\s+pmem 96 MB, vmem 201\.6 MB, cpus 1\.1$/m);
    expect(show.stdout).toMatch(/NEW\s+SCHEDULED\s+INIT_CONTAINER/);

    await waitFor(() => JSON.parse(nw('stats', '--json').stdout).length === 1, 20_000, 'statistics');
    const stats = nw('stats');
    expect(stats.stdout.split('\n')[0]!.split(/\s{2,}/)).toEqual(['ID', 'PROCS', 'THREADS', 'RSS', 'TOTAL', 'MEM LIMIT', 'CPU USER', 'CPU SYS', 'CPU LIMIT']);
    expect(stats.stdout).toMatch(/^web\s+\d+\s+\d+\s/m);
    const mesos = JSON.parse(nw('stats', '--json').stdout);
    expect(mesos[0]).toMatchObject({ executor_id: 'web', framework_id: 'default', statistics: { cpus_limit: 1.1, mem_limit_bytes: 96 * 2 ** 20 } });
  });

  it('pause, resume and kill change the state and say so; events lists the transitions in order', async () => {
    expect(nw('pause', 'web').stdout).toMatch(/^web: pause requested, now PAUS(ING|ED)\n$/);
    await waitFor(() => stateOf('web') === 'PAUSED', 20_000, 'PAUSED');
    expect(nw('resume', 'web').status).toBe(0);
    await waitFor(() => stateOf('web') === 'RUNNING', 20_000, 'RUNNING');
    const killed = nw('kill', 'web', '--json');
    expect(JSON.parse(killed.stdout)).toMatchObject({ id: 'web', state: 'KILLING', exitStatus: -105 });
    await waitFor(() => stateOf('web') === 'DONE', 20_000, 'DONE');

    const events = nw('events');
    expect(events.status).toBe(0);
    const lines = events.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.split('  ').slice(3, 5).join(' '))).toEqual([
      'NEW → SCHEDULED INIT_CONTAINER',
      'SCHEDULED → RUNNING CONTAINER_LAUNCHED',
      'RUNNING → PAUSING PAUSE_CONTAINER',
      'PAUSING → PAUSED CONTAINER_PAUSED',
      'PAUSED → RESUMING RESUME_CONTAINER',
      'RESUMING → RUNNING CONTAINER_RESUMED',
      'RUNNING → KILLING KILL_CONTAINER (exit status -105)',
      'KILLING → CONTAINER_CLEANEDUP_AFTER_KILL CONTAINER_KILLED_ON_REQUEST (exit code 143)',
      'CONTAINER_CLEANEDUP_AFTER_KILL → DONE CONTAINER_RESOURCES_CLEANEDUP',
    ]);
    const seqs = nw('events', '--json').stdout.trimEnd().split('\n').map((l) => JSON.parse(l).seq as number);
    const json = nw('events', '--json', '--since', String(seqs[6])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(json.map((r) => r.seq)).toEqual(seqs.slice(7));
    expect(json[0]).toMatchObject({ type: 'transition', container: 'web', from: 'KILLING' });
  });

  it('events --follow prints new transitions as they are committed', async () => {
    const last = nw('events', '--json').stdout.trimEnd().split('\n').map((l) => JSON.parse(l).seq as number).at(-1)!;
    const follower = spawn(process.execPath, [BIN, 'events', '--follow', '--json', '--since', String(last), '--socket', socket], { cwd: dir });
    let out = '';
    follower.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await waitFor(() => follower.pid !== undefined, 1000, 'the follower');
      expect(nw('launch', '--id', 'quick', '--memory-mb', '16', '--vcores', '1', '--', 'true').status).toBe(0);
      // Whole lines only: a record may arrive in pieces.
      await waitFor(() => out.split('\n').length - 1 >= 4, 20_000, 'the followed transitions');
      const records = out.trimEnd().split('\n').map((l) => JSON.parse(l));
      expect(records.map((r) => `${r.container}:${r.to}`)).toEqual(['quick:SCHEDULED', 'quick:RUNNING', 'quick:EXITED_WITH_SUCCESS', 'quick:DONE']);
      const seqs = records.map((r) => r.seq as number);
      expect(seqs[0]).toBeGreaterThan(last);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    } finally {
      follower.kill('SIGINT');
    }
    expect(await new Promise((resolve) => follower.once('exit', (code) => resolve(code)))).toBe(0);
  });

  it('show tells the whole story: request, limits, usage, transitions with times, diagnostics, log paths, the last lines of stderr', async () => {
    const script = 'for i in $(seq 1 15); do echo "problem $i" >&2; done; echo fine; exit 3';
    expect(nw('launch', '--id', 'noisy', '--memory-mb', '32', '--vcores', '1', '--env', 'MODE=two words', '--', 'sh', '-c', script).status).toBe(0);
    await waitFor(() => stateOf('noisy') === 'DONE', 20_000, 'noisy to finish');
    const view = JSON.parse(nw('show', 'noisy', '--json').stdout);
    expect(view).toMatchObject({ env: { MODE: 'two words' }, localResources: [], retryPolicy: { policy: 'NEVER_RETRY' }, exitCode: 3 });

    const show = nw('show', 'noisy');
    expect(show.status).toBe(0);
    const out = show.stdout;
    expect(out).toMatch(/^state:\s+DONE$/m);
    expect(out).toMatch(/^exit code:\s+3$/m);
    expect(out).toMatch(/^limits:\s+pmem 64 MB, vmem 134\.4 MB, cpus 1\.1$/m);
    expect(out).toMatch(/^request:\n {2}command: +sh -c 'for i in \$\(seq 1 15\); do echo "problem \$i" >&2; done; echo fine; exit 3'$/m);
    expect(out).toMatch(/^ {2}resources: +32 MB, 1 vcores, GUARANTEED$/m);
    expect(out).toMatch(/^ {2}env: +'MODE=two words'$/m);
    expect(out).toMatch(/^ {2}retry policy: +NEVER_RETRY$/m);
    // Every transition with its time and the gap since the one before.
    const transitions = out.slice(out.indexOf('transitions:')).split('\n').slice(2, 6);
    expect(transitions.map((l) => l.trim().split(/\s{2,}/).slice(-3).join(' '))).toEqual([
      'NEW SCHEDULED INIT_CONTAINER',
      'SCHEDULED RUNNING CONTAINER_LAUNCHED',
      'RUNNING EXITED_WITH_FAILURE CONTAINER_EXITED_WITH_FAILURE',
      'EXITED_WITH_FAILURE DONE CONTAINER_RESOURCES_CLEANEDUP',
    ]);
    expect(transitions[1]).toMatch(/^ {2}\d+ +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} +\+\d+\.\d{3}s +SCHEDULED/);
    expect(out).toMatch(/^diagnostics:\n {2}.*exit code 3/m);
    expect(out).toContain(`  stderr:  ${path.join(view.logDir, 'stderr')} (`);
    expect(out).toContain(`  stdout:  ${path.join(view.logDir, 'stdout')} (5 B)`);
    expect(out).toContain(`last 10 lines of stderr:\n${Array.from({ length: 10 }, (_, i) => `  problem ${i + 6}\n`).join('')}`);
    expect(nw('show', 'noisy', '--lines', '2').stdout).toContain('last 2 lines of stderr:\n  problem 14\n  problem 15\n');
    expect(nw('show', 'noisy', '--lines', '0').status).toBe(2);
  });

  it('YARN containerlogs serves a log whole, its first N bytes (size=N) or its last N (size=-N), and refuses a bad size', async () => {
    const { NodewardenClient } = await import('../src/client/client.js');
    const client = new NodewardenClient(socket);
    try {
      const whole = await client.getText('/ws/v1/node/containerlogs/noisy/stderr');
      expect(whole.split('\n')).toHaveLength(16);
      expect(await client.getText('/ws/v1/node/containerlogs/noisy/stderr?size=10')).toBe(whole.slice(0, 10));
      expect(await client.getText('/ws/v1/node/containerlogs/noisy/stderr?size=-11')).toBe('problem 15\n');
      expect(await client.getText('/ws/v1/node/containerlogs/noisy/stderr?size=-100000')).toBe(whole);
      expect(await client.getText('/ws/v1/node/containerlogs/noisy/stderr?size=0')).toBe('');
      await expect(client.getText('/ws/v1/node/containerlogs/noisy/stderr?size=ten')).rejects.toThrow(/size must be an integer/);
      await expect(client.getText('/ws/v1/node/containerlogs/noisy/..%2F..%2Fnodewarden.sock?size=-1')).rejects.toThrow(/has no log file/);
    } finally {
      client.close();
    }
  });

  it('events prints plain lines into a pipe; FORCE_COLOR colours them (and wins over NO_COLOR), FORCE_COLOR=0 does not', () => {
    const plain = nw('events').stdout;
    expect(plain).not.toContain('\x1b[');
    const events = (env: Record<string, string>) => spawnSync(process.execPath, [BIN, 'events'], { encoding: 'utf8', cwd: dir, env: cliEnv(env) }).stdout;
    const forced = events({ FORCE_COLOR: '1' });
    expect(forced).toMatch(/\x1b\[32mRUNNING\x1b\[39m/);
    expect(forced.replace(/\x1b\[\d+m/g, '')).toBe(plain);
    expect(events({ FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(forced); // as in Node itself
    expect(events({ FORCE_COLOR: '0' })).toBe(plain);
    expect(events({ FORCE_COLOR: 'false' })).toBe(plain);
    expect(events({ NO_COLOR: '1' })).toBe(plain);
  });

  it('errors: an unknown id exits 1 with the API message; bad usage exits 2; bad input is refused with the reason', () => {
    const unknown = nw('kill', 'nope');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe('nodewarden: container nope not found\n');
    expect(nw('show').status).toBe(2);
    expect(nw('launch', '--memory-mb', '64', '--vcores', '1').status).toBe(2);
    const noMemory = nw('launch', '--vcores', '1', '--', 'true');
    expect(noMemory.status).toBe(2);
    expect(noMemory.stderr).toContain('--memory-mb needs a positive integer');
    const badId = nw('launch', '--id', '../x', '--memory-mb', '16', '--vcores', '1', '--', 'true');
    expect(badId.status).toBe(1);
    expect(badId.stderr).toContain('id must match');
    expect(nw('ps', '--bogus').status).toBe(2);
  });

  it('no daemon on the socket: "cannot reach nodewarden at <path>: is it running?", exit 1, no stack trace', () => {
    const elsewhere = path.join(dir, 'nothing-here.sock');
    for (const args of [['ps', '--socket', elsewhere], ['kill', 'x', '--socket', elsewhere]]) {
      const r = nw(...args);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`nodewarden: cannot reach nodewarden at ${elsewhere}: is it running?\n`);
    }
    const viaEnv = spawnSync(process.execPath, [BIN, 'ps'], { encoding: 'utf8', cwd: dir, env: { ...process.env, NODEWARDEN_SOCKET: elsewhere } });
    expect(viaEnv.stderr).toContain(elsewhere);
  });

  it('a second daemon on the same socket, or the same database, refuses to start and names the first', async () => {
    const sameSocket = startDaemon(['--socket', socket, '--db', path.join(dir, 'db', 'other.sqlite'), '--work-dir', path.join(dir, 'var2')]);
    expect(await sameSocket.exited).toBe(1);
    expect(sameSocket.output()).toContain(`nodewarden pid ${daemon.pid} is already serving ${socket}`);
    const sameDb = startDaemon(['--socket', path.join(dir, 'run', 'other.sock'), '--db', path.join(dir, 'db', 'nw.sqlite'), '--work-dir', path.join(dir, 'var2')]);
    expect(await sameDb.exited).toBe(1);
    expect(sameDb.output()).toContain(`is in use by nodewarden pid ${daemon.pid}`);
    expect(sameDb.output()).not.toContain('    at ');
    expect(nw('ps').status).toBe(0);
  });

  it('the daemon logs where it listens; a SIGKILLed daemon leaves a stale socket that the next start replaces', async () => {
    expect(log).toContain(`listening on ${socket}`);
    const other = path.join(dir, 'run', 'stale.sock');
    const args = ['--socket', other, '--db', path.join(dir, 'db', 'stale.sqlite'), '--work-dir', path.join(dir, 'var3')];
    const first = startDaemon(args);
    try {
      await waitFor(() => first.output().includes('listening on'), 20_000, 'the first daemon');
    } finally {
      first.child.kill('SIGKILL'); // also when it never listened
      await first.exited;
    }
    expect(fs.statSync(other).isSocket()).toBe(true);
    const second = startDaemon(args);
    try {
      await waitFor(() => second.output().includes('listening on'), 20_000, 'the second daemon');
      expect(second.output()).toContain('replaced a stale socket');
      expect(nw('ps', '--socket', other).stdout).toBe('no containers\n');
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
    expect(fs.existsSync(other)).toBe(false);
    expect(isLive(daemon.pid!)).toBe(true);
  });
});
