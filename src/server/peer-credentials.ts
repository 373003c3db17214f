/**
 * Who is on the other end of a Unix socket connection, as the kernel says:
 * SO_PEERCRED gives the pid, uid and gid of the process that connected
 * (unix(7)). systemd, D-Bus and snapd authorize by the same credentials.
 * Node has no API for them, so koffi calls getsockopt(2) on the accepted
 * connection's descriptor — the same FFI package, and the same reasons, as
 * eventfd (src/containment/eventfd.ts): prebuilt binaries, no build step, a
 * one-line declaration. Read once per connection, when it is accepted.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/** The kernel's `struct ucred`. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
/** (uid_t)-1: no such id. */
const NO_ID = 0xffffffff;

type GetPeerCred = (fd: number, level: number, name: number, out: PeerCredentials, len: number[]) => number;
let getsockopt: GetPeerCred | null = null;

function peerCredCall(): GetPeerCred {
  if (getsockopt === null) {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const ucred = koffi.struct('nodewarden_ucred', { pid: 'int32', uid: 'uint32', gid: 'uint32' });
    getsockopt = koffi.load('libc.so.6').func('int getsockopt(int, int, int, _Out_ nodewarden_ucred *, _Inout_ uint32 *)') as GetPeerCred;
    void ucred;
  }
  return getsockopt;
}

/** The descriptor of an accepted connection (libuv's pipe handle), or null when there is none to read. */
function fdOf(socket: Socket): number | null {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** The peer's credentials, or null when they cannot be read (the connection is then refused, never taken as root's). */
export function peerCredentials(socket: Socket): PeerCredentials | null {
  const fd = fdOf(socket);
  if (fd === null) return null;
  try {
    const out = { pid: -1, uid: -1, gid: -1 };
    const len = [12];
    if (peerCredCall()(fd, SOL_SOCKET, SO_PEERCRED, out, len) !== 0 || len[0] !== 12) return null;
    // A socket with no peer process (not a Unix stream socket) reports the overflow ids: nobody known.
    if (out.uid === NO_ID || out.gid === NO_ID || out.pid <= 0) return null;
    return out;
  } catch {
    return null;
  }
}
