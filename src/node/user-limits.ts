/**
 * Per-user limits on a shared socket (nodewarden.user-limits.*), so that one
 * user cannot take the whole node: at most N containers not yet DONE, and at
 * most M MB of memory requested by them. In the spirit of a Kubernetes
 * ResourceQuota, per user rather than per namespace. A launch over either is
 * 429 and creates nothing; an administrator's launches are not limited (but
 * count towards the user they run as).
 */
import { tooMany } from '../core/errors.js';
import type { AccessConfig } from '../config/types.js';
import type { ContainerEntry } from '../core/node-core.js';
import type { ContainerSpec } from '../../state-machines/types.js';
import { ownerOf, type Caller } from './caller.js';

/** Throws 429 when `spec`, launched by `caller`, would take its user over a limit. */
export function checkUserLimits(spec: ContainerSpec, caller: Caller | undefined, entries: Iterable<ContainerEntry>, limits: AccessConfig['perUser']): void {
  if (caller === undefined || caller.admin) return;
  const { maxContainers, maxMemoryMb } = limits;
  if (maxContainers === 0 && maxMemoryMb === 0) return;
  const user = ownerOf(spec);
  let containers = 0;
  let memoryMb = 0;
  for (const e of entries) {
    if (e.actor.state === 'DONE' || ownerOf(e.spec) !== user) continue;
    containers++;
    memoryMb += e.spec.resources.memoryMb;
  }
  if (maxContainers > 0 && containers + 1 > maxContainers) {
    throw tooMany(
      `${user} has ${containers} containers not yet finished, and nodewarden.user-limits.max-containers is ${maxContainers}; wait for one to finish, or kill one`,
    );
  }
  if (maxMemoryMb > 0 && memoryMb + spec.resources.memoryMb > maxMemoryMb) {
    throw tooMany(
      `${user}'s containers not yet finished have requested ${memoryMb} MB, and this one asks ${spec.resources.memoryMb} MB more than nodewarden.user-limits.max-memory-mb (${maxMemoryMb} MB) allows; wait for one to finish, kill one, or ask for less`,
    );
  }
}
