/**
 * A launch request as it arrives (parsed JSON of unknown shape) checked field
 * by field and turned into a ContainerSpec. Every problem is a 400 that names
 * the field; nothing is created from a request that fails here.
 */
import { NEVER_RETRY } from '../../state-machines/retry-policy.js';
import type { ContainerSpec, ExecutionType, LocalResource, RetryPolicy, RetryPolicyName } from '../../state-machines/types.js';
import { badRequest } from './errors.js';

/** Container ids: safe as a file name, never `/` or `..`. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESOURCE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
/** Node timers hold at most 2^31 - 1 ms; a longer one would fire at once. */
const MAX_RETRY_INTERVAL_MS = 2 ** 31 - 1;
const REQUEST_FIELDS = ['id', 'command', 'env', 'resources', 'executionType', 'localResources', 'retryPolicy', 'user'];
/** A login name (useradd's rule, loosely): never a path, an option or a number. */
export const USER_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const RETRY_POLICIES: RetryPolicyName[] = ['NEVER_RETRY', 'RETRY_ON_ALL_ERRORS', 'RETRY_ON_SPECIFIC_ERROR_CODES'];
const EXECUTION_TYPES: ExecutionType[] = ['GUARANTEED', 'OPPORTUNISTIC'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const hasNul = (s: string) => s.includes('\0');

export function checkId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw badRequest(`${field} must match ${ID_PATTERN.source} (letters, digits, '_', '.', '-'; at most 128 characters)`);
  }
  return id;
}

function unknownFields(obj: Record<string, unknown>, allowed: string[], where: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw badRequest(`unknown field${extra.length > 1 ? 's' : ''} in ${where}: ${extra.join(', ')}`);
}

function command(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0) {
    throw badRequest('command must be a non-empty array of strings (argv), e.g. ["sleep", "10"]');
  }
  v.forEach((arg, i) => {
    if (typeof arg !== 'string' || hasNul(arg)) throw badRequest(`command[${i}] must be a string without NUL bytes`);
  });
  if (v[0] === '') throw badRequest('command[0] must name a program');
  return [...(v as string[])];
}

function env(v: unknown): Record<string, string> {
  if (v === undefined) return {};
  if (!isObject(v)) throw badRequest('env must be an object of NAME: "value" strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (!ENV_NAME.test(k)) throw badRequest(`env name ${JSON.stringify(k)} is not a valid variable name`);
    if (typeof val !== 'string' || hasNul(val)) throw badRequest(`env.${k} must be a string without NUL bytes`);
    out[k] = val;
  }
  return out;
}

function resources(v: unknown): ContainerSpec['resources'] {
  if (!isObject(v)) throw badRequest('resources must be an object {memoryMb, vcores}');
  unknownFields(v, ['memoryMb', 'vcores'], 'resources');
  if (!isPositiveInt(v.memoryMb)) throw badRequest('resources.memoryMb must be a positive integer (MB)');
  if (!isPositiveInt(v.vcores)) throw badRequest('resources.vcores must be a positive integer');
  return { memoryMb: v.memoryMb, vcores: v.vcores };
}

function executionType(v: unknown): ExecutionType {
  if (v === undefined) return 'GUARANTEED';
  if (!EXECUTION_TYPES.includes(v as ExecutionType)) throw badRequest(`executionType must be one of ${EXECUTION_TYPES.join(', ')}`);
  return v as ExecutionType;
}

function localResources(v: unknown): LocalResource[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw badRequest('localResources must be an array of {source, name}');
  const names = new Set<string>();
  return v.map((r, i) => {
    const where = `localResources[${i}]`;
    if (!isObject(r)) throw badRequest(`${where} must be an object {source, name}`);
    unknownFields(r, ['source', 'name', 'copy'], where);
    if (typeof r.source !== 'string' || !r.source.startsWith('/') || hasNul(r.source)) {
      throw badRequest(`${where}.source must be an absolute path`);
    }
    if (typeof r.name !== 'string' || !RESOURCE_NAME.test(r.name)) {
      throw badRequest(`${where}.name must be a plain file name (no '/', not '.' or '..')`);
    }
    if (names.has(r.name)) throw badRequest(`${where}.name ${r.name} is used twice`);
    names.add(r.name);
    if (r.copy !== undefined && typeof r.copy !== 'boolean') throw badRequest(`${where}.copy must be true or false`);
    return r.copy ? { source: r.source, name: r.name, copy: true } : { source: r.source, name: r.name };
  });
}

function retryPolicy(v: unknown): RetryPolicy {
  if (v === undefined) return NEVER_RETRY;
  if (!isObject(v)) throw badRequest('retryPolicy must be an object {policy, maxRetries, retryIntervalMs, errorCodes}');
  unknownFields(v, ['policy', 'maxRetries', 'retryIntervalMs', 'errorCodes'], 'retryPolicy');
  if (!RETRY_POLICIES.includes(v.policy as RetryPolicyName)) {
    throw badRequest(`retryPolicy.policy must be one of ${RETRY_POLICIES.join(', ')}`);
  }
  const maxRetries = v.maxRetries ?? 0;
  if (!Number.isSafeInteger(maxRetries) || (maxRetries as number) < -1) {
    throw badRequest('retryPolicy.maxRetries must be an integer ≥ 0, or -1 to retry forever');
  }
  const retryIntervalMs = v.retryIntervalMs ?? 0;
  if (!Number.isSafeInteger(retryIntervalMs) || (retryIntervalMs as number) < 0 || (retryIntervalMs as number) > MAX_RETRY_INTERVAL_MS) {
    throw badRequest(`retryPolicy.retryIntervalMs must be an integer from 0 to ${MAX_RETRY_INTERVAL_MS} (about 24 days)`);
  }
  const errorCodes = v.errorCodes ?? [];
  if (!Array.isArray(errorCodes) || !errorCodes.every((c) => Number.isSafeInteger(c))) {
    throw badRequest('retryPolicy.errorCodes must be an array of integers');
  }
  return { policy: v.policy as RetryPolicyName, maxRetries: maxRetries as number, retryIntervalMs: retryIntervalMs as number, errorCodes };
}

function user(v: unknown): { user?: string } {
  if (v === undefined) return {};
  if (typeof v !== 'string' || !USER_PATTERN.test(v)) throw badRequest(`user must be a login name matching ${USER_PATTERN.source}`);
  return { user: v };
}

/** Check a launch request; `newId` names a container that gave no id. */
export function parseLaunchRequest(body: unknown, newId: () => string): ContainerSpec {
  if (!isObject(body)) throw badRequest('the launch request must be a JSON object');
  unknownFields(body, REQUEST_FIELDS, 'the launch request');
  return {
    id: body.id === undefined ? newId() : checkId(body.id),
    command: command(body.command),
    env: env(body.env),
    resources: resources(body.resources),
    executionType: executionType(body.executionType),
    localResources: localResources(body.localResources),
    retryPolicy: retryPolicy(body.retryPolicy),
    ...user(body.user),
  };
}

/** Same request twice? Compared on the checked spec, so key order and defaults do not matter. */
export function sameSpec(a: ContainerSpec, b: ContainerSpec): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    isObject(val) ? Object.fromEntries(Object.entries(val).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : val,
  );
}
