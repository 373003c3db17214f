/**
 * `npm run test:load -- [--runs N] [--busy N] [--clone] [--keep-logs] [-- VITEST_ARGS...]`
 *
 * The test suite, N times in a row (default 3), while other processes keep
 * N cores busy (default 1): the check that a test passing alone does not
 * fail on a loaded machine (issue 19). At the end, a summary: each run's
 * duration and counts, then every test that failed and in which runs. The
 * exit code is 1 if any run failed.
 *
 *   --clone       run in a fresh clone of HEAD in a private (0700) temp dir,
 *                 after `npm ci`, as CI does: catches what a test assumes
 *                 about where it was cloned, or about files not committed.
 *   --keep-logs   keep each run's output and JSON report (always kept when
 *                 a run failed); their directory is printed.
 *   -- ARGS       passed to `vitest run` (a file filter, `-t NAME`).
 *
 * The busy processes spin in plain JavaScript and exit by themselves if this
 * runner dies, so nothing outlives it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { atExit } from './cleanup.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Options {
  runs: number;
  busy: number;
  clone: boolean;
  keepLogs: boolean;
  vitestArgs: string[];
}

function usage(message: string): never {
  console.error(`test:load: ${message}\nusage: npm run test:load -- [--runs N] [--busy N] [--clone] [--keep-logs] [-- VITEST_ARGS...]`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const o: Options = { runs: 3, busy: 1, clone: false, keepLogs: false, vitestArgs: [] };
  const count = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) usage(`${flag} needs a whole number ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--runs') o.runs = count(a, argv[++i], 1);
    else if (a === '--busy') o.busy = count(a, argv[++i], 0);
    else if (a === '--clone') o.clone = true;
    else if (a === '--keep-logs') o.keepLogs = true;
    else if (a === '--') {
      o.vitestArgs = argv.slice(i + 1);
      break;
    } else usage(`unknown option ${a}`);
  }
  return o;
}

/**
 * A process spinning one core. It checks now and then that its parent is
 * still this runner (a dead parent re-parents it), and exits if not.
 */
function busyCore(): ChildProcess {
  const spin = `const p = process.ppid; for (;;) { for (let i = 0; i < 1e7; i++); if (process.ppid !== p) process.exit(0); }`;
  return spawn(process.execPath, ['-e', spin], { stdio: 'ignore' });
}

/** A fresh clone of HEAD in a directory only its owner can traverse, installed as CI installs it. */
function freshClone(logDir: string): { dir: string; remove: () => void } {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-test-load-clone-'));
  fs.chmodSync(parent, 0o700);
  const dir = path.join(parent, 'nodewarden');
  const remove = () => fs.rmSync(parent, { recursive: true, force: true });
  const forget = atExit(remove);
  const step = (what: string, cmd: string, args: string[], cwd: string) => {
    console.log(`test:load: ${what}`);
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    fs.appendFileSync(path.join(logDir, 'clone.log'), `$ ${cmd} ${args.join(' ')}\n${r.stdout}${r.stderr}`);
    if (r.status !== 0) {
      remove();
      throw new Error(`test:load: ${what} failed (see ${path.join(logDir, 'clone.log')})`);
    }
  };
  step(`cloning HEAD into ${dir}`, 'git', ['clone', '--quiet', '--no-local', ROOT, dir], parent);
  step('npm ci in the clone', 'npm', ['ci', '--no-audit', '--no-fund'], dir);
  return {
    dir,
    remove: () => {
      forget();
      remove();
    },
  };
}

interface JsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numTotalTests: number;
  testResults: Array<{
    name: string;
    message?: string;
    assertionResults: Array<{ fullName: string; status: string; failureMessages?: string[] }>;
  }>;
}

interface RunResult {
  run: number;
  seconds: number;
  exitCode: number | null;
  passed: number;
  total: number;
  /** `file > test` of each failed test; a file that failed outside any test (a hook, a load error) is `file`. */
  failed: string[];
  log: string;
}

function failuresOf(report: JsonReport, cwd: string): string[] {
  const failed: string[] = [];
  for (const file of report.testResults) {
    const name = path.relative(cwd, file.name);
    const tests = file.assertionResults.filter((t) => t.status === 'failed');
    for (const t of tests) failed.push(`${name} > ${t.fullName}`);
    if (tests.length === 0 && file.message) failed.push(`${name} (${file.message.split('\n')[0]})`);
  }
  return failed;
}

function runSuite(run: number, cwd: string, logDir: string, vitestArgs: string[]): Promise<RunResult> {
  const log = path.join(logDir, `run-${run}.log`);
  const json = path.join(logDir, `run-${run}.json`);
  const vitest = path.join(cwd, 'node_modules', '.bin', 'vitest');
  const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${json}`, ...vitestArgs];
  const out = fs.openSync(log, 'w');
  const started = performance.now();
  const child = spawn(vitest, args, { cwd, stdio: ['ignore', out, out], env: { ...process.env, CI: 'true' } });
  const forget = atExit(() => child.kill('SIGKILL'));
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      forget();
      fs.closeSync(out);
      const seconds = (performance.now() - started) / 1000;
      let report: JsonReport | undefined;
      try {
        report = JSON.parse(fs.readFileSync(json, 'utf8')) as JsonReport;
      } catch {
        // vitest died before writing it: the log says why
      }
      const failed = report ? failuresOf(report, cwd) : [];
      // An error outside every test (a load error, a crash, no test found) fails the run too.
      if (code !== 0 && failed.length === 0) failed.push(`(vitest exited with ${code} and no failed test: see the log)`);
      resolve({
        run,
        seconds,
        exitCode: code,
        passed: report?.numPassedTests ?? 0,
        total: report?.numTotalTests ?? 0,
        failed,
        log,
      });
    });
  });
}

function summary(results: RunResult[], busy: number, logsKept: boolean): string {
  const lines = [`\ntest:load: ${results.length} run(s) of the suite with ${busy} core(s) kept busy`];
  for (const r of results) {
    const verdict = r.exitCode === 0 ? 'passed' : `FAILED (exit ${r.exitCode})`;
    lines.push(`  run ${r.run}: ${verdict}, ${r.passed}/${r.total} tests passed, ${r.seconds.toFixed(0)} s${logsKept ? `  (${r.log})` : ''}`);
  }
  const byTest = new Map<string, number[]>();
  for (const r of results) for (const t of r.failed) byTest.set(t, [...(byTest.get(t) ?? []), r.run]);
  if (byTest.size === 0) {
    lines.push('  no test failed in any run');
  } else {
    lines.push('  failed tests, and the runs they failed in:');
    for (const [t, runs] of [...byTest].sort((a, b) => b[1].length - a[1].length)) lines.push(`    [run ${runs.join(', ')}] ${t}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-test-load-'));
  const clone = o.clone ? freshClone(logDir) : undefined;
  const cwd = clone?.dir ?? ROOT;
  const busy = Array.from({ length: o.busy }, busyCore);
  const stopBusy = () => busy.forEach((p) => p.kill('SIGKILL'));
  const forgetBusy = atExit(stopBusy);
  const results: RunResult[] = [];
  try {
    for (let run = 1; run <= o.runs; run++) {
      console.log(`test:load: run ${run} of ${o.runs} in ${cwd}, ${o.busy} core(s) busy`);
      const r = await runSuite(run, cwd, logDir, o.vitestArgs);
      console.log(`test:load: run ${run}: ${r.exitCode === 0 ? 'passed' : 'FAILED'} in ${r.seconds.toFixed(0)} s${r.failed.length ? `: ${r.failed.join('; ')}` : ''}`);
      results.push(r);
    }
  } finally {
    stopBusy();
    forgetBusy();
    clone?.remove();
  }
  const failed = results.some((r) => r.exitCode !== 0);
  const keep = failed || o.keepLogs;
  console.log(summary(results, o.busy, keep));
  if (keep) console.log(`test:load: logs and JSON reports in ${logDir}`);
  else fs.rmSync(logDir, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
