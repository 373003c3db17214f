/**
 * The socket file (SPEC §6): in a directory the daemon owns and others cannot
 * write, mode 0660 once listening. A socket left by a daemon that died is
 * replaced; one a live daemon answers on makes this one refuse to start,
 * naming that daemon's pid (from its /healthz).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { StartupError } from '../core/errors.js';
import { lookupUser } from '../launcher/run-as.js';
import { lookupGroup } from '../node/caller.js';
import type { AccessConfig } from '../config/types.js';

export const SOCKET_MODE = 0o660;

/**
 * The sharing keys, checked before anything starts: each mistake is one line
 * naming its key. Returns the gid the socket is shared with
 * (nodewarden.socket.group), or null when it is not shared.
 */
export async function checkAccess(access: AccessConfig, daemonUid = process.getuid?.() ?? 0): Promise<number | null> {
  const { socketGroup, adminGroup, limitUsers, localUser } = access;
  if (adminGroup !== null && (await lookupGroup(adminGroup)) === null) {
    throw new StartupError(`nodewarden.socket.admin-group: there is no group ${JSON.stringify(adminGroup)} on this machine; create it (groupadd ${adminGroup}) or leave the key empty`);
  }
  if (limitUsers && (await lookupUser(localUser)) === null) {
    throw new StartupError(
      `yarn.nodemanager.linux-container-executor.nonsecure-mode.local-user: there is no user ${JSON.stringify(localUser)} on this machine, and limit-users runs containers as it; name a user that exists`,
    );
  }
  if (socketGroup === null) return null;
  const group = await lookupGroup(socketGroup);
  if (group === null) throw new StartupError(`nodewarden.socket.group: there is no group ${JSON.stringify(socketGroup)} on this machine; create it (groupadd ${socketGroup}) or leave the key empty`);
  // Each member's containers run as that member, which only root can do: a daemon of one user shared with others would refuse them all.
  if (daemonUid !== 0) {
    throw new StartupError(`nodewarden.socket.group: sharing the socket needs a daemon run as root (its members' containers run as themselves); this one runs as uid ${daemonUid}. Leave the key empty, or start nodewarden as root`);
  }
  return group.gid;
}

/** Directories other programs use: sharing the socket never changes their owner or mode. */
const SHARED_DIRS = new Set(['/', '/run', '/var/run', '/var', '/tmp', '/var/tmp', '/srv', '/home', '/opt', '/etc', '/usr', '/var/lib', '/root']);

/**
 * The socket's directory, when it can be given to the group: one of its own,
 * never a shared system directory, nor the work directory (the default
 * `var/`), whose containers' files its members must not reach.
 */
export function shareableSocketDir(socketPath: string, workDir?: string): string {
  const dir = path.dirname(path.resolve(socketPath));
  const why = SHARED_DIRS.has(dir) || path.dirname(dir) === dir ? 'is shared with other programs' : workDir !== undefined && dir === path.resolve(workDir) ? 'is the work directory' : null;
  if (why !== null) {
    throw new StartupError(
      `nodewarden.socket.group: the socket's directory ${dir} ${why}, and sharing the socket would make it 0750 root:<group>; ` +
        `give --socket a directory of its own (e.g. /run/nodewarden/nodewarden.sock)`,
    );
  }
  return dir;
}

/**
 * Share the socket with a group, as Docker's socket is shared with `docker`:
 * the socket 0660 <daemon user>:<group>, in a directory that group can
 * traverse (0750) and nobody else can write or enter.
 */
export function shareSocket(socketPath: string, gid: number): void {
  const dir = shareableSocketDir(socketPath);
  const uid = process.getuid?.() ?? 0;
  fs.chownSync(dir, uid, gid);
  fs.chmodSync(dir, 0o750);
  fs.chownSync(socketPath, uid, gid);
  fs.chmodSync(socketPath, SOCKET_MODE);
}

/** Make sure the socket's directory is ours and private enough (created 0750 if missing). */
export function checkSocketDir(socketPath: string): string {
  const dir = path.dirname(path.resolve(socketPath));
  fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  const st = fs.statSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new StartupError(
      `the socket directory ${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}); choose a --socket in a directory you own`,
    );
  }
  if ((st.mode & 0o002) !== 0) {
    throw new StartupError(
      `the socket directory ${dir} is writable by everyone, so another user could replace the socket; ` +
        'choose a --socket in a private directory (e.g. var/ or /run/nodewarden/)',
    );
  }
  return dir;
}

/** What a live daemon says at /healthz, or null when nothing answers on the socket. */
function probe(socketPath: string, timeoutMs = 2000): Promise<{ pid?: number } | null> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/healthz', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as { pid?: number });
        } catch {
          resolve({});
        }
      });
    });
    // A listener that accepts but never answers is still alive.
    req.on('timeout', () => {
      req.destroy();
      resolve({});
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? null : {}));
  });
}

/**
 * Before listening: refuse a path that is not a socket or that a live daemon
 * serves; remove a stale one. Returns true when a stale socket was replaced.
 */
export async function claimSocket(socketPath: string): Promise<boolean> {
  try {
    return await claim(socketPath);
  } catch (err) {
    if (err instanceof StartupError) throw err;
    throw new StartupError(`cannot use the socket ${socketPath}: ${(err as Error).message}`);
  }
}

async function claim(socketPath: string): Promise<boolean> {
  checkSocketDir(socketPath);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (!st.isSocket()) {
    throw new StartupError(`${socketPath} exists and is not a socket; refusing to replace it — remove it or choose another --socket`);
  }
  const live = await probe(socketPath);
  if (live) {
    const who = typeof live.pid === 'number' ? `nodewarden pid ${live.pid}` : 'another process';
    throw new StartupError(`${who} is already serving ${socketPath}; stop it first, or choose another --socket`);
  }
  fs.unlinkSync(socketPath);
  return true;
}
