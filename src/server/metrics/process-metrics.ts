/**
 * prom-client's process and Node.js metrics, under `nodewarden_`. Three of
 * its gauges are named `…_total` (active handles, requests, resources), which
 * promtool refuses for anything but a counter; their by-type siblings
 * (`nodewarden_nodejs_active_handles{type}`…) sum to the same, so those three
 * are dropped.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';

const PREFIX = 'nodewarden_';
const MISNAMED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  for (const name of MISNAMED) registry.removeSingleMetric(PREFIX + name);
}
