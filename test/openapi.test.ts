/**
 * GET /openapi.json: a valid OpenAPI 3 document (checked by a real OpenAPI
 * validator) with every route the daemon serves, its parameters and request
 * body, built from the schemas fastify validates requests with; and the
 * response schemas are true of real responses. `nodewarden openapi` prints
 * the same document.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMessageKeyword, AJV_OPTIONS } from '../src/core/request-schemas.js';
import { containerViewSchema, ROUTE_SCHEMAS, SHARED_SCHEMAS } from '../src/server/api-schemas.js';
import { curl } from './helpers/curl.js';
import { startApiDaemon, type ApiTestDaemon } from './helpers/daemon.js';

const BIN = path.join(process.cwd(), 'bin', 'nodewarden.js');
const run = promisify(execFile);

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
}

let d: ApiTestDaemon;
let doc: OpenApiDoc;
beforeAll(async () => {
  d = await startApiDaemon();
  await d.node.launch({ id: 'c1', command: ['sleep', '600'], resources: { memoryMb: 32, vcores: 1 } });
  await d.until('c1', 'RUNNING');
  const r = await curl(d.socket, ["http://localhost/openapi.json"]);
  expect(r.status).toBe(200);
  doc = r.json as OpenApiDoc;
});
afterAll(async () => {
  await d?.stop();
});

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3 document, by a real validator', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('has every route the daemon serves (and nothing else), with its path parameters', () => {
    const served = d.daemon.server.routes.filter((r) => !r.startsWith('HEAD ') && r !== 'GET /openapi.json');
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`));
    expect(documented.sort()).toEqual([...new Set(served)].sort());
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const name of [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        for (const op of Object.values(ops)) expect(op.parameters?.some((x) => x.in === 'path' && x.name === name), `${p} ${name}`).toBe(true);
      }
    }
    expect(Object.keys(ROUTE_SCHEMAS).sort()).toEqual(documented.sort());
  });

  it('the launch body is the schema that validates it: required fields, limits and messages', () => {
    const launch = doc.paths['/v1/containers']!.post!;
    expect(JSON.stringify(launch.requestBody)).toContain('LaunchRequest');
    const request = doc.components.schemas.LaunchRequest as { required: string[]; properties: Record<string, { 'x-message'?: string }> };
    expect(request.required).toEqual(['command', 'resources']);
    expect(request.properties.command!['x-message']).toContain('must be a non-empty array of strings');
    expect(Object.keys(launch.responses).sort()).toEqual(['200', '201', '400', '403', '409', '413', '429', '503']);
    const events = doc.paths['/v1/events']!.get!;
    expect(events.parameters!.map((p) => `${p.in} ${p.name}`).sort()).toEqual(['query follow', 'query since']);
  });

  it('real responses match their schemas: a container, the list, the transitions, the node, the health', async () => {
    const ajv = addMessageKeyword(new Ajv({ ...AJV_OPTIONS, strict: false }));
    for (const s of SHARED_SCHEMAS) ajv.addSchema(s);
    const check = (key: string, status: number, body: unknown) => {
      const schema = (ROUTE_SCHEMAS[key]!.response as Record<number, unknown>)[status];
      const validate = ajv.compile(schema as object);
      expect(validate(body) ? [] : validate.errors, key).toEqual([]);
    };
    check('GET /v1/containers/:id', 200, (await curl(d.socket, ['http://localhost/v1/containers/c1'])).json);
    check('GET /v1/containers', 200, (await curl(d.socket, ['http://localhost/v1/containers'])).json);
    check('GET /v1/containers/:id/transitions', 200, (await curl(d.socket, ['http://localhost/v1/containers/c1/transitions'])).json);
    check('GET /v1/node', 200, (await curl(d.socket, ['http://localhost/v1/node'])).json);
    check('GET /healthz', 200, (await curl(d.socket, ['http://localhost/healthz'])).json);
    check('GET /v1/containers/:id', 404, (await curl(d.socket, ['http://localhost/v1/containers/nope'])).json);
    // The view is the same object JSON.stringify makes of it: nothing dropped or coerced on the way.
    expect((await curl(d.socket, ['http://localhost/v1/containers/c1'])).json).toEqual(JSON.parse(JSON.stringify(d.node.view('c1'))));
    expect(containerViewSchema.required.sort()).toEqual(Object.keys(d.node.view('c1')).sort());
  });

  it('nodewarden openapi prints the same document', async () => {
    // Asynchronously: the daemon answering it runs in this process.
    const { stdout, stderr } = await run(process.execPath, [BIN, 'openapi', '--socket', d.socket]);
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual(doc);
  });
});
