/** The node as a whole: GET /v1/node, /healthz, /metrics. */
import type { FastifyInstance } from 'fastify';
import type { NodeWarden } from '../../node/nodewarden.js';
import type { ApiMetrics } from '../metrics.js';

export function nodeRoutes(app: FastifyInstance, node: NodeWarden, metrics: ApiMetrics): void {
  app.get('/v1/node', async () => node.nodeReport());
  scrapeRoutes(app, node, metrics);
}

/** What Prometheus scrapes: the health and the metrics, served on the socket and, alone, over TCP. */
export function scrapeRoutes(app: FastifyInstance, node: NodeWarden, metrics: ApiMetrics): void {
  // Also how a second daemon learns who holds the socket.
  // Serving either way; "degraded" while the database cannot commit (launches get 503 then),
  // or while the node has been out of memory for longer than the elastic control's timeout.
  app.get('/healthz', async () => {
    const fault = node.storeFault();
    const oom = node.elastic?.status();
    const memory = oom?.unresolved ? { memory: { outOfMemorySince: new Date(oom.oomSince!).toISOString(), usageBytes: oom.usageBytes, limitBytes: oom.limitBytes } } : {};
    if (fault === null && !oom?.unresolved) return { status: 'ok', pid: process.pid };
    return { status: 'degraded', pid: process.pid, ...(fault ? { store: fault } : {}), ...memory };
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
}
