/**
 * Every error the API gives is `{"error":{"code","message"}}` (SPEC §6), whether
 * the core refused the request (NodewardenError), fastify refused the bytes
 * (bad JSON, a body over the limit), or no route matched.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { STATUS_CODES as HTTP_REASONS } from 'node:http';
import type { Socket } from 'node:net';
import { NodewardenError } from '../core/errors.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message } } satisfies ErrorBody);
}

const STATUS_CODES: Record<number, string> = { 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 408: 'REQUEST_TIMEOUT', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 431: 'HEADERS_TOO_LARGE' };

/**
 * Fastify's `frameworkErrors`: a path it cannot route (bad percent-encoding)
 * is refused before any route, with fastify's own body unless answered here.
 */
export function frameworkError(err: FastifyError, _request: unknown, reply: FastifyReply): void {
  const message = err.code === 'FST_ERR_BAD_URL' ? `the path is not a valid URL (bad percent-encoding): ${err.message}` : err.message;
  void sendError(reply, 400, 'BAD_REQUEST', message);
}

/** Node's parser errors (clientError) by code: the status Node itself would answer; anything else is a 400. */
const CLIENT_ERROR_STATUS: Record<string, number> = { HPE_HEADER_OVERFLOW: 431, HPE_CHUNK_EXTENSIONS_OVERFLOW: 413, ERR_HTTP_REQUEST_TIMEOUT: 408 };

/**
 * Fastify's `clientErrorHandler`: bytes that are not an HTTP/1.1 request
 * never reach a route, so the answer is written to the socket here, in the
 * API's error shape (fastify's default has its own shape), and the
 * connection closed.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? 400;
  const body = JSON.stringify({
    error: { code: STATUS_CODES[status] ?? 'BAD_REQUEST', message: `the request is not valid HTTP/1.1 (${err.code ?? 'error'}): ${err.message}` },
  } satisfies ErrorBody);
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${HTTP_REASONS[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  } else socket.destroy();
}

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

/** What a 404 points to on the socket. */
export const SOCKET_ROUTES_HINT = 'see GET /v1/containers, /v1/node, /monitor/statistics, /metrics, /openapi.json';

/** `routesHint`: the routes a 404 points to, which differ between the socket and the metrics port. */
export function installErrorHandlers(app: FastifyInstance, routes: RouteTable, bodyLimit: number, routesHint = SOCKET_ROUTES_HINT): void {
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
    return sendError(reply, 404, 'NOT_FOUND', `no route ${request.method} ${pathname}; ${routesHint}`);
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
