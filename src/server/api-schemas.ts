/**
 * The socket API described route by route, for fastify (request validation)
 * and @fastify/swagger (GET /openapi.json). Requests are validated by the
 * schemas of core/request-schemas.ts; the response schemas here describe
 * what each route answers. Responses are sent with JSON.stringify, not a
 * compiled serializer: a compiled one drops what a schema leaves out and
 * coerces what it types wrongly, silently. test/openapi.test.ts checks real
 * responses against these schemas instead.
 */
import { CONTAINER_STATES } from '../../state-machines/types.js';
import { containerIdSchema, eventsQuerySchema, launchRequestSchema } from '../core/request-schemas.js';

const int = { type: 'integer' } as const;
const num = { type: 'number' } as const;
const str = { type: 'string' } as const;
const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
const obj = (properties: Record<string, unknown>, description?: string) => ({
  type: 'object',
  ...(description ? { description } : {}),
  required: Object.keys(properties),
  properties,
});
/** An object whose keys are not fixed (the configuration, a count per state). */
const map = (values: Record<string, unknown>, description: string) => ({ type: 'object', description, additionalProperties: values });

export const errorSchema = {
  $id: 'Error',
  description: 'Every refusal: nothing was changed.',
  ...obj({ error: obj({ code: { ...str, description: 'BAD_REQUEST, NOT_FOUND, CONFLICT, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, STORE_UNAVAILABLE…' }, message: { ...str, description: 'What was wrong, and what to do' } }) }),
};

const resources = obj({ memoryMb: int, vcores: int });

export const containerViewSchema = {
  $id: 'Container',
  description: 'One container: what was asked, where it is in its lifecycle, what it uses.',
  type: 'object',
  required: ['id', 'state', 'pid', 'exitStatus', 'exitCode', 'diagnostics', 'command', 'env', 'localResources', 'retryPolicy', 'user', 'resources', 'limits', 'executionType', 'usage', 'launchedBy', 'killedBy', 'createdAt', 'updatedAt', 'workDir', 'logDir'],
  properties: {
    id: str,
    state: { type: 'string', enum: [...CONTAINER_STATES], description: "YARN's ContainerState" },
    pid: { ...nullable(int), description: 'Its process (the wrapper: session and group leader); null before launch' },
    exitStatus: { ...int, description: "YARN's ContainerExitStatus: why it ended (-1000 while running)" },
    exitCode: { ...int, description: 'What its process returned (-1000 while running)' },
    diagnostics: str,
    command: { type: 'array', items: str },
    env: map(str, 'Its environment besides what nodewarden sets'),
    localResources: { type: 'array', items: { type: 'object', required: ['source', 'name'], properties: { source: str, name: str, copy: { type: 'boolean' } } } },
    retryPolicy: obj({ policy: str, maxRetries: int, retryIntervalMs: int, errorCodes: { type: 'array', items: int } }),
    user: { ...str, description: 'The user it runs as' },
    resources,
    limits: obj({ pmemBytes: int, vmemBytes: int, cpus: num }, 'What the monitor enforces: the request plus the executor allowance'),
    executionType: { type: 'string', enum: ['GUARANTEED', 'OPPORTUNISTIC'] },
    usage: {
      ...nullable({
        type: 'object',
        required: ['timestamp', 'pmemBytes', 'vmemBytes', 'cpuPercent', 'milliVcores'],
        properties: {
          timestamp: num,
          pmemBytes: int,
          vmemBytes: int,
          cpuPercent: num,
          milliVcores: num,
          cgroup: obj({ rssBytes: int, cacheBytes: int, totalBytes: int, swapBytes: int }, 'Its cgroup\'s own figures (one container\'s view only)'),
        },
      }),
      description: "The monitor's last figures; null until the first sample",
    },
    launchedBy: { ...nullable(obj({ uid: int, gid: int, pid: int })), description: 'Who launched it, as the kernel said (SO_PEERCRED); null: the daemon itself, or not known' },
    killedBy: { ...nullable(obj({ uid: int, gid: int, pid: int })), description: 'Who asked for its kill; null: nobody did, or not known' },
    createdAt: { ...num, description: 'ms since the epoch' },
    updatedAt: num,
    workDir: str,
    logDir: str,
  },
};

const ref = (id: string) => ({ $ref: `${id}#` });
/** The error statuses a route can answer, each in the error shape. */
const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, ref('Error')]));
/** A route that names a container: a bad id (400), or one not known (404). */
const unknownId = errors(400, 404);
const withId = { params: { type: 'object', required: ['id'], properties: { id: containerIdSchema } } };

const transitionRow = obj({ seq: int, ts: num, from: str, to: str, event: { ...str, description: 'The event type; the whole event is in /v1/events' } });

const nodeReport = {
  type: 'object',
  required: ['capacity', 'allocated', 'queued', 'utilization', 'containers', 'monitor', 'recovery', 'store', 'limits', 'containment', 'pressure', 'elastic', 'config'],
  properties: {
    capacity: resources,
    allocated: obj({ memoryMb: int, vcores: num }),
    queued: obj({ guaranteed: int, opportunistic: int }),
    utilization: obj({ timestamp: num, pmemMb: int, vmemMb: int, vcores: num }),
    containers: map(int, 'Containers by state'),
    monitor: obj({ running: { type: 'boolean' }, intervalMs: int, ticks: int }),
    recovery: { type: 'object', description: 'What the last start found of the containers left unfinished, and did about them' },
    store: { type: 'object', required: ['writable', 'fault'], properties: { writable: { type: 'boolean' }, fault: nullable({ type: 'object' }) } },
    limits: obj({ known: int, maxKnown: int, waiting: int, maxQueued: int, finishedRetentionMs: int }),
    containment: { type: 'object', required: ['mode'], properties: { mode: { type: 'string', enum: ['cgroup-v1', 'cgroup-v2', 'process-group'] } } },
    pressure: { type: 'object', required: ['memory'], properties: { memory: nullable({ type: 'object', description: "PSI: some and full, each {avg10, avg60, avg300, total}" }) } },
    elastic: nullable({ type: 'object', description: 'Elastic memory control: the node cgroup and its OOM handler' }),
    config: map({ type: ['string', 'number', 'boolean'] }, 'Every configuration key in force'),
  },
};

const health = {
  type: 'object',
  required: ['status', 'pid'],
  properties: { status: { type: 'string', enum: ['ok', 'degraded'] }, pid: int, store: { type: 'object' }, memory: { type: 'object' } },
};

const text = (description: string) => ({ description, content: { 'text/plain': { schema: str } } });

/** Each route's schema, by "METHOD /path". */
export const ROUTE_SCHEMAS: Record<string, Record<string, unknown>> = {
  'POST /v1/containers': {
    tags: ['containers'],
    summary: 'Launch a container',
    description: 'Answers once the request is durable: 201 for a new container, 200 for the same request again (the same id), 409 for a different one under the same id.',
    body: ref('LaunchRequest'),
    response: { 200: ref('Container'), 201: ref('Container'), ...errors(400, 403, 409, 413, 429, 503) },
  },
  'GET /v1/containers': {
    tags: ['containers'],
    summary: 'Every container known',
    response: { 200: obj({ containers: { type: 'array', items: ref('Container') } }) },
  },
  'GET /v1/containers/:id': { tags: ['containers'], summary: 'One container', ...withId, response: { 200: ref('Container'), ...unknownId } },
  'POST /v1/containers/:id/kill': { tags: ['containers'], summary: 'Kill it (KILLING now; DONE once its processes are gone)', ...withId, response: { 202: ref('Container'), ...errors(400, 404, 409, 503) } },
  'POST /v1/containers/:id/pause': { tags: ['containers'], summary: 'Freeze every process of it', ...withId, response: { 202: ref('Container'), ...errors(400, 404, 409, 503) } },
  'POST /v1/containers/:id/resume': { tags: ['containers'], summary: 'Let a paused one run again', ...withId, response: { 202: ref('Container'), ...errors(400, 404, 409, 503) } },
  'GET /v1/containers/:id/transitions': {
    tags: ['containers'],
    summary: 'Its committed transitions, oldest first',
    ...withId,
    response: { 200: { type: 'array', items: transitionRow }, ...unknownId },
  },
  'GET /v1/events': {
    tags: ['events'],
    summary: 'The journal\'s transitions and kill decisions as NDJSON',
    querystring: eventsQuerySchema,
    produces: ['application/x-ndjson'],
    response: { 200: { description: 'One JSON record a line, in seq order', content: { 'application/x-ndjson': { schema: str } } }, ...errors(400, 410) },
  },
  'GET /v1/node': { tags: ['node'], summary: 'The node: capacity, allocation, use, the containers by state, the configuration in force', response: { 200: nodeReport } },
  'GET /healthz': { tags: ['node'], summary: 'ok, or degraded (store fault, or an unresolved OOM)', response: { 200: health } },
  'GET /metrics': { tags: ['node'], summary: 'Prometheus text format', produces: ['text/plain'], response: { 200: text('Prometheus exposition format 0.0.4') } },
  'GET /monitor/statistics': { tags: ['mesos'], summary: "Mesos's per-executor statistics", response: { 200: { type: 'array', items: { type: 'object' } } } },
  'GET /monitor/statistics.json': { tags: ['mesos'], summary: 'The same, by its .json name', response: { 200: { type: 'array', items: { type: 'object' } } } },
  'GET /ws/v1/node/containers': { tags: ['yarn'], summary: "YARN NodeManager REST: every container", response: { 200: { type: 'object' } } },
  'GET /ws/v1/node/containers/:id': { tags: ['yarn'], summary: 'YARN NodeManager REST: one container', ...withId, response: { 200: { type: 'object' }, ...unknownId } },
  'GET /ws/v1/node/containers/:id/logs': { tags: ['yarn'], summary: 'Its log files', ...withId, response: { 200: { type: 'object' }, ...unknownId } },
  'GET /ws/v1/node/containerlogs/:id/:filename': {
    tags: ['yarn'],
    summary: 'One log file; ?size=-N for the last N bytes',
    params: { type: 'object', required: ['id', 'filename'], properties: { id: containerIdSchema, filename: str } },
    response: { 200: text('The file'), ...unknownId },
  },
};

/** Shared schemas, added to fastify once and referred to by $id. */
export const SHARED_SCHEMAS = [errorSchema, containerViewSchema, launchRequestSchema];
