/** Mesos agent `/monitor/statistics` (and `.json`): one entry per monitored container (SPEC §6). */
import type { FastifyInstance } from 'fastify';
import type { NodeWarden } from '../../node/nodewarden.js';

export function mesosRoutes(app: FastifyInstance, node: NodeWarden): void {
  for (const url of ['/monitor/statistics', '/monitor/statistics.json']) {
    app.get(url, async (request) => node.statistics(request.caller));
  }
}
