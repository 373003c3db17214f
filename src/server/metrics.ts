/**
 * GET /metrics (Prometheus text format, prom-client), on the socket and, with
 * nodewarden.metrics.address, over TCP. A registry per daemon, not
 * prom-client's global one, so that several daemons in one process (the
 * tests) never share counters. The metrics themselves live by concern in
 * metrics/: the node, the containers (ours and cAdvisor's names), the process.
 */
import { Registry } from 'prom-client';
import type { NodeWarden } from '../node/nodewarden.js';
import { containerMetrics } from './metrics/container-metrics.js';
import { nodeMetrics } from './metrics/node-metrics.js';
import { processMetrics } from './metrics/process-metrics.js';
import { Scrape } from './metrics/scrape.js';

export class ApiMetrics {
  readonly registry = new Registry();
  private readonly scrape: Scrape;

  constructor(node: NodeWarden) {
    this.scrape = new Scrape(node);
    processMetrics(this.registry);
    nodeMetrics(this.registry, node, this.scrape);
    containerMetrics(this.registry, node, this.scrape);
  }

  text(): Promise<string> {
    this.scrape.begin();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
