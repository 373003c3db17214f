/**
 * Every error the API gives is `{"error":{"code","message"}}` (SPEC §6), whether
 * the core refused the request (NodewardenError), fastify refused the bytes
 * (bad JSON, a body over the limit), or no route matched.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { NodewardenError } from '../core/errors.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message } } satisfies ErrorBody);
}

const STATUS_CODES: Record<number, string> = { 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 431: 'HEADERS_TOO_LARGE' };

/** Fastify's own 4xx refusals, by its error code: our code and a message that says what to do. */
function fromFastify(err: FastifyError, bodyLimit: number): { status: number; code: string; message: string } | null {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: `the request body is larger than the limit of ${bodyLimit} bytes` };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'BAD_REQUEST', message: 'the Content-Length header does not match the body' };
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, code: STATUS_CODES[err.statusCode] ?? 'BAD_REQUEST', message: err.message };
  }
  return null;
}

export function installErrorHandlers(app: FastifyInstance, routes: RouteTable, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof NodewardenError) {
      if (err.status >= 500) request.log.error({ err }, err.message);
      return sendError(reply, err.status, err.code, err.message);
    }
    const known = fromFastify(err, bodyLimit);
    if (known) return sendError(reply, known.status, known.code, known.message);
    request.log.error({ err, method: request.method, url: request.url }, 'request failed');
    return sendError(reply, 500, 'INTERNAL', `nodewarden failed to answer: ${err.message}; the daemon log has the details`);
  });

  app.setNotFoundHandler((request, reply) => {
    const pathname = request.url.split('?', 1)[0]!;
    const allowed = routes.methodsFor(pathname);
    if (allowed.length > 0) {
      return sendError(reply.header('allow', allowed.join(', ')), 405, 'METHOD_NOT_ALLOWED',
        `${request.method} is not allowed on ${pathname}; use ${allowed.join(' or ')}`);
    }
    return sendError(reply, 404, 'NOT_FOUND', `no route ${request.method} ${pathname}; see GET /v1/containers, /v1/node, /monitor/statistics, /metrics`);
  });
}

/**
 * The routes registered, by pattern, so that a known path with the wrong
 * method gets 405 and an Allow header rather than fastify's plain 404.
 */
export class RouteTable {
  private readonly routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];

  add(url: string, methods: string[]): void {
    const source = url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
    const pattern = new RegExp(`^${source}/?$`);
    const existing = this.routes.find((r) => r.pattern.source === pattern.source);
    if (existing) for (const m of methods) existing.methods.add(m);
    else this.routes.push({ pattern, methods: new Set(methods) });
  }

  methodsFor(pathname: string): string[] {
    const out = new Set<string>();
    for (const r of this.routes) if (r.pattern.test(pathname)) for (const m of r.methods) out.add(m);
    return [...out].sort();
  }
}
