/**
 * A launch request as it arrives (parsed JSON of unknown shape) checked and
 * turned into a ContainerSpec. The shape is checked by its JSON Schema
 * (request-schemas.ts: the same one fastify validates the socket's requests
 * with and the OpenAPI document shows); here only what a schema cannot say:
 * the program name, local resource names used twice, and the defaults.
 * Every problem is a 400 that names the field; nothing is created from a
 * request that fails here.
 */
import { NEVER_RETRY } from '../../state-machines/retry-policy.js';
import type { ContainerSpec, ExecutionType, LocalResource, RetryPolicy, RetryPolicyName } from '../../state-machines/types.js';
import { badRequest } from './errors.js';
import { ID_MESSAGE, ID_PATTERN, launchRequestError, USER_PATTERN } from './request-schemas.js';

export { ID_PATTERN, USER_PATTERN };

/** The request as its schema admits it. */
interface LaunchRequest {
  id?: string;
  command: string[];
  env?: Record<string, string>;
  resources: { memoryMb: number; vcores: number };
  executionType?: ExecutionType;
  localResources?: Array<{ source: string; name: string; copy?: boolean }>;
  retryPolicy?: { policy: RetryPolicyName; maxRetries?: number; retryIntervalMs?: number; errorCodes?: number[] };
  user?: string;
}

export function checkId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw badRequest(ID_MESSAGE.replace('{path}', field));
  return id;
}

function localResources(v: LaunchRequest['localResources']): LocalResource[] {
  const names = new Set<string>();
  return (v ?? []).map((r, i) => {
    if (names.has(r.name)) throw badRequest(`localResources[${i}].name ${r.name} is used twice`);
    names.add(r.name);
    return r.copy ? { source: r.source, name: r.name, copy: true } : { source: r.source, name: r.name };
  });
}

function retryPolicy(v: LaunchRequest['retryPolicy']): RetryPolicy {
  if (v === undefined) return NEVER_RETRY;
  return { policy: v.policy, maxRetries: v.maxRetries ?? 0, retryIntervalMs: v.retryIntervalMs ?? 0, errorCodes: [...(v.errorCodes ?? [])] };
}

/** Check a launch request; `newId` names a container that gave no id. */
export function parseLaunchRequest(body: unknown, newId: () => string): ContainerSpec {
  const wrong = launchRequestError(body);
  if (wrong) throw wrong;
  const r = body as LaunchRequest;
  if (r.command[0] === '') throw badRequest('command[0] must name a program');
  return {
    id: r.id ?? newId(),
    command: [...r.command],
    env: { ...r.env },
    resources: { memoryMb: r.resources.memoryMb, vcores: r.resources.vcores },
    executionType: r.executionType ?? 'GUARANTEED',
    localResources: localResources(r.localResources),
    retryPolicy: retryPolicy(r.retryPolicy),
    ...(r.user !== undefined ? { user: r.user } : {}),
  };
}

/** Same request twice? Compared on the checked spec, so key order and defaults do not matter. */
export function sameSpec(a: ContainerSpec, b: ContainerSpec): boolean {
  return canonical(a) === canonical(b);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    isObject(val) ? Object.fromEntries(Object.entries(val).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : val,
  );
}
