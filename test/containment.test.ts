/**
 * Containers in cgroups on the real kernel (cgroup v1, root, as on CI),
 * through the daemon: nodewarden.cgroups.enabled=true, a hierarchy of the
 * test's own beneath its own cgroups, removed after each test with whatever
 * it holds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { CgroupLimits } from '../src/containment/cgroup-driver.js';
import { cgroupLimits, hierarchyCpuQuota, overallCpuLimits } from '../src/containment/cgroup-limits.js';
import { resolveConfig } from '../src/config/load.js';
import type { Containment } from '../src/containment/containment.js';
import { V1_CONTROLLERS } from '../src/containment/detect.js';
import { collectMembers } from '../state-machines/process-tree.js';
import { exportLines } from '../src/journal/export.js';
import { replayLines } from '../src/journal/replay.js';
import { parseRecord } from '../src/journal/validate.js';
import { launchScript } from '../src/launcher/launch-script.js';
import { LaunchError, ProcessLauncher } from '../src/launcher/process-launcher.js';
import { startDaemon, type TestDaemon } from './helpers/daemon.js';
import { DaemonDir } from './helpers/daemon-process.js';
import { ApiMetrics } from '../src/server/metrics.js';
import { HIERARCHY_KEY, ownV1Cgroups, TestCgroups } from './helpers/cgroups.js';
import { isLive, liveMembers, procStat, waitFor, waitForAsync } from './helpers/proc.js';

const own = ownV1Cgroups();
const HOG = path.resolve(import.meta.dirname, 'fixtures/hog.mjs');
const LIMITS: CgroupLimits = { memoryLimitBytes: null, memorySoftLimitBytes: null, swappiness: null, cpuShares: 1024, cpuQuota: null, pidsMax: null };

describe.runIf(own !== null)('containers in cgroups (v1, real kernel)', () => {
  let d: TestDaemon | undefined;
  let cgroups: TestCgroups | undefined;
  afterEach(async () => {
    try {
      await d?.stop();
    } finally {
      await cgroups?.cleanup();
      d = undefined;
      cgroups = undefined;
    }
  });

  /** A daemon with cgroups on, its monitor's timer off unless `settings` say otherwise. Its log lines go to `logged`. */
  function daemon(settings: Record<string, string | number | boolean> = {}, logged: string[] = []): TestDaemon {
    cgroups = new TestCgroups(own!);
    const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
    d = startDaemon(
      {
        'nodewarden.cgroups.enabled': 'true',
        'yarn.nodemanager.linux-container-executor.cgroups.hierarchy': cgroups.hierarchy,
        'yarn.nodemanager.container-monitor.enabled': false,
        'yarn.nodemanager.sleep-delay-before-sigkill.ms': 10_000,
        ...settings,
      },
      { log },
    );
    return d;
  }

  /** The highest anonymous memory (RssAnon, what the cgroup charges) of any member, from /proc every 2 ms, until the container is DONE. */
  async function anonPeakUntilDone(d: TestDaemon, id: string): Promise<number> {
    let peak = 0;
    const sampling = setInterval(() => {
      for (const pid of cgroups!.driver.members(id)) {
        try {
          const m = /^RssAnon:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
          if (m) peak = Math.max(peak, Number(m[1]) * 1024);
        } catch {
          // gone
        }
      }
    }, 2);
    try {
      await d.until(id, 'DONE', 30_000);
    } finally {
      clearInterval(sampling);
    }
    return peak;
  }

  /** A Node program allocating 1.5 GB in 8 MB steps, each touched, as fast as it can. */
  const ALLOCATE = 'const h = []; for (let i = 0; i < 192; i++) h.push(Buffer.alloc(8 << 20, 1)); setInterval(() => h.length, 1 << 30);';

  /** The monitor on, every `intervalMs`, physical memory only (Node reserves far more address space than it uses). */
  const monitored = (intervalMs: number) => ({
    'yarn.nodemanager.container-monitor.enabled': true,
    'yarn.nodemanager.container-monitor.interval-ms': intervalMs,
    'yarn.nodemanager.vmem-check-enabled': false,
  });

  const request = (id: string, command: string[], extra: Record<string, unknown> = {}) => ({ id, command, resources: { memoryMb: 128, vcores: 2 }, ...extra });
  const file = (d: TestDaemon, id: string, name: string) => path.join(d.node.view(id).workDir, name);
  const dirs = (id: string) => V1_CONTROLLERS.map((c) => cgroups!.dir(c, id));

  it('the start log and the node report say cgroup-v1, and where container cgroups go: beneath its own cgroup, in the hierarchy', () => {
    const logged: string[] = [];
    const node = daemon({}, logged).node.nodeReport();
    const where = V1_CONTROLLERS.map((c) => path.join(own![c], cgroups!.hierarchy)).sort();
    expect(node.containment).toEqual({ mode: 'cgroup-v1', cgroups: expect.any(Array), missing: [] });
    expect(node.containment.cgroups.sort()).toEqual(where);
    const started = logged.map((l) => JSON.parse(l)).find((l) => l.msg === 'nodewarden started');
    expect(started).toMatchObject({ containment: 'cgroup-v1' });
    expect(started.cgroups.sort()).toEqual(where);
  });

  it('the command is in its cgroup from its first instruction, with the CPU shares of its vcores and the pids limit', async () => {
    const d = daemon();
    await d.node.launch(request('placed', ['sh', '-c', 'cat /proc/self/cgroup > where; exec sleep 1000']));
    await d.until('placed', 'RUNNING');
    await waitFor(() => fs.existsSync(file(d, 'placed', 'where')) && fs.readFileSync(file(d, 'placed', 'where'), 'utf8').includes('freezer'), 15_000, 'the command to say where it is');
    const where = fs.readFileSync(file(d, 'placed', 'where'), 'utf8');
    expect(where).toMatch(new RegExp(`^\\d+:freezer:.*/${cgroups!.hierarchy}/placed$`, 'm'));
    expect(where).toMatch(new RegExp(`^\\d+:pids:.*/${cgroups!.hierarchy}/placed$`, 'm'));
    expect(fs.readFileSync(path.join(cgroups!.dir('cpu', 'placed'), 'cpu.shares'), 'utf8').trim()).toBe('2048');
    expect(fs.readFileSync(path.join(cgroups!.dir('pids', 'placed'), 'pids.max'), 'utf8').trim()).toBe('4096');
    expect(cgroups!.driver.members('placed')).toContain(d.node.view('placed').pid);
  });

  it('a setsid escapee dies with its container; DONE leaves no cgroup behind', async () => {
    const d = daemon();
    await d.node.launch(request('escape', ['sh', '-c', 'setsid -f sleep 1000; echo started > started; exec sleep 1000']));
    await d.until('escape', 'RUNNING');
    await waitFor(() => fs.existsSync(file(d, 'escape', 'started')) && cgroups!.driver.members('escape').length === 3, 15_000, 'wrapper, sleep and escapee');
    const pid = d.node.view('escape').pid!;
    const escapee = cgroups!.driver.members('escape').find((p) => procStat(p)?.session !== pid)!;
    expect(escapee).toBeDefined();

    await d.node.kill('escape');
    await d.until('escape', 'DONE');
    expect(d.node.view('escape').exitStatus).toBe(-105);
    expect(procStat(escapee)?.state ?? 'gone').toMatch(/^(gone|Z)$/);
    await waitFor(() => dirs('escape').every((dir) => !fs.existsSync(dir)), 15_000, 'the cgroup to be removed');
  });

  it('pause freezes every member, an escaped busy loop included; resume thaws them; a kill of a paused container ends it', async () => {
    const d = daemon();
    await d.node.launch(request('loop', ['sh', '-c', 'setsid -f sh -c "while :; do :; done"; echo started > started; exec sleep 1000']));
    await d.until('loop', 'RUNNING');
    await waitFor(() => fs.existsSync(file(d, 'loop', 'started')) && cgroups!.driver.members('loop').length === 3, 15_000, 'wrapper, sleep and the loop');
    await d.node.pause('loop');
    await d.until('loop', 'PAUSED');
    await waitFor(() => cgroups!.driver.members('loop').every((p) => procStat(p)?.state === 'D'), 15_000, 'every member frozen');
    await d.node.resume('loop');
    await d.until('loop', 'RUNNING');
    await waitFor(() => cgroups!.driver.members('loop').every((p) => procStat(p)?.state !== 'D'), 15_000, 'every member thawed');
    await d.node.pause('loop');
    await d.until('loop', 'PAUSED');
    await d.node.kill('loop');
    await d.until('loop', 'DONE');
    expect(cgroups!.driver.members('loop')).toEqual([]);
    await waitFor(() => dirs('loop').every((dir) => !fs.existsSync(dir)), 15_000, 'the cgroup to be removed');
  });

  it('an escapee\'s memory is the container\'s: the monitor counts its cgroup\'s members, kills it -104 and names the escapee in the dump', async () => {
    const d = daemon(monitored(100));
    const ready = path.join(d.dir, 'hog.ready'); // the hog is killed before it is ready: only its memory matters
    // The hog leaves the wrapper's session and group at once; 200 MB against a 128 + 32 MB limit: over
    // it for the monitor's aged rule, and under the kernel's backstop at twice it, so the monitor decides.
    await d.node.launch(request('hidden', ['sh', '-c', `setsid -f "${process.execPath}" "${HOG}" 200 "${ready}"; exec sleep 1000`], { resources: { memoryMb: 128, vcores: 1 } }));
    await d.until('hidden', 'DONE', 30_000);
    const done = d.node.view('hidden');
    expect(done.exitStatus).toBe(-104);
    expect(done.diagnostics).toMatch(/is running \d+B beyond the 'PHYSICAL' memory limit/);
    // Its row in the dump: its own session (out of the wrapper's), its command line.
    const rows = done.diagnostics.split('\n').map((l) => l.replace(/^\s*\|-\s*/, '').split(/\s+/));
    const row = rows.find((f) => f[4] === '(node)' && f.join(' ').includes(HOG));
    expect(row, done.diagnostics).toBeDefined();
    const [pid, , , session] = row!.map(Number);
    expect(session).toBe(pid);
    expect(session).not.toBe(done.pid);
    expect(procStat(pid!)?.state ?? 'gone').toMatch(/^(gone|Z)$/);
  }, 60_000);

  it('Mesos statistics come from the cgroup\'s own files: memory.stat, usage, cpuacct.stat; the counts are its members', async () => {
    const d = daemon();
    // The monitor's timer is off: one tick by hand gives the members; memory and CPU are read at the request.
    const ready = path.join(d.dir, 'hog.ready');
    await d.node.launch(request('stats', ['sh', '-c', `"${process.execPath}" "${HOG}" 40 "${ready}"; exit 0`], { resources: { memoryMb: 512, vcores: 1 } }));
    await waitFor(() => fs.existsSync(ready), 15_000, 'the hog to hold its memory');
    d.node.monitor.tick();
    // A usage is recorded once a later tick has measured CPU against the first.
    await waitFor(() => (d.node.monitor.tick(), d.node.view('stats').usage), 15_000, 'a recorded usage');
    const memory = (file: string) => fs.readFileSync(path.join(cgroups!.dir('memory', 'stats'), file), 'utf8');
    const stat = (text: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)![1]);
    // A moment when the cgroup's files did not change around the request: then they must agree exactly.
    const { entry, view, files } = await waitFor(() => {
      const before = memory('memory.stat') + memory('memory.usage_in_bytes');
      const cpuBefore = fs.readFileSync(path.join(cgroups!.dir('cpuacct', 'stats'), 'cpuacct.stat'), 'utf8');
      const [e] = d.node.statistics();
      const v = d.node.view('stats');
      const after = memory('memory.stat') + memory('memory.usage_in_bytes');
      const cpuAfter = fs.readFileSync(path.join(cgroups!.dir('cpuacct', 'stats'), 'cpuacct.stat'), 'utf8');
      return before === after && cpuBefore === cpuAfter ? { entry: e!, view: v, files: { memoryStat: memory('memory.stat'), usage: Number(memory('memory.usage_in_bytes')), cpu: cpuAfter } } : null;
    }, 15_000, 'a stable moment of the cgroup');
    // The view (API, show) gives the same figures as the statistics.
    expect(view.usage!.cgroup).toEqual({ rssBytes: entry.statistics.mem_rss_bytes, cacheBytes: entry.statistics.mem_cache_bytes, totalBytes: entry.statistics.mem_total_bytes, swapBytes: entry.statistics.mem_swap_bytes });
    // Not the list: its views carry the monitor's figures only (no three reads per container at each request).
    expect(d.node.list().find((v) => v.id === 'stats')!.usage).not.toHaveProperty('cgroup');
    // And /metrics, at a moment of its own.
    const metrics = new ApiMetrics(d.node);
    await waitForAsync(async () => {
      const before = memory('memory.usage_in_bytes') + memory('memory.stat');
      const text = await metrics.text();
      const after = memory('memory.usage_in_bytes') + memory('memory.stat');
      if (before !== after) return null;
      expect(text).toContain(`nodewarden_container_memory_usage_bytes{container="stats"} ${Number(memory('memory.usage_in_bytes'))}\n`);
      expect(text).toContain(`nodewarden_container_memory_rss_bytes{container="stats"} ${stat(memory('memory.stat'), 'total_rss')}\n`);
      expect(text).toContain(`nodewarden_container_memory_cache_bytes{container="stats"} ${stat(memory('memory.stat'), 'total_cache')}\n`);
      return true;
    }, 15_000, 'a stable moment for /metrics');
    const s = entry.statistics;
    expect(s.mem_rss_bytes).toBe(stat(files.memoryStat, 'total_rss'));
    expect(s.mem_rss_bytes).toBeGreaterThan(40 * 2 ** 20);
    expect(s.mem_total_bytes).toBe(files.usage);
    expect(s.mem_cache_bytes).toBe(stat(files.memoryStat, 'total_cache'));
    expect(s.mem_mapped_file_bytes).toBe(stat(files.memoryStat, 'total_mapped_file'));
    expect(s.mem_swap_bytes).toBe(stat(files.memoryStat, 'total_swap'));
    expect(s.cpus_user_time_secs).toBe(stat(files.cpu, 'user') / 100);
    expect(s.cpus_system_time_secs).toBe(stat(files.cpu, 'system') / 100);
    expect(s.processes).toBe(cgroups!.driver.members('stats').length);
    expect(s.cpus_nr_periods).toBeUndefined(); // no CFS quota, no throttling figures
    expect(s.mem_limit_bytes).toBe((512 + 32) * 2 ** 20); // the request and allowance, as before: not a cgroup file
  });

  it('the kernel holds a fast allocator to twice its limit between ticks; the container ends -104 with YARN\'s PHYSICAL message, journaled and replayed', async () => {
    // A tick a minute: whatever stops the allocator in this test is the kernel, not the monitor's polling.
    const d = daemon(monitored(60_000));
    const limit = (128 + 32) * 2 ** 20; // request + allowance
    await d.node.launch(request('runaway', [process.execPath, '-e', ALLOCATE], { resources: { memoryMb: 128, vcores: 1 } }));
    const peak = await anonPeakUntilDone(d, 'runaway');
    expect(peak).toBeGreaterThan(limit); // it did run past its limit…
    expect(peak).toBeLessThanOrEqual(2 * limit); // …and the kernel stopped it at twice that
    const done = d.node.view('runaway');
    expect(done.exitStatus).toBe(-104);
    expect(done.diagnostics).toMatch(
      new RegExp(`Container \\[pid=${done.pid},containerID=runaway\\] is running \\d+B beyond the 'PHYSICAL' memory limit\\. Current usage: [\\d.]+ MB of 160 MB physical memory used`),
    );
    expect(done.diagnostics).toContain(`The kernel's OOM killer stopped it once at its cgroup memory limit of ${2 * limit}B.`);
    await waitFor(() => dirs('runaway').every((dir) => !fs.existsSync(dir)), 15_000, 'the cgroup to be removed');

    // The OOM notice is an input: in the journal with the tick it came with, and replay decides the same kill.
    await d.node.durable();
    const lines = await exportLines(d.dbPath);
    expect(lines.map((l) => JSON.parse(l)).filter((r) => r.type === 'tick' && r.oom?.runaway)).toHaveLength(1);
    const replayed = replayLines(lines, { check: true });
    expect(replayed.divergence).toBeNull();
    expect(replayed.kills).toBe(1);
  }, 60_000);

  it('YARN strict memory: the hard limit is the limit itself, soft limit and swappiness by execution type; an allocator stops at 1x, -104', async () => {
    // Cgroups required: only then are the polling checks skipped, and the kernel alone decides.
    const d = daemon({ ...monitored(60_000), 'yarn.nodemanager.resource.memory.enabled': true });
    expect(d.node.monitor.settings).toMatchObject({ pmemCheckEnabled: false, vmemCheckEnabled: false });
    const limit = (128 + 32) * 2 ** 20;
    const memoryFile = (id: string, file: string) => Number(fs.readFileSync(path.join(cgroups!.dir('memory', id), file), 'utf8'));
    await d.node.launch(request('best-effort', ['sleep', '1000'], { resources: { memoryMb: 128, vcores: 1 }, executionType: 'OPPORTUNISTIC' }));
    await d.until('best-effort', 'RUNNING');
    expect([memoryFile('best-effort', 'memory.limit_in_bytes'), memoryFile('best-effort', 'memory.soft_limit_in_bytes'), memoryFile('best-effort', 'memory.swappiness')]).toEqual([limit, 0, 100]);
    expect(fs.readFileSync(path.join(cgroups!.dir('cpu', 'best-effort'), 'cpu.shares'), 'utf8').trim()).toBe('2');

    await d.node.launch(request('strict', [process.execPath, '-e', ALLOCATE], { resources: { memoryMb: 128, vcores: 1 } }));
    await d.until('strict', 'RUNNING');
    // Page-aligned by the kernel: 90 % of 160 MB rounds down to a page.
    const page = 4096;
    expect(memoryFile('strict', 'memory.limit_in_bytes')).toBe(limit);
    expect(memoryFile('strict', 'memory.soft_limit_in_bytes')).toBe(Math.floor((limit * 0.9) / page) * page);
    expect(memoryFile('strict', 'memory.swappiness')).toBe(0);
    const peak = await anonPeakUntilDone(d, 'strict');
    expect(peak).toBeLessThanOrEqual(limit);
    const done = d.node.view('strict');
    expect(done.exitStatus).toBe(-104);
    expect(done.diagnostics).toMatch(/is running \d+B beyond the 'PHYSICAL' memory limit\. Current usage: [\d.]+ MB of 160 MB physical memory used/);
    expect(done.diagnostics).toContain(`The kernel's OOM killer stopped it once at its cgroup memory limit of ${limit}B.`);
  }, 60_000);

  it('strict-resource-usage: a busy loop gets its CFS quota and is throttled; the statistics say so from cpu.stat', async () => {
    const d = daemon({ 'yarn.nodemanager.linux-container-executor.cgroups.strict-resource-usage': true, 'yarn.nodemanager.resource.cpu-vcores': 8 });
    await d.node.launch(request('busy', ['sh', '-c', 'while :; do :; done'], { resources: { memoryMb: 128, vcores: 1 } }));
    await d.until('busy', 'RUNNING');
    const cpu = (file: string) => fs.readFileSync(path.join(cgroups!.dir('cpu', 'busy'), file), 'utf8').trim();
    const expected = overallCpuLimits((1 * os.cpus().length) / 8)!;
    expect([Number(cpu('cpu.cfs_quota_us')), Number(cpu('cpu.cfs_period_us'))]).toEqual([expected.quotaUs, expected.periodUs]);
    // Held to its share: the kernel throttles it, period after period.
    await waitFor(() => /^nr_throttled [1-9]/m.test(cpu('cpu.stat')), 15_000, 'the loop to be throttled');
    d.node.monitor.tick();
    const [entry] = d.node.statistics();
    expect(entry!.statistics.cpus_nr_throttled).toBeGreaterThan(0);
    expect(entry!.statistics.cpus_nr_periods).toBeGreaterThanOrEqual(entry!.statistics.cpus_nr_throttled!);
    expect(entry!.statistics.cpus_throttled_time_secs).toBeGreaterThan(0);
  });

  it('percentage-physical-cpu-limit under 100: the hierarchy gets YARN\'s node-level quota above every container; at 100 one left before is lifted', async () => {
    const hierarchyCpu = () => path.join(own!.cpu, cgroups!.hierarchy);
    const quota = () => [fs.readFileSync(path.join(hierarchyCpu(), 'cpu.cfs_quota_us'), 'utf8').trim(), fs.readFileSync(path.join(hierarchyCpu(), 'cpu.cfs_period_us'), 'utf8').trim()];
    daemon({ 'yarn.nodemanager.resource.percentage-physical-cpu-limit': 50 });
    const expected = overallCpuLimits(os.cpus().length / 2)!;
    expect(quota()).toEqual([String(expected.quotaUs), String(expected.periodUs)]);
    await d!.stop();
    d = undefined;
    // A quota from an earlier configuration, on the hierarchy (ours) while no daemon runs.
    fs.mkdirSync(hierarchyCpu(), { recursive: true });
    fs.writeFileSync(path.join(hierarchyCpu(), 'cpu.cfs_quota_us'), '50000');
    const hierarchy = cgroups!.hierarchy;
    d = startDaemon({ 'nodewarden.cgroups.enabled': 'true', 'yarn.nodemanager.linux-container-executor.cgroups.hierarchy': hierarchy });
    expect(quota()[0]).toBe('-1');
  });

  it('a container that ends by itself: its cgroup goes once it is DONE', async () => {
    const d = daemon();
    await d.node.launch(request('brief', ['sh', '-c', 'exit 3']));
    await d.until('brief', 'DONE');
    expect(d.node.view('brief').exitCode).toBe(3);
    await waitFor(() => dirs('brief').every((dir) => !fs.existsSync(dir)), 15_000, 'the cgroup to be removed');
  });
});

describe.runIf(own !== null)('cgroups across a daemon restart (v1, real kernel)', () => {
  let dd: DaemonDir | undefined;
  let cgroups: TestCgroups | undefined;
  let elsewhere: TestCgroups | undefined;
  const strays: ChildProcess[] = [];
  afterEach(async () => {
    try {
      await dd?.cleanup();
    } finally {
      for (const p of strays.splice(0)) p.kill('SIGKILL');
      await cgroups?.cleanup();
      await elsewhere?.cleanup();
      dd = undefined;
      cgroups = undefined;
      elsewhere = undefined;
    }
  });

  /** The settings that start a daemon with cgroups in the test's own hierarchy. */
  const withCgroups = (c: TestCgroups): Record<string, string | number | boolean> => ({ 'nodewarden.cgroups.enabled': 'true', [HIERARCHY_KEY]: c.hierarchy });

  it('a running container keeps its cgroup, escapee and all, and the new daemon kills it whole; a cgroup nobody owns is emptied and removed at start', async () => {
    cgroups = new TestCgroups(own!);
    dd = new DaemonDir();
    const set = withCgroups(cgroups);
    await dd.start({ set });
    await dd.launch('keeper', ['sh', '-c', 'setsid -f sleep 1000; echo $$ >> runs; exec sleep 1000']);
    const running = await dd.until('keeper', 'RUNNING');
    await waitFor(() => dd!.runs('keeper') === 1 && cgroups!.driver.members('keeper').length === 3, 15_000, 'wrapper, sleep and escapee');
    await dd.durable('keeper');
    await dd.crash();

    // What a crash between a cgroup's creation and its wrapper's placement, or a container forgotten since, leaves.
    cgroups.driver.create('stray', LIMITS);
    const stray = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
    strays.push(stray);
    cgroups.driver.place('stray', stray.pid!);

    await dd.start({ set });
    await waitFor(() => !cgroups!.driver.list().includes('stray'), 15_000, 'the stray cgroup to be emptied and removed');
    await waitFor(() => !isLive(stray.pid!), 15_000, 'the stray process to be killed');
    expect((await dd.until('keeper', 'RUNNING')).pid).toBe(running.pid);
    expect(cgroups.driver.members('keeper'), `${JSON.stringify(await dd.view('keeper'))}\n${dd.current!.output()}`).toHaveLength(3);

    await dd.current!.client.post('/v1/containers/keeper/kill');
    await dd.until('keeper', 'DONE');
    expect(cgroups.driver.members('keeper')).toEqual([]);
    await waitFor(() => !cgroups!.driver.list().includes('keeper'), 15_000, 'the keeper\'s cgroup to be removed');
    expect(dd.runs('keeper')).toBe(1);
  }, 60_000);

  it('no cgroup is left after a crash and restart, whatever state its containers were in: an escapee, a fork bomb at pids.max, one holding memory, one paused', async () => {
    cgroups = new TestCgroups(own!);
    dd = new DaemonDir();
    const set = {
      ...withCgroups(cgroups),
      'nodewarden.cgroups.pids-max': 16,
      'yarn.nodemanager.vmem-check-enabled': false,
    };
    await dd.start({ set });
    const hold = `"${process.execPath}" -e 'const b = Buffer.alloc(40 << 20, 1); setInterval(() => b.length, 1 << 30)'`;
    const cases: Record<string, string[]> = {
      escapee: ['sh', '-c', 'setsid -f sleep 1000; exec sleep 1000'],
      bomb: ['bash', '-c', 'while :; do sleep 1000 & done 2>/dev/null; sleep 1000'],
      holder: ['sh', '-c', hold],
      paused: ['sh', '-c', 'while :; do :; done'],
    };
    for (const [id, command] of Object.entries(cases)) await dd.launch(id, command, { resources: { memoryMb: 256, vcores: 1 } });
    for (const id of Object.keys(cases)) await dd.until(id, 'RUNNING');
    await waitFor(() => cgroups!.driver.members('bomb').length === 16 && cgroups!.driver.members('escapee').length === 3, 15_000, 'the bomb at pids.max and the escapee out');
    await dd.current!.client.post('/v1/containers/paused/pause');
    await dd.until('paused', 'PAUSED');
    await dd.durable('paused');
    await dd.crash();

    await dd.start({ set });
    for (const id of Object.keys(cases)) expect((await dd.view(id)).state, id).toBe(id === 'paused' ? 'PAUSED' : 'RUNNING');
    for (const id of Object.keys(cases)) await dd.current!.client.post(`/v1/containers/${id}/kill`);
    for (const id of Object.keys(cases)) await dd.until(id, 'DONE', 30_000);
    await waitFor(() => cgroups!.driver.list().length === 0, 15_000, 'every container cgroup to be removed');
  }, 90_000);

  it('a container launched under process groups and reacquired once cgroups are in force (an upgrade) is still held by its group: kept running, then killed whole', async () => {
    cgroups = new TestCgroups(own!);
    dd = new DaemonDir();
    const set = withCgroups(cgroups);
    await dd.start({ set: { ...set, 'nodewarden.cgroups.enabled': 'false' } });
    await dd.launch('older', ['sh', '-c', 'sleep 1000 & exec sleep 1001']);
    const running = await dd.until('older', 'RUNNING');
    await waitFor(() => liveMembers(running.pid!).length === 3, 15_000, 'the wrapper and its two sleeps');
    const members = liveMembers(running.pid!);
    await dd.durable('older');
    await dd.crash();

    await dd.start({ set });
    expect((await dd.until('older', 'RUNNING')).pid).toBe(running.pid);
    expect(cgroups.driver.list()).toEqual([]); // no cgroup made for it after the fact
    await dd.current!.client.post('/v1/containers/older/kill');
    await dd.until('older', 'DONE');
    await waitFor(() => members.every((pid) => !isLive(pid)), 15_000, 'every process of its group to be gone');
  }, 60_000);

  it('a container that ended while the daemon was down: what is left in its cgroup (an escapee) is killed, and the cgroup removed', async () => {
    cgroups = new TestCgroups(own!);
    dd = new DaemonDir();
    const set = withCgroups(cgroups);
    await dd.start({ set });
    await dd.launch('ended', ['sh', '-c', 'setsid -f sleep 1000; exec sleep 1001']);
    await dd.until('ended', 'RUNNING');
    const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    const [escapee, command] = await waitFor(() => {
      const members = cgroups!.driver.members('ended');
      const e = members.find((p) => cmdline(p) === 'sleep 1000');
      const c = members.find((p) => cmdline(p) === 'sleep 1001');
      return e && c ? [e, c] : null;
    }, 15_000, 'the escapee and the command');
    await dd.durable('ended');
    await dd.crash();
    // The command ends while nobody watches: the wrapper records its 137 and exits; the escapee stays.
    process.kill(command, 'SIGKILL');
    await waitFor(() => cgroups!.driver.members('ended').length === 1, 15_000, 'only the escapee left');

    await dd.start({ set });
    const done = await dd.until('ended', 'DONE');
    expect(done.exitCode).toBe(137);
    await waitFor(() => !isLive(escapee), 15_000, 'the escapee to be killed');
    await waitFor(() => !cgroups!.driver.list().includes('ended'), 15_000, 'its cgroup to be removed');
  }, 60_000);

  it('a reacquired container is confirmed by its cgroup membership too: a wrapper found outside its cgroup is not taken for the container', async () => {
    cgroups = new TestCgroups(own!);
    dd = new DaemonDir();
    const set = withCgroups(cgroups);
    await dd.start({ set });
    await dd.launch('moved', ['sleep', '1000']);
    const running = await dd.until('moved', 'RUNNING');
    await dd.durable('moved');
    await dd.crash();
    // The wrapper (pid and start time as recorded, still in the container directory) leaves the cgroup:
    // moved to one of the test's own in another hierarchy (in this one the start's sweep would kill it).
    elsewhere = new TestCgroups(own!);
    elsewhere.driver.create('elsewhere', LIMITS);
    elsewhere.driver.place('elsewhere', running.pid!);
    expect(cgroups.driver.members('moved')).not.toContain(running.pid);

    await dd.start({ set });
    // Not reacquired: taken for ended (there is no exit code to read), and what its cgroup still holds is killed.
    const done = await dd.until('moved', 'DONE');
    expect(done.state).toBe('DONE');
    expect(done.exitStatus).not.toBe(0);
    await waitFor(() => cgroups!.driver.members('moved').length === 0, 15_000, 'its cgroup to be emptied');
  }, 60_000);
});

describe('placement before the command runs (any containment that needs it)', () => {
  let tmp: string;
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the wrapper runs nothing until it is told it is placed; without the word (the daemon died first) it exits 125 and leaves no pid file', () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-placement-'));
    fs.writeFileSync(path.join(tmp, 'launch_container.sh'), launchScript('c', { awaitPlacement: true }));
    const run = (input: string) => spawnSync('/bin/bash', ['launch_container.sh', 'sh', '-c', 'touch ran; read -r x; echo "stdin: [$x]"'], { cwd: tmp, input, encoding: 'utf8', timeout: 30_000 });
    const early = run('');
    expect(early.status).toBe(125);
    expect(fs.existsSync(path.join(tmp, 'ran'))).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'c.pid.exitcode'))).toBe(false);
    // Recovery takes such a launch for never started, and starts it (a pid file would make it one that ended, LOST).
    expect(fs.existsSync(path.join(tmp, 'c.pid'))).toBe(false);
    // Placed: the command runs, its stdin is /dev/null as without a cgroup (not the rest of the pipe).
    const placed = run('placed\nmore\n');
    expect(placed.status).toBe(0);
    expect(placed.stdout).toBe('stdin: []\n');
    expect(fs.readFileSync(path.join(tmp, 'c.pid.exitcode'), 'utf8').trim()).toBe('0');
  });

  it('a wrapper that cannot be placed is killed before it runs anything; the launch fails saying why, and the cgroup is released', async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nw-placement-'));
    const released: string[] = [];
    const refusing: Containment = {
      mode: 'cgroup-v1',
      needsPlacement: true,
      prepare: () => undefined,
      place: () => {
        throw Object.assign(new Error('permission denied'), { code: 'EACCES' });
      },
      release: (id) => (released.push(id), true),
      members: () => [],
      monitoredMembers: () => null,
      list: () => [],
      stats: () => null,
      oom: () => null,
      terminate: async () => undefined,
      kill: async () => undefined,
      pause: async () => undefined,
      resume: async () => undefined,
      orphaned: () => false,
      close: () => undefined,
      holds: () => false,
    };
    const l = new ProcessLauncher({ workDir: tmp, sigkillDelayMs: 1000, exitCodeFileTimeoutMs: 1000, containment: refusing, log: pino({ level: 'silent' }) });
    try {
      const err = await l.launch('c', ['sh', '-c', 'touch ran; sleep 1000'], {}, () => undefined).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(LaunchError);
      const m = /^cannot launch container c: cannot place pid (\d+) in its cgroup \(EACCES\)$/.exec(err!.message);
      expect(m, err!.message).not.toBeNull();
      await waitFor(() => !isLive(Number(m![1])), 15_000, 'the unplaced wrapper to be gone');
      expect(fs.existsSync(path.join(tmp, 'containers', 'c', 'ran'))).toBe(false);
      expect(released).toEqual(['c']);
    } finally {
      l.close();
    }
  });
});

describe('the monitor\'s tree from a member list', () => {
  const p = (pid: number, ppid: number) => ({ pid, ppid, pgrp: pid, session: pid, state: 'S', comm: 'x', utime: 0, stime: 0, startTime: 0, vsize: 0, rssPages: 0, numThreads: 1 });
  it('root first, then by pid; members the scan did not see are left out; a root that left is not put back', () => {
    const all = new Map([10, 11, 12, 40].map((pid) => [pid, p(pid, 1)]));
    expect(collectMembers(10, [40, 12, 10, 99], all).map((x) => x.pid)).toEqual([10, 12, 40]);
    expect(collectMembers(10, [40, 11, 40], all).map((x) => x.pid)).toEqual([11, 40]);
    expect(collectMembers(10, [], all)).toEqual([]);
  });
});

describe('CPU limits as YARN computes them', () => {
  it('getOverallLimits: 1 s of quota per 1/cpus s; under one cpu a 1 s period and its share (at least 1 ms); no limit where the period would be under 1 ms', () => {
    expect(overallCpuLimits(2)).toEqual({ quotaUs: 1_000_000, periodUs: 500_000 });
    expect(overallCpuLimits(1)).toEqual({ quotaUs: 1_000_000, periodUs: 1_000_000 });
    expect(overallCpuLimits(0.5)).toEqual({ quotaUs: 500_000, periodUs: 1_000_000 });
    expect(overallCpuLimits(0.0001)).toEqual({ quotaUs: 1000, periodUs: 1_000_000 });
    expect(overallCpuLimits(3000)).toBeNull();
  });

  it('the node-level quota: percentage-physical-cpu-limit of the processors for every container together; none at 100', () => {
    const at = (percent: number) => resolveConfig([{ 'yarn.nodemanager.resource.percentage-physical-cpu-limit': percent }]);
    expect(hierarchyCpuQuota(at(100), 4)).toBeNull();
    expect(hierarchyCpuQuota(at(50), 4)).toEqual({ quotaUs: 1_000_000, periodUs: 500_000 });
    expect(hierarchyCpuQuota(at(25), 2)).toEqual({ quotaUs: 500_000, periodUs: 1_000_000 });
  });

  it('a container\'s shares from its vcores (OPPORTUNISTIC 2), and with strict-resource-usage its vcores\' share of YARN\'s processors', () => {
    const config = resolveConfig([{ 'yarn.nodemanager.resource.cpu-vcores': 8, 'yarn.nodemanager.resource.percentage-physical-cpu-limit': 50 }]);
    const spec = (vcores: number, executionType: 'GUARANTEED' | 'OPPORTUNISTIC' = 'GUARANTEED') => ({ resources: { memoryMb: 128, vcores }, executionType });
    expect(cgroupLimits(spec(3), config, 4)).toMatchObject({ cpuShares: 3072, cpuQuota: null, pidsMax: 4096 });
    expect(cgroupLimits(spec(3, 'OPPORTUNISTIC'), config, 4).cpuShares).toBe(2);
    const strict = { ...config, cgroups: { ...config.cgroups, strictCpu: true } };
    // 4 vcores of 8, on 50 % of 4 processors = 1 cpu.
    expect(cgroupLimits(spec(4), strict, 4).cpuQuota).toEqual({ quotaUs: 1_000_000, periodUs: 1_000_000 });
    // 1 of 8 on 2 processors = 0.25 cpu.
    expect(cgroupLimits(spec(1), strict, 4).cpuQuota).toEqual({ quotaUs: 250_000, periodUs: 1_000_000 });
  });
});

describe('the OOM notice in the journal', () => {
  it('a tick record may carry it; a malformed one is refused, naming the field', () => {
    const tick = { seq: 7, ts: 1, type: 'tick', samples: {} };
    expect(parseRecord(JSON.stringify({ ...tick, oom: { c1: { kills: 1, peakBytes: 335544320, limitBytes: 335544320 } } }), 'line 2')).toMatchObject({ oom: { c1: { kills: 1 } } });
    expect(() => parseRecord(JSON.stringify({ ...tick, oom: { c1: { kills: 'once' } } }), 'line 2')).toThrow('line 2: a tick record with a bad oom.c1: expected {kills, peakBytes, limitBytes, atOwnLimit?}');
    expect(() => parseRecord(JSON.stringify({ ...tick, oom: [] }), 'line 2')).toThrow(/a bad oom: expected container id/);
  });
});
