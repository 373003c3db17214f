/**
 * Bad input over the real socket: each request gets a 4xx with the error body
 * `{"error":{"code","message"}}`, changes nothing, and leaves the daemon healthy.
 * All of it twice: as root, and as a member of the group the socket is shared
 * with (nodewarden.socket.group), whose connection the daemon knows by its
 * SO_PEERCRED (test/helpers/member.ts) and whose containers are its own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodewardenClient } from '../src/client/client.js';
import type { ApiTestDaemon } from './helpers/daemon.js';
import { curl } from './helpers/curl.js';
import { CALLERS, serveTo, type Served } from './helpers/member.js';


afterAll(() => {
  for (const f of fs.readdirSync(os.tmpdir())) if (f.startsWith(`nw-body-${process.pid}-`)) fs.rmSync(path.join(os.tmpdir(), f));
});

const good = { command: ['sleep', '1'], resources: { memoryMb: 16, vcores: 1 } };
/** The body goes through a file: a large one would not fit in curl's argv. */
const withBody = (body: unknown) => {
  const file = path.join(os.tmpdir(), `nw-body-${process.pid}-${++bodies}.json`);
  fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return ['-X', 'POST', '-H', 'content-type: application/json', '--data-binary', `@${file}`];
};
let bodies = 0;

interface Case {
  name: string;
  args: string[];
  status: number;
  code: string;
  /** A piece of the message that tells the user what was wrong. */
  says: string | RegExp;
}

const u = (p: string) => `http://localhost${p}`;
const launch = (name: string, body: unknown, says: string | RegExp, status = 400, code = 'BAD_REQUEST'): Case => ({ name, args: [...withBody(body), u('/v1/containers')], status, code, says });

const cases: Case[] = [
  launch('malformed JSON', '{"command": ["sleep"', /not valid JSON/),
  launch('a JSON array', [good], /must be a JSON object/),
  launch('a JSON string', '"sleep 1"', /must be a JSON object/),
  launch('JSON null', 'null', /must be a JSON object/),
  launch('no command', { resources: good.resources }, /command must be a non-empty array/),
  launch('an empty command', { ...good, command: [] }, /command must be a non-empty array/),
  launch('a string command', { ...good, command: 'sleep 1' }, /command must be a non-empty array/),
  launch('a command of numbers', { ...good, command: [1, 2] }, /command\[0\] must be a string/),
  launch('an empty program name', { ...good, command: [''] }, /command\[0\] must name a program/),
  launch('negative memory', { ...good, resources: { memoryMb: -1, vcores: 1 } }, /memoryMb must be a positive integer/),
  launch('zero vcores', { ...good, resources: { memoryMb: 16, vcores: 0 } }, /vcores must be a positive integer/),
  launch('memory as a string', { ...good, resources: { memoryMb: '16', vcores: 1 } }, /memoryMb must be a positive integer/),
  launch('fractional vcores', { ...good, resources: { memoryMb: 16, vcores: 1.5 } }, /vcores must be a positive integer/),
  launch('no resources', { command: good.command }, /resources must be an object/),
  launch('more memory than the node has', { ...good, resources: { memoryMb: 10_000_000, vcores: 1 } }, /can never fit this node/),
  launch('an id with ..', { ...good, id: '../etc' }, /id must match/),
  launch('an id with /', { ...good, id: 'a/b' }, /id must match/),
  launch('an id starting with .', { ...good, id: '.hidden' }, /id must match/),
  launch('an empty id', { ...good, id: '' }, /id must match/),
  launch('an id of 129 characters', { ...good, id: 'a'.repeat(129) }, /id must match/),
  launch('an id as a number', { ...good, id: 7 }, /id must match/),
  launch('an unknown field', { ...good, image: 'x' }, /unknown field in the launch request: image/),
  launch('a misspelt required field (unknown, not missing)', { comand: good.command, resources: good.resources }, /^unknown field in the launch request: comand$/),
  launch('two unknown fields, both named', { ...good, image: 'x', '$&': 1 }, /^unknown fields in the launch request: image, \$&$/),
  launch('an unknown field inside resources', { ...good, resources: { ...good.resources, gpus: 1 } }, /^unknown field in resources: gpus$/),
  launch('env with a number', { ...good, env: { A: 1 } }, /env\.A must be a string/),
  launch('env with a bad name', { ...good, env: { 'A=B': 'x' } }, /not a valid variable name/),
  launch('a retry field sent as null (left out, it takes its default)', { ...good, retryPolicy: { policy: 'RETRY_ON_ALL_ERRORS', maxRetries: null } }, /retryPolicy\.maxRetries must be an integer/),
  launch('an unknown execution type', { ...good, executionType: 'BEST_EFFORT' }, /executionType must be one of/),
  launch('a __proto__ key', '{"__proto__": {"polluted": true}, "command": ["true"], "resources": {"memoryMb": 1, "vcores": 1}}', /__proto__/),
  launch('the same id with a different request', { ...good, id: 'running' }, /already exists with a different request/, 409, 'CONFLICT'),
  launch('a body over the limit', JSON.stringify({ ...good, env: { BIG: 'x'.repeat(1_100_000) } }), /larger than the limit of 1048576 bytes/, 413, 'PAYLOAD_TOO_LARGE'),
  { name: 'an unknown container', args: [u('/v1/containers/nope')], status: 404, code: 'NOT_FOUND', says: 'container nope not found' },
  { name: 'kill of an unknown container', args: ['-X', 'POST', u('/v1/containers/nope/kill')], status: 404, code: 'NOT_FOUND', says: 'container nope not found' },
  { name: 'transitions of an unknown container', args: [u('/v1/containers/nope/transitions')], status: 404, code: 'NOT_FOUND', says: 'not found' },
  { name: 'a path-traversal id', args: ['--path-as-is', u('/v1/containers/..')], status: 400, code: 'BAD_REQUEST', says: /id must match/ },
  { name: 'an encoded path-traversal id', args: [u('/v1/containers/..%2F..%2Fetc%2Fpasswd')], status: 400, code: 'BAD_REQUEST', says: /id must match/ },
  { name: 'an encoded slash in a kill', args: ['-X', 'POST', u('/v1/containers/a%2Fb/kill')], status: 400, code: 'BAD_REQUEST', says: /id must match/ },
  { name: 'kill of a finished container', args: ['-X', 'POST', u('/v1/containers/done/kill')], status: 409, code: 'CONFLICT', says: 'container done is DONE: a kill has nothing left to do' },
  { name: 'resume of a running container', args: ['-X', 'POST', u('/v1/containers/running/resume')], status: 409, code: 'CONFLICT', says: 'RESUME_CONTAINER is not possible' },
  { name: 'malformed JSON on a kill', args: [...withBody('{oops'), u('/v1/containers/running/kill')], status: 400, code: 'BAD_REQUEST', says: /not valid JSON/ },
  { name: 'an unknown route', args: [u('/v2/containers')], status: 404, code: 'NOT_FOUND', says: 'no route GET /v2/containers' },
  { name: 'an unknown method', args: ['-X', 'DELETE', u('/v1/containers/running')], status: 405, code: 'METHOD_NOT_ALLOWED', says: 'DELETE is not allowed' },
  { name: 'PUT on the collection', args: ['-X', 'PUT', ...withBody(good).slice(2), u('/v1/containers')], status: 405, code: 'METHOD_NOT_ALLOWED', says: 'use GET or HEAD or POST' },
  { name: 'GET on a kill', args: [u('/v1/containers/running/kill')], status: 405, code: 'METHOD_NOT_ALLOWED', says: 'use POST' },
  { name: 'events since a negative seq', args: [u('/v1/events?since=-1')], status: 400, code: 'BAD_REQUEST', says: /since must be a sequence number/ },
  { name: 'events since a word', args: [u('/v1/events?since=abc')], status: 400, code: 'BAD_REQUEST', says: /since must be a sequence number/ },
  { name: 'events with follow=maybe', args: [u('/v1/events?follow=maybe')], status: 400, code: 'BAD_REQUEST', says: /follow must be true or false/ },
  { name: 'events with an unknown parameter', args: [u('/v1/events?from=1')], status: 400, code: 'BAD_REQUEST', says: /unknown query parameter: from \(use since and follow\)/ },
  { name: 'events with two unknown parameters', args: [u('/v1/events?from=1&to=2')], status: 400, code: 'BAD_REQUEST', says: /unknown query parameters?: from, to/ },
  { name: 'a YARN id that is a traversal', args: [u('/ws/v1/node/containers/..%2Fx')], status: 400, code: 'BAD_REQUEST', says: /id must match/ },
  { name: 'a log file that does not exist', args: [u('/ws/v1/node/containerlogs/running/syslog')], status: 404, code: 'NOT_FOUND', says: 'has no log file' },
];

/** A member's, for the cases below: another user's container, and a request naming someone else. */
const memberCases: Case[] = [
  { name: "another user's container", args: [u('/v1/containers/roots')], status: 404, code: 'NOT_FOUND', says: 'container roots not found' },
  { name: "a kill of another user's container", args: ['-X', 'POST', u('/v1/containers/roots/kill')], status: 404, code: 'NOT_FOUND', says: 'container roots not found' },
  { name: "the transitions of another user's container", args: [u('/v1/containers/roots/transitions')], status: 404, code: 'NOT_FOUND', says: 'not found' },
  { name: "another user's container, YARN's view", args: [u('/ws/v1/node/containers/roots')], status: 404, code: 'NOT_FOUND', says: 'not found' },
  { name: "another user's logs", args: [u('/ws/v1/node/containerlogs/roots/stdout')], status: 404, code: 'NOT_FOUND', says: 'not found' },
  launch('a launch naming root', { ...good, user: 'root' }, /your containers run as you/, 403, 'FORBIDDEN'),
  launch('a launch naming another user', { ...good, user: 'nobody' }, /your containers run as you/, 403, 'FORBIDDEN'),
];

describe.each(CALLERS)('bad input over the socket, as $as', ({ member }) => {
  let served: Served | undefined;
  let d: ApiTestDaemon;
  /** The socket the cases are sent on: the daemon's, or the member's relay to it. */
  let socket: string;
  let client: NodewardenClient;

  beforeAll(async () => {
    served = await serveTo(member, 'bad');
    ({ d, socket } = served);
    client = new NodewardenClient(socket, { keepAlive: true });
    // Known containers in two states, the caller's own: one running, one finished. `running` must outlive every case
    // (each compares snapshots, which its exit would change): an hour, killed by d.stop(). `roots` is root's.
    await client.post('/v1/containers', { id: 'running', command: ['sleep', '3600'], resources: { memoryMb: 16, vcores: 1 } });
    await client.post('/v1/containers', { id: 'done', command: ['true'], resources: { memoryMb: 16, vcores: 1 } });
    await d.client.post('/v1/containers', { id: 'roots', command: ['sleep', '3600'], resources: { memoryMb: 16, vcores: 1 } });
    await d.until('running', 'RUNNING');
    await d.until('done', 'DONE');
    await d.until('roots', 'RUNNING');
  });
  afterAll(async () => {
    client?.close();
    await served?.stop();
  });

  /** Everything an observer can see, as root sees it: the views (without the monitor's moving figures) and the whole journal. */
  async function snapshot(): Promise<string> {
    const { containers } = await d.client.get<{ containers: Array<Record<string, unknown>> }>('/v1/containers');
    const events: unknown[] = [];
    await d.client.stream('/v1/events', (record) => events.push(record));
    return JSON.stringify({ containers: containers.map(({ usage: _usage, ...rest }) => rest), events });
  }

  it.each(member ? [...cases, ...memberCases] : cases)('$name → $status $code, nothing changed, still healthy', async (c) => {
    const before = await snapshot();
    const r = await curl(socket, c.args);
    expect(r.status).toBe(c.status);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(r.json)).toEqual(['error']);
    expect(Object.keys(r.json.error).sort()).toEqual(['code', 'message']);
    expect(r.json.error.code).toBe(c.code);
    if (typeof c.says === 'string') expect(r.json.error.message).toContain(c.says);
    else expect(r.json.error.message).toMatch(c.says);
    if (c.status === 405) expect(r.headers.allow).toBeTruthy();
    expect(await snapshot()).toBe(before);
    expect(await client.get('/healthz')).toMatchObject({ status: 'ok' });
  });

  it('a connection that sends garbage instead of HTTP is dropped and the daemon carries on', async () => {
    const sock = await served!.connect();
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      sock.on('data', (b) => (got += b.toString()));
      sock.on('close', () => resolve(got));
      sock.on('error', () => resolve(got));
      sock.end('NOT HTTP AT ALL\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await curl(socket, [u('/healthz')])).status).toBe(200);
  });
});
