/**
 * Least privilege (issue 9), with real daemon processes: as root, a request
 * may name the `user` a container runs as (uid, gid, its files owned by it),
 * within YARN's container-executor rules (min user id, banned users); a
 * daemon that is not root refuses any other user. What the daemon writes is
 * not for other users: the socket 0660 in a directory others cannot write,
 * the database, container directories and logs not world-readable.
 *
 * Switching users needs root (CI runs as root); the non-root daemon runs as
 * `nobody`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ApiError } from '../src/client/client.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { waitFor } from './helpers/proc.js';
import { refusal } from './helpers/refusal.js';
import { stageInstall, type StagedInstall } from './helpers/staged-install.js';

const apiRefusal = (p: Promise<unknown>) => refusal(p, ApiError);

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

let d: DaemonDir | null = null;
afterEach(async () => {
  await d?.cleanup();
  d = null;
});


const mode = (p: string) => fs.statSync(p).mode & 0o777;
const owner = (p: string) => fs.statSync(p).uid;

describe.runIf(isRoot)('least privilege', () => {
  // The daemon as nobody cannot load code from a checkout only root can traverse (a clone under /root).
  let staged: StagedInstall | undefined;
  beforeAll(() => {
    staged = stageInstall();
  });
  afterAll(() => staged?.remove());

  it('as root: a container runs as the user the request names; what it makes is its own, what the daemon put there stays the daemon\'s', async () => {
    d = new DaemonDir();
    await d.start();
    const script = 'id -u; id -g; id -G; echo "$USER $LOGNAME $HOME"; touch mine; exit 0';
    await d.launch('as-nobody', ['sh', '-c', script], { user: 'nobody' });
    expect((await d.until('as-nobody', 'DONE')).exitCode).toBe(0);
    const dir = d.containerDir('as-nobody');
    // No supplementary groups are kept from root.
    expect(fs.readFileSync(path.join(dir, 'logs', 'stdout'), 'utf8')).toBe(`${NOBODY}\n${NOBODY}\n${NOBODY}\nnobody nobody /nonexistent\n`);
    for (const f of ['as-nobody.pid', 'as-nobody.pid.exitcode', 'mine']) expect(owner(path.join(dir, f)), f).toBe(NOBODY);
    // The directory: the daemon's, writable by the user's group, sticky (the user cannot rename what is not its own).
    expect(owner(dir)).toBe(0);
    expect(fs.statSync(dir).gid).toBe(NOBODY);
    expect(mode(dir)).toBe(0o770);
    expect(fs.statSync(dir).mode & 0o1000).toBe(0o1000);
    for (const [f, m] of [['logs', 0o750], ['logs/stdout', 0o640], ['logs/stderr', 0o640], ['launch_container.sh', 0o640]] as const) {
      expect([owner(path.join(dir, f)), fs.statSync(path.join(dir, f)).gid, mode(path.join(dir, f))], f).toEqual([0, NOBODY, m]);
    }
    // The view says who it ran as.
    expect((await d.view('as-nobody')).user).toBe('nobody');

    // Without `user`, the daemon's own user, as before.
    await d.launch('as-root', ['sh', '-c', 'id -u']);
    expect((await d.until('as-root', 'DONE')).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(d.containerDir('as-root'), 'logs', 'stdout'), 'utf8')).toBe('0\n');
  });

  it('as root: a run-as container cannot steer the daemon through names it plants for the next attempt', async () => {
    d = new DaemonDir();
    await d.start();
    const secret = fs.mkdtempSync('/tmp/nw-secret-');
    onTestFinished(() => fs.rmSync(secret, { recursive: true, force: true }));
    fs.writeFileSync(path.join(secret, 'stdout'), 'root only\n', { mode: 0o600 });
    const before = fs.readFileSync('/etc/passwd', 'utf8');
    // Attempt 1 plants links where the daemon writes next, tries to move the daemon's files away, and fails;
    // attempt 2 (the retry) must run normally with nothing outside its directory touched.
    const attack = [
      'if [ -e attacked ]; then echo second; exit 0; fi; touch attacked',
      'ln -s /etc/passwd launch_container.sh.tmp',
      `mv logs logs.away 2>/dev/null; rm -rf logs 2>/dev/null; ln -s ${secret} logs 2>/dev/null`,
      'mv launch_container.sh gone.sh 2>/dev/null; rm -f attack.pid; mkfifo attack.pid.exitcode.tmp; exit 1',
    ].join('\n');
    await d.launch('attack', ['sh', '-c', attack], { user: 'nobody', retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', maxRetries: 1, retryIntervalMs: 0 } });
    const done = await d.until('attack', 'DONE');
    expect(done.exitCode).toBe(0);
    expect(d.runs('attack')).toBe(0);
    const dir = d.containerDir('attack');
    expect(fs.readFileSync(path.join(dir, 'logs', 'stdout'), 'utf8')).toBe('second\n');
    expect(fs.lstatSync(path.join(dir, 'logs')).isDirectory()).toBe(true);
    expect(fs.readFileSync('/etc/passwd', 'utf8')).toBe(before);
    expect(fs.readFileSync(path.join(secret, 'stdout'), 'utf8')).toBe('root only\n');
    expect(mode(path.join(secret, 'stdout'))).toBe(0o600);
  });

  it('as root: a forgotten run-as container\'s directory goes, what the user made removed as the user', async () => {
    d = new DaemonDir();
    await d.start({ set: { 'nodewarden.containers.finished-retention-ms': 1000 } });
    // What it made is looked at while it runs: the retention (1 s) runs from DONE, and on a loaded
    // machine the GC could remove it before the test looked. It ends when the test says `go`.
    const script = 'mkdir -p a/b/c && touch a/b/c/f && chmod 500 a/b && while [ ! -e go ]; do sleep 0.05; done';
    await d.launch('tree', ['sh', '-c', script], { user: 'nobody' });
    const dir = d.containerDir('tree');
    await waitFor(() => fs.existsSync(path.join(dir, 'a', 'b')) && mode(path.join(dir, 'a', 'b')) === 0o500, 15_000, 'the container to make its files');
    expect(fs.statSync(path.join(dir, 'a', 'b', 'c', 'f')).uid).toBe(NOBODY);
    fs.writeFileSync(path.join(dir, 'go'), '');
    await waitFor(() => !fs.existsSync(dir), 15_000, 'the forgotten container\'s directory to go');
    expect((await apiRefusal(d.view('tree'))).status).toBe(404);
  });

  it('as root: system users, banned users and unknown users are refused, and nothing is created', async () => {
    d = new DaemonDir();
    await d.start({ set: { 'nodewarden.container-executor.banned-users': 'nobody,bin' } });
    const cases: Array<[string, number, RegExp]> = [
      ['daemon', 403, /user daemon has uid 1, below nodewarden.container-executor.min-user-id \(1000\)/],
      ['nobody', 403, /user nobody is banned from running containers \(nodewarden.container-executor.banned-users\)/],
      ['no-such-user-here', 400, /user no-such-user-here does not exist on this machine/],
      ['../etc', 400, /user must be a login name/],
      ['-r', 400, /user must be a login name/],
    ];
    for (const [user, status, message] of cases) {
      const err = await apiRefusal(d.launch(`c-${status}`, ['true'], { user }));
      expect(err.status, user).toBe(status);
      expect(err.message, user).toMatch(message);
    }
    const err = await apiRefusal(d.launch('c-number', ['true'], { user: 0 }));
    expect(err.status).toBe(400);
    expect((await d.current!.client.get<{ containers: unknown[] }>('/v1/containers')).containers).toEqual([]);
  });

  it('not root: a request naming another user is refused with 403; its own user is fine', async () => {
    d = new DaemonDir();
    fs.mkdirSync(d.workDir);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, d.dir]);
    await d.start({ uid: NOBODY, gid: NOBODY, bin: staged!.bin });
    const err = await apiRefusal(d.launch('as-root', ['true'], { user: 'root' }));
    expect(err.status).toBe(403);
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/nodewarden runs as nobody \(uid 65534\), not as root, so it cannot run containers as root/);
    expect((await d.current!.client.get<{ containers: unknown[] }>('/v1/containers')).containers).toEqual([]);

    await d.launch('self', ['sh', '-c', 'id -u'], { user: 'nobody' });
    expect((await d.until('self', 'DONE')).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(d.containerDir('self'), 'logs', 'stdout'), 'utf8')).toBe(`${NOBODY}\n`);
  });

  it('not root: nodewarden.cgroups.enabled=true refuses to start, saying why, with nothing created; auto falls back to process groups and says why', async () => {
    d = new DaemonDir();
    fs.mkdirSync(d.workDir);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, d.dir]);
    const refused = spawnSync(process.execPath, [staged!.bin, 'start', '--socket', d.socket, '--db', d.db, '--work-dir', d.workDir, '--set', 'nodewarden.cgroups.enabled=true'], {
      cwd: staged!.root,
      uid: NOBODY,
      gid: NOBODY,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe('nodewarden: nodewarden.cgroups.enabled is true, but cgroups cannot be used:\n  the daemon does not run as root, and creating cgroups needs it\n');
    expect(fs.existsSync(d.db)).toBe(false);

    await d.start({ uid: NOBODY, gid: NOBODY, bin: staged!.bin, set: { 'nodewarden.cgroups.enabled': 'auto' } });
    const node = await d.current!.client.get<{ containment: unknown }>('/v1/node');
    expect(node.containment).toEqual({ mode: 'process-group', cgroups: [], missing: ['the daemon does not run as root, and creating cgroups needs it'] });
  });

  it('nothing the daemon writes is open to other users', async () => {
    d = new DaemonDir();
    await d.start();
    await d.launch('c', ['sh', '-c', 'echo secret; echo secret >&2']);
    await d.until('c', 'DONE');
    // The socket: 0660, in a directory others cannot write.
    expect(mode(d.socket)).toBe(0o660);
    expect(mode(path.dirname(d.socket)) & 0o002).toBe(0);
    // The database (it holds every request's environment), and the files SQLite adds beside it.
    expect(mode(path.dirname(d.db)) & 0o007).toBe(0);
    for (const f of [d.db, `${d.db}-wal`, `${d.db}-shm`]) expect(mode(f) & 0o007, f).toBe(0);
    // Container directories and logs.
    const dir = d.containerDir('c');
    expect(mode(path.dirname(dir))).toBe(0o750);
    expect(mode(dir)).toBe(0o750);
    expect(mode(path.join(dir, 'logs'))).toBe(0o750);
    for (const f of ['logs/stdout', 'logs/stderr', 'launch_container.sh']) expect(mode(path.join(dir, f)), f).toBe(0o640);
  });
});
