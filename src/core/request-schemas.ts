/**
 * The JSON Schemas of what the API takes: the launch request, the container
 * id in a path, the events query. fastify validates requests with them, the
 * OpenAPI document (GET /openapi.json) is built from them, and
 * parseLaunchRequest checks an in-process launch with the same compiled
 * schema. What a schema cannot say (two local resources of the same name,
 * the defaults, idempotency by canonical comparison) stays in
 * launch-request.ts.
 *
 * Each schema node that can fail carries `x-message`, the error a user
 * reads: `{path}` becomes the failing field (`command[2]`, `env.A`), `{name}`
 * a property's name. One formatter serves fastify and the in-process check,
 * so both say the same thing.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { badRequest, type NodewardenError } from './errors.js';

/** Container ids: safe as a file name, never `/` or `..`. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** A login name (useradd's rule, loosely): never a path, an option or a number. */
export const USER_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESOURCE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;
/** Node timers hold at most 2^31 - 1 ms; a longer one would fire at once. */
export const MAX_RETRY_INTERVAL_MS = 2 ** 31 - 1;
const NO_NUL = '^[^\\u0000]*$';

export const ID_MESSAGE = `{path} must match ${ID_PATTERN.source} (letters, digits, '_', '.', '-'; at most 128 characters)`;

/** The annotation keyword: ajv must know it (strict mode), and it validates nothing. */
export const MESSAGE_KEYWORD = 'x-message';

const positiveInt = (message: string) => ({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, [MESSAGE_KEYWORD]: message });

export const containerIdSchema = { type: 'string', pattern: ID_PATTERN.source, [MESSAGE_KEYWORD]: ID_MESSAGE, description: 'The container id' } as const;

export const launchRequestSchema = {
  $id: 'LaunchRequest',
  type: 'object',
  description: 'A container to run: its command, its resources, and how to run it.',
  [MESSAGE_KEYWORD]: 'the launch request must be a JSON object',
  additionalProperties: false,
  required: ['command', 'resources'],
  properties: {
    id: { ...containerIdSchema, description: 'The id to give it (default: one is made up). The same id with the same request again is the same container (200).' },
    command: {
      type: 'array',
      description: 'argv: the program and its arguments, run without a shell.',
      minItems: 1,
      [MESSAGE_KEYWORD]: '{path} must be a non-empty array of strings (argv), e.g. ["sleep", "10"]',
      items: { type: 'string', pattern: NO_NUL, [MESSAGE_KEYWORD]: '{path} must be a string without NUL bytes' },
    },
    env: {
      type: 'object',
      description: 'Environment variables besides the ones nodewarden sets (CONTAINER_ID, …).',
      [MESSAGE_KEYWORD]: '{path} must be an object of NAME: "value" strings',
      propertyNames: { pattern: ENV_NAME.source, [MESSAGE_KEYWORD]: 'env name {name} is not a valid variable name' },
      additionalProperties: { type: 'string', pattern: NO_NUL, [MESSAGE_KEYWORD]: '{path} must be a string without NUL bytes' },
    },
    resources: {
      type: 'object',
      description: 'What it may use. The memory limit enforced is memoryMb plus the executor allowance.',
      [MESSAGE_KEYWORD]: '{path} must be an object {memoryMb, vcores}',
      additionalProperties: false,
      required: ['memoryMb', 'vcores'],
      properties: {
        memoryMb: positiveInt('{path} must be a positive integer (MB)'),
        vcores: positiveInt('{path} must be a positive integer'),
      },
    },
    executionType: {
      type: 'string',
      enum: ['GUARANTEED', 'OPPORTUNISTIC'],
      default: 'GUARANTEED',
      description: 'OPPORTUNISTIC containers run only on room left over, and are preempted first (-108).',
      [MESSAGE_KEYWORD]: '{path} must be one of GUARANTEED, OPPORTUNISTIC',
    },
    localResources: {
      type: 'array',
      description: 'Files to put in its working directory before it starts (linked, or copied).',
      [MESSAGE_KEYWORD]: '{path} must be an array of {source, name}',
      items: {
        type: 'object',
        [MESSAGE_KEYWORD]: '{path} must be an object {source, name}',
        additionalProperties: false,
        required: ['source', 'name'],
        properties: {
          source: { type: 'string', pattern: '^/[^\\u0000]*$', [MESSAGE_KEYWORD]: '{path} must be an absolute path' },
          name: { type: 'string', pattern: RESOURCE_NAME.source, not: { enum: ['.', '..'] }, [MESSAGE_KEYWORD]: "{path} must be a plain file name (no '/', not '.' or '..')" },
          copy: { type: 'boolean', [MESSAGE_KEYWORD]: '{path} must be true or false' },
        },
      },
    },
    retryPolicy: {
      type: 'object',
      description: "YARN's ContainerRetryContext: relaunch it in place when its command fails.",
      [MESSAGE_KEYWORD]: '{path} must be an object {policy, maxRetries, retryIntervalMs, errorCodes}',
      additionalProperties: false,
      required: ['policy'],
      properties: {
        policy: {
          type: 'string',
          enum: ['NEVER_RETRY', 'RETRY_ON_ALL_ERRORS', 'RETRY_ON_SPECIFIC_ERROR_CODES'],
          [MESSAGE_KEYWORD]: '{path} must be one of NEVER_RETRY, RETRY_ON_ALL_ERRORS, RETRY_ON_SPECIFIC_ERROR_CODES',
        },
        maxRetries: { type: 'integer', minimum: -1, maximum: Number.MAX_SAFE_INTEGER, default: 0, [MESSAGE_KEYWORD]: '{path} must be an integer ≥ 0, or -1 to retry forever' },
        retryIntervalMs: {
          type: 'integer',
          minimum: 0,
          maximum: MAX_RETRY_INTERVAL_MS,
          default: 0,
          [MESSAGE_KEYWORD]: `{path} must be an integer from 0 to ${MAX_RETRY_INTERVAL_MS} (about 24 days)`,
        },
        errorCodes: {
          type: 'array',
          items: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, [MESSAGE_KEYWORD]: 'retryPolicy.errorCodes must be an array of integers' },
          [MESSAGE_KEYWORD]: '{path} must be an array of integers',
        },
      },
    },
    user: {
      type: 'string',
      pattern: USER_PATTERN.source,
      description: 'Run as this user (root only; subject to min-user-id and the banned users).',
      [MESSAGE_KEYWORD]: `{path} must be a login name matching ${USER_PATTERN.source}`,
    },
  },
} as const;

export const eventsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  [MESSAGE_KEYWORD]: 'unknown query parameter: {name} (use since and follow)',
  properties: {
    since: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'Only records after this sequence number (default 0).', [MESSAGE_KEYWORD]: 'since must be a sequence number (an integer ≥ 0)' },
    follow: {
      type: 'string',
      enum: ['true', 'false', '1', '0', ''],
      description: 'Keep the stream open and send new records as they are committed (`true`, `1` or empty; default false).',
      [MESSAGE_KEYWORD]: 'follow must be true or false',
    },
  },
} as const;

/** The options fastify's validator and ours share: nothing coerced, defaulted or removed on the way (the handlers see what was sent). */
export const AJV_OPTIONS = { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false, verbose: true, strict: true, strictTuples: false } as const;

/** Teach an ajv instance the message annotation. */
export function addMessageKeyword(ajv: Ajv): Ajv {
  ajv.addKeyword({ keyword: MESSAGE_KEYWORD, schemaType: 'string' });
  return ajv;
}

/** `/localResources/0/source` as a user reads it: `localResources[0].source`. */
function fieldPath(instancePath: string, root: string): string {
  let out = root;
  for (const part of instancePath.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out = /^\d+$/.test(key) ? `${out}[${key}]` : out === '' ? key : `${out}.${key}`;
  }
  return out;
}

/** The fields of `data` an object schema does not know (none when it allows others). */
function unknownFields(schema: Record<string, unknown> | undefined, data: unknown): string[] {
  if (schema?.additionalProperties !== false || typeof data !== 'object' || data === null || Array.isArray(data)) return [];
  const known = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
  return Object.keys(data).filter((k) => !known.includes(k));
}

/** `unknown field in the launch request: x`, or every one of them, which a typo'd required field is too. */
function unknownFieldsMessage(schema: Record<string, unknown>, path: string, extra: string[]): string {
  const names = extra.join(', ');
  const message = schema[MESSAGE_KEYWORD];
  // An object whose message is about its names (the events query): name them there.
  if (typeof message === 'string' && message.includes('{name}')) return fill(message, path, names)!;
  return `unknown field${extra.length > 1 ? 's' : ''} in ${path === '' ? 'the launch request' : path}: ${names}`;
}

/**
 * The message for the first failure: the `x-message` of the schema node that
 * failed (or of its parent, for `required`, `additionalProperties` and
 * `propertyNames`, whose failure is the parent's). Unknown fields come
 * first: ajv checks `required` before them, and a misspelt field is both.
 */
export function schemaErrorMessage(errors: readonly ErrorObject[], root = ''): string {
  const e = errors[0];
  if (e === undefined) return 'the request is not valid';
  const parent = e.parentSchema as Record<string, unknown> | undefined;
  const path = fieldPath(e.instancePath, root);
  if (parent !== undefined && (e.keyword === 'required' || e.keyword === 'additionalProperties')) {
    const extra = unknownFields(parent, e.data);
    if (extra.length > 0) return unknownFieldsMessage(parent, path, extra);
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    const field = path === '' ? missing : `${path}.${missing}`;
    const child = (parent?.properties as Record<string, Record<string, unknown>> | undefined)?.[missing];
    return fill(child?.[MESSAGE_KEYWORD], field, missing) ?? `${field} is required`;
  }
  // A property name that fails `propertyNames` (ajv names it on the error, and again on the propertyNames one).
  const badName = (e as { propertyName?: string }).propertyName ?? (e.keyword === 'propertyNames' ? (e.params as { propertyName: string }).propertyName : undefined);
  if (badName !== undefined) {
    const names = e.keyword === 'propertyNames' ? (parent?.propertyNames as Record<string, unknown> | undefined) : parent;
    const message = fill(names?.[MESSAGE_KEYWORD], path, JSON.stringify(badName));
    if (message !== undefined) return message;
  }
  return fill(parent?.[MESSAGE_KEYWORD], path, '') ?? `${path || 'the request'} is not valid (${e.message ?? e.keyword})`;
}

/** A message template with the field and the name put in (functions: a `$&` in a name stays as it is). */
function fill(template: unknown, path: string, name: string): string | undefined {
  if (typeof template !== 'string') return undefined;
  return template.replace('{path}', () => path).replace('{name}', () => name);
}

const ajv = addMessageKeyword(new Ajv(AJV_OPTIONS));
const validateLaunch: ValidateFunction = ajv.compile(launchRequestSchema);

/** The launch request checked against its schema; the 400 to answer, or null. */
export function launchRequestError(body: unknown): NodewardenError | null {
  if (validateLaunch(body)) return null;
  return badRequest(schemaErrorMessage(validateLaunch.errors ?? []));
}
