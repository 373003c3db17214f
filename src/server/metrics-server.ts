/**
 * Prometheus over TCP (nodewarden.metrics.address): the same GET /metrics
 * and /healthz as the socket, and nothing else. Prometheus cannot scrape a
 * Unix socket; the write API is never reachable this way. Any other path is
 * 404, another method on these two 405, in the socket's error shape.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { isLoopback, type ListenAddress } from '../config/listen-address.js';
import { StartupError } from '../core/errors.js';
import type { NodeWarden } from '../node/nodewarden.js';
import { QuietRequestLog } from './api-server.js';
import { clientErrorHandler, frameworkError, installErrorHandlers, RouteTable } from './errors.js';
import type { ApiMetrics } from './metrics.js';
import { scrapeRoutes } from './routes/node.js';

/** GETs carry no body; anything bigger is refused (413) unread. */
const BODY_LIMIT = 1024;
/** A scraper that opens a connection and sends nothing, or too slowly, is let go (Prometheus's own scrape timeout is 10 s). */
const REQUEST_TIMEOUT_MS = 10_000;
/** A port reachable from the network holds at most this many connections at once; a fleet's scrapers need a few. */
const MAX_CONNECTIONS = 64;

/** How the address reads in a URL ("[::1]:9464"). */
export function hostPort(a: ListenAddress): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

export class MetricsServer {
  readonly app: FastifyInstance;

  constructor(
    private readonly node: NodeWarden,
    metrics: ApiMetrics,
  ) {
    this.app = Fastify({
      loggerInstance: node.log.child({ component: 'metrics' }) as FastifyBaseLogger,
      logController: new QuietRequestLog(),
      bodyLimit: BODY_LIMIT,
      connectionTimeout: REQUEST_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: REQUEST_TIMEOUT_MS,
      forceCloseConnections: true,
      frameworkErrors: frameworkError,
      clientErrorHandler,
    });
    const routes = new RouteTable();
    this.app.addHook('onRoute', (route) => routes.add(route.url, [route.method].flat()));
    installErrorHandlers(this.app, routes, BODY_LIMIT, 'this port serves only GET /metrics and /healthz; the API is on the Unix socket');
    scrapeRoutes(this.app, node, metrics);
    this.app.server.maxConnections = MAX_CONNECTIONS;
  }

  /** Listen on the address; the port actually bound (the address may say 0). */
  async listen(address: ListenAddress): Promise<number> {
    const where = hostPort(address);
    try {
      await this.app.listen({ host: address.host, port: address.port });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === 'EADDRINUSE'
          ? 'the port is in use by another process'
          : e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND'
            ? 'no interface of this machine has that address'
            : e.code === 'EACCES'
              ? 'a port below 1024 needs privileges'
              : e.message;
      throw new StartupError(`cannot serve metrics on ${where} (nodewarden.metrics.address): ${why}`);
    }
    const bound = this.app.server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    const url = `http://${hostPort({ host: address.host, port })}/metrics`;
    this.node.log.info({ metrics: url }, `serving metrics on ${url}`);
    if (!isLoopback(address.host)) {
      this.node.log.warn(
        `metrics are served on ${hostPort(address)}, reachable from other machines: they name every container and its usage (only /metrics and /healthz; the API stays on the socket)`,
      );
    }
    return port;
  }

  close(): Promise<void> {
    return this.app.close();
  }
}
