/**
 * `npm run bench`: runs the benchmarks, prints a table, and merges the figures
 * into bench/results.json (other benchmarks add their own sections).
 * `--quick` makes CI-sized runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure, machine, type Figure } from './stats.js';
import { apiBench } from './api.js';
import { monitorBench } from './monitor.js';
import { journalBench } from './journal.js';
import { recoveryBench } from './recovery.js';
import { dispatchPath, machinesOnly, naivePerRow } from './transitions.js';

const quick = process.argv.includes('--quick');
/** `--only NAME`: run one benchmark (transitions, monitor, api, recovery, journal). */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const RUNS = quick ? 3 : 5;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function transitionsBench(): Promise<Record<string, unknown>> {
  const containers = quick ? 5_000 : 25_000;
  const naiveRows = quick ? 1_000 : 4_000;
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
  const row = (name: string, f: Figure, unit: string) =>
    console.log(`${name.padEnd(44)} ${fmt(f.median).padStart(10)} ${unit}  (min ${fmt(f.min)}, max ${fmt(f.max)})`);
  row('durable transitions/s (dispatch path, FULL)', d, '/s');
  row('naive one-commit-per-row baseline (FULL)', n, '/s');
  row('machines alone (xstate actors, no store)', m, '/s');
  console.log(`${'ratio dispatch / naive'.padEnd(44)} ${r.median.toFixed(1).padStart(10)} x   (min ${r.min.toFixed(1)}, max ${r.max.toFixed(1)})`);
  const goals = { durablePerSecond: 50_000, ratioToBaseline: 5 };
  const met = d.median >= goals.durablePerSecond && r.median >= goals.ratioToBaseline;
  console.log(`goal ≥ ${fmt(goals.durablePerSecond)}/s and ≥ ${goals.ratioToBaseline}x baseline: ${met ? 'met' : 'NOT met'}`);
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
    met,
  };
}

async function monitorSection(): Promise<Record<string, unknown>> {
  const r = await monitorBench({ quick, runs: quick ? 3 : 7 });
  const ms = (f: Figure) => `${f.median.toFixed(2).padStart(10)} ms  (min ${f.min.toFixed(2)}, max ${f.max.toFixed(2)})`;
  const x = (f: Figure) => `${f.median.toFixed(2).padStart(10)} x   (min ${f.min.toFixed(2)}, max ${f.max.toFixed(2)})`;
  console.log(`\nmonitor: ${r.containers} containers, ${r.processesInTrees} processes in their trees, ${r.processesOnMachine} on the machine`);
  console.log(`${'monitor tick (one scan, all trees, decisions)'.padEnd(48)} ${ms(r.tickMs)}`);
  console.log(`${'floor: read every /proc/<pid>/stat once'.padEnd(48)} ${ms(r.floorMs)}`);
  console.log(`${"YARN: per-container rescan (C scans)".padEnd(48)} ${ms(r.yarnRescanMs)}`);
  console.log(`${'tick / floor'.padEnd(48)} ${x(r.tickToFloor)}  goal ≤ ${r.goals.tickToFloorMax}: ${r.met.tickToFloor ? 'met' : 'NOT met'}`);
  console.log(`${'YARN rescan / tick'.padEnd(48)} ${x(r.yarnToTick)}  goal ≥ ${r.goals.yarnToTickMin}: ${r.met.yarnToTick ? 'met' : 'NOT met'}`);
  console.log(
    `${'daemon CPU, idle containers, 3 s interval'.padEnd(48)} ${r.idleCpu.percentOfOneCore.toFixed(2).padStart(10)} %   of one core over ${(r.idleCpu.windowMs / 1000).toFixed(0)} s (${r.idleCpu.ticks} ticks)  goal < ${r.goals.idleCpuPercentMax}: ${r.met.idleCpu ? 'met' : 'NOT met'}`,
  );
  return r as unknown as Record<string, unknown>;
}

async function apiSection(): Promise<Record<string, unknown>> {
  const r = await apiBench({ quick, runs: RUNS });
  const f2 = (f: Figure, unit: string) => `${f.median.toFixed(2).padStart(10)} ${unit}  (min ${f.min.toFixed(2)}, max ${f.max.toFixed(2)})`;
  console.log(`\nsocket API (daemon in its own process, client on the socket)`);
  console.log(`${`launches/s, ${r.launch.containers} containers → RUNNING`.padEnd(48)} ${f2(r.launch.perSecond, '/s')}  goal ≥ ${r.goals.launchesPerSecondMin}: ${r.met.launches ? 'met' : 'NOT met'}`);
  console.log(`${`launch request p50 (${r.launch.inFlight} in flight)`.padEnd(48)} ${f2(r.launch.requestP50Ms, 'ms')}`);
  console.log(`${`launch request p99 (${r.launch.inFlight} in flight)`.padEnd(48)} ${f2(r.launch.requestP99Ms, 'ms')}`);
  console.log(`${`GET view p50, ${r.view.known} known, finished ones`.padEnd(48)} ${f2(r.view.finished.p50Ms, 'ms')}`);
  console.log(`${`GET view p99, ${r.view.known} known, finished ones`.padEnd(48)} ${f2(r.view.finished.p99Ms, 'ms')}  goal ≤ ${r.goals.viewP99MsMax}`);
  console.log(`${`GET view p50, ${r.view.known} known, running ones`.padEnd(48)} ${f2(r.view.running.p50Ms, 'ms')}`);
  console.log(`${`GET view p99, ${r.view.known} known, running ones`.padEnd(48)} ${f2(r.view.running.p99Ms, 'ms')}  goal ≤ ${r.goals.viewP99MsMax}: ${r.met.viewP99 ? 'met' : 'NOT met'}`);
  return r as unknown as Record<string, unknown>;
}

async function recoverySection(): Promise<Record<string, unknown>> {
  const r = await recoveryBench({ quick, runs: RUNS });
  const f = (x: Figure) => `${x.median.toFixed(1).padStart(10)} ms  (min ${x.min.toFixed(1)}, max ${x.max.toFixed(1)})`;
  console.log(`\nrecovery: ${r.containers} live containers (${r.processes} processes), daemon SIGKILLed and started again`);
  console.log(`${'restart → all reacquired (RUNNING, same pid)'.padEnd(48)} ${f(r.recoveryMs)}  goal < ${r.goals.recoveryMsMax} ms, none lost: ${r.met ? 'met' : 'NOT met'}`);
  console.log(`${'restart → first answer on the socket'.padEnd(48)} ${f(r.answeringMs)}`);
  console.log(`${'of which the reconcile step in the daemon'.padEnd(48)} ${f(r.reconcileMs)}`);
  console.log(`${'containers lost (worst run)'.padEnd(48)} ${String(r.lost).padStart(10)}`);
  return r as unknown as Record<string, unknown>;
}

async function journalSection(): Promise<Record<string, unknown>> {
  const r = await journalBench({ quick, runs: RUNS });
  const { replay: p, size: z } = r;
  console.log(`\njournal: replay --check of a live-recorded journal, ${fmt(p.records)} records (${Object.entries(p.mix).map(([t, n]) => `${fmt(n)} ${t}`).join(', ')})`);
  console.log(`${'replay records/s'.padEnd(48)} ${fmt(p.recordsPerSecond.median).padStart(10)} /s  (min ${fmt(p.recordsPerSecond.min)}, max ${fmt(p.recordsPerSecond.max)})  goal ≥ ${fmt(p.goal)}: ${p.met ? 'met' : 'NOT met'}`);
  console.log(`${`journal bytes per container-hour (${z.intervalMs / 1000} s interval)`.padEnd(48)} ${fmt(z.bytesPerContainerHour).padStart(10)} B   (${fmt(z.sampleBytesPerContainerTick)} B of samples per tick × ${3_600_000 / z.intervalMs}, + ${fmt(z.lifecycleBytesPerContainer)} B of lifecycle; ${z.containers} real containers, ${z.ticks} ticks)`);
  return r as unknown as Record<string, unknown>;
}

const BENCHES: Record<string, () => Promise<Record<string, unknown>>> = {
  transitions: transitionsBench,
  monitor: monitorSection,
  api: apiSection,
  recovery: recoverySection,
  journal: journalSection,
};

async function main(): Promise<void> {
  console.log(`nodewarden benchmarks${quick ? ' (quick)' : ''}: median of runs after a warm-up\n`);
  if (only !== undefined && !(only in BENCHES)) {
    console.error(`unknown benchmark ${JSON.stringify(only)}; choose one of: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  const results: Record<string, unknown> = {};
  for (const [name, run] of Object.entries(BENCHES)) {
    if (only === undefined || only === name) results[name] = await run();
  }
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results.json');
  const previous = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const merged = {
    ...previous,
    machine: machine(),
    date: new Date().toISOString(),
    quick,
    results: { ...((previous.results as Record<string, unknown> | undefined) ?? {}), ...results },
  };
  fs.writeFileSync(file, JSON.stringify(merged, null, 2) + '\n');
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
}

await main();
