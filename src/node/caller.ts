/**
 * Who asked: the process on the other end of the socket, as the kernel
 * reports it (SO_PEERCRED, src/server/peer-credentials.ts), never as the
 * request says. YARN authenticates with Kerberos; on one machine the kernel
 * already knows, and systemd, D-Bus and snapd authorize the same way.
 *
 * The policy (docs/how-it-works.md, "Sharing a machine"):
 * - an administrator — root, the daemon's own user, or a member of
 *   nodewarden.socket.admin-group — sees and controls every container and
 *   may name any user the run-as rules allow;
 * - anyone else runs containers as themselves only, and sees and controls
 *   only their own: another user's container is 404, as if it were not there.
 */
import { getent } from '../launcher/getent.js';
import os from 'node:os';
import { forbidden } from '../core/errors.js';
import type { PeerCredentials } from '../server/peer-credentials.js';
import type { ContainerSpec } from '../../state-machines/types.js';

/** What the journal keeps of a caller: the kernel's credentials. */
export type CallerRecord = PeerCredentials;

export interface Caller extends PeerCredentials {
  /** The login name of `uid` (null: the uid has none on this machine). */
  user: string | null;
  /** Root, the daemon's own user, or a member of the admin group. */
  admin: boolean;
}

/** The daemon's own user, asked once: ownership is decided per container on every list, and it does not change. */
let daemon: { uid: number; username: string } | null = null;
function daemonUser(): { uid: number; username: string } {
  daemon ??= os.userInfo();
  return daemon;
}

/** A group entry's gid and members. */
function groupOf(f: string[]): { gid: number; members: string[] } {
  return { gid: Number(f[2]), members: (f[3] ?? '').split(',').filter((m) => m !== '') };
}

/** A group's gid and members, or null when the machine has no such group. */
export async function lookupGroup(name: string): Promise<{ gid: number; members: string[] } | null> {
  const f = await getent('group', name);
  return f ? groupOf(f) : null;
}

/** Lookups are kept this long: a connection each request (curl) must not cost a getent each; a renamed user or a changed group shows within it. */
const LOOKUP_TTL_MS = 30_000;
const looked = new Map<string, { at: number; value: Promise<string[] | null> }>();

function cachedGetent(db: 'passwd' | 'group', key: string): Promise<string[] | null> {
  const k = `${db}:${key}`;
  const hit = looked.get(k);
  const now = Date.now();
  if (hit && now - hit.at < LOOKUP_TTL_MS) return hit.value;
  const value = getent(db, key);
  looked.set(k, { at: now, value });
  value.catch(() => looked.delete(k));
  return value;
}

/** Who the kernel says is calling, with their name and whether they administer the node. */
export async function identify(cred: PeerCredentials, adminGroup: string | null): Promise<Caller> {
  // Root and the daemon's own user need no lookup: they administer the node.
  const me = daemonUser();
  if (cred.uid === 0) return { ...cred, user: 'root', admin: true };
  if (cred.uid === me.uid) return { ...cred, user: me.username, admin: true };
  const user = (await cachedGetent('passwd', String(cred.uid)))?.[0] ?? null;
  let admin = false;
  if (adminGroup !== null) {
    const f = await cachedGetent('group', adminGroup);
    const group = f ? groupOf(f) : null;
    admin = group !== null && (cred.gid === group.gid || (user !== null && group.members.includes(user)));
  }
  return { ...cred, user, admin };
}

/** The user a container runs as, by name: the one its request named, or the daemon's own. */
export function ownerOf(spec: ContainerSpec): string {
  return spec.user ?? daemonUser().username;
}

/** Whether the caller may see and control a container (no caller: the daemon itself, a test). */
export function mayAccess(caller: Caller | undefined, spec: ContainerSpec): boolean {
  return caller === undefined || caller.admin || (caller.user !== null && ownerOf(spec) === caller.user);
}

/**
 * The request as this caller may make it: anyone but an administrator runs
 * as themselves (a request naming no user is theirs; naming another, or
 * root, is 403); an administrator's that names no user runs as the YARN
 * non-secure local user when limit-users is on.
 */
export function runAsCaller(spec: ContainerSpec, caller: Caller | undefined, nonsecure: { limitUsers: boolean; localUser: string }): ContainerSpec {
  const me = daemonUser();
  // Root and the daemon's own user: anything the run-as rules allow; unnamed, the daemon's user (or YARN's local-user).
  if (caller === undefined || caller.uid === 0 || caller.uid === me.uid) {
    return spec.user === undefined && nonsecure.limitUsers && caller !== undefined ? { ...spec, user: nonsecure.localUser } : spec;
  }
  // An admin-group member sees and controls everything, but is not root: never the daemon's own user (root),
  // and a request naming nobody runs as the member (or YARN's local-user).
  if (caller.admin) {
    if (spec.user === me.username || spec.user === 'root') {
      throw forbidden(`you are ${caller.user ?? `uid ${caller.uid}`}: only root may run containers as ${spec.user}`);
    }
    if (spec.user !== undefined) return spec;
    if (nonsecure.limitUsers) return { ...spec, user: nonsecure.localUser };
    if (caller.user === null) throw forbidden(`uid ${caller.uid} has no user name on this machine, so no container can run as it`);
    return { ...spec, user: caller.user };
  }
  if (caller.user === null) throw forbidden(`uid ${caller.uid} has no user name on this machine, so no container can run as it`);
  if (spec.user !== undefined && spec.user !== caller.user) {
    throw forbidden(`you are ${caller.user} (uid ${caller.uid}): your containers run as you; leave "user" out, or name ${caller.user}`);
  }
  return { ...spec, user: caller.user };
}

/**
 * The account a request's user resolved to (`checkRunAs`: null is the
 * daemon's own), checked by uid, not by name: an alias of root's uid
 * (`toor`) is root, and a caller's name must be their own uid's.
 */
export function checkAccount(spec: ContainerSpec, caller: Caller | undefined, account: { uid: number } | null): void {
  const me = daemonUser();
  if (caller === undefined || caller.uid === 0 || caller.uid === me.uid || spec.user === undefined) return;
  const uid = account?.uid ?? me.uid;
  if (uid === 0 || uid === me.uid) {
    throw forbidden(`you are ${caller.user ?? `uid ${caller.uid}`}: ${spec.user} is uid ${uid}, the daemon's own, and only root may run containers as it`);
  }
  if (!caller.admin && uid !== caller.uid) {
    throw forbidden(`you are ${caller.user} (uid ${caller.uid}), but ${spec.user} is uid ${uid} on this machine: your containers run as you`);
  }
}

/** What the journal and the audit log say of a caller. */
export function callerRecord(caller: Caller): CallerRecord {
  return { uid: caller.uid, gid: caller.gid, pid: caller.pid };
}
