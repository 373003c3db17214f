/**
 * The performance report runs as a newcomer would run it (`--quick`, from the
 * built tree) and leaves nothing behind: no daemon, no container, no hungry
 * program, no pm2 daemon, no temp dir — when it finishes and when it is
 * interrupted half-way. Every figure is the bench's business; here only the
 * report's shape and one fact of the comparison (pm2 does not see a child's
 * memory, nodewarden does) are checked, never a speed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { V1_CONTROLLERS } from '../src/containment/detect.js';
import { ownV1Cgroups } from './helpers/cgroups.js';

const RUN = path.join(process.cwd(), 'dist', 'bench', 'run.js');

/** Processes that name `dir` in their command line, environment or working directory: everything the bench started. */
function startedUnder(dir: string): string[] {
  const found: string[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[1-9][0-9]*$/.test(name)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const environ = fs.readFileSync(`/proc/${name}/environ`, 'utf8');
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // a kernel thread, or gone
      }
      if (cmdline.includes(dir) || environ.includes(dir) || cwd.startsWith(dir)) found.push(`${name}: ${cmdline.replaceAll('\0', ' ').trim()}`);
    } catch {
      // gone, or a zombie
    }
  }
  return found;
}

async function until(what: string, fn: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const runs: Array<{ run: Run; dir: string }> = [];

/** The bench in its own process group, with its own TMPDIR: everything it makes is under `dir`. */
function bench(dir: string, args: string[]): Run {
  const child = spawn(process.execPath, [RUN, ...args], { env: { ...process.env, TMPDIR: dir }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const run = { child, output: () => output, exit };
  runs.push({ run, dir });
  return run;
}

afterEach(() => {
  // Even when a test failed: the bench's group, then anything it started that outlived it.
  for (const { run, dir } of runs.splice(0)) {
    try {
      process.kill(-run.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    for (const p of startedUnder(dir)) {
      try {
        process.kill(Number(p.split(':')[0]), 'SIGKILL');
      } catch {
        // gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'nw-test-bench-'));

describe('npm run bench -- --quick', () => {
  it('prints the report, writes every section with the machine, and leaves nothing running', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    const out = path.join(dir, 'results.json');
    const run = bench(dir, ['--quick', '--out', out]);
    const { code } = await run.exit;
    expect(code, run.output()).toBe(0);
    expect(run.output()).toContain('| figure | nodewarden | alternative, same run | ratio | goal | |');

    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as {
      machine: { cpus: number; kernel: string; node: string };
      quick: boolean;
      summary: unknown[];
      results: Record<string, { quick: boolean } & Record<string, unknown>>;
    };
    expect(report.quick).toBe(true);
    expect(report.machine).toMatchObject({ cpus: os.cpus().length, kernel: os.release(), node: process.version });
    // node-memory needs root and cgroup v1: elsewhere it says n/a and writes nothing.
    const withCgroups = ownV1Cgroups() !== null;
    expect(Object.keys(report.results).sort()).toEqual(['containment', 'enforcement', 'journal', 'journal-bounded', 'launches', ...(withCgroups ? ['node-memory'] : []), 'recovery', 'sampling', 'transitions']);
    expect(report.summary.length).toBeGreaterThanOrEqual(10);
    const enforcement = report.results.enforcement as unknown as {
      nodewarden: { exitStatus: number };
      childMemory: { nodewarden: { seen: boolean }; pm2: { seen: boolean; reportedBytes: number; treeBytes: number } };
    };
    expect(enforcement.nodewarden.exitStatus).toBe(-104); // KILLED_EXCEEDED_PMEM
    expect(enforcement.childMemory.nodewarden.seen).toBe(true);
    expect(enforcement.childMemory.pm2.seen).toBe(false);
    expect(enforcement.childMemory.pm2.reportedBytes).toBeLessThan(enforcement.childMemory.pm2.treeBytes / 2);
    // Every tool stopped the runaway; where cgroups are there (root, v1), the kernel did it with -104.
    const containment = report.results.containment as unknown as { runs: Array<{ tool: string; peakMultiple: number | null; ended: string }> };
    expect(containment.runs.map((r) => r.tool)).toEqual(['nodewarden, cgroups', 'nodewarden, cgroups, YARN strict memory', 'nodewarden, process groups', 'pm2 max_memory_restart']);
    for (const r of containment.runs.filter((r) => r.peakMultiple !== null && r.tool.startsWith('nodewarden'))) expect(r.ended, r.tool).toBe('exit status -104');
    // A setsid escapee: with cgroups counted and killed; with process groups and pm2, neither is it killed.
    const { escapees } = report.results.containment as unknown as { escapees: Array<{ tool: string; counted: boolean | null; killed: boolean | null }> };
    expect(escapees.map((e) => e.tool)).toEqual(['nodewarden, cgroups', 'nodewarden, process groups', 'pm2']);
    if (ownV1Cgroups()) expect(escapees[0]).toMatchObject({ counted: true, killed: true });
    expect(escapees[1]).toMatchObject({ killed: false });
    expect(escapees[2]).toMatchObject({ counted: false, killed: false });

    // The node full: the OOM handler's victims, in DefaultOOMHandler's order (opportunistic before guaranteed).
    // Which ones it took depends on how far each container got on this machine's load; the order itself is
    // tested on the real kernel in elastic-memory.test.ts.
    if (withCgroups) {
      const nodeMemory = report.results['node-memory'] as unknown as { elastic: Array<{ victims: Array<{ id: string; exitStatus: number }> }> };
      const victims = nodeMemory.elastic[0]!.victims;
      expect(victims.length).toBeGreaterThan(0);
      for (const v of victims) expect([-108, -102]).toContain(v.exitStatus);
      const statuses = victims.map((v) => v.exitStatus);
      expect(statuses).toEqual([...statuses].sort((a, b) => a - b));
    }

    await until('everything the bench started to be gone', () => startedUnder(dir).length === 0, 10_000);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('nw-'))).toEqual([]);
    // And no cgroup: each bench daemon's hierarchy is emptied and removed.
    const own = ownV1Cgroups();
    if (own) for (const c of V1_CONTROLLERS) expect(fs.readdirSync(own[c]).filter((f) => f.startsWith('nodewarden-bench-')), c).toEqual([]);
  });

  it('interrupted half-way (SIGINT) with pm2 and containers running, it still stops them all', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const run = bench(dir, ['--quick', '--only', 'enforcement', '--out', path.join(dir, 'results.json')]);
    // Both tools up and the hungry program running under one of them.
    await until(
      'pm2 and a hungry program to be running',
      () => fs.readdirSync(dir).some((f) => f.startsWith('nw-bench-pm2-')) && startedUnder(dir).some((p) => p.includes('hungry.js')),
      60_000,
    );
    run.child.kill('SIGINT');
    const { code } = await run.exit;
    expect(code, run.output()).toBe(130);
    expect(run.output()).toContain('bench: SIGINT: stopping everything it started');
    await until('everything the bench started to be gone', () => startedUnder(dir).length === 0, 10_000);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('nw-'))).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'results.json'))).toBe(false);
  });
});
