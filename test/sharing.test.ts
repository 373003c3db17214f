/**
 * A socket shared by the users of a machine (nodewarden.socket.group), with
 * real users and a real group made by the test and removed even when it
 * fails. Requests are made as those users (`setpriv … curl --unix-socket`):
 * the daemon knows each caller by the kernel's SO_PEERCRED, never by what
 * the request says. Needs root (CI runs as root).
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportLines } from '../src/journal/export.js';
import { peerCredentials } from '../src/server/peer-credentials.js';
import { checkAccess, shareableSocketDir } from '../src/server/socket-file.js';
import { resolveConfig } from '../src/config/load.js';
import { checkAccount, identify } from '../src/node/caller.js';
import { curl } from './helpers/curl.js';
import { startApiDaemon, type ApiTestDaemon } from './helpers/daemon.js';
import { waitFor } from './helpers/proc.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const suffix = String(process.pid % 100_000);
const GROUP = `nwshare${suffix}`;
const ALICE = `nwalice${suffix}`;
const BOB = `nwbob${suffix}`;
const CAROL = `nwcarol${suffix}`;
const DAVE = `nwdave${suffix}`;
const ADMINS = `nwadmin${suffix}`;

const idOf = (user: string) => Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
const gidOf = (user: string) => execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim();
/** setpriv's arguments to become `user`: their uid, primary gid and groups. */
const as = (user: string) => ['--reuid', user, '--regid', gidOf(user), '--init-groups'];

/** curl on the socket as `user` (their uid, gid and groups); status, JSON body, and curl's exit code. */
async function curlAs(user: string, socket: string, args: string[]): Promise<{ code: number; status: number; json: any }> {
  const r = await run('setpriv', [...as(user), 'curl', '-s', '-o', '-', '-w', '\n%{http_code}', '--unix-socket', socket, ...args]).then(
    (ok) => ({ code: 0, stdout: ok.stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout ?? '' }),
  );
  const lines = r.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  let json: unknown;
  try {
    json = JSON.parse(lines.join('\n'));
  } catch {
    json = undefined;
  }
  return { code: r.code, status, json };
}

const launchBody = (extra: Record<string, unknown> = {}) => ['-H', 'content-type: application/json', '-d', JSON.stringify({ command: ['sleep', '600'], resources: { memoryMb: 32, vcores: 1 }, ...extra })];

/**
 * Every uid (real, effective, saved, filesystem) of a process and of its
 * children, from /proc/<pid>/status, with `kind` 'Gid' every gid (a child gone
 * between the two reads is left out).
 */
function uids(pid: number, kind: 'Uid' | 'Gid' = 'Uid'): number[] {
  const idsOf = (p: number): number[] => {
    try {
      const line = new RegExp(`^${kind}:\\s+(.*)$`, 'm').exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1]!;
      return line.trim().split(/\s+/).map(Number);
    } catch {
      return [];
    }
  };
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [...idsOf(pid), ...children.flatMap(idsOf)];
}

beforeAll(() => {
  if (!isRoot) return;
  try {
    execFileSync('groupadd', [GROUP]);
    execFileSync('groupadd', [ADMINS]);
    for (const [user, groups] of [[ALICE, [GROUP]], [BOB, [GROUP]], [CAROL, []], [DAVE, [GROUP, ADMINS]]] as const) {
      execFileSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', ...(groups.length > 0 ? ['-G', groups.join(',')] : []), user]);
    }
  } catch (err) {
    removeUsers();
    throw err;
  }
});
afterAll(() => {
  if (isRoot) removeUsers();
});

function removeUsers(): void {
  // userdel refuses a user with a live process: the test's own users have none left to keep.
  for (const user of [ALICE, BOB, CAROL, DAVE]) {
    spawnQuiet('pkill', ['-KILL', '-u', user]);
    spawnQuiet('userdel', [user]);
  }
  for (const group of [GROUP, ADMINS]) spawnQuiet('groupdel', [group]);
}

describe.runIf(isRoot)('a socket shared by a group: callers known by SO_PEERCRED', () => {
  let d: ApiTestDaemon | undefined;
  const logged: string[] = [];
  beforeAll(async () => {
    d = await startApiDaemon({ 'nodewarden.socket.group': GROUP, 'nodewarden.socket.admin-group': ADMINS }, { log: pino({ level: 'info' }, { write: (l: string) => void logged.push(l) }) });
    // The test's temp directory is root's (0700): the members must be able to pass through it to the socket's.
    fs.chmodSync(d.dir, 0o711);
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
  });
  const url = 'http://localhost/v1/containers';

  it('the socket is 0660 root:<group> in a 0750 directory of that group', () => {
    const gid = Number(execFileSync('getent', ['group', GROUP], { encoding: 'utf8' }).split(':')[2]);
    const sock = fs.statSync(d!.socket);
    const dir = fs.statSync(path.dirname(d!.socket));
    expect([sock.mode & 0o777, sock.uid, sock.gid]).toEqual([0o660, 0, gid]);
    expect([dir.mode & 0o777, dir.gid]).toEqual([0o750, gid]);
  });

  it("a member's container runs as the member, wrapper and command; naming root or another user is 403 and creates nothing", async () => {
    const r = await curlAs(ALICE, d!.socket, [...launchBody({ id: 'alice-1' }), 'http://localhost/v1/containers']);
    expect(r.status).toBe(201);
    expect(r.json.user).toBe(ALICE);
    await d!.until('alice-1', 'RUNNING');
    const pid = d!.node.view('alice-1').pid!;
    await waitFor(() => uids(pid).length >= 8, 15_000, 'the command under the wrapper');
    expect(new Set(uids(pid))).toEqual(new Set([idOf(ALICE)]));
    expect(new Set(uids(pid, 'Gid'))).toEqual(new Set([Number(gidOf(ALICE))]));

    for (const user of ['root', BOB]) {
      const refused = await curlAs(ALICE, d!.socket, [...launchBody({ id: `as-${user}`, user }), 'http://localhost/v1/containers']);
      expect(refused.status, user).toBe(403);
      expect(refused.json.error.message).toContain(`you are ${ALICE} (uid ${idOf(ALICE)}): your containers run as you`);
      expect(d!.node.list().map((v) => v.id)).not.toContain(`as-${user}`);
    }
  });

  it('a member sees and controls only its own containers: another user\'s is 404, everywhere', async () => {
    const mine = await curlAs(BOB, d!.socket, [...launchBody({ id: 'bob-1' }), 'http://localhost/v1/containers']);
    expect(mine.status).toBe(201);
    await d!.until('bob-1', 'RUNNING');
    const list = await curlAs(BOB, d!.socket, ['http://localhost/v1/containers']);
    expect(list.json.containers.map((c: { id: string }) => c.id)).toEqual(['bob-1']);
    for (const url of ['/v1/containers/alice-1', '/v1/containers/alice-1/transitions', '/ws/v1/node/containers/alice-1', '/ws/v1/node/containers/alice-1/logs', '/ws/v1/node/containerlogs/alice-1/stdout']) {
      expect((await curlAs(BOB, d!.socket, [`http://localhost${url}`])).status, url).toBe(404);
    }
    for (const action of ['kill', 'pause', 'resume']) {
      expect((await curlAs(BOB, d!.socket, ['-X', 'POST', `http://localhost/v1/containers/alice-1/${action}`])).status, action).toBe(404);
    }
    expect(d!.node.view('alice-1').state).toBe('RUNNING');
    // The node's figures, for everyone.
    const node = await curlAs(BOB, d!.socket, ['http://localhost/v1/node']);
    expect([node.status, typeof node.json.capacity.memoryMb]).toEqual([200, 'number']);
    const yarn = await curlAs(BOB, d!.socket, ['http://localhost/ws/v1/node/containers']);
    expect(JSON.stringify(yarn.json)).toContain('bob-1');
    expect(JSON.stringify(yarn.json)).not.toContain('alice-1');
    const events = await run('setpriv', [...as(BOB), 'curl', '-sS', '--unix-socket', d!.socket, 'http://localhost/v1/events']);
    const containers = new Set(events.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { container: string }).container));
    expect(containers).toEqual(new Set(['bob-1']));
    // Once the monitor has measured both: bob's statistics and series are his alone, and root's have alice's too.
    await waitFor(() => ['alice-1', 'bob-1'].every((id) => d!.node.statistics().some((s) => s.executor_id === id)), 15_000, 'both to be measured');
    const stats = await curlAs(BOB, d!.socket, ['http://localhost/monitor/statistics']);
    expect(stats.json.map((s: { executor_id: string }) => s.executor_id)).toEqual(['bob-1']);
    const metrics = await run('setpriv', [...as(BOB), 'curl', '-s', '--unix-socket', d!.socket, 'http://localhost/metrics']);
    expect(metrics.stdout).toContain('id="bob-1"');
    expect(metrics.stdout).not.toContain('alice-1');
    expect((await run('curl', ['-s', '--unix-socket', d!.socket, 'http://localhost/metrics'])).stdout).toContain('id="alice-1"');
    // Its own: killed.
    expect((await curlAs(BOB, d!.socket, ['-X', 'POST', 'http://localhost/v1/containers/bob-1/kill'])).status).toBe(202);
  });

  it('a member of the admin group sees every container and may name another user, as root may', async () => {
    const all = await curlAs(DAVE, d!.socket, ['http://localhost/v1/containers']);
    expect(all.json.containers.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining(['alice-1', 'bob-1']));
    const asAlice = await curlAs(DAVE, d!.socket, [...launchBody({ id: 'dave-as-alice', user: ALICE }), 'http://localhost/v1/containers']);
    expect(asAlice.status).toBe(201);
    expect(asAlice.json.user).toBe(ALICE);
    // …and alice sees it as hers.
    expect((await curlAs(ALICE, d!.socket, ['http://localhost/v1/containers/dave-as-alice'])).status).toBe(200);
    expect((await curlAs(DAVE, d!.socket, ['-X', 'POST', 'http://localhost/v1/containers/dave-as-alice/kill'])).status).toBe(202);
    // But not root: naming root is 403, and naming nobody runs as dave.
    const asRoot = await curlAs(DAVE, d!.socket, [...launchBody({ id: 'dave-as-root', user: 'root' }), 'http://localhost/v1/containers']);
    expect(asRoot.status).toBe(403);
    expect(asRoot.json.error.message).toContain('only root may run containers as root');
    const unnamed = await curlAs(DAVE, d!.socket, [...launchBody({ id: 'dave-unnamed' }), 'http://localhost/v1/containers']);
    expect(unnamed.json.user).toBe(DAVE);
    expect((await curlAs(DAVE, d!.socket, ['-X', 'POST', 'http://localhost/v1/containers/dave-unnamed/kill'])).status).toBe(202);
  });

  it("a member's local resources are fetched as the member: a file only root can reach is refused, one the member can read is copied, as theirs", async () => {
    const hidden = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-hidden-')); // 0700, root's
    fs.writeFileSync(path.join(hidden, 'secret'), 'root-secret\n', { mode: 0o644 });
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-shared-'));
    fs.chmodSync(shared, 0o755);
    fs.writeFileSync(path.join(shared, 'data'), 'for all\n', { mode: 0o644 });
    try {
      const steal = await curlAs(ALICE, d!.socket, [...launchBody({ id: 'alice-steal', command: ['cat', 'secret'], localResources: [{ source: `${hidden}/secret`, name: 'secret', copy: true }] }), url]);
      expect(steal.status).toBe(201);
      await d!.until('alice-steal', 'DONE');
      const stolen = d!.node.view('alice-steal');
      expect(stolen.diagnostics).toContain(`${hidden}/secret does not exist, or ${ALICE} cannot reach it`);
      expect(fs.existsSync(path.join(stolen.workDir, 'secret'))).toBe(false);

      const copy = await curlAs(ALICE, d!.socket, [...launchBody({ id: 'alice-copy', localResources: [{ source: `${shared}/data`, name: 'data', copy: true }] }), url]);
      expect(copy.status).toBe(201);
      await d!.until('alice-copy', 'RUNNING');
      const st = fs.statSync(path.join(d!.node.view('alice-copy').workDir, 'data'));
      expect([st.uid, fs.readFileSync(path.join(d!.node.view('alice-copy').workDir, 'data'), 'utf8')]).toEqual([idOf(ALICE), 'for all\n']);
      expect((await curlAs(ALICE, d!.socket, ['-X', 'POST', `${url}/alice-copy/kill`])).status).toBe(202);
    } finally {
      fs.rmSync(hidden, { recursive: true, force: true });
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  it('a directory left for an id no container has (a forgotten one, a crash) is removed before the id is used: nothing in it reaches the new container', async () => {
    const left = path.join(d!.workDir, 'containers', 'planted');
    fs.mkdirSync(path.join(left, 'logs'), { recursive: true });
    fs.writeFileSync(path.join(left, 'logs', 'stdout'), 'alice-secret\n');
    fs.writeFileSync(path.join(left, 'notes'), 'alice-secret\n');
    expect((await curlAs(BOB, d!.socket, [...launchBody({ id: 'planted' }), url])).status).toBe(201);
    await d!.until('planted', 'RUNNING');
    const logs = await run('setpriv', [...as(BOB), 'curl', '-sS', '--fail-with-body', '--unix-socket', d!.socket, 'http://localhost/ws/v1/node/containerlogs/planted/stdout']);
    expect(logs.stdout).toBe('');
    expect(fs.existsSync(path.join(left, 'notes'))).toBe(false);
    expect((await curlAs(BOB, d!.socket, ['-X', 'POST', `${url}/planted/kill`])).status).toBe(202);
  });

  it('someone outside the group cannot connect at all', async () => {
    const r = await curlAs(CAROL, d!.socket, ['http://localhost/v1/containers']);
    expect(r.code).toBe(7); // curl: could not connect (permission denied on the socket's directory)
  });

  it('root still names users and kills anyone\'s container; the log and the journal name each caller', async () => {
    const asBob = await curlAs('root', d!.socket, [...launchBody({ id: 'root-as-bob', user: BOB }), 'http://localhost/v1/containers']);
    expect(asBob.status).toBe(201);
    expect(asBob.json.user).toBe(BOB);
    expect((await curlAs('root', d!.socket, ['-X', 'POST', 'http://localhost/v1/containers/alice-1/kill'])).status).toBe(202);
    await d!.until('alice-1', 'DONE');
    // An id that would forge a field of the tab-separated line is refused, and quoted in the audit line.
    expect((await curlAs(ALICE, d!.socket, ['-X', 'POST', 'http://localhost/v1/containers/x%09RESULT=SUCCESS/kill'])).status).toBe(400);

    const audit = logged.map((l) => JSON.parse(l) as { audit?: boolean; user?: string; operation?: string; result?: string; container?: string; caller?: { uid: number }; msg?: string }).filter((l) => l.audit);
    expect(audit.find((l) => l.container === 'x\tRESULT=SUCCESS')!.msg).toBe(`USER=${ALICE}\tOPERATION=Stop Container Request\tTARGET=ContainerManagerImpl\tRESULT=FAILURE\tCONTAINERID="x\\tRESULT=SUCCESS"`);
    expect(audit).toContainEqual(expect.objectContaining({ user: ALICE, operation: 'Start Container Request', result: 'SUCCESS', container: 'alice-1', caller: expect.objectContaining({ uid: idOf(ALICE) }) }));
    expect(audit).toContainEqual(expect.objectContaining({ user: ALICE, operation: 'Start Container Request', result: 'FAILURE', caller: expect.objectContaining({ uid: idOf(ALICE) }) }));
    expect(audit).toContainEqual(expect.objectContaining({ user: 'root', operation: 'Stop Container Request', result: 'SUCCESS', container: 'alice-1' }));

    await d!.node.durable();
    const records = (await exportLines(d!.dbPath)).slice(1).map((l) => JSON.parse(l) as { type: string; container?: string; caller?: { uid: number }; event?: { type: string } });
    expect(records.find((r) => r.type === 'launch' && r.container === 'alice-1')!.caller!.uid).toBe(idOf(ALICE));
    expect(records.find((r) => r.type === 'event' && r.container === 'alice-1' && r.event!.type === 'KILL_CONTAINER')!.caller!.uid).toBe(0);
    // And `show` says who launched it and who killed it (kept in its row: across restarts too).
    const show = await run(process.execPath, [path.join(process.cwd(), 'bin', 'nodewarden.js'), 'show', 'alice-1', '--socket', d!.socket]);
    expect(show.stdout).toMatch(new RegExp(`launched by: +uid ${idOf(ALICE)}, gid \\d+, pid \\d+`));
    expect(show.stdout).toMatch(/killed by: +uid 0, gid 0, pid \d+/);
  });

  it('a connection whose credentials cannot be read is not anyone: SO_PEERCRED of a TCP connection gives none', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const socket = await accepted;
    try {
      expect(peerCredentials(socket)).toBeNull();
    } finally {
      client.destroy();
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});


describe.runIf(isRoot)("YARN's non-secure mode", () => {
  it('with limit-users, an administrator\'s container that names no user runs as local-user (nobody)', async () => {
    const d = await startApiDaemon({ 'yarn.nodemanager.linux-container-executor.nonsecure-mode.limit-users': true });
    try {
      const r = await curlAs('root', d.socket, [...launchBody({ id: 'unnamed' }), 'http://localhost/v1/containers']);
      expect(r.status).toBe(201);
      expect(r.json.user).toBe('nobody');
      await d.until('unnamed', 'RUNNING');
      expect(new Set(uids(d.node.view('unnamed').pid!))).toEqual(new Set([idOf('nobody')]));
    } finally {
      await d.stop();
    }
  });
});


describe.runIf(isRoot)('per-user limits, and an id used again by another user', () => {
  let d: ApiTestDaemon | undefined;
  beforeAll(async () => {
    d = await startApiDaemon({
      'nodewarden.socket.group': GROUP,
      'nodewarden.user-limits.max-containers': 2,
      'nodewarden.user-limits.max-memory-mb': 100,
      // Finished containers are forgotten on the next pass, so that an id can be used again.
      'nodewarden.containers.finished-retention-ms': 0,
    });
    fs.chmodSync(d.dir, 0o711);
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
  });
  const url = 'http://localhost/v1/containers';
  /** DONE, or already forgotten (which only a DONE container can be). */
  const finished = (id: string) => waitFor(() => !d!.node.list().some((v) => v.id === id && v.state !== 'DONE'), 15_000, `${id} to finish`);

  it("a member over max-containers gets 429 naming the key and nothing is created; an administrator's launch is not refused; once one is done the next goes through", async () => {
    for (const id of ['lim-1', 'lim-2']) expect((await curlAs(ALICE, d!.socket, [...launchBody({ id }), url])).status).toBe(201);
    const over = await curlAs(ALICE, d!.socket, [...launchBody({ id: 'lim-3' }), url]);
    expect(over.status).toBe(429);
    expect(over.json.error).toEqual({ code: 'USER_LIMIT', message: `${ALICE} has 2 containers not yet finished, and nodewarden.user-limits.max-containers is 2; wait for one to finish, or kill one` });
    expect(d!.node.list().map((v) => v.id)).not.toContain('lim-3');
    // root is not limited, and its container counts as alice's.
    expect((await curlAs('root', d!.socket, [...launchBody({ id: 'lim-root', user: ALICE }), url])).status).toBe(201);
    for (const id of ['lim-1', 'lim-root']) expect((await curlAs(ALICE, d!.socket, ['-X', 'POST', `${url}/${id}/kill`])).status).toBe(202);
    await finished('lim-1');
    await finished('lim-root');
    expect((await curlAs(ALICE, d!.socket, [...launchBody({ id: 'lim-3' }), url])).status).toBe(201);
    for (const id of ['lim-2', 'lim-3']) expect((await curlAs(ALICE, d!.socket, ['-X', 'POST', `${url}/${id}/kill`])).status).toBe(202);
    for (const id of ['lim-2', 'lim-3']) await finished(id);
  });

  it('a member whose containers would ask for more than max-memory-mb gets 429 naming the key', async () => {
    expect((await curlAs(BOB, d!.socket, [...launchBody({ id: 'mem-1', resources: { memoryMb: 80, vcores: 1 } }), url])).status).toBe(201);
    const over = await curlAs(BOB, d!.socket, [...launchBody({ id: 'mem-2', resources: { memoryMb: 32, vcores: 1 } }), url]);
    expect(over.status).toBe(429);
    expect(over.json.error.message).toBe(
      `${BOB}'s containers not yet finished have requested 80 MB, and this one asks 32 MB more than nodewarden.user-limits.max-memory-mb (100 MB) allows; wait for one to finish, kill one, or ask for less`,
    );
    expect((await curlAs(BOB, d!.socket, [...launchBody({ id: 'mem-3', resources: { memoryMb: 16, vcores: 1 } }), url])).status).toBe(201);
    for (const id of ['mem-1', 'mem-3']) expect((await curlAs(BOB, d!.socket, ['-X', 'POST', `${url}/${id}/kill`])).status).toBe(202);
  });

  it("an id used again after it was forgotten: the new owner's event stream has only its own container's records", async () => {
    const once = await curlAs(ALICE, d!.socket, [...launchBody({ id: 'reused', command: ['true'] }), url]);
    expect(once.status).toBe(201);
    await finished('reused');
    await waitFor(async () => (await d!.node.gc.run(), !d!.node.list().some((v) => v.id === 'reused')), 15_000, 'reused to be forgotten');
    // Bob's runs on (a finished one would be forgotten at once here, and a forgotten container's records are no one's but root's).
    expect((await curlAs(BOB, d!.socket, [...launchBody({ id: 'reused' }), url])).status).toBe(201);
    await d!.until('reused', 'RUNNING');
    const events = await run('setpriv', [...as(BOB), 'curl', '-sS', '--fail-with-body', '--unix-socket', d!.socket, 'http://localhost/v1/events']);
    const bobs = events.stdout.trim().split('\n').map((l) => JSON.parse(l) as { container: string; type: string; to?: string }).filter((r) => r.container === 'reused');
    // One container's life so far: created once, running, not done (alice's, done, is in root's stream, not bob's).
    expect(bobs.filter((r) => r.type === 'transition' && r.to === 'SCHEDULED')).toHaveLength(1);
    expect(bobs.filter((r) => r.type === 'transition' && r.to === 'RUNNING')).toHaveLength(1);
    expect(bobs.filter((r) => r.type === 'transition' && r.to === 'DONE')).toHaveLength(0);
    const all = (await run('curl', ['-s', '--unix-socket', d!.socket, 'http://localhost/v1/events'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { container: string; to?: string });
    expect(all.filter((r) => r.container === 'reused' && r.to === 'SCHEDULED')).toHaveLength(2);
    expect(all.filter((r) => r.container === 'reused' && r.to === 'DONE')).toHaveLength(1);
  });
});


describe('a connection the daemon cannot identify', () => {
  const url = 'http://localhost/v1/containers';
  it('credentials that cannot be read: 403 on every route, never taken as root; the refused launch is in the audit log, at warn level too, and nothing is created', async () => {
    const logged: string[] = [];
    const d = await startApiDaemon({}, { log: pino({ level: 'warn' }, { write: (l: string) => void logged.push(l) }), callers: { credentialsOf: () => null } });
    try {
      const launch = await curl(d.socket, [...launchBody({ id: 'nobodys' }), url]);
      expect(launch.status).toBe(403);
      expect(launch.json.error).toEqual({ code: 'FORBIDDEN', message: 'the credentials of this connection cannot be read (SO_PEERCRED), so it is refused' });
      for (const p of ['/v1/containers', '/v1/node', '/healthz', '/metrics', '/v1/events']) expect((await curl(d.socket, [`http://localhost${p}`])).status, p).toBe(403);
      expect(d.node.list()).toEqual([]);
      const audit = logged.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit);
      expect(audit).toEqual([expect.objectContaining({ caller: null, user: 'unknown', operation: 'Start Container Request', result: 'FAILURE', status: 403 })]);
    } finally {
      await d.stop();
    }
  });

  it('a user database that cannot be read: 503 USER_LOOKUP_FAILED and nothing created; once it answers again, so does the daemon, on the same connection', async () => {
    const lookups = { failing: true };
    const d = await startApiDaemon({}, { callers: { identify: flakyIdentify(lookups) } });
    try {
      const refused = await curl(d.socket, [...launchBody({ id: 'later' }), url]);
      expect(refused.status).toBe(503);
      expect(refused.json.error.code).toBe('USER_LOOKUP_FAILED');
      expect(refused.json.error.message).toMatch(/^cannot look up uid \d+ in the user database: getent passwd: timed out; try again$/);
      expect(d.node.list()).toEqual([]);
      lookups.failing = false;
      expect((await curl(d.socket, [...launchBody({ id: 'later' }), url])).status).toBe(201);
    } finally {
      await d.stop();
    }
  });
});


describe('who a caller is, asked again', () => {
  it('a followed event stream asks for each page: once the user database no longer answers for its caller, the stream ends', async () => {
    const lookups = { failing: false };
    const d = await startApiDaemon({}, { callers: { identify: flakyIdentify(lookups) } });
    const spec = (id: string) => ({ id, command: ['sleep', '600'], resources: { memoryMb: 16, vcores: 1 } });
    try {
      await d.node.launch(spec('first'));
      let got = '';
      const ended = new Promise<void>((resolve, reject) => {
        http
          .get({ socketPath: d.socket, path: '/v1/events?follow=true' }, (res) => {
            res.on('data', (b: Buffer) => (got += b.toString()));
            res.on('end', resolve);
            res.on('error', reject);
          })
          .on('error', reject);
      });
      await waitFor(() => got.includes('"container":"first"'), 15_000, 'the stream to show the first container');
      lookups.failing = true;
      // The next page: the caller is asked again, cannot be told, and gets the end of the stream (not others' records).
      await d.node.launch(spec('second'));
      await ended;
      expect(got).not.toContain('"container":"second"');
    } finally {
      await d.stop();
    }
  });

  it('the user a request names is checked by uid: an alias of root is root, and a name must be the caller\'s own uid', () => {
    const member = { uid: 5001, gid: 5001, pid: 1, user: 'alice', admin: false };
    const admin = { ...member, admin: true };
    const spec = (user: string) => ({ id: 'x', command: ['true'], resources: { memoryMb: 16, vcores: 1 }, user }) as unknown as Parameters<typeof checkAccount>[0];
    // checkRunAs resolves an account of the daemon's uid (root here) to null.
    expect(() => checkAccount(spec('toor'), admin, null)).toThrow(/toor is uid \d+, the daemon's own, and only root may run containers as it/);
    expect(() => checkAccount(spec('toor'), admin, { uid: 0 })).toThrow(/only root may run containers as it/);
    expect(() => checkAccount(spec('alice'), member, { uid: 5002 })).toThrow(/alice is uid 5002 on this machine: your containers run as you/);
    expect(() => checkAccount(spec('alice'), member, { uid: 5001 })).not.toThrow();
    expect(() => checkAccount(spec('bob'), admin, { uid: 5002 })).not.toThrow();
    expect(() => checkAccount(spec('toor'), undefined, null)).not.toThrow();
  });
});


describe('nodewarden.socket.group', () => {
  it('an unknown group stops the start with one line naming the key, and nothing is created', async () => {
    const err = await startApiDaemon({ 'nodewarden.socket.group': 'nw-no-such-group' }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toBe('nodewarden.socket.group: there is no group "nw-no-such-group" on this machine; create it (groupadd nw-no-such-group) or leave the key empty');
  });

  it('every key of the sharing is checked before the start: an unknown admin group or local user, and a daemon that is not root', async () => {
    const access = resolveConfig([]).access;
    await expect(checkAccess({ ...access, adminGroup: 'nw-no-such-admins' })).rejects.toThrow(/^nodewarden\.socket\.admin-group: there is no group "nw-no-such-admins" on this machine/);
    await expect(checkAccess({ ...access, limitUsers: true, localUser: 'nw-no-such-user' })).rejects.toThrow(
      /^yarn\.nodemanager\.linux-container-executor\.nonsecure-mode\.local-user: there is no user "nw-no-such-user" on this machine, and limit-users runs containers as it/,
    );
    // An unknown local-user matters only with limit-users.
    await expect(checkAccess({ ...access, localUser: 'nw-no-such-user' })).resolves.toBeNull();
    await expect(checkAccess({ ...access, socketGroup: 'root' }, 1000)).rejects.toThrow(/^nodewarden\.socket\.group: sharing the socket needs a daemon run as root .* this one runs as uid 1000/);
    await expect(checkAccess({ ...access, socketGroup: 'root' }, 0)).resolves.toBe(0);
  });
});


describe('the socket directory a group is given', () => {
  it('is one of its own: a shared system directory is refused before anything changes', () => {
    for (const sock of ['/run/nodewarden.sock', '/tmp/nw.sock', '/var/run/nw.sock', '/nw.sock']) {
      expect(() => shareableSocketDir(sock), sock).toThrow(/is shared with other programs.*give --socket a directory of its own/);
    }
    expect(shareableSocketDir('/run/nodewarden/nodewarden.sock')).toBe('/run/nodewarden');
    // Nor the work directory (the default socket is var/nodewarden.sock): its containers' files are not the group's.
    expect(() => shareableSocketDir('/srv/nw/var/nodewarden.sock', '/srv/nw/var')).toThrow(/the socket's directory \/srv\/nw\/var is the work directory/);
  });
});

/** The daemon's user lookups, failing while `lookups.failing` (a name service that is down). */
function flakyIdentify(lookups: { failing: boolean }): typeof identify {
  return async (cred, adminGroup) => {
    if (lookups.failing) throw new Error('getent passwd: timed out');
    return identify(cred, adminGroup);
  };
}

function spawnQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
}
