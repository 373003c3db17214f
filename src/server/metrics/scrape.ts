/**
 * What one scrape reads of the node, read once: every node gauge's collect()
 * takes its figure from the same report, so a scrape is one consistent
 * picture and the node is asked once, not once per gauge.
 */
import type { NodeReport, NodeWarden } from '../../node/nodewarden.js';

export class Scrape {
  private report: NodeReport | null = null;

  constructor(private readonly node: NodeWarden) {}

  /** Called before the registry is collected. */
  begin(): void {
    this.report = null;
  }

  get nodeReport(): NodeReport {
    this.report ??= this.node.nodeReport();
    return this.report;
  }
}
