/**
 * The ContainersMonitor end to end on the real /proc: real process trees that
 * grow past their limits are killed with YARN's status and message; calm ones
 * are left alone. Most tests drive the ticks by hand on a test clock, so
 * "first sample" and "second sample" are exact; one runs on the real timer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryKillMessage } from '../state-machines/monitor-diagnostics.js';
import { memoryLimits } from '../state-machines/limits.js';
import type { ProcessSample } from '../state-machines/process-tree.js';
import { ProcfsProcessTree } from '../src/procfs/procfs-process-tree.js';
import { hostFacts } from '../src/procfs/host-facts.js';
import { startDaemon, type TestDaemon } from './helpers/daemon.js';
import { isLive, liveMembers, procStat, waitFor } from './helpers/proc.js';

const HOG = path.resolve(import.meta.dirname, 'fixtures/hog.mjs');
const NODE = process.execPath;
const MB = 2 ** 20;

/** Monitor settings for hand-driven ticks: the timer never fires during a test. */
const MANUAL = { 'yarn.nodemanager.container-monitor.interval-ms': 3_600_000 };

let daemon: TestDaemon | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
});

function testClock() {
  let t = Date.now();
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A daemon whose monitor ticks when the test says, 3 s of test clock apart. */
function manualDaemon(settings: Record<string, string | number | boolean>) {
  const clock = testClock();
  daemon = startDaemon({ ...MANUAL, ...settings }, { clock });
  const d = daemon;
  return {
    d,
    tick() {
      clock.advance(3000);
      return d.node.monitor.tick();
    },
  };
}

async function launch(d: TestDaemon, id: string, command: string[], memoryMb = 64): Promise<number> {
  await d.node.launch({ id, command, resources: { memoryMb, vcores: 1 } });
  await d.until(id, 'RUNNING');
  return d.node.view(id).pid!;
}

/** The hog's pid once it holds its memory. */
async function hogReady(file: string): Promise<number> {
  return waitFor(() => (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : null), 15_000, `hog ${file}`);
}

/** Parse the dump rows of a kill message back into processes. */
function dumpRows(diagnostics: string): Array<Pick<ProcessSample, 'pid' | 'ppid' | 'vsize' | 'rssPages'>> {
  return diagnostics
    .split('\n')
    .filter((l) => /^\t\|- \d/.test(l))
    .map((l) => {
      const m = /^\t\|- (\d+) (\d+) (-?\d+) (-?\d+) \((.*)\) (\d+) (\d+) (\d+) (\d+) /.exec(l)!;
      return { pid: Number(m[1]), ppid: Number(m[2]), vsize: Number(m[8]), rssPages: Number(m[9]) };
    });
}

/** Dump rows without the figures that move between two reads (times, sizes). */
function stableColumns(dump: string): string[] {
  return dump
    .split('\n')
    .slice(1, -1)
    .map((l) => l.replace(/^(\t\|- \d+ \d+ -?\d+ -?\d+ \(.*\)) \d+ \d+ \d+ \d+ /, '$1 '));
}

/** The kill message as the container's diagnostics hold it: stamped, then whatever followed. */
function expectStamped(diagnostics: string, message: string): void {
  expect(diagnostics).toMatch(/\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] Container \[pid=/);
  expect(diagnostics).toContain(`] ${message}`);
}

describe('ContainersMonitor on real processes', () => {
  it('kills a tree that grows past its pmem limit with -104 and the exact message; memory held by a grandchild counts', async () => {
    // A long SIGKILL delay: the wrapper records the 143 once the TERM has ended its command; a SIGKILL
    // before that (200 ms by default, short on a busy machine) would make it 137. Nothing ignores the TERM.
    const { d, tick } = manualDaemon({ 'yarn.nodemanager.vmem-check-enabled': false, 'yarn.nodemanager.sleep-delay-before-sigkill.ms': 10_000 });
    const ready = path.join(d.dir, 'hog.ready');
    // wrapper → bash → node: the memory is held two levels below the container's pid. About 250 MB, over
    // the 160 MB limit and under the kernel's backstop at twice it (cgroups): the polling monitor decides.
    const pid = await launch(d, 'c-pmem', ['bash', '-c', `"${NODE}" "${HOG}" 200 "${ready}" & wait`], 128);
    const hog = await hogReady(ready);
    expect(procStat(procStat(hog)!.ppid)!.ppid).toBe(pid);

    expect(tick()).toEqual([]); // first sample: never a kill
    expect(d.node.view('c-pmem').state).toBe('RUNNING');
    const library = new ProcfsProcessTree(String(pid));
    library.update();
    const libraryRows = stableColumns(library.processTreeDump());
    const [kill] = tick();
    expect(kill).toMatchObject({ id: 'c-pmem', exitStatus: -104 });
    await d.until('c-pmem', 'DONE');

    const view = d.node.view('c-pmem');
    expect(view.exitStatus).toBe(-104);
    expect(view.exitCode).toBe(143);
    const message = kill!.diagnostics;
    expectStamped(view.diagnostics, message);
    // The message is YARN's, computed from the very numbers in its own dump.
    const rows = dumpRows(message);
    expect(rows.map((r) => r.pid)).toContain(hog);
    expect(rows[0]!.pid).toBe(pid);
    const pmem = rows.reduce((s, r) => s + r.rssPages, 0) * hostFacts().pageSize;
    const vmem = rows.reduce((s, r) => s + r.vsize, 0);
    const limits = memoryLimits(128 + 32, 2.1);
    const dump = message.slice(message.indexOf('\t|- PID'));
    expect(message).toBe(
      memoryKillMessage('physical', pid, 'c-pmem', { pmemBytes: pmem, pmemLimit: limits.pmemBytes, vmemBytes: vmem, vmemLimit: limits.vmemBytes }, pmem - limits.pmemBytes, dump),
    );
    expect(message).toMatch(/^Container \[pid=\d+,containerID=c-pmem\] is running \d+B beyond the 'PHYSICAL' memory limit\. Current usage: [\d.]+ MB of 160 MB physical memory used; [\d.]+ [MG]B of 336 MB virtual memory used\. Killing container\.\nDump of the process-tree for c-pmem :\n\t\|- PID PPID PGRPID SESSID CMD_NAME /);
    // The dump's rows are the tree's processes, names and fresh command lines, as the library reads them.
    expect(stableColumns(dump)).toEqual(libraryRows);
    expect(pmem).toBeGreaterThan(200 * MB);
    expect(isLive(hog)).toBe(false);
  });

  it('counts an orphan re-parented to init and kills it with its container', async () => {
    const { d, tick } = manualDaemon({ 'yarn.nodemanager.vmem-check-enabled': false });
    const ready = path.join(d.dir, 'orphan.ready');
    // The subshell starts the hog and exits at once: init adopts the hog; it keeps the container's session.
    // Within the kernel's backstop (twice the 160 MB limit, with cgroups), as above.
    const pid = await launch(d, 'c-orphan', ['bash', '-c', `( "${NODE}" "${HOG}" 200 "${ready}" & ) ; exec sleep 1000`], 128);
    const hog = await hogReady(ready);
    const stat = procStat(hog)!;
    expect(stat.ppid).toBe(1);
    expect(stat.session).toBe(pid);

    tick();
    const kills = tick();
    expect(kills.map((k) => k.exitStatus)).toEqual([-104]);
    expect(dumpRows(kills[0]!.diagnostics).map((r) => r.pid)).toContain(hog);
    await d.until('c-orphan', 'DONE');
    await waitFor(() => !isLive(hog), 15_000, 'the orphan to be gone');
  });

  it('leaves a calm container alone for many ticks, recording its usage', async () => {
    const { d, tick } = manualDaemon({});
    const pid = await launch(d, 'c-calm', ['sleep', '1000'], 128);
    // RUNNING comes with the spawn; the wrapper then forks mv and a subshell before the sleep
    // runs. Wait for the tree the figures below describe: the wrapper and its sleep.
    const comm = (p: number) => {
      try {
        return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      } catch {
        return null;
      }
    };
    await waitFor(() => {
      const members = liveMembers(pid);
      return members.length === 2 && members.some((m) => m !== pid && comm(m) === 'sleep');
    }, 15_000, 'the wrapper and its sleep');
    for (let i = 0; i < 20; i++) expect(tick()).toEqual([]);
    const view = d.node.view('c-calm');
    expect(view.state).toBe('RUNNING');
    expect(view.usage).not.toBeNull();
    expect(view.usage!.pmemBytes).toBeGreaterThan(0);
    expect(view.usage!.pmemBytes).toBeLessThan(view.limits.pmemBytes);
    expect(view.usage!.cpuPercent).toBeGreaterThanOrEqual(0);
    const [stats] = d.node.statistics();
    expect(stats).toMatchObject({
      executor_id: 'c-calm',
      executor_name: 'sleep 1000',
      framework_id: 'default',
      source: 'c-calm',
      statistics: { cpus_limit: 1.1, mem_limit_bytes: (128 + 32) * MB, processes: 2, threads: 2 },
    });
    if (d.node.containment.mode === 'process-group') {
      expect(stats!.statistics.mem_rss_bytes).toBe(view.usage!.pmemBytes);
    } else {
      // From the cgroup's memory.stat (total_rss: anonymous memory, no file pages), as Mesos reports it;
      // test/containment.test.ts holds it to the cgroup's files.
      expect(stats!.statistics.mem_rss_bytes).toBeGreaterThan(0);
      expect(stats!.statistics.mem_rss_bytes).toBeLessThanOrEqual(stats!.statistics.mem_total_bytes!);
    }
    expect(d.node.utilization().pmemMb).toBe(Math.floor(view.usage!.pmemBytes / MB));
  });

  it('with the vmem check on, kills a process with a large address space with -103', async () => {
    const { d, tick } = manualDaemon({ 'yarn.nodemanager.vmem-check-enabled': true, 'yarn.nodemanager.pmem-check-enabled': false });
    const ready = path.join(d.dir, 'vmem.ready');
    // Node reserves far more address space than it touches: ~0.7 GB against a 201.6 MB vmem limit.
    await launch(d, 'c-vmem', [NODE, HOG, '0', ready]);
    await hogReady(ready);
    expect(tick()).toEqual([]);
    const [kill] = tick();
    expect(kill!.exitStatus).toBe(-103);
    await d.until('c-vmem', 'DONE');
    const view = d.node.view('c-vmem');
    expect(view.exitStatus).toBe(-103);
    expectStamped(view.diagnostics, kill!.diagnostics);
    expect(kill!.diagnostics).toMatch(/^Container \[pid=\d+,containerID=c-vmem\] is running \d+B beyond the 'VIRTUAL' memory limit\. Current usage: [\d.]+ MB of 96 MB physical memory used; [\d.]+ [MG]B of 201\.6 MB virtual memory used\. Killing container\.\n/);
  });

  it('the log monitor kills a container that logs past the limit with -109', async () => {
    const { d } = manualDaemon({
      'yarn.nodemanager.container-log-monitor.enable': true,
      'yarn.nodemanager.container-log-monitor.interval-ms': 3_600_000,
      'yarn.nodemanager.container-log-monitor.dir-size-limit-bytes': 100_000,
    });
    const pid = await launch(d, 'c-logs', ['bash', '-c', 'head -c 150000 /dev/zero; exec sleep 1000']);
    const logDir = d.node.view('c-logs').logDir;
    await waitFor(() => fs.existsSync(path.join(logDir, 'stdout')) && fs.statSync(path.join(logDir, 'stdout')).size === 150_000, 15_000, 'the output');
    const size = fs.statSync(path.join(logDir, 'stdout')).size + fs.statSync(path.join(logDir, 'stderr')).size;
    const [kill] = d.node.monitor.logTick();
    expect(kill!.exitStatus).toBe(-109);
    expect(kill!.diagnostics).toBe(
      `Container [pid=${pid},containerID=c-logs] is logging beyond the container single log directory limit.\n` +
        `Limit: 100000 Log Directory Size: ${size} Log Directory: ${logDir}\nKilling container.\n`,
    );
    await d.until('c-logs', 'DONE');
    const view = d.node.view('c-logs');
    expect(view.exitStatus).toBe(-109);
    expectStamped(view.diagnostics, kill!.diagnostics);
  });

  it("keeps a finished container's usage for the unregister delay, and none when container metrics are off", async () => {
    for (const metrics of [true, false]) {
      const { d, tick } = manualDaemon({ 'yarn.nodemanager.container-metrics.enable': metrics, 'yarn.nodemanager.container-metrics.unregister-delay-ms': 600_000 });
      await launch(d, 'c-done', ['sleep', '1000']);
      tick();
      tick();
      const usage = d.node.view('c-done').usage;
      expect(usage).not.toBeNull();
      // The recorded usage is kept; a cgroup's own figures are read live, and go with the cgroup.
      const { cgroup: _live, ...recorded } = usage!;
      await d.node.kill('c-done');
      await d.until('c-done', 'DONE');
      expect(d.node.view('c-done').usage).toEqual(metrics ? recorded : null);
      await d.stop();
      daemon = undefined;
    }
  });

  it('an interval of 0 turns a monitor off instead of spinning', () => {
    daemon = startDaemon({
      'yarn.nodemanager.container-monitor.interval-ms': 0,
      'yarn.nodemanager.container-log-monitor.enable': true,
      'yarn.nodemanager.container-log-monitor.interval-ms': 0,
    });
    expect(daemon.node.monitor.running).toEqual({ monitor: false, logMonitor: false });
  });

  it('on its own timer: kills a runaway, leaves its calm neighbour running', async () => {
    daemon = startDaemon({ 'yarn.nodemanager.container-monitor.interval-ms': 150, 'yarn.nodemanager.vmem-check-enabled': false });
    const d = daemon;
    const ready = path.join(d.dir, 'timer.ready');
    await launch(d, 'calm', ['sleep', '1000']);
    await launch(d, 'runaway', [NODE, HOG, '200', ready]);
    await d.until('runaway', 'DONE', 20_000);
    expect(d.node.view('runaway').exitStatus).toBe(-104);
    const seen = d.node.monitor.tickCount();
    await waitFor(() => d.node.monitor.tickCount() >= seen + 5, 10_000, 'five more ticks');
    expect(d.node.view('calm').state).toBe('RUNNING');
    expect(d.node.view('calm').exitStatus).toBe(-1000);
  });
});
