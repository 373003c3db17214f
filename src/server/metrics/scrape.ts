/**
 * What one scrape reads of the node, read once: every gauge's collect() takes
 * its figure from the same report and the same container figures, so a
 * scrape is one consistent picture and the node (and each cgroup) is asked
 * once, not once per metric.
 */
import type { ContainerUsage } from '../../node/container-view.js';
import type { ContainerMetricFigures, NodeReport, NodeWarden } from '../../node/nodewarden.js';

export class Scrape {
  private report: NodeReport | null = null;
  private figures: ContainerMetricFigures[] | null = null;
  private usageList: Array<{ id: string; usage: ContainerUsage }> | null = null;

  constructor(private readonly node: NodeWarden) {}

  /** Called before the registry is collected. */
  begin(): void {
    this.report = null;
    this.figures = null;
    this.usageList = null;
  }

  get nodeReport(): NodeReport {
    this.report ??= this.node.nodeReport();
    return this.report;
  }

  /** Each container the monitor has figures for, with its cgroup's own where there is one. */
  get containerFigures(): ContainerMetricFigures[] {
    this.figures ??= [...this.node.metricFigures()];
    return this.figures;
  }

  /** Each container's usage as the view gives it (nodewarden's own names). */
  get usages(): Array<{ id: string; usage: ContainerUsage }> {
    this.usageList ??= [...this.node.usages()];
    return this.usageList;
  }
}
