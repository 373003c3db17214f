/** The node as a whole: GET /v1/node, /healthz, /metrics. */
import type { FastifyInstance } from 'fastify';
import type { NodeWarden } from '../../node/nodewarden.js';
import type { ApiMetrics } from '../metrics.js';

export function nodeRoutes(app: FastifyInstance, node: NodeWarden, metrics: ApiMetrics): void {
  app.get('/v1/node', async () => node.nodeReport());

  // Also how a second daemon learns who holds the socket.
  app.get('/healthz', async () => ({ status: 'ok', pid: process.pid }));

  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
}
