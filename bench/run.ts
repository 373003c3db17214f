/**
 * `npm run bench`: the performance report. Runs the benchmarks, prints each
 * one's table and then the summary against the alternatives and the goals,
 * and writes the figures to bench/results.json with the machine they ran on.
 * `--quick` makes CI-sized runs (under a minute; goals are judged on the full
 * run); `--only NAME` runs one benchmark and adds it to the figures already
 * in results.json; `--out FILE` writes them elsewhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import './cleanup.js'; // first: whatever happens, nothing started here outlives the run
import { apiBench } from './api.js';
import { containmentBench } from './containment.js';
import { enforcementBench } from './enforcement.js';
import { journalBench } from './journal.js';
import { journalBoundedBench } from './journal-bounded.js';
import { launchesBench } from './launches.js';
import { nodeMemoryBench, type OomRun } from './node-memory.js';
import { recoveryBench } from './recovery.js';
import { METHOD_NAMES, METHODS, samplingBench, type SizeResult } from './sampling.js';
import { figure, machine, type Figure } from './stats.js';
import { printSummary, summarize } from './summary.js';
import { dispatchPath, machinesOnly, naivePerRow } from './transitions.js';

const quick = process.argv.includes('--quick');
const option = (name: string) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const only = option('--only');
/** `--out FILE`: where the figures go (default bench/results.json). */
const out = option('--out');
const RUNS = quick ? 1 : 5;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
/** ms with the precision its size deserves. */
const ms = (n: number) => (n >= 1000 ? fmt(n) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const range = (f: Figure, show: (n: number) => string) => `(min ${show(f.min)}, max ${show(f.max)})`;
const line = (name: string, value: string, rest = '') => console.log(`${name.padEnd(50)} ${value.padStart(12)}  ${rest}`);
/** Goals are judged on the full run; a quick run's sizes are too small to say. */
const met = (ok: boolean | null) => (quick ? 'judged on the full run' : ok === null ? 'not measured' : ok ? 'met' : 'NOT met');

async function transitionsSection(): Promise<Record<string, unknown>> {
  const containers = quick ? 2_000 : 10_000;
  const naiveRows = quick ? 300 : 2_000;
  // Warm-up: JIT, page cache, the SQLite library.
  await dispatchPath(1_000);
  naivePerRow(200);
  machinesOnly(1_000);
  const durable: number[] = [];
  const naive: number[] = [];
  const machines: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so all three see the same machine state.
    const d = await dispatchPath(containers);
    const n = naivePerRow(naiveRows);
    machines.push(machinesOnly(containers));
    durable.push(d);
    naive.push(n);
    ratios.push(d / n);
  }
  const d = figure(durable);
  const n = figure(naive);
  const m = figure(machines);
  const r = figure(ratios);
  console.log('durable transitions (machines + scheduler + SQLite, synchronous=FULL)');
  line('durable transitions/s, group commit', `${fmt(d.median)} /s`, range(d, fmt));
  line('naive baseline: one commit per row', `${fmt(n.median)} /s`, range(n, fmt));
  line('machines alone (xstate actors, no store)', `${fmt(m.median)} /s`, range(m, fmt));
  const goals = { durablePerSecond: 50_000, ratioToBaseline: 5 };
  const ok = d.median >= goals.durablePerSecond && r.median >= goals.ratioToBaseline;
  line('group commit / naive', `${r.median.toFixed(1)} x`, `${range(r, (x) => x.toFixed(1))}  goal ≥ ${fmt(goals.durablePerSecond)}/s and ≥ ${goals.ratioToBaseline}x: ${met(ok)}`);
  return {
    description: 'durable transitions per second: machines + scheduler + store (group commit, synchronous=FULL) vs one commit per row',
    containers,
    transitionsPerContainer: 4,
    naiveRows,
    durablePerSecond: d,
    naivePerSecond: n,
    machinesOnlyPerSecond: m,
    ratio: r,
    goals,
    met: ok,
  };
}

function printSizes(sizes: SizeResult[]): void {
  const width = 20;
  // The column heads say the size; whether the tick ran with cgroups is said once, above the table.
  const head = (s: SizeResult) => s.label.replace(', fake procfs', ', fake').replace(', cgroups', '');
  if (sizes.some((s) => s.label.endsWith(', cgroups'))) console.log('\n(the real-procfs sizes ran with cgroups, the default as root: the tick reads each container\'s member list and OOM count from its cgroup)');
  console.log(`\n${'ms per tick (× the floor)'.padEnd(42)}${sizes.map((s) => head(s).padStart(width)).join('')}`);
  for (const m of METHODS) {
    const cells = sizes.map((s) => {
      const f = s.ms[m];
      const ratio = s.toFloor[m]?.median ?? 0;
      return (f === null ? 'n/a' : `${ms(f.median)} (${ratio.toFixed(ratio < 10 ? 2 : 0)}x)`).padStart(width);
    });
    console.log(`${METHOD_NAMES[m].padEnd(42)}${cells.join('')}`);
  }
  console.log(`${'nodewarden tick / floor with files held'.padEnd(42)}${sizes.map((s) => `${s.tickToHeldFloor.median.toFixed(2)}x`.padStart(width)).join('')}`);
  console.log(`${'YARN rescan / nodewarden tick'.padEnd(42)}${sizes.map((s) => `${fmt(s.toTick.yarn!.median)}x`.padStart(width)).join('')}`);
  console.log(`${'processes in the trees / on the machine'.padEnd(42)}${sizes.map((s) => `${s.processesInTrees}/${s.processesOnMachine}`.padStart(width)).join('')}`);
  const sampled = sizes.filter((s) => s.sampledOver !== null);
  const pidtreeSampled = sizes.filter((s) => s.pidtreeSampledOver !== null);
  if (sampled.length > 0) console.log(`(YARN's rescans at ${sampled.map((s) => s.label).join(', ')}: timed over ${sampled[0]!.sampledOver} containers spread evenly, scaled to all)`);
  if (pidtreeSampled.length > 0) console.log(`(pidtree at ${pidtreeSampled.map((s) => s.label).join(', ')}: timed over ${pidtreeSampled[0]!.pidtreeSampledOver} containers, scaled; pidusage over every pid)`);
  console.log('(ps and pidusage read only the real /proc: n/a on the fake one)');
}

async function samplingSection(): Promise<Record<string, unknown>> {
  const sizes = quick ? [1, 20] : [1, 50, 200, 1000];
  console.log(`process-tree sampling, one tick: containers of 10 real processes, then ${quick ? '2,000' : '10,000'} processes on a fake procfs`);
  const r = await samplingBench({
    sizes,
    fakeTrees: quick ? 200 : 1000,
    sampleAbove: quick ? 20 : 200,
    runs: RUNS,
    report: (s) => console.log(`  ${s.label}: tick ${ms(s.ms.tick!.median)} ms, ${s.toFloor.tick!.median.toFixed(2)}x the floor, ${s.tickToHeldFloor.median.toFixed(2)}x with files held`),
  });
  printSizes(r.sizes);
  const worst = Math.max(...r.sizes.map((s) => s.toFloor.tick!.median));
  const worstHeld = Math.max(...r.sizes.map((s) => s.tickToHeldFloor.median));
  line('tick / floor, worst size', `${worst.toFixed(2)} x`, `goal ≤ ${r.goals.tickToFloorMax} at every size: ${met(r.met.tickToFloor)}`);
  line('tick / floor with files held, worst size', `${worstHeld.toFixed(2)} x`, `(stricter than the goal's floor: ≤ ${r.goals.tickToFloorMax} ${met(r.met.tickToHeldFloor)})`);
  const at200 = r.sizes.find((s) => s.procfs === 'real' && s.containers === 200);
  line('YARN rescan / tick at 200 containers', at200 ? `${fmt(at200.toTick.yarn!.median)} x` : 'n/a', `goal ≥ ${r.goals.yarnToTickMinAt200}: ${met(r.met.yarnToTick)}`);
  return r as unknown as Record<string, unknown>;
}

async function enforcementSection(): Promise<Record<string, unknown>> {
  // More runs than elsewhere: where the crossing falls in the interval decides most of each figure.
  const r = await enforcementBench({ runs: quick ? 1 : 7, warmUp: !quick, intervalMs: quick ? 300 : 1000, quick });
  const mb = (b: number | null) => (b === null ? '?' : `${Math.round(b / 2 ** 20)} MB`);
  console.log(`memory-limit enforcement: the same program crossing a ${mb(r.limitBytes)} limit, both tools checking every ${r.intervalMs} ms`);
  line('limit crossed → process gone, nodewarden', `${ms(r.nodewarden.limitToKillMs.median)} ms`, `${range(r.nodewarden.limitToKillMs, ms)}  goal ≤ ${r.goals.limitToKillMsMax} ms: ${met(r.met.limitToKill)}`);
  line('limit crossed → process gone, pm2', `${ms(r.pm2.limitToKillMs.median)} ms`, `${range(r.pm2.limitToKillMs, ms)}  (pm2's default worker interval is ${r.pm2.defaultWorkerIntervalMs / 1000} s)`);
  line('pm2 / nodewarden', `${r.ratio.median.toFixed(2)} x`, range(r.ratio, (x) => x.toFixed(2)));
  const c = r.childMemory;
  line('memory held by a child process, nodewarden', c.nodewarden.seen ? 'seen' : 'NOT seen', c.nodewarden.seen ? `killed ${ms(c.nodewarden.limitToKillMs!)} ms after the tree crossed (tree ${mb(c.nodewarden.treeBytes)})` : '');
  line(
    'memory held by a child process, pm2',
    c.pm2.seen ? 'seen' : 'NOT seen',
    c.pm2.seen ? `killed after ${ms(c.pm2.limitToKillMs!)} ms` : `pm2 reports ${mb(c.pm2.reportedBytes)} while the tree holds ${mb(c.pm2.treeBytes)}; not killed in ${fmt(c.pm2.observedMs)} ms`,
  );
  return r as unknown as Record<string, unknown>;
}

async function containmentSection(): Promise<Record<string, unknown>> {
  const r = await containmentBench({ intervalMs: quick ? 300 : 1000, launchRuns: quick ? 1 : RUNS, launches: quick ? 20 : 100, warmUp: !quick });
  console.log(`containment: ${r.description}`);
  for (const run of r.runs) {
    const goal = run.tool === 'nodewarden, cgroups' ? `goal ≤ ${r.goals.defaultMax}×: ${met(r.met.default)}` : run.tool.endsWith('strict memory') ? `goal ≤ ${r.goals.strictMax}×: ${met(r.met.strict)}` : '';
    line(`runaway peak, ${run.tool}`, run.peakMultiple === null ? 'n/a' : `${run.peakMultiple.toFixed(2)} x`, `${run.ended}  ${goal}`);
  }
  const yes = (b: boolean | null) => (b === null ? 'n/a' : b ? 'yes' : 'no');
  for (const e of r.escapees) {
    line(`setsid escapee, ${e.tool}`, `counted ${yes(e.counted)}, killed ${yes(e.killed)}`, e.seenBytes === null ? '' : `its figure for the container reached ${(e.seenBytes / 2 ** 20).toFixed(1)} MB of the escapee's 100 MB`);
  }
  if (r.launches) {
    const l = r.launches;
    line(`launches/s, ${l.containers} \`sleep 3600\`, cgroups / process groups`, `${l.withCgroups.median.toFixed(1)} / ${l.withoutCgroups.median.toFixed(1)} /s`);
    line('launch cost of a cgroup per container', `${(l.cost.median * 100).toFixed(1)} %`, `${range(l.cost, (x) => `${(x * 100).toFixed(1)}`)}  goal < ${r.goals.launchCostMax * 100} %: ${met(r.met.launchCost)}`);
  } else {
    line('launch cost of a cgroup per container', 'n/a', 'needs root and cgroup v1 here');
  }
  return r as unknown as Record<string, unknown>;
}

async function nodeMemorySection(): Promise<Record<string, unknown> | undefined> {
  const r = await nodeMemoryBench({ runs: quick ? 1 : RUNS });
  if (r === null) {
    console.log('the node under memory pressure: n/a (needs root and cgroup v1 here)');
    return undefined;
  }
  console.log(`the node under memory pressure: ${r.description}; ${r.runs} run(s) each`);
  const who = (run: OomRun) => run.victims.map((v) => `${v.id} (${v.exitStatus === -1000 ? `exit ${v.exitCode}` : v.exitStatus})`).join(', then ');
  if (r.noticeToFreedMs) {
    line('OOM notice → memory freed, elastic control', `${ms(r.noticeToFreedMs.median)} ms`, `${range(r.noticeToFreedMs, ms)} over ${r.noticeToFreedMs.runs.length} OOMs  goal < ${r.goals.noticeToFreedMsMax} ms: ${met(r.met)}`);
  }
  if (r.peakToLimit) line('node cgroup peak / memory-mb, elastic control', `${r.peakToLimit.median.toFixed(3)} x`, `${range(r.peakToLimit, (x) => x.toFixed(3))}  goal ≤ ${r.goals.peakToLimitMax}`);
  line('who went, elastic control (nodewarden\'s handler)', r.elastic.map(who).join(' | '));
  line('who went, elastic control off (the kernel\'s OOM killer)', r.kernel.map(who).join(' | '));
  const kernelPeak = figure(r.kernel.map((k) => k.peakToLimit));
  line('node cgroup peak / memory-mb, the kernel\'s OOM killer', `${kernelPeak.median.toFixed(3)} x`, range(kernelPeak, (x) => x.toFixed(3)));
  return { ...r, quick } as unknown as Record<string, unknown>;
}

async function apiSection(): Promise<Record<string, unknown> | undefined> {
  if (quick) {
    console.log('socket API with 1,000 containers known: full run only (launches and status against pm2 below cover the quick run)');
    return undefined;
  }
  const r = await apiBench({ quick, runs: RUNS });
  const f2 = (f: Figure, unit: string) => `${f.median.toFixed(2)} ${unit}`;
  console.log(`socket API (daemon in its own process, client on the socket)`);
  line(`launches/s, ${r.launch.containers} \`sleep 1\` → RUNNING`, f2(r.launch.perSecond, '/s'), `${range(r.launch.perSecond, fmt)}  goal ≥ ${r.goals.launchesPerSecondMin}: ${met(r.met.launches)}`);
  line(`launch request p50 / p99 (${r.launch.inFlight} in flight)`, `${ms(r.launch.requestP50Ms.median)} / ${ms(r.launch.requestP99Ms.median)} ms`);
  line(`GET view p50 / p99, ${r.view.known} known, finished ones`, `${ms(r.view.finished.p50Ms.median)} / ${ms(r.view.finished.p99Ms.median)} ms`);
  line(`GET view p50 / p99, ${r.view.known} known, running ones`, `${ms(r.view.running.p50Ms.median)} / ${ms(r.view.running.p99Ms.median)} ms`, `goal p99 ≤ ${r.goals.viewP99MsMax}: ${met(r.met.viewP99)}`);
  return r as unknown as Record<string, unknown>;
}

async function launchesSection(): Promise<Record<string, unknown>> {
  const r = await launchesBench({ runs: RUNS, warmUp: !quick, count: quick ? 30 : 200, statusRequests: quick ? 20 : 60 });
  console.log(`launches and status against pm2: ${r.processes} \`sleep 3600\`, ${r.inFlight} in flight, each over its own socket, fresh daemons each run`);
  console.log(`${''.padEnd(50)} ${'nodewarden'.padStart(12)} ${'pm2'.padStart(12)} ${'pm2 / ours'.padStart(12)}`);
  const row = (name: string, a: Figure, b: Figure, unit: string, ratio?: Figure) =>
    console.log(`${name.padEnd(50)} ${`${unit === '/s' ? fmt(a.median) : ms(a.median)} ${unit}`.padStart(12)} ${`${unit === '/s' ? fmt(b.median) : ms(b.median)} ${unit}`.padStart(12)} ${ratio ? `${ratio.median.toFixed(2)} x`.padStart(12) : ''}`);
  const inverse = figure(r.ratios.launches.runs.map((x) => 1 / x));
  row('launches/s, first request → all running', r.nodewarden.launchesPerSecond, r.pm2.launchesPerSecond, '/s', inverse);
  row('status of all, p50 (GET /v1/containers | jlist)', r.nodewarden.listP50Ms, r.pm2.listP50Ms, 'ms', r.ratios.listP50);
  row('status of all, p99', r.nodewarden.listP99Ms, r.pm2.listP99Ms, 'ms');
  row('status of one, p50 (GET /v1/containers/:id | describe)', r.nodewarden.oneP50Ms, r.pm2.oneP50Ms, 'ms', r.ratios.oneP50);
  row('status of one, p99', r.nodewarden.oneP99Ms, r.pm2.oneP99Ms, 'ms');
  line('launches/s, nodewarden / pm2', `${r.ratios.launches.median.toFixed(2)} x`, `${range(r.ratios.launches, (x) => x.toFixed(2))}  goal ≥ 1: ${met(r.met.launches)}`);
  return r as unknown as Record<string, unknown>;
}

async function recoverySection(): Promise<Record<string, unknown>> {
  const r = await recoveryBench({ quick, runs: RUNS });
  console.log(`recovery: ${r.containers} live containers (${r.processes} processes), daemon SIGKILLed and started again`);
  line('restart → all reacquired (RUNNING, same pid)', `${ms(r.recoveryMs.median)} ms`, `${range(r.recoveryMs, ms)}  goal < ${r.goals.recoveryMsMax} ms, none lost: ${met(r.met)}`);
  line('restart → first answer on the socket', `${ms(r.answeringMs.median)} ms`, range(r.answeringMs, ms));
  line('of which the reconcile step in the daemon', `${ms(r.reconcileMs.median)} ms`, range(r.reconcileMs, ms));
  line('containers lost (worst run)', String(r.lost));
  line(`daemon RSS with ${r.containers} containers tracked`, `${r.rssMb.median.toFixed(1)} MB`, `${range(r.rssMb, (x) => x.toFixed(1))}  goal ≤ ${r.goals.rssMbMax} MB: ${met(r.metRss)}`);
  if (r.idleCpu === null) line(`daemon CPU, ${r.containers} idle containers`, 'n/a', '(measured in the full run only: it needs a 30 s window)');
  else {
    line(
      `daemon CPU, ${r.containers} idle containers, ${r.idleCpu.intervalMs / 1000} s interval`,
      `${r.idleCpu.percentOfOneCore.toFixed(2)} %`,
      `of one core over ${Math.round(r.idleCpu.windowMs / 1000)} s (${r.idleCpu.ticks} ticks): ${((r.idleCpu.percentOfOneCore / r.containers) * 100).toFixed(2)} % per 100 containers`,
    );
  }
  return r as unknown as Record<string, unknown>;
}

async function journalSection(): Promise<Record<string, unknown>> {
  const r = await journalBench({ quick, runs: RUNS });
  const { replay: p, size: z } = r;
  console.log(`journal: replay --check of a live-recorded journal, ${fmt(p.records)} records (${Object.entries(p.mix).map(([t, n]) => `${fmt(n)} ${t}`).join(', ')})`);
  line('replay records/s', `${fmt(p.recordsPerSecond.median)} /s`, `${range(p.recordsPerSecond, fmt)}  goal ≥ ${fmt(p.goal)}: ${met(p.met)}`);
  line(
    `journal bytes per container-hour (${z.intervalMs / 1000} s interval)`,
    `${fmt(z.bytesPerContainerHour)} B`,
    `(${fmt(z.sampleBytesPerContainerTick)} B of samples per tick × ${3_600_000 / z.intervalMs}, + ${fmt(z.lifecycleBytesPerContainer)} B of lifecycle)`,
  );
  return r as unknown as Record<string, unknown>;
}

async function journalBoundedSection(): Promise<Record<string, unknown>> {
  const r = await journalBoundedBench({ quick, runs: RUNS });
  const { growth: g, pruner: p, replay: y } = r;
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  console.log(
    `the journal kept to its window: a job every ${g.tickMs / 1000} s running ${g.lifeMs / 1000} s, a ${g.retentionHours * 60}-minute window (${g.containersPerWindow} containers), ` +
      `a pass every ${g.pruneIntervalMs / 1000} s, finished containers forgotten after ${g.finishedRetentionMs / 1000} s`,
  );
  for (const pt of g.points) {
    line(
      `database + WAL, ${fmt(pt.windows)}× the window's containers`,
      mb(pt.dbBytes + pt.walBytes),
      `${fmt(pt.containers)} run: ${mb(pt.dbBytes)} + WAL ${mb(pt.walBytes)}, ${kb(pt.bytesPerWindowContainer)} per container of the window; export ${fmt(pt.exportLines)} lines`,
    );
  }
  line('database, last point / first', `${g.lastToFirst.toFixed(2)} x`, `goal flat (≤ ${g.goal}x): ${met(g.met)}`);
  line(`pruner pass, ${p.containers} monitored, cutting ${p.cutMs / 60_000} min`, `${ms(p.passMs.median)} ms`, `${range(p.passMs, ms)}  ${fmt(p.rowsPerPass.median)} rows`);
  line('event-loop delay during a pass, p99', `${ms(p.delayP99Ms.median)} ms`, `${range(p.delayP99Ms, ms)}  max ${ms(p.delayMaxMs.max)} ms  goal < ${p.goal} ms: ${met(p.met)}`);
  line(`database + WAL, the window full (${p.containers} containers)`, mb(p.fullBytes), `${kb(p.bytesPerContainerHour)} per container-hour`);
  line(`replay --check, ${y.hours} h of ${y.containers} containers (CLI)`, `${ms(y.wallMs)} ms`, `${fmt(y.records)} records, ${mb(y.bytes)}; peak RSS ${y.peakRssMb.toFixed(1)} MB`);
  return r as unknown as Record<string, unknown>;
}

const BENCHES: Record<string, () => Promise<Record<string, unknown> | undefined>> = {
  transitions: transitionsSection,
  sampling: samplingSection,
  enforcement: enforcementSection,
  containment: containmentSection,
  'node-memory': nodeMemorySection,
  api: apiSection,
  launches: launchesSection,
  recovery: recoverySection,
  journal: journalSection,
  'journal-bounded': journalBoundedSection,
};

async function main(): Promise<void> {
  if (only !== undefined && !(only in BENCHES)) {
    console.error(`unknown benchmark ${JSON.stringify(only)}; choose one of: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  const m = machine();
  const method = quick ? 'one run each' : 'medians of 5 runs after a warm-up (7 for limit enforcement)';
  console.log(`nodewarden benchmarks${quick ? ' (quick)' : ''}: ${method}, on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`);
  const started = performance.now();
  const results: Record<string, unknown> = {};
  const seconds: Record<string, number> = {};
  for (const [name, run] of Object.entries(BENCHES)) {
    if (only !== undefined && only !== name) continue;
    console.log('');
    const t = performance.now();
    const result = await run();
    if (result !== undefined) results[name] = { quick, ...result };
    seconds[name] = Math.round((performance.now() - t) / 100) / 10;
  }
  const file = path.resolve(out ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results.json'));
  // --only adds its section to the last run's; a whole run replaces them all.
  const previous = only !== undefined && fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const merged = { ...((previous.results as Record<string, unknown> | undefined) ?? {}), ...results };
  delete merged.monitor; // measured by `sampling` since the comparison with the alternatives
  const summary = summarize(merged);
  console.log('');
  printSummary(summary, quick);
  fs.writeFileSync(
    file,
    JSON.stringify({ machine: m, date: new Date().toISOString(), quick, only: only ?? null, seconds: { ...seconds, total: Math.round((performance.now() - started) / 1000) }, summary, results: merged }, null, 2) + '\n',
  );
  console.log(`\nwritten to ${path.relative(process.cwd(), file)} (${Math.round((performance.now() - started) / 1000)} s)`);
}

await main();
// The report is written and everything started is stopped; a client library's
// socket still retrying (pm2's) must not keep the process waiting.
process.exit(0);
