/**
 * Who a container runs as. YARN's LinuxContainerExecutor runs a container as
 * the user who asked, through a setuid helper that refuses users below
 * `min.user.id` and those in `banned.users` (container-executor.cfg); here
 * the daemon itself, when it is root, spawns with that uid and gid. A daemon
 * that is not root can only run containers as itself.
 *
 * Users are looked up with `getent passwd`, so every name service the
 * machine uses (files, LDAP, sssd) is asked, as the login tools do.
 */
import os from 'node:os';
import { badRequest, forbidden } from '../core/errors.js';
import { getent } from './getent.js';

export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface RunAsPolicy {
  /** nodewarden.container-executor.min-user-id */
  minUserId: number;
  /** nodewarden.container-executor.banned-users */
  bannedUsers: readonly string[];
}

/** The passwd entry of `name`, or null when there is none. */
export async function lookupUser(name: string): Promise<RunAs | null> {
  const f = await getent('passwd', name);
  // A number is looked up as a uid by getent: only an entry of that very name will do.
  if (!f || f.length < 7 || f[0] !== name) return null;
  return { name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
}

/** The daemon's own user: the one every container runs as when the request names none. */
function daemonUser(): { name: string; uid: number } {
  const me = os.userInfo();
  return { name: me.username, uid: me.uid };
}

/**
 * Check the `user` a launch request names (400: no such user; 403: not
 * allowed) and return who the container will run as; null: the daemon's
 * own user, with no uid change.
 */
export async function checkRunAs(name: string | undefined, policy: RunAsPolicy): Promise<RunAs | null> {
  if (name === undefined) return null;
  const me = daemonUser();
  const account = await lookupUser(name);
  if (account === null) throw badRequest(`user ${name} does not exist on this machine`);
  if (account.uid === me.uid) return null;
  if (me.uid !== 0) {
    throw forbidden(
      `nodewarden runs as ${me.name} (uid ${me.uid}), not as root, so it cannot run containers as ${name}; ` +
        'leave out "user", or run the daemon as root',
    );
  }
  if (policy.bannedUsers.includes(name)) {
    throw forbidden(`user ${name} is banned from running containers (nodewarden.container-executor.banned-users)`);
  }
  if (account.uid < policy.minUserId) {
    throw forbidden(
      `user ${name} has uid ${account.uid}, below nodewarden.container-executor.min-user-id (${policy.minUserId}): system users cannot run containers`,
    );
  }
  return account;
}
