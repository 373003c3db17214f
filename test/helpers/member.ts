/**
 * Connections to a daemon's socket made as another user, so that the daemon
 * sees that user's SO_PEERCRED: a real user in a real group, made by the
 * test and removed even when it fails (needs root).
 *
 * A small Node process runs as the user (setpriv), connects to the socket
 * and hands each connected socket back over its IPC channel (SCM_RIGHTS).
 * The kernel keeps the credentials of the process that connected, so the
 * test then speaks, byte for byte and with no relay in between, as that
 * user. For curl, `socket` is a relay in this process whose every
 * connection goes out on such a socket.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startApiDaemon, type ApiTestDaemon, type Settings } from './daemon.js';

export interface SocketUsers {
  /** The group the socket is shared with (nodewarden.socket.group). */
  group: string;
  /** A member of it, and nothing more. */
  member: string;
  remove(): void;
}

/** A group and one member, named after this process so that concurrent runs do not meet. */
export function addSocketUsers(tag: string): SocketUsers {
  const suffix = String(process.pid % 100_000);
  const group = `nwg${tag}${suffix}`;
  const member = `nwm${tag}${suffix}`;
  const remove = () => {
    // userdel refuses a user with a live process: the test's own user has none left to keep.
    quiet('pkill', ['-KILL', '-u', member]);
    quiet('userdel', [member]);
    quiet('groupdel', [group]);
  };
  try {
    execFileSync('groupadd', [group]);
    execFileSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', '-G', group, member]);
  } catch (err) {
    remove();
    throw err;
  }
  return { group, member, remove };
}

/** setpriv's arguments to become `user`: their uid, primary gid and groups. */
export function asUser(user: string): string[] {
  const gid = execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim();
  return ['--reuid', user, '--regid', gid, '--init-groups'];
}

export interface UserLink {
  /** A new connection to the daemon, made by the user. */
  connect(): Promise<net.Socket>;
  /** A socket path in this process: each connection to it is relayed over a new connection of the user's. */
  socket: string;
  close(): Promise<void>;
}

/** Runs as the user: connects when asked, and sends the connected socket back. */
const CONNECTOR = `
const net = require('node:net');
process.on('message', ({ n, path }) => {
  const s = net.connect(path);
  s.once('connect', () => process.send({ n }, s));
  s.once('error', (err) => process.send({ n, error: err.message }));
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
`;

export async function linkAs(user: string, daemonSocket: string): Promise<UserLink> {
  const child: ChildProcess = spawn('setpriv', [...asUser(user), process.execPath, '-e', CONNECTOR], { cwd: '/', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, { resolve: (s: net.Socket) => void; reject: (e: Error) => void }>();
  let next = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the connector as ${user} exited (${code}) before it was ready`)));
    child.on('message', (m: { ready?: boolean; n?: number; error?: string }, handle?: net.Socket) => {
      if (m.ready) return resolve();
      const w = waiting.get(m.n!);
      waiting.delete(m.n!);
      if (m.error !== undefined || handle === undefined) w?.reject(new Error(`${user} could not connect to ${daemonSocket}: ${m.error ?? 'no socket came back'}`));
      else w?.resolve(handle);
    });
  });
  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const n = ++next;
      waiting.set(n, { resolve, reject });
      child.send({ n, path: daemonSocket });
    });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-link-'));
  const socket = path.join(dir, 'as-user.sock');
  const relay = net.createServer({ allowHalfOpen: true }, (client) => {
    client.pause();
    connect().then(
      (upstream) => {
        upstream.setNoDelay?.(true);
        // Both directions, half-closes included: a client's end reaches the daemon as the client's own would.
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.end());
        client.resume();
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => relay.listen(socket, resolve));
  return {
    connect,
    socket,
    async close() {
      await new Promise((resolve) => relay.close(resolve));
      child.disconnect?.();
      child.kill();
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** As root, and as a member of the group the socket is shared with (the suites that run both ways). */
export const CALLERS = [
  { as: 'root', member: false },
  { as: "a member of the socket's group", member: true },
].filter((m) => !m.member || process.getuid?.() === 0);

export interface Served {
  d: ApiTestDaemon;
  /** The socket the caller's requests go to: the daemon's, or the member's relay to it. */
  socket: string;
  /** A new connection of the caller's. */
  connect(): Promise<net.Socket>;
  /** The daemon stopped, the link closed and the users removed, whatever failed before. */
  stop(): Promise<void>;
}

/** A daemon whose caller is root, or (`member`) a member of a group made for it that the socket is shared with. */
export async function serveTo(member: boolean, tag: string, settings: Settings = {}): Promise<Served> {
  const users = member ? addSocketUsers(tag) : null;
  let d: ApiTestDaemon | undefined;
  let link: UserLink | null = null;
  const stop = async () => {
    try {
      await link?.close();
      await d?.stop();
    } finally {
      users?.remove();
    }
  };
  try {
    d = await startApiDaemon({ ...settings, ...(users ? { 'nodewarden.socket.group': users.group } : {}) });
    if (users) {
      // The test's temp directory is root's (0700): the member must pass through it to the socket's.
      fs.chmodSync(d.dir, 0o711);
      link = await linkAs(users.member, d.socket);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const daemon = d;
  return {
    d: daemon,
    socket: link?.socket ?? daemon.socket,
    connect: link ? link.connect : () => Promise.resolve(net.connect(daemon.socket)),
    stop,
  };
}

function quiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
}
