/**
 * The report's last table: each headline figure next to the alternative
 * measured in the same run, and its goal. Built from whatever sections
 * results.json holds, and printed as Markdown so the README can carry it as is.
 */
import type { EnforcementBenchResult } from './enforcement.js';
import type { JournalBenchResult } from './journal.js';
import type { BoundedBenchResult } from './journal-bounded.js';
import type { LaunchesBenchResult } from './launches.js';
import type { NodeMemoryBenchResult } from './node-memory.js';
import type { RecoveryBenchResult } from './recovery.js';
import type { SamplingBenchResult } from './sampling.js';
import type { Figure } from './stats.js';

export interface SummaryRow {
  figure: string;
  nodewarden: string;
  alternative: string;
  ratio: string;
  goal: string;
  /** null: no goal. */
  met: boolean | null;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n >= 1000 ? `${fmt(n)} ms` : n >= 10 ? `${n.toFixed(1)} ms` : `${n.toFixed(2)} ms`);
const x = (f: Figure, digits = 2) => `${f.median.toFixed(digits)}×`;

interface Transitions {
  durablePerSecond: Figure;
  naivePerSecond: Figure;
  ratio: Figure;
  goals: { durablePerSecond: number; ratioToBaseline: number };
  met: boolean;
}

export function summarize(results: Record<string, unknown>): SummaryRow[] {
  const rows: SummaryRow[] = [];
  // A section from a quick run states no verdict: its sizes are too small to judge a goal by.
  const add = (section: object, ...more: SummaryRow[]) => rows.push(...more.map((r) => ('quick' in section && section.quick ? { ...r, met: null } : r)));
  const sampling = results.sampling as SamplingBenchResult | undefined;
  if (sampling) {
    for (const s of sampling.sizes) {
      add(sampling, {
        figure: `monitor tick, ${s.label}`,
        nodewarden: ms(s.ms.tick!.median),
        alternative: `floor ${ms(s.ms.floor!.median)} (files held ${ms(s.ms.floorHeld!.median)})`,
        ratio: `${x(s.toFloor.tick!)} (${x(s.tickToHeldFloor)})`,
        goal: `≤ ${sampling.goals.tickToFloorMax}× the floor`,
        met: s.toFloor.tick!.median <= sampling.goals.tickToFloorMax,
      });
    }
    const at200 = sampling.sizes.find((s) => s.procfs === 'real' && s.containers === 200);
    if (at200) {
      add(sampling, {
        figure: 'monitor tick vs YARN per-container rescan, 200 containers',
        nodewarden: ms(at200.ms.tick!.median),
        alternative: `YARN ${ms(at200.ms.yarn!.median)}`,
        ratio: x(at200.toTick.yarn!, 0),
        goal: `≥ ${sampling.goals.yarnToTickMinAt200}× faster`,
        met: at200.toTick.yarn!.median >= sampling.goals.yarnToTickMinAt200,
      });
      for (const m of ['ps', 'pidusage'] as const) {
        add(sampling, {
          figure: `monitor tick vs ${m === 'ps' ? 'ps, parsed' : 'pidtree + pidusage'}, 200 containers`,
          nodewarden: ms(at200.ms.tick!.median),
          alternative: `${m === 'ps' ? 'ps' : 'pidtree + pidusage'} ${ms(at200.ms[m]!.median)}`,
          ratio: x(at200.toTick[m]!, 1),
          goal: '',
          met: null,
        });
      }
    }
  }
  const enforcement = results.enforcement as EnforcementBenchResult | undefined;
  if (enforcement) {
    add(enforcement, {
      figure: `limit crossed → process gone (both check every ${enforcement.intervalMs} ms)`,
      nodewarden: `${ms(enforcement.nodewarden.limitToKillMs.median)} (max ${ms(enforcement.nodewarden.limitToKillMs.max)})`,
      alternative: `pm2 ${ms(enforcement.pm2.limitToKillMs.median)}`,
      ratio: `pm2 ${x(enforcement.ratio)}`,
      goal: `≤ ${enforcement.goals.limitToKillMsMax} ms`,
      met: enforcement.met.limitToKill,
    });
    const c = enforcement.childMemory;
    add(enforcement, {
      figure: 'memory held by a child process',
      nodewarden: c.nodewarden.seen ? `seen, killed in ${ms(c.nodewarden.limitToKillMs!)}` : 'not seen',
      alternative: c.pm2.seen ? 'pm2: seen' : `pm2: not seen (reports ${Math.round((c.pm2.reportedBytes ?? 0) / 2 ** 20)} of ${Math.round(c.pm2.treeBytes / 2 ** 20)} MB)`,
      ratio: '',
      goal: 'seen',
      met: enforcement.met.childMemorySeen,
    });
  }
  const launches = results.launches as LaunchesBenchResult | undefined;
  if (launches) {
    add(launches, {
      figure: `launches/s, ${launches.processes} processes`,
      nodewarden: `${fmt(launches.nodewarden.launchesPerSecond.median)}/s`,
      alternative: `pm2 ${fmt(launches.pm2.launchesPerSecond.median)}/s`,
      ratio: x(launches.ratios.launches),
      goal: "≥ pm2's",
      met: launches.met.launches,
    });
    add(launches, {
      figure: `status of all ${launches.processes}, p50`,
      nodewarden: ms(launches.nodewarden.listP50Ms.median),
      alternative: `pm2 jlist ${ms(launches.pm2.listP50Ms.median)}`,
      ratio: `pm2 ${x(launches.ratios.listP50, 1)}`,
      goal: '',
      met: null,
    });
    add(launches, {
      figure: 'status of one, p50',
      nodewarden: ms(launches.nodewarden.oneP50Ms.median),
      alternative: `pm2 describe ${ms(launches.pm2.oneP50Ms.median)}`,
      ratio: `pm2 ${x(launches.ratios.oneP50, 1)}`,
      goal: '',
      met: null,
    });
  }
  const transitions = results.transitions as Transitions | undefined;
  if (transitions) {
    add(transitions, {
      figure: 'durable transitions/s',
      nodewarden: `${fmt(transitions.durablePerSecond.median)}/s`,
      alternative: `one commit per row ${fmt(transitions.naivePerSecond.median)}/s`,
      ratio: x(transitions.ratio, 1),
      goal: `≥ ${fmt(transitions.goals.durablePerSecond)}/s, ≥ ${transitions.goals.ratioToBaseline}×`,
      met: transitions.met,
    });
  }
  const recovery = results.recovery as RecoveryBenchResult | undefined;
  if (recovery?.rssMb) {
    add(recovery, {
      figure: `recovery, ${fmt(recovery.containers)} live containers`,
      nodewarden: `${ms(recovery.recoveryMs.median)}, ${recovery.lost} lost`,
      alternative: '',
      ratio: '',
      goal: `< ${fmt(recovery.goals.recoveryMsMax)} ms, none lost`,
      met: recovery.met,
    });
    add(recovery, {
      figure: `daemon RSS, ${fmt(recovery.containers)} containers tracked`,
      nodewarden: `${recovery.rssMb.median.toFixed(1)} MB`,
      alternative: '',
      ratio: '',
      goal: `≤ ${recovery.goals.rssMbMax} MB`,
      met: recovery.metRss,
    });
    if (recovery.idleCpu) {
      add(recovery, {
        figure: `daemon CPU, ${fmt(recovery.containers)} idle containers, ${recovery.idleCpu.intervalMs / 1000} s interval`,
        nodewarden: `${recovery.idleCpu.percentOfOneCore.toFixed(2)} % of a core (${((recovery.idleCpu.percentOfOneCore / recovery.containers) * 100).toFixed(2)} % per 100)`,
        alternative: '',
        ratio: '',
        goal: '',
        met: null,
      });
    }
  }
  const journal = results.journal as JournalBenchResult | undefined;
  if (journal) {
    add(journal, {
      figure: 'replay --check, records/s',
      nodewarden: `${fmt(journal.replay.recordsPerSecond.median)}/s`,
      alternative: '',
      ratio: '',
      goal: `≥ ${fmt(journal.replay.goal)}/s`,
      met: journal.replay.met,
    });
  }
  const bounded = results['journal-bounded'] as BoundedBenchResult | undefined;
  if (bounded) {
    const { growth: g, pruner: p, replay: y } = bounded;
    const at = g.points.map((pt) => `${fmt(pt.windows)}×`).join(' / ');
    add(bounded, {
      figure: `database + WAL after ${at} the window's containers`,
      nodewarden: `${g.points.map((pt) => ((pt.dbBytes + pt.walBytes) / 2 ** 20).toFixed(1)).join(' / ')} MB`,
      alternative: '',
      ratio: `${g.lastToFirst.toFixed(2)}×`,
      goal: `flat (≤ ${g.goal}×)`,
      met: g.met,
    });
    add(bounded, { figure: 'journal export lines, same points', nodewarden: g.points.map((pt) => fmt(pt.exportLines)).join(' / '), alternative: '', ratio: '', goal: '', met: null });
    add(bounded, {
      figure: `pruner pass cutting ${p.cutMs / 60_000} min, ${p.containers} containers monitored`,
      nodewarden: `${ms(p.passMs.median)}, event-loop delay p99 ${ms(p.delayP99Ms.median)} (worst pass ${ms(p.delayP99Ms.max)})`,
      alternative: '',
      ratio: '',
      goal: `p99 < ${p.goal} ms`,
      met: p.met,
    });
    add(bounded, {
      figure: `replay --check, ${y.hours} h of ${y.containers} containers (CLI)`,
      nodewarden: `${ms(y.wallMs)}, peak RSS ${y.peakRssMb.toFixed(0)} MB`,
      alternative: '',
      ratio: '',
      goal: '',
      met: null,
    });
  }
  const nodeMemory = results['node-memory'] as NodeMemoryBenchResult | undefined;
  if (nodeMemory?.noticeToFreedMs && nodeMemory.peakToLimit) {
    const first = (runs: NodeMemoryBenchResult['elastic']) => runs[0]?.victims.map((v) => v.id).join(' then ') ?? 'none';
    add(nodeMemory, {
      figure: `node OOM notice → memory freed (elastic control, ${nodeMemory.nodeMb} MB node)`,
      nodewarden: `${ms(nodeMemory.noticeToFreedMs.median)} (max ${ms(nodeMemory.noticeToFreedMs.max)})`,
      alternative: `peak ${x(nodeMemory.peakToLimit, 3)} memory-mb`,
      ratio: '',
      goal: `< ${nodeMemory.goals.noticeToFreedMsMax} ms, peak ≤ ${nodeMemory.goals.peakToLimitMax}×`,
      met: nodeMemory.met,
    });
    add(nodeMemory, {
      figure: 'who goes when the node is full',
      nodewarden: first(nodeMemory.elastic),
      alternative: `the kernel's OOM killer: ${first(nodeMemory.kernel)}`,
      ratio: '',
      goal: 'OPPORTUNISTIC first, then over request',
      met: null,
    });
  }
  return rows;
}

/** `quick`: a quick run, whose goals are judged on the full run. */
export function printSummary(rows: SummaryRow[], quick: boolean): void {
  console.log(`summary (medians; Markdown)${quick ? ' — a quick run: goals are judged on the full run' : ''}\n`);
  console.log('| figure | nodewarden | alternative, same run | ratio | goal | |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const verdict = r.met === null ? '' : r.met ? 'met' : '**not met**';
    console.log(`| ${r.figure} | ${r.nodewarden} | ${r.alternative} | ${r.ratio} | ${r.goal} | ${verdict} |`);
  }
}
