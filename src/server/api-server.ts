/**
 * The local socket API (SPEC §6): fastify on a Unix socket, logging through the
 * daemon's pino. Every route answers from a NodeWarden, whose request methods
 * resolve only once their effect is durable, so a reply always means "done".
 */
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import fs from 'node:fs';
import { finished } from 'node:stream/promises';
import { badRequest, forbidden, StartupError, unavailable } from '../core/errors.js';
import { addMessageKeyword, AJV_OPTIONS, schemaErrorMessage } from '../core/request-schemas.js';
import { ROUTE_SCHEMAS, SHARED_SCHEMAS } from './api-schemas.js';
import { VERSION } from '../version.js';
import type { NodeWarden } from '../node/nodewarden.js';
import { clientErrorHandler, frameworkError, installErrorHandlers, RouteTable } from './errors.js';
import { ApiMetrics } from './metrics.js';
import { containerRoutes } from './routes/containers.js';
import { eventRoutes, type OpenStreams } from './routes/events.js';
import { mesosRoutes } from './routes/mesos.js';
import { nodeRoutes } from './routes/node.js';
import { yarnRoutes } from './routes/yarn.js';
import { shareSocket, SOCKET_MODE } from './socket-file.js';
import { identify, type Caller } from '../node/caller.js';
import { peerCredentials, type PeerCredentials } from './peer-credentials.js';
import { auditRequest } from './audit.js';
import type { Socket } from 'node:net';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, as the kernel says (SO_PEERCRED, read when the connection was accepted); null only before onRequest has run. */
    caller: Caller;
    /** The caller as the user database says now (names and the admin group are cached 30 s): for a request that lasts, a followed stream. */
    identifyAgain: () => Promise<Caller>;
  }
}

/** Launch requests are small; 1 MiB leaves room for long argv and env and refuses floods with 413. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Longer than any path parameter a route can take (an id is at most 128
 * characters, a log file name 255 bytes percent-encoded), so that the routes'
 * own checks refuse a longer one (400) rather than fastify's 414 — whose
 * default of 100 refused ids the launch had accepted.
 */
const MAX_PARAM_LENGTH = 4096;

/** How long close() lets followed event streams finish sending before cutting them. */
const STREAM_DRAIN_MS = 2000;

export interface ApiServerOptions {
  bodyLimit?: number;
  /** How a connection's caller is known (tests put a failing kernel or user database here): SO_PEERCRED and getent by default. */
  callers?: {
    credentialsOf?: (socket: Socket) => PeerCredentials | null;
    identify?: (cred: PeerCredentials, adminGroup: string | null) => Promise<Caller>;
  };
}

/** Request lines at debug, not info: a launcher polling views would drown the daemon's own log. */
export class QuietRequestLog extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ err: error, method: request.method, url: request.url }, 'request errored');
    else if ((reply.log as Logger).isLevelEnabled('debug')) {
      reply.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
  // 4xx answers are the client's business; the error handler logs 5xx itself.
  override defaultErrorLog(): void {}
  // A follower of /v1/events hanging up is how such a stream normally ends.
  override streamError(error: Error & { code?: string }, _request: FastifyRequest, reply: FastifyReply): void {
    if (error.code === 'ERR_STREAM_PREMATURE_CLOSE') reply.log.debug('event stream closed by the client');
    else reply.log.warn({ err: error }, 'response stream failed after its headers were sent');
  }
}

/** JSON.parse, refusing `__proto__` keys (as fastify's own parser does): they are never a field of ours. */
function parseJsonBody(text: string): unknown {
  return JSON.parse(text, (key, value: unknown) => {
    if (key === '__proto__') throw new SyntaxError('a "__proto__" key is not allowed');
    return value;
  });
}

export class ApiServer {
  readonly app: FastifyInstance;
  readonly metrics: ApiMetrics;
  /** Ends followed event streams when the server closes. */
  private readonly closing = new AbortController();
  private readonly streams: OpenStreams;
  private socketPath: string | null = null;
  private readonly served: string[] = [];

  constructor(
    readonly node: NodeWarden,
    opts: ApiServerOptions = {},
  ) {
    const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
    this.app = Fastify({
      // fastify's logger type is a subset of pino's; the instance is pino's.
      loggerInstance: node.log.child({ component: 'api' }) as FastifyBaseLogger,
      logController: new QuietRequestLog(),
      bodyLimit,
      routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
      forceCloseConnections: true,
      // Refusals made before any route runs, in the API's error shape too.
      frameworkErrors: frameworkError,
      clientErrorHandler,
      // The request schemas' own messages, in our error shape; nothing coerced or removed on the way.
      ajv: { customOptions: { ...AJV_OPTIONS }, plugins: [addMessageKeyword] },
      schemaErrorFormatter: (errors) => badRequest(schemaErrorMessage(errors)),
    });
    // Responses as they are (see api-schemas.ts: the response schemas document, tests check them).
    this.app.setSerializerCompiler(() => (data) => JSON.stringify(data));
    for (const schema of SHARED_SCHEMAS) this.app.addSchema(schema);
    this.metrics = new ApiMetrics(node);
    const routes = new RouteTable();
    this.app.addHook('onRoute', (route) => {
      // Each route's schema, by method and path (one table, api-schemas.ts, rather than one per route file).
      const schema = ROUTE_SCHEMAS[`${[route.method].flat()[0]} ${route.url}`];
      if (schema && route.method !== 'HEAD') route.schema = { ...schema, ...route.schema };
      routes.add(route.url, [route.method].flat());
      for (const method of [route.method].flat()) if (method !== 'HEAD') this.served.push(`${method} ${route.url}`);
    });

    // Every body is JSON whatever its Content-Type: `curl -d '{…}'` sends
    // application/x-www-form-urlencoded. An empty body is no body.
    this.app.removeAllContentTypeParsers();
    // A Content-Type that is not a media type (`""`, `;;;`) would be a 415 before the parser below could take it.
    this.app.addHook('onRequest', async (request) => {
      if (request.raw.headers['content-type'] !== undefined) request.raw.headers['content-type'] = 'application/json';
    });
    this.app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      if (body === '') return done(null, undefined);
      try {
        done(null, parseJsonBody(body as string));
      } catch (err) {
        done(badRequest(`the request body is not valid JSON: ${(err as Error).message}`), undefined);
      }
    });

    installErrorHandlers(this.app, routes, bodyLimit);
    // The OpenAPI document, from the routes' schemas: swagger first, so that it sees every route added after it.
    void this.app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'nodewarden',
          version: VERSION,
          description:
            'The socket API of nodewarden, a per-node container agent modelled on the YARN NodeManager. Served on a Unix socket: curl --unix-socket PATH http://localhost/…. ' +
            'Callers are known by the kernel (SO_PEERCRED): any route answers 403 to a connection whose credentials cannot be read, and 503 USER_LOOKUP_FAILED while the user database cannot be read.',
        },
        tags: [
          { name: 'containers', description: 'Launch, look at, kill, pause and resume containers' },
          { name: 'events', description: 'The journal as a stream' },
          { name: 'node', description: 'The node as a whole' },
          { name: 'mesos', description: "Mesos's /monitor/statistics shape" },
          { name: 'yarn', description: "YARN NodeManager's REST shapes" },
        ],
      },
      hideUntagged: true,
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    });
    // Each connection's credentials, read once when it is accepted; a request is answered only for a known caller.
    const credentials = new WeakMap<Socket, PeerCredentials | null>();
    const credentialsOf = opts.callers?.credentialsOf ?? peerCredentials;
    const whoIs = opts.callers?.identify ?? identify;
    this.app.server.on('connection', (socket: Socket) => credentials.set(socket, credentialsOf(socket)));
    this.app.decorateRequest('caller', null as unknown as Caller);
    this.app.decorateRequest('identifyAgain', null as unknown as () => Promise<Caller>);
    this.app.addHook('onRequest', async (request) => {
      const cred = credentials.get(request.raw.socket) ?? null;
      // Never taken as root's: a connection whose credentials cannot be read gets nothing.
      if (cred === null) throw forbidden('the credentials of this connection cannot be read (SO_PEERCRED), so it is refused');
      // Who they are by name, and whether they administer the node, is looked up per request (cached a while):
      // a user added to or taken out of the admin group is seen without reconnecting.
      request.identifyAgain = () => whoIs(cred, node.config.access.adminGroup);
      request.caller = await request.identifyAgain().catch((err: Error) => {
        throw unavailable('USER_LOOKUP_FAILED', `cannot look up uid ${cred.uid} in the user database: ${err.message}; try again`);
      });
    });
    auditRequest(this.app, this.app.log);
    this.streams = { closing: this.closing.signal, responses: new Set() };
    void this.app.register(async (api) => {
      containerRoutes(api, node);
      eventRoutes(api, node, this.streams);
      nodeRoutes(api, node, this.metrics);
      mesosRoutes(api, node);
      yarnRoutes(api, node);
      api.get('/openapi.json', { schema: { hide: true } }, async () => this.app.swagger());
    });
  }

  /** Every route served, as "METHOD /path" (docs/reference.md is checked against it). */
  get routes(): readonly string[] {
    return this.served;
  }

  /**
   * Listen on the socket, then make it mode 0660. Claim it first
   * (claimSocket: a live daemon's is refused, a stale one replaced).
   */
  async listen(socketPath: string, gid: number | null = null): Promise<void> {
    try {
      await this.app.listen({ path: socketPath });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new StartupError(
        e.code === 'EADDRINUSE'
          ? `${socketPath} was taken by another process while nodewarden started; stop it first, or choose another --socket`
          : `cannot listen on ${socketPath}: ${e.message}`,
      );
    }
    this.socketPath = socketPath;
    // Until this chmod the socket has the umask's mode; claimSocket checked that its directory is private.
    fs.chmodSync(socketPath, SOCKET_MODE);
    if (gid !== null) shareSocket(socketPath, gid);
    this.node.log.info({ socket: socketPath, ...(gid !== null ? { group: this.node.config.access.socketGroup } : {}) }, `listening on ${socketPath}`);
  }

  async close(): Promise<void> {
    // Followed event streams end cleanly (their last records sent) before connections are closed.
    this.closing.abort();
    const ending = [...this.streams.responses].map((res) => finished(res).catch(() => undefined));
    await Promise.race([Promise.all(ending), new Promise((resolve) => setTimeout(resolve, STREAM_DRAIN_MS).unref())]);
    await this.app.close();
    if (this.socketPath) fs.rmSync(this.socketPath, { force: true });
  }
}
