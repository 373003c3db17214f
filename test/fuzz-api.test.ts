/**
 * Fuzzing the socket API of one real daemon with generated requests, sent as
 * raw bytes over its Unix socket: launch bodies (any JSON, near-valid
 * requests with one field made wrong, text that is not JSON, any
 * content-type), bodies for kill/pause/resume, paths (traversals, encoded
 * NULs, very long ids, odd query strings), methods, and malformed HTTP
 * (request lines, headers, Content-Length, chunked framing). Properties:
 * every answer is HTTP with a documented status and, for an error, exactly
 * `{"error":{"code","message"}}` (or the connection is closed); a refused
 * request changes nothing — the containers, the events and the journal's
 * last seq are as before; and the daemon still answers /healthz.
 */
import net from 'node:net';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiTestDaemon } from './helpers/daemon.js';
import { waitFor } from './helpers/proc.js';
import { CALLERS, serveTo, type Served } from './helpers/member.js';

let d: ApiTestDaemon;
let db: Database.Database;
/** A new connection to the daemon: root's, or the member's (test/helpers/member.ts). */
let connect: () => Promise<net.Socket>;

/** A daemon for the describe block this is called in, and the caller's connections to it. */
function serve(member: boolean): void {
  let served: Served | undefined;
  beforeAll(async () => {
    // No monitor: its ticks would add journal records between two snapshots.
    served = await serveTo(member, 'fz', { 'yarn.nodemanager.container-monitor.enabled': false });
    ({ d, connect } = served);
    // The caller's own: `running` must outlive every probe (its exit would change a snapshot): an hour, killed by d.stop().
    for (const launch of [
      { id: 'running', command: ['sleep', '3600'], resources: { memoryMb: 16, vcores: 1 } },
      { id: 'done', command: ['true'], resources: { memoryMb: 16, vcores: 1 } },
    ]) {
      expect((await send(request('POST', '/v1/containers', { body: JSON.stringify(launch) }))).status).toBe(201);
    }
    await d.until('running', 'RUNNING');
    await d.until('done', 'DONE');
    db = new Database(d.dbPath, { readonly: true, fileMustExist: true });
  });
  afterAll(async () => {
    db?.close();
    await served?.stop();
  });
}

// ---------------------------------------------------------------------------
// A raw HTTP/1.1 client: the bytes go out as generated, the answer is parsed here.

interface Answer {
  /** null: the connection closed without an answer. */
  status: number | null;
  statusLine: string;
  headers: Record<string, string>;
  body: string;
  /** The body ended as its framing says (Content-Length, or the last chunk). */
  complete: boolean;
}

/**
 * Send `bytes` and read the answer: done when it is complete by its framing
 * or the server closes. A stream that stays open (/v1/events?follow=true) is
 * taken as answered once its headers are in and it has been quiet for a
 * moment. A request the server is still waiting on (a body shorter than its
 * Content-Length) is half-closed after a quiet moment: the server then sees
 * its end. (Half-closing at once would not do: Node aborts a request whose
 * client ended before the answer was written.)
 *
 * A quiet moment is counted in turns of the event loop (each at least
 * QUIET_STEP_MS), not in wall-clock time: the daemon answering runs in this
 * process, and on a loaded machine a pause of the whole process must not pass
 * for the daemon's silence. Each turn polls the sockets, so the daemon has had
 * that many chances to read and answer.
 */
const QUIET_STEP_MS = 30;
const QUIET_TURNS = { noAnswerYet: 10, afterData: 5 };

async function send(bytes: Buffer | string): Promise<Answer> {
  const sock = await connect();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    sock.write(bytes);
    const done = () => {
      clearTimeout(timer);
      clearTimeout(limit);
      sock.destroy();
      resolve(parse(Buffer.concat(chunks)));
    };
    // Only for a daemon that never answers nor closes: the test fails on the incomplete answer.
    const limit = setTimeout(done, 30_000);
    const quiet = () => {
      clearTimeout(timer);
      let turns = chunks.length > 0 ? QUIET_TURNS.afterData : QUIET_TURNS.noAnswerYet;
      const step = () => {
        // A timer set in a timer callback runs in a later turn of the loop, after a poll of the sockets.
        timer = setTimeout(() => (--turns > 0 ? step() : chunks.length > 0 ? done() : sock.end()), QUIET_STEP_MS);
      };
      step();
    };
    quiet();
    sock.on('data', (b: Buffer) => {
      chunks.push(b);
      const a = parse(Buffer.concat(chunks));
      if (a.status !== null && a.complete) done();
      else quiet();
    });
    sock.on('close', done);
    sock.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? done() : reject(err)));
  });
}

function parse(raw: Buffer): Answer {
  // An interim answer (100 Continue to an Expect) comes before the real one.
  while (/^HTTP\/1\.1 1\d\d [^\r\n]*\r\n\r\n/.test(raw.toString('latin1', 0, 200))) raw = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (raw.length === 0) return { status: null, statusLine: '', headers: {}, body: '', complete: true };
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const m = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/.exec(statusLine);
  let rest = end < 0 ? Buffer.alloc(0) : raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  let complete = false;
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const nl = rest.indexOf('\r\n');
      if (nl < 0) break;
      const size = parseInt(rest.subarray(0, nl).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) {
        complete = true;
        break;
      }
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      rest = rest.subarray(nl + 2 + size + 2);
    }
    rest = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined && end >= 0) {
    const n = Number(headers['content-length']);
    complete = rest.length >= n;
    rest = rest.subarray(0, n);
  }
  return { status: m ? Number(m[1]) : NaN, statusLine, headers, body: rest.toString('utf8'), complete };
}

/** A whole request: request line, headers (Content-Length added for a body unless given), body. */
function request(method: string, target: string, opts: { headers?: string[]; body?: Buffer | string; contentLength?: boolean } = {}): Buffer {
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const headers = ['Host: localhost', ...(opts.headers ?? [])];
  if (body !== undefined && opts.contentLength !== false) headers.push(`Content-Length: ${body.length}`);
  headers.push('Connection: close');
  return Buffer.concat([Buffer.from(`${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
}

// ---------------------------------------------------------------------------
// The properties' checks.

/** Every status the API documents (docs/reference.md), successes and errors. */
const DOCUMENTED = new Set([200, 201, 202, 400, 403, 404, 405, 408, 409, 413, 429, 431, 503]);

/**
 * An answer is HTTP with a documented status; an error's body is exactly
 * {"error":{"code","message"}}. Only for raw bytes (method RAW) is a closed
 * connection an answer too.
 */
function expectWellFormed(a: Answer, what: string, method = 'GET'): void {
  const context = `${what} → ${a.statusLine} ${JSON.stringify(a.headers)} ${a.body.slice(0, 300)}`;
  if (a.status === null) {
    expect(method, `${context}: closed without an answer`).toBe('RAW');
    return;
  }
  expect(a.status, context).not.toBeNaN();
  expect(DOCUMENTED.has(a.status), context).toBe(true);
  if (method === 'HEAD') return;
  if (a.status >= 400) {
    expect(a.headers['content-type'], context).toMatch(/^application\/json/);
    expect(a.complete, context).toBe(true);
    const json = JSON.parse(a.body) as { error: { code: unknown; message: unknown } };
    expect(Object.keys(json), context).toEqual(['error']);
    expect(Object.keys(json.error).sort(), context).toEqual(['code', 'message']);
    expect(typeof json.error.code, context).toBe('string');
    expect(typeof json.error.message, context).toBe('string');
  } else if (/^application\/json/.test(a.headers['content-type'] ?? '') && a.complete) {
    expect(() => JSON.parse(a.body), context).not.toThrow();
  }
}

/** What a request could have changed: every view, the events, the journal's last seq. */
async function snapshot(): Promise<string> {
  const containers = await send(request('GET', '/v1/containers'));
  const events = await send(request('GET', '/v1/events?since=0'));
  const seqs = db.prepare('SELECT (SELECT coalesce(max(seq), 0) FROM journal) AS journal, (SELECT coalesce(max(seq), 0) FROM transitions) AS transitions, (SELECT count(*) FROM containers) AS containers').get();
  expect(containers.status).toBe(200);
  expect(events.status).toBe(200);
  return JSON.stringify({ containers: containers.body, events: events.body, seqs });
}

async function expectHealthy(): Promise<void> {
  const a = await send(request('GET', '/healthz'));
  expect(a.status).toBe(200);
  expect(JSON.parse(a.body)).toMatchObject({ status: 'ok', pid: process.pid });
}

/** A launch that was accepted runs `true` (or fails to start): wait until it is DONE, so that it moves no more. */
async function settle(id: string | undefined): Promise<void> {
  if (id === undefined) return;
  try {
    await waitFor(() => d.node.view(id).state === 'DONE', 15_000, `${id} to finish`);
  } catch {
    await d.node.kill(id).catch(() => undefined);
    await d.until(id, 'DONE');
  }
  await d.node.durable();
}

/** Send a request that may be refused: refused, it changes nothing; every answer is well-formed; the daemon stays up. */
async function probe(bytes: Buffer, what: string, method: string): Promise<Answer> {
  const before = await snapshot();
  const a = await send(bytes);
  expectWellFormed(a, what, method);
  if (a.status !== null && a.status >= 200 && a.status < 300 && method === 'POST') {
    // Accepted: a launch (the only POST a generated request can have succeed); it must be the view of a container.
    const view = JSON.parse(a.body) as { id: string; state: string };
    expect(typeof view.id).toBe('string');
    await settle(view.id);
  } else {
    expect(await snapshot(), `${what} changed something (${a.statusLine})`).toBe(before);
  }
  await expectHealthy();
  return a;
}

// ---------------------------------------------------------------------------
// Generators.

/** Values of the wrong type, or of the right type and absurd. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 1e-300, '', '\u0000', 'a\u0000b', '🙂', 'é'.repeat(50), '../..', '/etc', 'x'.repeat(300), [], {}, [''], ['\u0000'], { __proto__x: 1 }),
  fc.constantFrom('GUARANTEED', 'OPPORTUNISTIC', 'NEVER_RETRY', 'RETRY_ON_ALL_ERRORS', 'RETRY_ON_SPECIFIC_ERROR_CODES', 'nobody', 'no-such-user-nw', '0', '-u'),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: 1, max: 20 }).map((n) => JSON.parse('['.repeat(n * 40) + ']'.repeat(n * 40)) as unknown),
);

/** The fields of a launch request that can be made wrong, by path. */
const FIELDS = [
  ['id'], ['command'], ['command', 0], ['command', 1], ['env'], ['env', 'A'], ['env', 'A=B'], ['resources'], ['resources', 'memoryMb'], ['resources', 'vcores'],
  ['resources', 'gpus'], ['executionType'], ['localResources'], ['localResources', 0], ['localResources', 0, 'source'], ['localResources', 0, 'name'],
  ['localResources', 0, 'copy'], ['retryPolicy'], ['retryPolicy', 'policy'], ['retryPolicy', 'maxRetries'], ['retryPolicy', 'retryIntervalMs'],
  ['retryPolicy', 'errorCodes'], ['user'], ['image'], ['__proto__'], ['constructor'],
] as const;

type LaunchBody = Record<string, unknown>;

/** Nothing a generated request may launch: one that is accepted runs `true`, links nothing real and retries at most once. */
function harmless(body: LaunchBody): LaunchBody {
  const b = structuredClone(body);
  if (Array.isArray(b.command) && b.command.length > 0 && b.command.every((a) => typeof a === 'string' && !a.includes('\0') && a !== '')) b.command = ['true'];
  if (Array.isArray(b.localResources)) {
    for (const r of b.localResources) if (typeof r === 'object' && r !== null && typeof (r as { source?: unknown }).source === 'string') (r as { source: string }).source = '/nonexistent/nw-fuzz';
  }
  if (typeof b.retryPolicy === 'object' && b.retryPolicy !== null) (b.retryPolicy as Record<string, unknown>).maxRetries = 1;
  return b;
}

/** A valid launch request with one field set to an odd value, or removed. */
const nearValid: fc.Arbitrary<LaunchBody> = fc
  .record({
    field: fc.constantFrom(...FIELDS),
    value: fc.option(oddValue, { freq: 5 }),
    extras: fc.record(
      {
        env: fc.constant({ A: 'x' }),
        executionType: fc.constant('OPPORTUNISTIC'),
        localResources: fc.constant([{ source: '/nonexistent/nw-fuzz', name: 'r' }]),
        retryPolicy: fc.constant({ policy: 'RETRY_ON_ALL_ERRORS', maxRetries: 1, retryIntervalMs: 0, errorCodes: [] }),
      },
      { requiredKeys: [] },
    ),
  })
  .map(({ field, value, extras }) => {
    const body: LaunchBody = { id: 'fz', command: ['true', 'x'], resources: { memoryMb: 16, vcores: 1 }, ...structuredClone(extras) };
    const keys: ReadonlyArray<string | number> = field;
    let at: Record<string | number, unknown> = body;
    for (let i = 0; i < keys.length - 1; i++) {
      const k = keys[i]!;
      if (typeof at[k] !== 'object' || at[k] === null) at[k] = typeof keys[i + 1] === 'number' ? [] : {};
      at = at[k] as Record<string | number, unknown>;
    }
    const last = keys.at(-1)!;
    if (value === null) delete at[last];
    else Object.defineProperty(at, last, { value, enumerable: true, writable: true, configurable: true });
    return harmless(body);
  });

/** A body as text: JSON, JSON with a duplicate key, cut short, with raw NULs or a BOM, deeply nested, not JSON at all, over the limit. */
const bodyText = (json: fc.Arbitrary<unknown>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: json.map((v) => JSON.stringify(v) ?? 'undefined') },
    { weight: 1, arbitrary: fc.tuple(json, fc.constantFrom('"id":"dup"', '"command":"x"', '"resources":{}', '"id":"running"')).map(([v, dup]) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? `{${dup},${JSON.stringify(v).slice(1)}` : `{${dup}}`)) },
    { weight: 1, arbitrary: fc.tuple(json, fc.nat()).map(([v, n]) => { const t = JSON.stringify(v) ?? ''; return t.slice(0, n % (t.length + 1)); }) },
    { weight: 1, arbitrary: json.map((v) => (JSON.stringify(v) ?? '').replace(/"/, '"\u0000')) },
    { weight: 1, arbitrary: json.map((v) => `\uFEFF${JSON.stringify(v)}`) },
    { weight: 1, arbitrary: fc.constantFrom(`{"command":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, `{"id":"x","command":["true"],"resources":{"memoryMb":16,"vcores":1},"env":{"B":"${'x'.repeat(1_100_000)}"}}`) },
    { weight: 2, arbitrary: fc.string({ maxLength: 60 }) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', 'true', '0', '[]', '"x"', '{', '}', '{"__proto__":{"x":1},"command":["true"],"resources":{"memoryMb":1,"vcores":1}}', 'id=x&command=true', '\u0000\u0001\u0002') },
  );

const contentType = fc.constantFrom<string | null>(
  'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/json; charset=latin1', 'application/octet-stream', '', ';;;', 'a/b/c', null,
);

const launchBody = bodyText(fc.oneof({ weight: 3, arbitrary: nearValid }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) }));

// ---------------------------------------------------------------------------

let launches = 0;
const numRuns = Number(process.env.NW_PROPERTY_RUNS ?? 100);

describe.each(CALLERS)('as $as', ({ member }) => {
  serve(member);

  describe('fuzzing the socket API', () => {
    it('POST /v1/containers with generated bodies and content types: a 2xx view or a well-formed refusal that changed nothing', async () => {
      let accepted = 0;
      let refused = 0;
      await fc.assert(
        fc.asyncProperty(launchBody, contentType, async (text, type) => {
          // Each run its own id, so that an accepted launch is a new container.
          const body = text.replaceAll('"id":"fz"', `"id":"fz-${++launches}"`);
          const a = await probe(request('POST', '/v1/containers', { body, headers: type === null ? [] : [`Content-Type: ${type}`] }), `POST /v1/containers ${type} ${body.slice(0, 300)}`, 'POST');
          if (a.status !== null && a.status < 300) accepted++;
          else refused++;
        }),
        { numRuns },
      );
      expect(refused).toBeGreaterThan(0);
      expect(accepted).toBeGreaterThan(0);
    }, 60_000);

    it('kill, pause and resume with generated bodies, of a finished, an unknown and a running container: refused, nothing changed', async () => {
      const target = fc.oneof(
        fc.tuple(fc.constantFrom('done', 'nope', 'a%2Fb', '..', 'x'.repeat(129)), fc.constantFrom('kill', 'pause', 'resume')),
        fc.constant(['running', 'resume'] as [string, string]),
      );
      await fc.assert(
        fc.asyncProperty(target, bodyText(fc.oneof(fc.jsonValue({ maxDepth: 3 }), nearValid)), contentType, async ([id, action], body, type) => {
          const a = await probe(request('POST', `/v1/containers/${id}/${action}`, { body, headers: type === null ? [] : [`Content-Type: ${type}`] }), `POST ${id}/${action} ${type} ${body.slice(0, 200)}`, 'POST');
          expect(a.status === null || a.status >= 400).toBe(true);
        }),
        { numRuns },
      );
    }, 60_000);

    it('generated methods, paths and query strings: every answer well-formed, nothing changed', async () => {
      const segment = fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom('done', 'nope', '..', '.', '%2e%2e', '%2E%2e%2F..', '%00', 'a%00b', '%', '%zz', '%ff', '%C3%A9', 'é', '', '%20', '+', 'a;b', '*') },
        { weight: 1, arbitrary: fc.integer({ min: 95, max: 140 }).map((n) => 'i'.repeat(n)) },
        { weight: 1, arbitrary: fc.constantFrom('i'.repeat(2000), 'i'.repeat(20_000)) },
        { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.~%-]{1,12}$/) },
      );
      const query = fc.oneof(
        fc.constant(''),
        fc.tuple(fc.constantFrom('since', 'follow', 'size', 'from', '__proto__', '%zz', ''), fc.constantFrom('', '0', '-1', '1.5', '1e3', '99999999999999999999', 'true', 'maybe', '%00', '%zz', 'a'.repeat(500), '-0', '٣', '0x10'))
          .map(([k, v]) => `?${k}=${v}`),
        fc.constantFrom('?since=1&since=2', '?size=1&size=-1', '?follow', '?&&&', `?${'&'.repeat(2000)}`, '?since[]=1', '?since=0&follow=false', '?size=-4096', '?size=' + '9'.repeat(16)),
      );
      const path = fc.oneof(
        fc.tuple(fc.constantFrom('/v1/containers/', '/ws/v1/node/containers/', '/ws/v1/node/containerlogs/'), segment, fc.constantFrom('', '/', '/kill', '/pause', '/transitions', '/logs', '/stdout', '/stderr', '/..', '/%2e%2e/x'))
          .map(([a, b, c]) => a + b + c),
        fc.constantFrom('/v1/events', '/v1/node', '/healthz', '/metrics', '/monitor/statistics', '/monitor/statistics.json', '/ws/v1/node/containers', '/v1/containers', '/', '//v1//containers', '/v1/containers/', '*', 'http://localhost/healthz', '/v1/../healthz'),
        fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}`),
      );
      const method = fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'get', 'FOO');
      await fc.assert(
        fc.asyncProperty(method, path, query, async (m, p, q) => {
          await probe(request(m, p + q), `${m} ${p}${q}`.slice(0, 400), m);
        }),
        { numRuns: numRuns * 2 },
      );
    }, 60_000);

    it('malformed HTTP — request lines, headers, Content-Length, chunked framing, raw garbage: a well-formed answer or a closed connection, nothing changed', async () => {
      const refusedLaunch = '{"id":"../x","command":["true"],"resources":{"memoryMb":16,"vcores":1}}';
      const raw = fc.oneof(
        // The request line.
        fc.constantFrom('GET /healthz HTTP/1.0', 'GET /healthz HTTP/2.0', 'GET /healthz HTTP/1.1 extra', 'GET /healthz', 'GET  /healthz HTTP/1.1', 'GET /he\u0000althz HTTP/1.1', 'GET /h\u00e9 HTTP/1.1', '/healthz HTTP/1.1', ' GET /healthz HTTP/1.1', 'G\u0001T / HTTP/1.1', `GET /${'a'.repeat(70_000)} HTTP/1.1`, 'POST /v1/containers HTTP/1.1')
          .chain((line) => fc.constant(Buffer.from(`${line}\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'))),
        // Headers: bad names and values, folded, a huge one, very many, no colon, LF-only lines.
        fc.constantFrom('X-A: \u0000', 'Bad Name: x', 'NoColon', ': empty-name', ' folded: x', 'X-A: a\r\n b', `X-Big: ${'a'.repeat(20_000)}`, Array.from({ length: 3000 }, (_, i) => `X-${i}: y`).join('\r\n'), 'Host: a\r\nHost: b', 'Expect: 100-continue', 'Content-Type: \u0001', 'Transfer-Encoding: gzip', 'Upgrade: websocket\r\nConnection: Upgrade')
          .map((h) => Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\n${h}\r\nConnection: close\r\n\r\n`, 'latin1')),
        fc.constant(Buffer.from('GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n')),
        // Content-Length and chunked framing of a launch that would be refused anyway.
        fc.tuple(fc.constantFrom('Content-Length: abc', 'Content-Length: -1', 'Content-Length: 1e3', 'Content-Length: 5', `Content-Length: ${refusedLaunch.length + 50}`, 'Content-Length: 99999999999999999999', `Content-Length: 3\r\nContent-Length: ${refusedLaunch.length}`, `Content-Length: ${refusedLaunch.length}\r\nTransfer-Encoding: chunked`, 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked, gzip'), fc.constantFrom(refusedLaunch, `zz\r\n${refusedLaunch}\r\n0\r\n\r\n`, `ffff\r\n${refusedLaunch}`, `${refusedLaunch.length.toString(16)}\r\n${refusedLaunch}\r\n`, `${refusedLaunch.length.toString(16)};${'e'.repeat(20_000)}\r\n${refusedLaunch}\r\n0\r\n\r\n`, `${refusedLaunch.length.toString(16)}\r\n${refusedLaunch}\r\n0\r\n\r\n`))
          .map(([h, body]) => Buffer.from(`POST /v1/containers HTTP/1.1\r\nHost: x\r\n${h}\r\nConnection: close\r\n\r\n${body}`, 'latin1')),
        // Anything at all.
        fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
        fc.string({ maxLength: 100 }).map((s) => Buffer.from(`${s}\r\n\r\n`)),
        // A good request followed by garbage on the same connection.
        fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.concat([request('GET', '/healthz').subarray(0, -4), Buffer.from('\r\nConnection: keep-alive\r\n\r\n'), Buffer.from(b)])),
      );
      await fc.assert(
        fc.asyncProperty(raw, async (bytes) => {
          await probe(bytes, JSON.stringify(bytes.toString('latin1').slice(0, 300)), 'RAW');
        }),
        { numRuns },
      );
    }, 60_000);
  });

  if (!member) describe('what the fuzzer found', () => {
    /** The answer must be exactly the API's error. */
    const expectError = (a: Answer, status: number, code: string, message: RegExp) => {
      expect(a.status).toBe(status);
      expect(a.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(a.body)).toEqual({ error: { code, message: expect.stringMatching(message) } });
    };

    it('a Content-Type that is not a media type (empty, ";;;") was a 415 before the body was read: bodies are JSON whatever their Content-Type', async () => {
      const launch = '{"id":"ct-empty","command":["true"],"resources":{"memoryMb":16,"vcores":1}}';
      let a = await send(request('POST', '/v1/containers', { body: launch, headers: ['Content-Type: '] }));
      expect(a.status).toBe(201);
      await settle('ct-empty');
      a = await send(request('POST', '/v1/containers/done/kill', { body: '{}', headers: ['Content-Type: ;;;'] }));
      expectError(a, 409, 'CONFLICT', /a kill has nothing left to do/);
      a = await send(request('POST', '/v1/containers', { body: '{"command":', headers: ['Content-Type: a/b/c'] }));
      expectError(a, 400, 'BAD_REQUEST', /not valid JSON/);
    });

    it("a path with bad percent-encoding got fastify's own body ({error, code, message, statusCode}): now the API's 400", async () => {
      expectError(await send(request('GET', '/v1/containers/%_')), 400, 'BAD_REQUEST', /^the path is not a valid URL \(bad percent-encoding\)/);
      expectError(await send(request('POST', '/v1/containers/%zz/kill')), 400, 'BAD_REQUEST', /not a valid URL/);
    });

    it("bytes that are not HTTP got fastify's {\"error\":\"Bad Request\",\"message\":\"Client Error\"}: now the API's error, and the connection closed", async () => {
      expectError(await send('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: \u0000\r\n\r\n'), 400, 'BAD_REQUEST', /^the request is not valid HTTP\/1\.1 \(HPE_INVALID_HEADER_TOKEN\)/);
      expectError(await send('NOT HTTP AT ALL\r\n\r\n'), 400, 'BAD_REQUEST', /not valid HTTP\/1\.1 \(HPE_INVALID_METHOD\)/);
      expectError(await send(`GET /healthz HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431, 'HEADERS_TOO_LARGE', /HPE_HEADER_OVERFLOW/);
      await expectHealthy();
    });

    it('an id of 101 to 128 characters was launched, then every route of it refused with 414: it is a container like any other', async () => {
      const id = `long-${'i'.repeat(123)}`;
      expect(id).toHaveLength(128);
      // Long enough to still run at the kill below, however slow the requests in between (d.stop() kills it should the test fail).
      let a = await send(request('POST', '/v1/containers', { body: JSON.stringify({ id, command: ['sleep', '3600'], resources: { memoryMb: 16, vcores: 1 } }) }));
      expect(a.status).toBe(201);
      await d.until(id, 'RUNNING');
      for (const p of [`/v1/containers/${id}`, `/v1/containers/${id}/transitions`, `/ws/v1/node/containers/${id}`, `/ws/v1/node/containers/${id}/logs`]) {
        expect((await send(request('GET', p))).status, p).toBe(200);
      }
      a = await send(request('POST', `/v1/containers/${id}/kill`));
      expect(a.status).toBe(202);
      await d.until(id, 'DONE');
      // One character more is an id no launch accepts: the routes refuse it, as any bad id.
      expectError(await send(request('GET', `/v1/containers/${id}x`)), 400, 'BAD_REQUEST', /^id must match/);
    });
  });
});
