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
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../src/client/client.js';
import { DaemonDir } from './helpers/daemon-process.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

let d: DaemonDir | null = null;
afterEach(async () => {
  await d?.cleanup();
  d = null;
});

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiError)) throw new Error(`expected an API error, got ${err === null ? 'success' : String(err)}`);
  return err;
}

const mode = (p: string) => fs.statSync(p).mode & 0o777;
const owner = (p: string) => fs.statSync(p).uid;

describe.runIf(isRoot)('least privilege', () => {
  it('as root: a container runs as the user the request names, and its files are that user\'s', async () => {
    d = new DaemonDir();
    await d.start();
    const script = 'id -u; id -g; id -G; echo "$USER $LOGNAME $HOME"; touch mine; exit 0';
    await d.launch('as-nobody', ['sh', '-c', script], { user: 'nobody' });
    expect((await d.until('as-nobody', 'DONE')).exitCode).toBe(0);
    const dir = d.containerDir('as-nobody');
    // No supplementary groups are kept from root.
    expect(fs.readFileSync(path.join(dir, 'logs', 'stdout'), 'utf8')).toBe(`${NOBODY}\n${NOBODY}\n${NOBODY}\nnobody nobody /nonexistent\n`);
    for (const f of ['.', 'logs', 'logs/stdout', 'logs/stderr', 'launch_container.sh', 'as-nobody.pid', 'as-nobody.pid.exitcode', 'mine']) {
      expect(owner(path.join(dir, f)), f).toBe(NOBODY);
    }
    // The view says who it ran as.
    expect((await d.view('as-nobody')).user).toBe('nobody');

    // Without `user`, the daemon's own user, as before.
    await d.launch('as-root', ['sh', '-c', 'id -u']);
    expect((await d.until('as-root', 'DONE')).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(d.containerDir('as-root'), 'logs', 'stdout'), 'utf8')).toBe('0\n');
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
      const err = await refusal(d.launch(`c-${status}`, ['true'], { user }));
      expect(err.status, user).toBe(status);
      expect(err.message, user).toMatch(message);
    }
    const err = await refusal(d.launch('c-number', ['true'], { user: 0 }));
    expect(err.status).toBe(400);
    expect((await d.current!.client.get<{ containers: unknown[] }>('/v1/containers')).containers).toEqual([]);
  });

  it('not root: a request naming another user is refused with 403; its own user is fine', async () => {
    d = new DaemonDir();
    fs.mkdirSync(d.workDir);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, d.dir]);
    await d.start({ uid: NOBODY, gid: NOBODY });
    const err = await refusal(d.launch('as-root', ['true'], { user: 'root' }));
    expect(err.status).toBe(403);
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/nodewarden runs as nobody \(uid 65534\), not as root, so it cannot run containers as root/);
    expect((await d.current!.client.get<{ containers: unknown[] }>('/v1/containers')).containers).toEqual([]);

    await d.launch('self', ['sh', '-c', 'id -u'], { user: 'nobody' });
    expect((await d.until('self', 'DONE')).exitCode).toBe(0);
    expect(fs.readFileSync(path.join(d.containerDir('self'), 'logs', 'stdout'), 'utf8')).toBe(`${NOBODY}\n`);
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
