/** The node as a whole: GET /v1/node, /healthz, /metrics. */
import type { FastifyInstance } from 'fastify';
import type { Caller } from '../../node/caller.js';
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

  app.get('/metrics', async (request, reply) => {
    const text = await metrics.text();
    // On the socket, a caller who is not an administrator gets only their own containers' series (over TCP: the operator's port, all).
    const caller = (request as { caller?: Caller }).caller;
    return reply.type(metrics.contentType).send(caller === undefined || caller.admin ? text : ownSeries(text, (id) => node.visibleTo(caller, id)));
  });
}

/** The exposition without the series of containers `visible` refuses (labelled `container` or cAdvisor's `id`). */
export function ownSeries(text: string, visible: (id: string) => boolean): string {
  return text
    .split('\n')
    .filter((line) => {
      if (line.startsWith('#')) return true;
      const m = /[{,](?:container|id)="((?:[^"\\]|\\.)*)"/.exec(line);
      return m === null || visible(m[1]!);
    })
    .join('\n');
}
